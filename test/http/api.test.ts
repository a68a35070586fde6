// Every route of SPEC §2 on the embedded default (catalog on disk + LevelDB), checked on what landed in LevelDB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID, KITCHEN_SINK_BLUEPRINT, kitchenSinkItem, startDstore, type TestDstore } from '../support/harness.ts';
import type { Write } from '../../src/stores/store.ts';

let d: TestDstore;

before(async () => {
  d = await startDstore({ STORES: 'level' });
});

after(async () => {
  await d.stop();
});

const ID2 = '0b5c8a4e-6a43-4c1e-9a61-6f1e8d7f2a10';
const NEVER = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

function key(project: string, version: number, blueprint: string, id: string): string {
  return `${project}/v${String(version).padStart(10, '0')}/${blueprint}/${id.toLowerCase()}`;
}

/** What LevelDB holds for a project: item key → parsed item. */
async function stored(project: string): Promise<Record<string, any>> {
  const entries = await d.level!.entries({ gte: `${project}/`, lt: `${project}/\uffff` });
  return Object.fromEntries(entries.map(([k, v]) => [k, JSON.parse(v)]));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

async function until(check: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A request over the real socket, like curl: the body as given, and only the headers given (none by default). */
function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const { port } = d.running.app!.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function project(name: string, blueprints: Record<string, unknown>): Promise<void> {
  const res = await d.request('PUT', `/${name}`, blueprints);
  assert.equal(res.status, 200, res.text);
}

for (const [label, headers] of [
  ['curl -d (application/x-www-form-urlencoded)', { 'content-type': 'application/x-www-form-urlencoded' }],
  ['no content-type at all', {}],
] as const) {
  test(`the seed walkthrough with ${label}`, async () => {
    const p = label.startsWith('curl') ? 'myblog' : 'myblog_bare';
    const send = (method: string, path: string, body?: unknown) => raw(method, path, body === undefined ? undefined : JSON.stringify(body, null, 2), body === undefined ? {} : { ...headers });

    const bp = await send('PUT', `/${p}/article/_blueprint`, ARTICLE_BLUEPRINT);
    assert.equal(bp.status, 200, bp.text);
    assert.deepEqual(bp.body, ARTICLE_BLUEPRINT);

    const version = await send('POST', `/${p}/_version`);
    assert.ok(version.status >= 200 && version.status < 300, version.text);
    assert.deepEqual(version.body, { project_version: 1, versions: [1] });

    const put = await send('PUT', `/${p}/article/${ARTICLE_ID}`, ARTICLE);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.id, ARTICLE_ID);
    assert.equal(put.body.project_version, 1);
    assert.deepEqual(await stored(p), { [key(p, 1, 'article', ARTICLE_ID)]: ARTICLE });

    const del = await send('DELETE', `/${p}/article/${ARTICLE_ID}`);
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, '');
    assert.deepEqual(await stored(p), {});
  });
}

test('blueprint routes: PUT, GET, GET of a version, DELETE', async () => {
  const put = await d.request('PUT', '/bp_routes/note/_blueprint', { columns: { body: { type: 'text', validation: { required: true } } } });
  assert.equal(put.status, 200);
  const normalized = { postgresql: { table: 'note' }, elasticsearch: { type: 'note' }, columns: { body: { type: 'text', validation: { required: true } } } };
  assert.deepEqual(put.body, normalized);

  const get = await d.request('GET', '/bp_routes/note/_blueprint');
  assert.equal(get.status, 200);
  assert.deepEqual(get.body, normalized, 'the blueprint itself, not wrapped');

  assert.equal((await d.request('POST', '/bp_routes/_version')).status, 201);
  // change the working copy: the frozen version stays as it was
  const changed = await d.request('PUT', '/bp_routes/note/_blueprint', { postgresql: { table: 'notes' }, columns: { title: { type: 'string' } } });
  assert.equal(changed.status, 200);
  const frozen = await d.request('GET', '/bp_routes/note/_blueprint/1');
  assert.equal(frozen.status, 200);
  assert.deepEqual(frozen.body, normalized);
  assert.equal((await d.request('GET', '/bp_routes/note/_blueprint')).body.postgresql.table, 'notes');
  assert.equal((await d.request('GET', '/bp_routes/note/_blueprint/2')).status, 404);
  assert.equal((await d.request('GET', '/bp_routes/other/_blueprint/1')).status, 404);

  const del = await d.request('DELETE', '/bp_routes/note/_blueprint');
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  const gone = await d.request('GET', '/bp_routes/note/_blueprint');
  assert.equal(gone.status, 404);
  assert.equal(gone.body.code, 'DSTORE_BLUEPRINT_NOT_FOUND');
  assert.equal((await d.request('DELETE', '/bp_routes/note/_blueprint')).status, 404);
  // the snapshot still has it
  assert.deepEqual((await d.request('GET', '/bp_routes/note/_blueprint/1')).body, normalized);
  assert.equal((await d.request('GET', '/nothing_here/note/_blueprint')).status, 404);
});

