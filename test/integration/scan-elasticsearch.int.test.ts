/**
 * Elasticsearch's / OpenSearch's side of schema evolution (SPEC §9) against a real engine,
 * through the store itself: scan (paging with search_after, stamps as external versions,
 * deletes, every column type read back as a client sends it), activate (the latest alias),
 * retire (one version's indices). Read back over plain HTTP. Fails (never skips) when
 * ELASTICSEARCH_HOST is unset or unreachable.
 *
 *   ELASTICSEARCH_HOST=http://127.0.0.1:9211 node --import tsx --test test/integration/scan-elasticsearch.int.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { normalizeBlueprint, type Blueprints } from '../../src/schema/blueprint.ts';
import { itemProblems, type Item } from '../../src/schema/item.ts';
import { ElasticsearchStore } from '../../src/stores/elasticsearch/elasticsearch-store.ts';
import type { ItemDelete, ItemPut, Snapshot } from '../../src/stores/store.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem } from '../support/harness.ts';

const HOST = process.env['ELASTICSEARCH_HOST'] ?? '';
/** Hex never contains `v`, so no `_v<digits>` appears by accident. */
const RUN = `scanit_${randomBytes(4).toString('hex')}`;

let store: ElasticsearchStore;
let stamp = Date.now() * 1000;

