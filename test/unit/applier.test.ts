// applyToStore: poison writes are found by halving, dead-lettered with their reason, the rest applied in order; "engine down" waits instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyToStore, ApplyAbortedError, type ApplyHooks } from '../../src/writes/applier.ts';
import { StoreTimeoutError, StoreUnavailableError, WriteRejectedError, type EngineHealth, type Store, type StoreName, type Write } from '../../src/stores/store.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });
// stamps of now (ms × 1000): older ones are refused by the tombstone horizon
const NOW = Date.now() * 1000;
const put = (n: number, title = `t${n}`): Write => ({ op: 'put', project: 'p', version: 1, blueprint: 'article', definition, id: `id-${n}`, stamp: NOW + n, item: { id: `id-${n}`, project_version: 1, title } });
const many = (count: number, poison: Record<number, string> = {}): Write[] => Array.from({ length: count }, (_, i) => put(i, poison[i] ?? `t${i}`));

/** A small store of our own: keeps what it applied, in order, and breaks as told. */
class MemoryStore {
  readonly name: StoreName = 'postgresql';
  readonly applied: string[] = [];
  calls = 0;
  healthy = true;
  constructor(private readonly breaks: (writes: readonly Write[]) => Error | null) {}
  async health(): Promise<EngineHealth> {
    return this.healthy ? { status: 'up' } : { status: 'down', reason: 'probe failed' };
  }
  async apply(writes: readonly Write[]): Promise<void> {
    this.calls++;
    const err = this.breaks(writes);
    if (err) throw err;
    for (const w of writes) this.applied.push(w.id);
  }
  asStore(): Store {
    return this as unknown as Store;
  }
}

function hooks(extra: Partial<ApplyHooks> = {}) {
  const letters: Array<{ id: string; reason: string }> = [];
  const downs: string[] = [];
  const h: ApplyHooks = {
    deadLetter: async (w, _s, reason) => void letters.push({ id: w.id, reason }),
    stopping: () => false,
    unavailable: (_s, reason) => void downs.push(reason),
    ...extra,
  };
  return { h, letters, downs };
}

const titled = (title: string) => (writes: readonly Write[]) => (writes.some((w) => w.op === 'put' && w.item['title'] === title) ? new RangeError('Maximum call stack size exceeded') : null);

test('a write whose serialization throws inside 5,000 is found by halving: dead-lettered with the reason, the 4,999 others applied in order', async () => {
  const store = new MemoryStore(titled('poison'));
  const { h, letters } = hooks();
  const writes = many(5000, { 3210: 'poison' });
  const parked = await applyToStore(store.asStore(), writes, h);
  assert.deepEqual(parked.map((w) => w.id), ['id-3210']);
  assert.deepEqual(letters, [{ id: 'id-3210', reason: 'RangeError: Maximum call stack size exceeded' }]);
  assert.deepEqual(store.applied, writes.filter((w) => w.id !== 'id-3210').map((w) => w.id));
  // halving, not one by one: about 2 × log2(5000) calls
  assert.ok(store.calls <= 30, `${store.calls} apply calls`);
});

test('two poison writes in one batch are both isolated, the rest applied in order', async () => {
  const store = new MemoryStore((writes) => (writes.some((w) => w.op === 'put' && String(w.item['title']).startsWith('bad')) ? new Error('engine error on the batch') : null));
  const { h, letters } = hooks();
  const writes = many(1000, { 0: 'bad-a', 999: 'bad-b' });
  await applyToStore(store.asStore(), writes, h);
  assert.deepEqual(letters.map((l) => l.id), ['id-0', 'id-999']);
  assert.equal(store.applied.length, 998);
  assert.deepEqual(store.applied, writes.slice(1, 999).map((w) => w.id));
});

test('a batch the engine never answers while its health probe answers is suspect and split', async () => {
  const store = new MemoryStore((writes) => (writes.some((w) => w.id === 'id-7') ? new StoreTimeoutError('elasticsearch', 'no answer within 30000 ms') : null));
  const { h, letters, downs } = hooks();
  await applyToStore(store.asStore(), many(20), h);
  assert.deepEqual(letters.map((l) => l.id), ['id-7']);
  assert.match(letters[0]!.reason, /no answer within/);
  assert.equal(store.applied.length, 19);
  assert.deepEqual(downs, []);
});

test('a timeout while the health probe fails too is "engine down": retried with backoff, nothing dead-lettered', async () => {
  let failures = 3;
  const store = new MemoryStore(() => (failures-- > 0 ? new StoreTimeoutError('postgresql', 'Query read timeout') : null));
  store.healthy = false;
  const { h, letters, downs } = hooks();
  await applyToStore(store.asStore(), many(10), h);
  assert.deepEqual(letters, []);
  assert.equal(downs.length, 3);
  assert.match(downs[0]!, /probe failed/);
  assert.equal(store.applied.length, 10);
});

test('an unavailable engine (disk full) is waited for, never dead-lettered, and the batch is not split', async () => {
  let failures = 2;
  const store = new MemoryStore(() => (failures-- > 0 ? new StoreUnavailableError('level', 'IO error: No space left on device') : null));
  const { h, letters, downs } = hooks();
  await applyToStore(store.asStore(), many(100), h);
  assert.deepEqual(letters, []);
  assert.equal(downs.length, 2);
  assert.equal(store.calls, 3);
  assert.equal(store.applied.length, 100);
});

test('per-write refusals park exactly those writes; the others are applied without splitting', async () => {
  const store = new MemoryStore((writes) => {
    const reasons = new Map<number, string>();
    writes.forEach((w, i) => w.id === 'id-4' && reasons.set(i, 'violates check constraint'));
    return reasons.size ? new WriteRejectedError('postgresql', reasons) : null;
  });
  const { h, letters } = hooks();
  await applyToStore(store.asStore(), many(10), h);
  assert.deepEqual(letters, [{ id: 'id-4', reason: 'violates check constraint' }]);
  assert.equal(store.applied.length, 9);
  assert.equal(store.calls, 2);
});

test('a dead letter that cannot be kept (disk full) is retried like an engine that is down; the write is never dropped', async () => {
  const store = new MemoryStore(titled('poison'));
  let refusals = 2;
  const kept: string[] = [];
  const { h, downs } = hooks({
    deadLetter: async (w) => {
      if (refusals-- > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      kept.push(w.id);
    },
  });
  const parked = await applyToStore(store.asStore(), many(8, { 5: 'poison' }), h);
  assert.deepEqual(kept, ['id-5']);
  assert.deepEqual(parked.map((w) => w.id), ['id-5']);
  assert.equal(downs.length, 2);
  assert.match(downs[0]!, /dead letter of id-5 cannot be kept.*ENOSPC/);
});

test('shutdown stops the retries with ApplyAbortedError, nothing is parked', async () => {
  const store = new MemoryStore(() => new StoreUnavailableError('level', 'closed'));
  let stop = false;
  const { h, letters } = hooks({ stopping: () => stop, unavailable: () => void (stop = true) });
  await assert.rejects(applyToStore(store.asStore(), many(3), h), ApplyAbortedError);
  assert.deepEqual(letters, []);
});
