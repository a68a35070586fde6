// The LevelDB store on a real LevelDB in a temp dir: key layout, stamps (no going back in time), drop.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../../src/stores/level/level-store.ts';
import { itemKey, projectRange } from '../../src/stores/level/keys.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
import { itemProblems } from '../../src/schema/item.ts';
import { StoreUnavailableError, type ItemDelete, type ItemPut } from '../../src/stores/store.ts';

let dir: string;
let store: LevelStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-level-'));
  store = new LevelStore(join(dir, 'level'));
  await store.open();
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' }, place: { type: 'point' } } });
const ID = '66276124-ebcd-45e1-8013-825346daa283';

function put(stamp: number, title: string, o: { project?: string; version?: number; id?: string; blueprint?: string } = {}): ItemPut {
  const id = o.id ?? ID;
  const version = o.version ?? 1;
  return { op: 'put', project: o.project ?? 'myblog', version, blueprint: o.blueprint ?? 'article', definition, id, stamp, item: { id, project_version: version, title } };
}

function del(stamp: number, o: { project?: string; versions?: number[]; id?: string } = {}): ItemDelete {
  return { op: 'delete', project: o.project ?? 'myblog', blueprint: 'article', id: o.id ?? ID, stamp, targets: (o.versions ?? [1]).map((version) => ({ version, definition })) };
}

async function items(project?: string): Promise<Record<string, unknown>> {
  const entries = await store.entries(project ? projectRange(project) : {});
  return Object.fromEntries(entries.filter(([k]) => !k.startsWith('!')).map(([k, v]) => [k, JSON.parse(v)]));
}

async function titleOf(project = 'myblog', version = 1, id = ID): Promise<string | undefined> {
  const value = (await items())[itemKey(project, version, 'article', id)] as { title: string } | undefined;
  return value?.title;
}

test('an item lands under project/version/blueprint/id, as the JSON that was sent (geometry as GeoJSON)', async () => {
  const w = put(10, 'hello');
  w.item['place'] = { type: 'Point', coordinates: [4.9, 52.3] };
  await store.apply([w]);
  assert.deepEqual(await items(), { [`myblog/v0000000001/article/${ID}`]: { id: ID, project_version: 1, title: 'hello', place: { type: 'Point', coordinates: [4.9, 52.3] } } });
  // dstore's own bookkeeping lives under '!', apart from every item key
  const keys = (await store.entries()).map(([k]) => k);
  assert.ok(keys.filter((k) => !k.includes('/v0')).every((k) => k.startsWith('!')), keys.join(', '));
});

test('keys sort by project, version (numerically), blueprint, id', async () => {
  assert.ok(itemKey('p', 2, 'a', ID) < itemKey('p', 10, 'a', ID));
  assert.ok(itemKey('p', 9, 'z', ID) < itemKey('p', 10, 'a', ID));
  assert.ok(itemKey('a', 99, 'z', ID) < itemKey('a_b', 1, 'a', ID));
  assert.ok(itemKey('a', 1, 'b', ID) < itemKey('a', 1, 'b_c', ID));
  assert.equal(itemKey('p', 1, 'a', ID.toUpperCase()), itemKey('p', 1, 'a', ID));
  const ids = ['00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001'];
  let stamp = 100;
  await store.apply([
    put(stamp++, 'x', { version: 10, id: ids[0] }),
    put(stamp++, 'x', { version: 2, id: ids[0] }),
    put(stamp++, 'x', { version: 2, id: ids[1], blueprint: 'zeta' }),
    put(stamp++, 'x', { version: 2, id: ids[1], blueprint: 'alpha' }),
    put(stamp++, 'x', { project: 'a_b', id: ids[0] }),
    put(stamp++, 'x', { project: 'a', id: ids[1] }),
  ]);
  const keys = Object.keys(await items());
  assert.deepEqual(keys, [
    `a/v0000000001/article/${ids[1]}`,
    `a_b/v0000000001/article/${ids[0]}`,
    `myblog/v0000000002/alpha/${ids[1]}`,
    `myblog/v0000000002/article/${ids[0]}`,
    `myblog/v0000000002/zeta/${ids[1]}`,
    `myblog/v0000000010/article/${ids[0]}`,
  ]);
});

test('a newer put then an older put keeps the newer (separate batches and one batch)', async () => {
  await store.apply([put(20, 'newer')]);
  await store.apply([put(10, 'older')]);
  assert.equal(await titleOf(), 'newer');
  // the same stamp again (a redelivery) changes nothing either
  await store.apply([put(20, 'redelivered')]);
  assert.equal(await titleOf(), 'newer');
  // within one batch, order in the batch does not matter: the higher stamp wins
  const other = '00000000-0000-4000-8000-000000000009';
  await store.apply([put(40, 'newer', { id: other }), put(30, 'older', { id: other })]);
  assert.equal(await titleOf('myblog', 1, other), 'newer');
  // and a later one still applies
  await store.apply([put(21, 'latest')]);
  assert.equal(await titleOf(), 'latest');
});

