// Tombstones (SPEC §11): no write older than TOMBSTONE_TTL_S is applied, and LevelDB's old delete stamps are pruned in bounded steps.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyToStore, setTombstoneTtl, DEFAULT_TOMBSTONE_TTL_S, TOO_OLD, tombstoneHorizon } from '../../src/writes/applier.ts';
import { Pruner, prunable } from '../../src/writes/pruner.ts';
import { LevelStore } from '../../src/stores/level/level-store.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
import type { ItemPut, Store, Write } from '../../src/stores/store.ts';

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });
const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const put = (n: number, stamp: number, extra: Partial<ItemPut> = {}): ItemPut => ({ op: 'put', project: 'p', version: 1, blueprint: 'article', definition, id: ID(n), stamp, item: { id: ID(n), project_version: 1, title: `t${n}` }, ...extra });
const del = (n: number, stamp: number): Write => ({ op: 'delete', project: 'p', blueprint: 'article', id: ID(n), stamp, targets: [{ version: 1, definition }] });
const secondsAgo = (s: number) => (Date.now() - s * 1000) * 1000;

afterEach(() => setTombstoneTtl(DEFAULT_TOMBSTONE_TTL_S));

test('a write stamped before now − TOMBSTONE_TTL_S is dead-lettered with its reason before the store sees it; a copy is exempt', async () => {
  setTombstoneTtl(60);
  const applied: string[] = [];
  const letters: Array<{ id: string; reason: string }> = [];
  const store = { name: 'postgresql', apply: async (ws: readonly Write[]) => void applied.push(...ws.map((w) => w.id)), health: async () => ({ status: 'up' }) } as unknown as Store;
  const writes = [put(1, secondsAgo(120)), put(2, secondsAgo(1)), del(3, secondsAgo(61)), put(4, secondsAgo(3600), { copied: true })];
  const parked = await applyToStore(store, writes, { deadLetter: async (w, _s, reason) => void letters.push({ id: w.id, reason }), stopping: () => false });
  assert.deepEqual(applied, [ID(2), ID(4)]);
  assert.deepEqual(parked.map((w) => w.id), [ID(1), ID(3)]);
  for (const l of letters) assert.match(l.reason, new RegExp(`^${TOO_OLD} \\(60 s\\): stamped `));
  // once judged too old, every other store dead-letters it too, even if its turn comes a moment later
  const again = await applyToStore(store, [writes[0]!], { deadLetter: async () => {}, stopping: () => false });
  assert.equal(again.length, 1);
});

test('the horizon is now − TTL in stamp units (ms × 1000); tombstones go only below it less a margin', () => {
  setTombstoneTtl(10);
  const now = 1_700_000_000_000;
  assert.equal(tombstoneHorizon(now), (now - 10_000) * 1000);
  assert.equal(prunable(10, now), (now - 20_000) * 1000, 'margin of min(TTL, 60 s)');
  setTombstoneTtl(604_800);
  assert.equal(prunable(604_800, now), (now - 604_800_000 - 60_000) * 1000);
});

let dir: string | null = null;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

test('LevelDB: old delete stamps go in bounded steps; recent tombstones and the stamps of live items stay', async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-prune-'));
  const store = new LevelStore(join(dir, 'level'));
  await store.open();
  try {
    const old = secondsAgo(7200);
    const writes: Write[] = [];
    for (let n = 0; n < 2500; n++) writes.push(put(n, old + n), del(n, old + 10_000 + n)); // 2,500 old tombstones
    writes.push(put(5000, old), put(5001, old), del(5001, secondsAgo(1))); // a live item and a fresh tombstone
    await store.apply(writes);
    const step = await store.prune({ stamp: secondsAgo(3600), ttlSeconds: 3600, limit: 1000 });
    assert.deepEqual(step, { removed: 1000, more: true });
    const pruner = new Pruner([store], { ttlSeconds: 3600, intervalMs: 3_600_000, log: () => {} });
    const removed = await pruner.prune();
    assert.equal(removed['level'], 1500);
    const stamps = await store.entries({ gte: '!stamp/', lt: '!stamp/\uffff' });
    assert.deepEqual(stamps.map(([k]) => k.slice(-4)), ['5000', '5001']);
    assert.equal(stamps[0]![1], String(old), 'the live item keeps its stamp');
    assert.match(stamps[1]![1], /d$/, 'the fresh tombstone stays');
    assert.deepEqual(await store.prune({ stamp: secondsAgo(3600), ttlSeconds: 3600, limit: 1000 }), { removed: 0, more: false });
  } finally {
    await store.close();
  }
});