test('project-level blueprints: PUT /{project}/_blueprint replaces the working copy; GET with and without a version', async () => {
  const put = await d.request('PUT', '/whole/_blueprint', { article: ARTICLE_BLUEPRINT, note: { columns: { body: { type: 'text' } } } });
  assert.equal(put.status, 200);
  assert.deepEqual(Object.keys(put.body).sort(), ['article', 'note']);
  assert.deepEqual(put.body.note, { postgresql: { table: 'note' }, elasticsearch: { type: 'note' }, columns: { body: { type: 'text' } } });
  assert.deepEqual((await d.request('GET', '/whole/_blueprint')).body, put.body);

  assert.equal((await d.request('POST', '/whole/_version')).status, 201);
  // blueprints not named are removed from the working copy
  const replaced = await d.request('PUT', '/whole/_blueprint', { note: { columns: { body: { type: 'string' } } } });
  assert.equal(replaced.status, 200);
  assert.deepEqual(Object.keys((await d.request('GET', '/whole/_blueprint')).body), ['note']);
  assert.equal((await d.request('GET', '/whole/article/_blueprint')).status, 404);

  const v1 = await d.request('GET', '/whole/_blueprint/1');
  assert.equal(v1.status, 200);
  assert.deepEqual(v1.body, put.body);
  assert.equal((await d.request('GET', '/whole/_blueprint/2')).status, 404);
});

test('PUT /{project} replaces the working copy and snapshots it (200); GET /{project}; GET /_project', async () => {
  const first = await d.request('PUT', '/proj_put', { article: ARTICLE_BLUEPRINT });
  assert.equal(first.status, 200);
  assert.equal(first.body.project_version, 1);
  assert.deepEqual(first.body.versions, [1]);
  assert.deepEqual(first.body.blueprints, { article: ARTICLE_BLUEPRINT });

  const second = await d.request('PUT', '/proj_put', { note: { columns: { body: { type: 'text' } } } });
  assert.equal(second.status, 200);
  assert.equal(second.body.project_version, 2);
  assert.deepEqual(second.body.versions, [1, 2]);
  assert.deepEqual(Object.keys(second.body.blueprints), ['note']);

  const get = await d.request('GET', '/proj_put');
  assert.equal(get.status, 200);
  assert.equal(get.body.name, 'proj_put');
  assert.deepEqual(get.body.versions, [1, 2]);
  assert.equal(get.body.project_version, 2);
  assert.deepEqual(Object.keys(get.body.blueprints), ['note']);
  assert.equal(typeof get.body.createdAt, 'string');
  assert.equal((await d.request('GET', '/no_such_project')).status, 404);

  const all = await d.request('GET', '/_project');
  assert.equal(all.status, 200);
  const mine = all.body.projects.find((p: { name: string }) => p.name === 'proj_put');
  assert.deepEqual(mine, { name: 'proj_put', project_version: 2, versions: [1, 2], retired: [] });
  const names = all.body.projects.map((p: { name: string }) => p.name);
  assert.deepEqual(names, [...names].sort());
});