async function es(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${HOST.replace(/\/+$/, '')}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function esOk(method: string, path: string, body?: unknown): Promise<any> {
  const r = await es(method, path, body);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function indices(pattern: string): Promise<string[]> {
  const rows = (await esOk('GET', `/_cat/indices/${pattern}?format=json&h=index&expand_wildcards=all`)) as Array<{ index: string }>;
  return rows.map((r) => r.index).sort();
}

async function aliasTargets(alias: string): Promise<string[]> {
  const r = await es('GET', `/_alias/${alias}`);
  if (r.status === 404) return [];
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return Object.keys(r.body).sort();
}

function snapshotOf(project: string, version: number, blueprints: Record<string, unknown>): Snapshot {
  const normalized: Blueprints = {};
  for (const [name, bp] of Object.entries(blueprints)) normalized[name] = normalizeBlueprint(name, bp);
  return { project, version, createdAt: new Date().toISOString(), blueprints: normalized };
}

function put(s: Snapshot, blueprint: string, item: Record<string, unknown>, at = stamp++): ItemPut {
  return { op: 'put', project: s.project, version: s.version, blueprint, definition: s.blueprints[blueprint]!, id: item['id'] as string, stamp: at, item: item as Item };
}

function del(s: Snapshot, blueprint: string, id: string, at = stamp++): ItemDelete {
  return { op: 'delete', project: s.project, blueprint, id, stamp: at, targets: [{ version: s.version, definition: s.blueprints[blueprint]! }] };
}

function scan(s: Snapshot, blueprint: string, o: { after?: string; limit?: number } = {}) {
  return store.scan({ project: s.project, version: s.version, blueprint, definition: s.blueprints[blueprint]!, after: o.after, limit: o.limit ?? 1000 });
}

function ids(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID()).sort();
}

describe(`Elasticsearch scan, activate, retire (${HOST || 'ELASTICSEARCH_HOST unset'})`, () => {
  before(async () => {
    assert.ok(HOST, 'ELASTICSEARCH_HOST must name the engine to test (e.g. http://127.0.0.1:9211)');
    store = new ElasticsearchStore({ url: HOST });
    await store.open();
  });

  after(async () => {
    await store?.close();
    if (!HOST) return;
    const left = await indices(`${RUN}*`).catch(() => []);
    if (left.length) await es('DELETE', `/${left.join(',')}`);
  });

  test('scan pages in id order from a cursor, each with its stamp; deleted items are not scanned, rewritten ones carry the new stamp', async () => {
    const v1 = snapshotOf(`${RUN}_page`, 1, { note: { columns: { title: { type: 'string' } } }, other: { columns: { title: { type: 'string' } } } });
    await store.migrate(v1);
    const five = ids(5);
    const stamps = new Map<string, number>();
    for (const batch of [five.slice(2).reverse(), five.slice(0, 2).reverse()]) {
      const writes = batch.map((id) => put(v1, 'note', { id, project_version: 1, title: `t ${id}` }));
      writes.forEach((w) => stamps.set(w.id, w.stamp));
      await store.apply(writes);
    }
    const elsewhere = put(v1, 'other', { id: five[0]!, project_version: 1, title: 'elsewhere' });
    await store.apply([elsewhere]);

    // no refresh asked for: the scan sees what was applied before it all the same
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await scan(v1, 'note', { after: cursor, limit: 2 });
      if (!page.length) break;
      pages.push(page.map((s) => s.id));
      for (const s of page) {
        assert.equal(s.stamp, stamps.get(s.id), `stamp of ${s.id}`);
        assert.deepEqual(s.item, { id: s.id, project_version: 1, title: `t ${s.id}` });
      }
      cursor = page.at(-1)!.id;
    }
    assert.deepEqual(pages, [five.slice(0, 2), five.slice(2, 4), five.slice(4)]);
    assert.deepEqual((await scan(v1, 'note', { after: five[2]! })).map((s) => s.id), five.slice(3));
    assert.deepEqual(await scan(v1, 'note', { after: 'ffffffff-ffff-4fff-bfff-ffffffffffff' }), []);

    const rewrite = put(v1, 'note', { id: five[3]!, project_version: 1, title: 'again' });
    await store.apply([del(v1, 'note', five[1]!), rewrite]);
    await store.apply([put(v1, 'note', { id: five[1]!, project_version: 1, title: 'late' }, 1)]);
    const all = await scan(v1, 'note');
    assert.deepEqual(all.map((s) => s.id), [five[0], five[2], five[3], five[4]]);
    assert.equal(await store.count({ project: v1.project, version: v1.version, blueprint: 'note', definition: v1.blueprints['note']! }), all.length, 'count is what a scan gives');
    assert.equal(all[2]!.stamp, rewrite.stamp);
    assert.equal(all[2]!.item['title'], 'again');
    assert.deepEqual(await scan(v1, 'other'), [{ id: five[0], stamp: elsewhere.stamp, item: { id: five[0], project_version: 1, title: 'elsewhere' } }]);
    await assert.rejects(scan(v1, 'note', { after: 'not-a-uuid' }), /not a UUID/);
    await assert.rejects(scan({ ...v1, version: 7 }, 'note'), /no index .*_v7_note/);
    await store.dropProject(v1.project, [1]);
  });

  test('a scan longer than one search page (10,000 hits) pages on by itself', async () => {
    const v1 = snapshotOf(`${RUN}_long`, 1, { n: { columns: { k: { type: 'integer' } } } });
    await store.migrate(v1);
    const many = ids(10_050);
    await store.apply(many.map((id, k) => put(v1, 'n', { id, project_version: 1, k })));
    const scanned = await scan(v1, 'n', { limit: 20_000 });
    assert.equal(scanned.length, many.length);
    assert.ok(scanned.every((s, i) => s.id === many[i]), 'every id, in order');
    assert.deepEqual((await scan(v1, 'n', { limit: 10_001, after: many[10] })).map((s) => s.id), many.slice(11, 10_012));
    await store.dropProject(v1.project, [1]);
  });

  test('every column type round-trips: points back to GeoJSON, the rest as sent; the scanned item is valid and writes back the same', async () => {
    const v1 = snapshotOf(`${RUN}_sink`, 1, { sink: KITCHEN_SINK_BLUEPRINT });
    await store.migrate(v1);
    const [full, odd, sparse] = ids(3);
    const oddItem = {
      id: odd,
      project_version: 1,
      links: [],
      c_points: { type: 'MultiPoint', coordinates: [] },
      c_lines: { type: 'MultiLineString', coordinates: [] },
      c_polygons: { type: 'MultiPolygon', coordinates: [] },
      c_point: { type: 'Point', coordinates: [-179.123456789012, -89.987654321] },
      c_datetime: '2020-06-01T23:59:59.123456789+05:45',
      c_floats: [0.123456789],
      c_json: 'just a string',
      c_jsons: [1, 'two', [3, [4]], null, { deep: { er: true } }, false],
    };
    await store.apply([put(v1, 'sink', kitchenSinkItem(full!)), put(v1, 'sink', oddItem), put(v1, 'sink', { id: sparse, project_version: 1, c_string: null, c_json: null })]);

    const scanned = await scan(v1, 'sink');
    assert.deepEqual(scanned.map((s) => s.id), [full, odd, sparse]);
    for (const s of scanned) assert.deepEqual(itemProblems(v1.blueprints['sink']!, s.item), {}, `scanned ${s.id} is a valid item`);
    assert.deepEqual(scanned[0]!.item, kitchenSinkItem(full!));
    // an empty Multi* shape is stored as no shape, so it reads back absent (an empty MultiPoint stays: geo_point takes [])
    const { c_lines: _l, c_polygons: _p, ...oddBack } = oddItem;
    assert.deepEqual(scanned[1]!.item, oddBack);
    assert.deepEqual(scanned[2]!.item, { id: sparse, project_version: 1 });

    const v2 = snapshotOf(v1.project, 2, { sink: KITCHEN_SINK_BLUEPRINT });
    await store.migrate(v2);
    await store.apply(scanned.map((s) => put(v2, 'sink', { ...s.item, project_version: 2 }, s.stamp)));
    assert.deepEqual(await scan(v2, 'sink'), scanned.map((s) => ({ ...s, item: { ...s.item, project_version: 2 } })));
    await store.dropProject(v1.project, [1, 2]);
  });

  test('migrate moves only the version alias; activate moves the latest alias in one call, off every other version', async () => {
    const p = `${RUN}_latest`;
    const v1 = snapshotOf(p, 1, { article: { columns: { title: { type: 'string' } } }, gone: { columns: { x: { type: 'string' } } } });
    await store.migrate(v1);
    assert.deepEqual(await aliasTargets(`${p}_v1`), [`${p}_v1_article`, `${p}_v1_gone`]);
    assert.deepEqual(await aliasTargets(p), [], 'no latest alias before activate');
    await store.activate(v1);
    assert.deepEqual(await aliasTargets(p), [`${p}_v1_article`, `${p}_v1_gone`]);

    const v2 = snapshotOf(p, 2, { article: { columns: { title: { type: 'string' } } } });
    await store.migrate(v2);
    assert.deepEqual(await aliasTargets(p), [`${p}_v1_article`, `${p}_v1_gone`], 'migrating v2 left the latest alias on v1');
    assert.deepEqual(await aliasTargets(`${p}_v2`), [`${p}_v2_article`]);
    const [a] = ids(1);
    await store.apply([put(v2, 'article', { id: a, project_version: 2, title: 'in v2' }), put(v1, 'article', { id: a, project_version: 1, title: 'in v1' })]);
    await store.activate(v2);
    assert.deepEqual(await aliasTargets(p), [`${p}_v2_article`]);
    assert.deepEqual(await aliasTargets(`${p}_v1`), [`${p}_v1_article`, `${p}_v1_gone`], 'the version alias stays');
    await esOk('POST', `/${p}/_refresh`);
    const hits = (await esOk('POST', `/${p}/_search`, { query: { match_all: {} } })).hits.hits as Array<{ _index: string; _source: { title: string } }>;
    assert.deepEqual(hits.map((h) => [h._index, h._source.title]), [[`${p}_v2_article`, 'in v2']]);
    // again is harmless; back works too
    await store.activate(v2);
    assert.deepEqual(await aliasTargets(p), [`${p}_v2_article`]);
    await store.activate(v1);
    assert.deepEqual(await aliasTargets(p), [`${p}_v1_article`, `${p}_v1_gone`]);
    // a version whose indices are not there is refused, and the alias stays
    await assert.rejects(store.activate({ ...v2, version: 5 }), new RegExp(`${p}_v5_article does not exist`));
    assert.deepEqual(await aliasTargets(p), [`${p}_v1_article`, `${p}_v1_gone`]);
    await store.dropProject(p, [1, 2]);
    assert.deepEqual(await aliasTargets(p), []);
  });

  test('an alias named like the project on an index dstore did not make stops migrate and activate', async () => {
    const p = `${RUN}_foreign`;
    const foreign = `${RUN}_someone_elses`;
    await esOk('PUT', `/${foreign}`, { aliases: { [p]: {} } });
    const v1 = snapshotOf(p, 1, { thing: { columns: { x: { type: 'string' } } } });
    await assert.rejects(store.migrate(v1), new RegExp(`alias ${p} already points at index ${foreign}`));
    assert.deepEqual(await indices(`${p}_v*`), [], 'nothing of the snapshot is left');
    await esOk('POST', '/_aliases', { actions: [{ remove: { index: foreign, alias: p } }] });
    await store.migrate(v1);
    await esOk('POST', '/_aliases', { actions: [{ add: { index: foreign, alias: p } }] });
    await assert.rejects(store.activate(v1), new RegExp(`alias ${p} already points at index ${foreign}`));
    assert.deepEqual(await aliasTargets(p), [foreign]);
    await esOk('DELETE', `/${foreign}`);
    await store.dropProject(p, [1]);
  });

  test('retire deletes one version\'s indices and version alias, leaves the others, and is harmless twice', async () => {
    const p = `${RUN}_retire`;
    const neighbour = `${p}_vip`; // its indices match the pattern `${p}_v*`
    const bp = { note: { columns: { title: { type: 'string' } } }, tag: { columns: { name: { type: 'string' } } } };
    const [v1, v2] = [1, 2].map((v) => snapshotOf(p, v, bp)) as [Snapshot, Snapshot];
    const n1 = snapshotOf(neighbour, 1, bp);
    const [id] = ids(1);
    for (const s of [v1, v2, n1]) {
      await store.migrate(s);
      await store.apply([put(s, 'note', { id, project_version: s.version, title: `${s.project} v${s.version}` })]);
    }
    await store.activate(v2);
    await store.retire(p, 1);
    assert.deepEqual(await indices(`${p}_v1_*`), []);
    assert.deepEqual(await aliasTargets(`${p}_v1`), []);
    assert.deepEqual(await indices(`${p}_v2_*`), [`${p}_v2_note`, `${p}_v2_tag`]);
    assert.deepEqual(await aliasTargets(p), [`${p}_v2_note`, `${p}_v2_tag`]);
    assert.deepEqual((await scan(v2, 'note')).map((s) => s.item['title']), [`${p} v2`]);
    assert.deepEqual((await scan(n1, 'note')).map((s) => s.item['title']), [`${neighbour} v1`]);
    await store.retire(p, 1);
    await store.retire(p, 9);
    assert.deepEqual(await indices(`${p}_v2_*`), [`${p}_v2_note`, `${p}_v2_tag`]);
    await store.dropProject(p, [2]);
    await store.dropProject(neighbour, [1]);
  });
});