test('a delete then an older put stays deleted, in every version the delete named', async () => {
  await store.apply([put(10, 'v1', { version: 1 }), put(11, 'v2', { version: 2 })]);
  await store.apply([del(20, { versions: [1, 2] })]);
  assert.deepEqual(await items(), {});
  await store.apply([put(15, 'late', { version: 1 })]);
  await store.apply([put(19, 'late', { version: 2 })]);
  assert.deepEqual(await items(), {});
  // a put newer than the delete brings it back
  await store.apply([put(21, 'again', { version: 2 })]);
  assert.equal(await titleOf('myblog', 2), 'again');
  // and an older delete does not remove it
  await store.apply([del(20, { versions: [2] })]);
  assert.equal(await titleOf('myblog', 2), 'again');
});

test('stamps survive a reopen: an older write is still refused afterwards', async () => {
  await store.apply([put(50, 'newer'), del(60, { id: '00000000-0000-4000-8000-000000000003' })]);
  await store.close();
  store = new LevelStore(join(dir, 'level'));
  await store.open();
  await store.apply([put(40, 'older'), put(55, 'ghost', { id: '00000000-0000-4000-8000-000000000003' })]);
  assert.equal(await titleOf(), 'newer');
  assert.equal(await titleOf('myblog', 1, '00000000-0000-4000-8000-000000000003'), undefined);
});

test('dropProject clears only that project: `a` leaves `a_b` (and `ab`, `a0`) alone', async () => {
  let stamp = 1;
  for (const project of ['a', 'a_b', 'ab', 'a0']) {
    await store.apply([put(stamp++, project, { project }), put(stamp++, project, { project, version: 2, id: '00000000-0000-4000-8000-000000000004' })]);
  }
  await store.apply([del(stamp++, { project: 'a', id: '00000000-0000-4000-8000-000000000005' })]);
  const before = (await store.entries()).map(([k]) => k);
  await store.dropProject('a', [1, 2]);
  const after = (await store.entries()).map(([k]) => k);
  const gone = before.filter((k) => !after.includes(k));
  assert.deepEqual(gone.sort(), before.filter((k) => k.startsWith('a/') || k.startsWith('!stamp/a/')).sort());
  assert.equal(gone.length, 2 + 3); // two items, three stamps (two puts, one delete)
  assert.ok(after.some((k) => k.startsWith('a_b/')) && after.some((k) => k.startsWith('ab/')) && after.some((k) => k.startsWith('a0/')));
  assert.ok(after.some((k) => k.startsWith('!stamp/a_b/')));
  // a dropped project starts over: an old stamp no longer blocks a new write
  await store.apply([put(1, 'fresh', { project: 'a' })]);
  assert.equal(await titleOf('a'), 'fresh');
});

test('a closed store is unavailable, not broken (the queue retries)', async () => {
  await store.close();
  assert.deepEqual((await store.health()).status, 'down');
  await assert.rejects(store.apply([put(1, 'x')]), (e: Error) => e instanceof StoreUnavailableError && /not open/.test(e.message));
  store = new LevelStore(join(dir, 'level'));
  await store.open();
  assert.deepEqual(await store.health(), { status: 'up' });
});

test('stamps are kept per version: a late write for one version is judged against that version only, as in PostgreSQL', async () => {
  await store.apply([put(10, 'v1 first', { version: 1 }), put(20, 'v2', { version: 2 })]);
  // a write for version 1 stamped between the two arrives late: it is newer than version 1's item
  await store.apply([put(15, 'v1 second', { version: 1 })]);
  assert.equal(await titleOf('myblog', 1), 'v1 second');
  assert.equal(await titleOf('myblog', 2), 'v2');
  // a delete reaches every version it names; older writes of either version stay away
  await store.apply([del(30, { versions: [1, 2] })]);
  await store.apply([put(25, 'too late', { version: 1 }), put(26, 'too late', { version: 2 })]);
  assert.equal(await titleOf('myblog', 1), undefined);
  assert.equal(await titleOf('myblog', 2), undefined);
});

// ---------------------------------------------------------------- scan, retire (SPEC §9 back-fill source, "Retiring")

const SCAN_IDS = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-00000000000c', '00000000-0000-4000-8000-00000000000d', '00000000-0000-4000-8000-00000000000e'];

function scanOf(o: { version?: number; blueprint?: string; after?: string; limit?: number } = {}) {
  return store.scan({ project: 'myblog', version: o.version ?? 1, blueprint: o.blueprint ?? 'article', definition, after: o.after, limit: o.limit ?? 100 });
}