test('POST /{project}/_version answers the new number and all versions; GET /{project}/_version', async () => {
  await d.request('PUT', '/versions/article/_blueprint', ARTICLE_BLUEPRINT);
  const none = await d.request('GET', '/versions/_version');
  assert.equal(none.status, 200);
  assert.deepEqual(none.body, { project_version: null, versions: [], retired: [] });
  for (let n = 1; n <= 3; n++) {
    const res = await d.request('POST', '/versions/_version');
    assert.ok(res.status >= 200 && res.status < 300);
    const { backfill, ...rest } = res.body;
    assert.deepEqual(rest, { project_version: n, versions: Array.from({ length: n }, (_, i) => i + 1) });
    // from version 2 on, the earlier version is back-filled into it: nothing to copy here, so it is done at once
    if (n === 1) assert.equal(backfill, undefined);
    else assert.deepEqual({ state: backfill.state, total: backfill.total, source_version: backfill.source_version }, { state: 'done', total: 0, source_version: n - 1 });
  }
  const get = await d.request('GET', '/versions/_version');
  assert.deepEqual(get.body, { project_version: 3, versions: [1, 2, 3], retired: [] });
  assert.equal((await d.request('POST', '/no_such_project/_version')).status, 404);
  assert.equal((await d.request('GET', '/no_such_project/_version')).status, 404);
});

test('concurrent snapshots never share a number: the losers get 409', async () => {
  await d.request('PUT', '/racing/article/_blueprint', ARTICLE_BLUEPRINT);
  const results = await Promise.all(Array.from({ length: 5 }, () => d.request('POST', '/racing/_version')));
  const won = results.filter((r) => r.status === 201).map((r) => r.body.project_version);
  assert.ok(won.length >= 1);
  assert.equal(new Set(won).size, won.length);
  for (const r of results.filter((r) => r.status !== 201)) {
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'DSTORE_CONFLICT');
  }
  assert.deepEqual((await d.request('GET', '/racing/_version')).body.versions, Array.from({ length: won.length }, (_, i) => i + 1));
});

test('item PUT: 200 once applied; 202 with ?async=true and with Prefer: respond-async, then applied', async () => {
  await project('items', { article: ARTICLE_BLUEPRINT });
  const res = await d.request('PUT', `/items/article/${ARTICLE_ID}`, ARTICLE);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { id: ARTICLE_ID, project_version: 1, state: 'applied' });
  assert.deepEqual(await stored('items'), { [key('items', 1, 'article', ARTICLE_ID)]: ARTICLE });

  // replace
  const replaced = await d.request('PUT', `/items/article/${ARTICLE_ID}`, { ...ARTICLE, title_en: 'Replaced', title_nl: null });
  assert.equal(replaced.status, 200);
  assert.equal((await stored('items'))[key('items', 1, 'article', ARTICLE_ID)].title_en, 'Replaced');

  const later = await d.request('PUT', `/items/article/${ARTICLE_ID}?async=true`, { ...ARTICLE, title_en: 'Async' });
  assert.equal(later.status, 202);
  assert.equal(later.body.state, 'accepted');
  assert.equal(later.body.id, ARTICLE_ID);
  assert.ok(Array.isArray(later.body.pending));
  await until(async () => (await stored('items'))[key('items', 1, 'article', ARTICLE_ID)].title_en === 'Async', 'the async write');

  const preferred = await d.request('PUT', `/items/article/${ID2}`, { ...ARTICLE, id: ID2, title_en: 'Preferred' }, { prefer: 'respond-async' });
  assert.equal(preferred.status, 202);
  await until(async () => (await stored('items'))[key('items', 1, 'article', ID2)]?.title_en === 'Preferred', 'the respond-async write');

  // ?async=false is the default behaviour
  const sync = await d.request('PUT', `/items/article/${ID2}?async=false`, { ...ARTICLE, id: ID2, title_en: 'Sync' });
  assert.equal(sync.status, 200);
  assert.equal((await stored('items'))[key('items', 1, 'article', ID2)].title_en, 'Sync');

  // an upper-case id is the same item: kept lower-case
  const upper = await d.request('PUT', `/items/article/${ID2.toUpperCase()}`, { ...ARTICLE, id: ID2.toUpperCase(), title_en: 'Upper' });
  assert.equal(upper.status, 200);
  const after = await stored('items');
  assert.equal(after[key('items', 1, 'article', ID2)].title_en, 'Upper');
  assert.equal(after[key('items', 1, 'article', ID2)].id, ID2);
  assert.equal(Object.keys(after).length, 2);
});

