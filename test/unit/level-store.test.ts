// The LevelDB store on a real LevelDB in a temp dir: key layout, stamps (no going back in time), drop.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../../src/stores/level/level-store.ts';
import { itemKey, projectRange } from '../../src/stores/level/keys.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
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
