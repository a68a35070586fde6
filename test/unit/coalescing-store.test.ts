// CoalescingStore: concurrent apply() calls become one call of the store beneath, each caller keeps its own outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescingStore } from '../../src/writes/coalescing-store.ts';
import { WriteRejectedError, StoreUnavailableError, type Store, type Write } from '../../src/stores/store.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });
const w = (id: string): Write => ({ op: 'put', project: 'p', version: 1, blueprint: 'article', definition, id, stamp: 1, item: { id, project_version: 1 } });

/** A store that records each apply() and fails as told. */
function recording(fail: (writes: readonly Write[]) => Error | null = () => null) {
  const calls: string[][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  const store = {
    name: 'postgresql',
    async apply(writes: readonly Write[]) {
      calls.push(writes.map((x) => x.id));
      await gate;
      const err = fail(writes);
      if (err) throw err;
    },
  } as unknown as Store;
  return { store, calls, hold: () => (gate = new Promise((r) => (release = r))), release: () => release() };
}

test('calls made while the store is busy are merged into one, in order', async () => {
  const r = recording();
  const c = new CoalescingStore(r.store);
  r.hold();
  const first = c.apply([w('a')]);
  const second = c.apply([w('b'), w('c')]);
  const third = c.apply([w('d')]);
  r.release();
  await Promise.all([first, second, third]);
  assert.deepEqual(r.calls, [['a'], ['b', 'c', 'd']]);
});

test('refusals go back to the caller whose write it was, numbered as it numbered them', async () => {
  const r = recording((writes) => (writes.length > 1 ? new WriteRejectedError('postgresql', new Map([[2, 'no']])) : null));
  const c = new CoalescingStore(r.store);
  r.hold();
  const warm = c.apply([w('x')]);
  const one = c.apply([w('a'), w('b')]);
  const two = c.apply([w('c'), w('d')]);
  r.release();
  await warm;
  await one;
  await assert.rejects(two, (err: unknown) => err instanceof WriteRejectedError && [...err.reasons.keys()].join() === '0');
});

test('an unexplained failure of a merged call is retried per caller, so one bad write does not fail the others', async () => {
  const r = recording((writes) => (writes.some((x) => x.id === 'bad') ? new Error('boom') : null));
  const c = new CoalescingStore(r.store);
  r.hold();
  const warm = c.apply([w('x')]);
  const good = c.apply([w('a')]);
  const bad = c.apply([w('bad')]);
  r.release();
  await warm;
  await good;
  await assert.rejects(bad, /boom/);
  assert.deepEqual(r.calls, [['x'], ['a', 'bad'], ['a'], ['bad']]);
});

test('an unreachable store fails every merged caller with the same retryable error', async () => {
  const r = recording((writes) => (writes.length > 1 ? new StoreUnavailableError('postgresql', 'down') : null));
  const c = new CoalescingStore(r.store);
  r.hold();
  const warm = c.apply([w('x')]);
  const one = c.apply([w('a')]);
  const two = c.apply([w('b')]);
  r.release();
  await warm;
  await assert.rejects(one, StoreUnavailableError);
  await assert.rejects(two, StoreUnavailableError);
});