test('scan pages through one blueprint of one version in id order, with each item\'s stamp; deleted items are not scanned', async () => {
  // written out of id order, with neighbours that must not show: another version, another blueprint, a longer blueprint name, another project
  const order = [3, 0, 4, 1, 2];
  await store.apply(order.map((k, i) => put(100 + i, `t${k}`, { id: SCAN_IDS[k] })));
  await store.apply([
    put(200, 'other version', { id: SCAN_IDS[0], version: 2 }),
    put(201, 'other blueprint', { id: SCAN_IDS[0], blueprint: 'articlex' }),
    put(202, 'longer name', { id: SCAN_IDS[0], blueprint: 'article_x' }),
    put(203, 'other project', { id: SCAN_IDS[0], project: 'myblog_x' }),
  ]);
  const first = await scanOf({ limit: 2 });
  assert.deepEqual(first.map((s) => [s.id, s.stamp]), [[SCAN_IDS[0], 101], [SCAN_IDS[1], 103]]);
  assert.deepEqual(first[0]!.item, { id: SCAN_IDS[0], project_version: 1, title: 't0' });
  const second = await scanOf({ limit: 2, after: first[1]!.id });
  assert.deepEqual(second.map((s) => [s.id, s.stamp]), [[SCAN_IDS[2], 104], [SCAN_IDS[3], 100]]);
  const third = await scanOf({ limit: 2, after: second[1]!.id });
  assert.deepEqual(third.map((s) => [s.id, s.stamp]), [[SCAN_IDS[4], 102]]);
  assert.deepEqual(await scanOf({ limit: 2, after: SCAN_IDS[4] }), []);
  // a cursor that is not an item's id starts after it all the same
  assert.deepEqual((await scanOf({ after: '00000000-0000-4000-8000-00000000000b0' })).map((s) => s.id), SCAN_IDS.slice(2));

  await store.apply([del(300, { id: SCAN_IDS[1], versions: [1, 2] }), put(301, 'rewritten', { id: SCAN_IDS[2] })]);
  const all = await scanOf();
  assert.deepEqual(all.map((s) => [s.id, s.stamp, s.item['title']]), [[SCAN_IDS[0], 101, 't0'], [SCAN_IDS[2], 301, 'rewritten'], [SCAN_IDS[3], 100, 't3'], [SCAN_IDS[4], 102, 't4']]);
  // count is what a scan gives: the deleted one and the neighbours are not counted
  assert.equal(await store.count({ project: 'myblog', version: 1, blueprint: 'article', definition }), all.length);
  assert.deepEqual((await scanOf({ version: 2 })).map((s) => [s.id, s.stamp]), [[SCAN_IDS[0], 200]]);
  assert.deepEqual(await scanOf({ version: 3 }), []);
});

test('scan gives each item as a client would send it for that version: its id and version, null fields left out, geometry as GeoJSON', async () => {
  const w = put(10, 'x', { id: SCAN_IDS[0], version: 2 });
  w.item = { id: SCAN_IDS[0], project_version: 1, title: null, place: { type: 'Point', coordinates: [4.9, 52.3] }, links: null };
  await store.apply([w]);
  const [scanned] = await scanOf({ version: 2 });
  assert.deepEqual(scanned!.item, { id: SCAN_IDS[0], project_version: 2, place: { type: 'Point', coordinates: [4.9, 52.3] } });
  assert.deepEqual(itemProblems(definition, scanned!.item), {});
});

test('retire clears one version\'s items and stamps, leaves the other versions and projects, and is harmless twice', async () => {
  let stamp = 1;
  for (const version of [1, 2, 10]) await store.apply([put(stamp++, `v${version}`, { version }), put(stamp++, 'other', { version, project: 'myblog_x' })]);
  await store.apply([del(stamp++, { id: SCAN_IDS[0], versions: [1, 2, 10] })]);
  const before = (await store.entries()).map(([k]) => k);
  await store.retire('myblog', 1);
  const after = (await store.entries()).map(([k]) => k);
  const gone = before.filter((k) => !after.includes(k));
  assert.deepEqual(gone.sort(), [itemKey('myblog', 1, 'article', ID), `!stamp/${itemKey('myblog', 1, 'article', ID)}`, `!stamp/${itemKey('myblog', 1, 'article', SCAN_IDS[0])}`].sort());
  assert.equal(await titleOf('myblog', 2), 'v2');
  assert.equal(await titleOf('myblog', 10), 'v10');
  assert.equal(await titleOf('myblog_x', 1), 'other');
  await store.retire('myblog', 1);
  assert.deepEqual((await store.entries()).map(([k]) => k), after);
  // activate has nothing to move in LevelDB
  await store.activate({ project: 'myblog', version: 2, createdAt: new Date().toISOString(), blueprints: { article: definition } });
  assert.deepEqual((await store.entries()).map(([k]) => k), after);
});