test('item DELETE: 204 from every version; 204 for an id that never existed; 404 for unknown project or blueprint', async () => {
  await project('deleting', { article: ARTICLE_BLUEPRINT });
  await project('deleting', { article: ARTICLE_BLUEPRINT, note: { columns: { body: { type: 'text' } } } });
  assert.equal((await d.request('PUT', `/deleting/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
  assert.equal((await d.request('PUT', `/deleting/article/${ARTICLE_ID}`, { ...ARTICLE, project_version: 2 })).status, 200);
  assert.equal((await d.request('PUT', `/deleting/article/${ID2}`, { ...ARTICLE, id: ID2, project_version: 2 })).status, 200);
  // a write for one live version is copied into the other (SPEC §9)
  assert.deepEqual(Object.keys(await stored('deleting')).sort(), [key('deleting', 1, 'article', ARTICLE_ID), key('deleting', 1, 'article', ID2), key('deleting', 2, 'article', ARTICLE_ID), key('deleting', 2, 'article', ID2)].sort());

  const del = await d.request('DELETE', `/deleting/article/${ARTICLE_ID.toUpperCase()}`);
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  assert.deepEqual(Object.keys(await stored('deleting')), [key('deleting', 1, 'article', ID2), key('deleting', 2, 'article', ID2)]);

  const never = await d.request('DELETE', `/deleting/article/${NEVER}`);
  assert.equal(never.status, 204);
  assert.deepEqual(Object.keys(await stored('deleting')), [key('deleting', 1, 'article', ID2), key('deleting', 2, 'article', ID2)]);

  const asyncDel = await d.request('DELETE', `/deleting/article/${ID2}?async=true`);
  assert.equal(asyncDel.status, 202);
  await until(async () => Object.keys(await stored('deleting')).length === 0, 'the async delete');

  const noProject = await d.request('DELETE', `/nope/article/${ARTICLE_ID}`);
  assert.equal(noProject.status, 404);
  assert.equal(noProject.body.code, 'DSTORE_PROJECT_NOT_FOUND');
  const noBlueprint = await d.request('DELETE', `/deleting/nope/${ARTICLE_ID}`);
  assert.equal(noBlueprint.status, 404);
  assert.equal(noBlueprint.body.code, 'DSTORE_BLUEPRINT_NOT_FOUND');
});

test('bulk PUT stores every item (200); bulk DELETE removes them (204)', async () => {
  await project('bulk', { sink: KITCHEN_SINK_BLUEPRINT });
  const ids = Array.from({ length: 25 }, (_, i) => `5d3c1a2b-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const put = await d.request('PUT', '/bulk/sink', ids.map((id) => kitchenSinkItem(id)));
  assert.equal(put.status, 200);
  assert.equal(put.body.count, 25);
  assert.equal(put.body.state, 'applied');
  const items = await stored('bulk');
  assert.deepEqual(Object.keys(items), ids.map((id) => key('bulk', 1, 'sink', id)));
  for (const id of ids) assert.deepEqual(items[key('bulk', 1, 'sink', id)], kitchenSinkItem(id));

  const asyncPut = await d.request('PUT', '/bulk/sink?async=true', [kitchenSinkItem(NEVER)]);
  assert.equal(asyncPut.status, 202);
  await until(async () => key('bulk', 1, 'sink', NEVER) in (await stored('bulk')), 'the async bulk write');

  const del = await d.request('DELETE', '/bulk/sink', ids.slice(0, 20));
  assert.equal(del.status, 204);
  assert.deepEqual(Object.keys(await stored('bulk')), [...ids.slice(20), NEVER].map((id) => key('bulk', 1, 'sink', id)).sort());
  assert.equal((await d.request('DELETE', '/bulk/sink', [...ids.slice(20), NEVER])).status, 204);
  assert.deepEqual(await stored('bulk'), {});

  // empty lists are fine and change nothing
  assert.equal((await d.request('PUT', '/bulk/sink', [])).status, 200);
  assert.equal((await d.request('DELETE', '/bulk/sink', [])).status, 204);
  assert.deepEqual(await stored('bulk'), {});
});

test('LevelDB keys follow SPEC §5: sorted by project, version, blueprint, id; the value is the item JSON with GeoJSON', async () => {
  await project('layout', { beta: KITCHEN_SINK_BLUEPRINT, alpha: KITCHEN_SINK_BLUEPRINT });
  for (let v = 2; v <= 10; v++) assert.equal((await d.request('POST', '/layout/_version')).status, 201);
  const ids = ['c0000000-0000-4000-8000-000000000000', 'a0000000-0000-4000-8000-000000000000', 'B0000000-0000-4000-8000-000000000000'];
  const written: Array<{ version: number; blueprint: string; id: string }> = [];
  for (const version of [10, 2, 1]) {
    for (const blueprint of ['beta', 'alpha']) {
      const res = await d.request('PUT', `/layout/${blueprint}`, ids.map((id) => kitchenSinkItem(id, version)));
      assert.equal(res.status, 200, res.text);
    }
  }
  // each write is copied into every live version holding its blueprint (SPEC §9)
  for (let version = 1; version <= 10; version++) for (const blueprint of ['beta', 'alpha']) for (const id of ids) written.push({ version, blueprint, id: id.toLowerCase() });
  const entries = await d.level!.entries({ gte: 'layout/', lt: 'layout/\uffff' });
  const expected = [...written].sort((a, b) => a.version - b.version || a.blueprint.localeCompare(b.blueprint) || a.id.localeCompare(b.id));
  assert.deepEqual(entries.map(([k]) => k), expected.map((w) => key('layout', w.version, w.blueprint, w.id)));
  for (const [k, v] of entries) {
    const w = expected.find((e) => key('layout', e.version, e.blueprint, e.id) === k)!;
    const value = JSON.parse(v) as Record<string, any>;
    assert.deepEqual(value['c_point'], { type: 'Point', coordinates: [4.9041, 52.3676] });
    assert.equal(value['c_polygons'].type, 'MultiPolygon');
    assert.deepEqual(value, { ...kitchenSinkItem(w.id, w.version), id: w.id });
  }
  // dstore's bookkeeping never looks like an item key
  const all = (await d.level!.entries()).map(([k]) => k);
  assert.ok(all.every((k) => k.startsWith('!') || /^[a-z][a-z0-9_]*\/v\d{10}\/[a-z][a-z0-9_]*\/[0-9a-f-]{36}$/.test(k)), all.join('\n'));
});

test('DELETE /{project}: its LevelDB keys and its catalog directory are gone; other projects stay', async () => {
  await project('doomed', { article: ARTICLE_BLUEPRINT });
  await project('doomed', { article: ARTICLE_BLUEPRINT });
  await project('doomed_not', { article: ARTICLE_BLUEPRINT });
  for (const [p, v] of [['doomed', 1], ['doomed', 2], ['doomed_not', 1]] as const) {
    assert.equal((await d.request('PUT', `/${p}/article/${ARTICLE_ID}`, { ...ARTICLE, project_version: v })).status, 200);
  }
  assert.equal((await d.request('DELETE', `/doomed/article/${ID2}`)).status, 204); // a tombstone
  const catalogDir = join(d.config.projectFilePath, 'doomed');
  assert.equal(await exists(join(catalogDir, 'project.json')), true);
  const others = (await d.level!.entries()).filter(([k]) => !k.startsWith('doomed/') && !k.startsWith('!stamp/doomed/'));

  const res = await d.request('DELETE', '/doomed');
  assert.equal(res.status, 204);
  assert.equal(res.text, '');
  const keys = (await d.level!.entries()).map(([k]) => k);
  assert.deepEqual(keys.filter((k) => k.startsWith('doomed/') || k.startsWith('!stamp/doomed/')), []);
  assert.deepEqual((await d.level!.entries()).filter(([k]) => !k.startsWith('!meta/')), others.filter(([k]) => !k.startsWith('!meta/')));
  assert.equal(await exists(catalogDir), false);
  assert.equal(await exists(join(d.config.projectFilePath, 'doomed_not', 'project.json')), true);

  assert.equal((await d.request('GET', '/doomed')).status, 404);
  assert.ok(!(await d.request('GET', '/_project')).body.projects.some((p: { name: string }) => p.name === 'doomed'));
  assert.equal((await d.request('PUT', `/doomed/article/${ARTICLE_ID}`, ARTICLE)).status, 404);
  assert.equal((await d.request('DELETE', '/doomed')).status, 404);
  // the name can be used again, from version 1
  const again = await d.request('PUT', '/doomed', { article: ARTICLE_BLUEPRINT });
  assert.equal(again.body.project_version, 1);
  assert.equal((await d.request('PUT', `/doomed/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
  assert.deepEqual(Object.keys(await stored('doomed')), [key('doomed', 1, 'article', ARTICLE_ID)]);
});

test('GET /_health: status, each engine and the queue', async () => {
  const res = await d.request('GET', '/_health');
  assert.equal(res.status, 200);
  assert.equal(res.body.status, 'up');
  assert.deepEqual(res.body.engines, { level: { status: 'up' } });
  assert.equal(res.body.queue.status, 'up');
  assert.equal(typeof res.body.queue.pending, 'number');
});

test('dead letters: a write LevelDB keeps refusing is listed with item, engine and reason, and replays', async () => {
  await project('letters', { article: ARTICLE_BLUEPRINT });
  const empty = await d.request('GET', '/_deadletter');
  assert.equal(empty.status, 200);
  assert.equal(empty.body.count, 0);
  assert.deepEqual(empty.body.letters, []);

  const level = d.level!;
  const levelApply = Object.getPrototypeOf(level).apply as typeof level.apply;
  // LevelDB refuses (for good) every write of this project; the others still go through
  level.apply = (writes: readonly Write[]) => (writes.some((w) => w.project === 'letters') ? Promise.reject(new Error('disk says no')) : levelApply.call(level, writes));
  try {
    assert.equal((await d.request('PUT', `/letters/article/${ARTICLE_ID}?async=true`, ARTICLE)).status, 202);
    assert.equal((await d.request('PUT', `/letters/article/${ID2}?async=true`, { ...ARTICLE, id: ID2 })).status, 202);
    await until(async () => (await d.request('GET', '/_deadletter')).body.count === 2, 'two dead letters');
  } finally {
    delete (level as { apply?: unknown }).apply;
  }
  assert.deepEqual(await stored('letters'), {});
  const list = await d.request('GET', '/_deadletter');
  assert.equal(list.status, 200);
  const letter = list.body.letters.find((l: { item_id: string }) => l.item_id === ARTICLE_ID);
  assert.equal(letter.engine, 'level');
  assert.match(letter.reason, /disk says no/);
  assert.equal(letter.op, 'put');
  assert.equal(letter.project, 'letters');
  assert.equal(letter.blueprint, 'article');
  assert.deepEqual(letter.item, ARTICLE);
  assert.equal(typeof letter.id, 'string');
  assert.ok(!Number.isNaN(Date.parse(letter.failedAt)));

  // replay one by id, then the rest
  const one = await d.request('POST', '/_deadletter/_replay', { ids: [letter.id] });
  assert.equal(one.status, 202);
  assert.deepEqual(one.body, { replayed: 1 });
  await until(async () => key('letters', 1, 'article', ARTICLE_ID) in (await stored('letters')), 'the replayed write');
  assert.equal((await d.request('GET', '/_deadletter')).body.count, 1);
  const rest = await d.request('POST', '/_deadletter/_replay');
  assert.equal(rest.status, 202);
  assert.deepEqual(rest.body, { replayed: 1 });
  await until(async () => key('letters', 1, 'article', ID2) in (await stored('letters')), 'the second replayed write');
  assert.deepEqual((await d.request('GET', '/_deadletter')).body, { count: 0, letters: [] });
  assert.deepEqual((await d.request('POST', '/_deadletter/_replay', [])).body, { replayed: 0 });
});

test('a write dead-lettered while the client waits is not answered "200 applied"', async () => {
  await project('parked', { article: ARTICLE_BLUEPRINT });
  const level = d.level!;
  level.apply = () => Promise.reject(new Error('disk says no'));
  let res;
  let landed;
  try {
    res = await d.request('PUT', `/parked/article/${ARTICLE_ID}`, ARTICLE);
    landed = await stored('parked');
  } finally {
    delete (level as { apply?: unknown }).apply;
    await d.request('POST', '/_deadletter/_replay');
  }
  assert.deepEqual(landed, {});
  assert.ok(!(res.status === 200 && res.body.state === 'applied'), `answered ${res.status} ${res.text} though LevelDB refused the write`);
  assert.equal(res.status, 502);
  assert.equal(res.body.code, 'DSTORE_WRITE_REFUSED');
  assert.match(res.body.message, /disk says no/);
});

test('the catalog on disk holds what the API answered', async () => {
  await project('on_disk', { article: ARTICLE_BLUEPRINT });
  const snapshot = JSON.parse(await readFile(join(d.config.projectFilePath, 'on_disk', 'snapshots', '1.json'), 'utf8'));
  assert.deepEqual(snapshot.blueprints, { article: ARTICLE_BLUEPRINT });
  const record = JSON.parse(await readFile(join(d.config.projectFilePath, 'on_disk', 'project.json'), 'utf8'));
  assert.deepEqual(record.versions, [1]);
});
