// The embedded default as a newcomer runs it: the real dstore process, the seed's
// curl walkthrough over HTTP (no JSON content type), then LevelDB and the catalog
// read straight from disk, a restart, a crash, and bad settings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID } from '../support/harness.ts';
import { failedStart, startServerProcess } from '../support/server-process.ts';

let dir: string;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-embedded-'));
  env = { LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), STORES: '', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '' };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Like `curl -X METHOD url -d 'json'`: the body goes as application/x-www-form-urlencoded. */
async function curl(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body, null, 2),
    headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function levelEntries(path: string): Promise<Array<[string, string]>> {
  const db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8' });
  try {
    return await db.iterator().all();
  } finally {
    await db.close();
  }
}

const SECOND = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
const THIRD = '0fffffff-0000-4000-8000-000000000003';

test('the seed walkthrough runs against the real process and lands in LevelDB', async () => {
  const server = await startServerProcess(env);
  try {
    let r = await curl('PUT', `${server.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
    assert.equal(r.status, 200);
    r = await curl('POST', `${server.url}/myblog/_version`);
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { project_version: 1, versions: [1] });
    r = await curl('PUT', `${server.url}/myblog/article/${ARTICLE_ID}`, ARTICLE);
    assert.equal(r.status, 200);
    r = await curl('PUT', `${server.url}/myblog/article/${SECOND}`, { ...ARTICLE, id: SECOND, title_en: 'Second' });
    assert.equal(r.status, 200);
    r = await curl('PUT', `${server.url}/myblog/article/${THIRD}`, { ...ARTICLE, id: THIRD });
    assert.equal(r.status, 200);
    r = await curl('DELETE', `${server.url}/myblog/article/${THIRD}`);
    assert.equal(r.status, 204);
  } finally {
    const exit = await server.stop('SIGTERM');
    assert.equal(exit.code, 0, server.output());
    assert.ok(exit.ms < 10_000, `SIGTERM took ${exit.ms} ms`);
  }
  const entries = await levelEntries(env['LEVEL_PATH']!);
  const items = entries.filter(([k]) => !k.startsWith('!'));
  assert.deepEqual(items.map(([k]) => k), [
    `myblog/v0000000001/article/${SECOND}`,
    `myblog/v0000000001/article/${ARTICLE_ID}`,
  ].sort());
  const article = JSON.parse(items.find(([k]) => k.endsWith(ARTICLE_ID))![1]);
  assert.deepEqual(article, ARTICLE);
  // bookkeeping lives under '!', apart from every item key
  assert.ok(entries.filter(([k]) => k.startsWith('!')).every(([k]) => k.startsWith('!stamp/myblog/v0000000001/article/') || k === '!meta/highest-stamp'));

  const snapshot = JSON.parse(await readFile(join(env['PROJECT_FILE_PATH']!, 'myblog', 'snapshots', '1.json'), 'utf8'));
  assert.equal(snapshot.version, 1);
  assert.deepEqual(snapshot.blueprints.article.columns, ARTICLE_BLUEPRINT.columns);
});

test('after a restart, blueprints, snapshots and writes still work', async () => {
  const server = await startServerProcess(env);
  try {
    let r = await curl('GET', `${server.url}/myblog/_version`);
    assert.deepEqual(r.json, { project_version: 1, versions: [1], retired: [] });
    r = await curl('GET', `${server.url}/myblog/article/_blueprint/1`);
    assert.equal(r.status, 200);
    assert.equal(r.json.postgresql.table, 'articles');
    r = await curl('PUT', `${server.url}/myblog/article/_blueprint`, { ...ARTICLE_BLUEPRINT, columns: { ...ARTICLE_BLUEPRINT.columns, views: { type: 'integer' } } });
    assert.equal(r.status, 200);
    r = await curl('POST', `${server.url}/myblog/_version?wait=backfill`);
    assert.deepEqual({ ...r.json, backfill: { state: r.json.backfill.state, total: r.json.backfill.total } }, { project_version: 2, versions: [1, 2], backfill: { state: 'done', total: 2 } });
    r = await curl('PUT', `${server.url}/myblog/article/${ARTICLE_ID}`, { ...ARTICLE, project_version: 2, views: 7 });
    assert.equal(r.status, 200);
    r = await curl('PUT', `${server.url}/myblog/article/${SECOND}`, { ...ARTICLE, id: SECOND, views: 7 });
    assert.equal(r.status, 400, 'views is not a column of version 1');
    assert.deepEqual(Object.keys(r.json.errors), ['views']);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
  const items = (await levelEntries(env['LEVEL_PATH']!)).filter(([k]) => !k.startsWith('!'));
  // version 2 was back-filled with both items; the write for version 2 was copied into version 1 (without views)
  assert.deepEqual(items.map(([k]) => k), [`myblog/v0000000001/article/${SECOND}`, `myblog/v0000000001/article/${ARTICLE_ID}`, `myblog/v0000000002/article/${SECOND}`, `myblog/v0000000002/article/${ARTICLE_ID}`].sort());
  assert.equal(JSON.parse(items.find(([k]) => k === `myblog/v0000000002/article/${ARTICLE_ID}`)![1]).views, 7);
  assert.equal(JSON.parse(items.find(([k]) => k === `myblog/v0000000001/article/${ARTICLE_ID}`)![1]).views, undefined);
});

test('writes answered 202 survive kill -9 (the journal is replayed at the next start)', async () => {
  const server = await startServerProcess(env);
  const ids: string[] = [];
  try {
    const pending: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 300; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      ids.push(id);
      pending.push(curl('PUT', `${server.url}/myblog/article/${id}?async=true`, { ...ARTICLE, id }));
    }
    const answers = await Promise.all(pending);
    assert.ok(answers.every((a) => a.status === 202));
  } finally {
    await server.stop('SIGKILL');
  }
  const again = await startServerProcess(env);
  try {
    // the replay finishes before the first request is answered in order; give the lanes a moment
    await new Promise((r) => setTimeout(r, 500));
    const r = await curl('PUT', `${again.url}/myblog/article/${ids[0]}`, { ...ARTICLE, id: ids[0], title_en: 'after restart' });
    assert.equal(r.status, 200);
  } finally {
    assert.equal((await again.stop()).code, 0);
  }
  const keys = new Set((await levelEntries(env['LEVEL_PATH']!)).map(([k]) => k));
  for (const id of ids) assert.ok(keys.has(`myblog/v0000000001/article/${id}`), `missing ${id}`);
});

test('DELETE /{project} removes its keys and its catalog', async () => {
  const server = await startServerProcess(env);
  try {
    const r = await curl('DELETE', `${server.url}/myblog`);
    assert.equal(r.status, 204);
    assert.equal((await curl('GET', `${server.url}/myblog`)).status, 404);
  } finally {
    await server.stop();
  }
  assert.deepEqual((await levelEntries(env['LEVEL_PATH']!)).filter(([k]) => !k.startsWith('!meta/')), []);
  await assert.rejects(readFile(join(env['PROJECT_FILE_PATH']!, 'myblog', 'project.json')));
});

test('a bad setting stops start-up with one line naming it', async () => {
  const notANumber = await failedStart({ ...env, PORT: 'abc' });
  assert.equal(notANumber.code, 1);
  assert.equal(notANumber.stderr.trim().split('\n').length, 1, notANumber.stderr);
  assert.match(notANumber.stderr, /PORT/);

  const file = join(dir, 'a-file');
  await writeFile(file, 'not a directory');
  const unwritable = await failedStart({ ...env, LEVEL_PATH: join(file, 'level') });
  assert.equal(unwritable.code, 1);
  assert.equal(unwritable.stderr.trim().split('\n').length, 1, unwritable.stderr);
  assert.match(unwritable.stderr, /LEVEL_PATH/);
  assert.doesNotMatch(unwritable.stderr, /\n\s+at /);

  const badStores = await failedStart({ ...env, STORES: 'level,mongodb' });
  assert.equal(badStores.code, 1);
  assert.match(badStores.stderr, /STORES/);
});
