// InProcessQueue: barrier() waits for the writes live when it is called, not for later ones; lanes report the age of their oldest write.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessQueue } from '../../src/writes/in-process-queue.ts';
import type { EngineHealth, Store, StoreName, Write } from '../../src/stores/store.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-queue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });
const put = (id: string, title = id): Write => ({ op: 'put', project: 'p', version: 1, blueprint: 'article', definition, id, stamp: Date.now() * 1000, item: { id, project_version: 1, title } });

/** A store of our own whose apply() waits while the test holds the write with that title. */
class GatedStore {
  readonly applied: string[] = [];
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void }>();
  constructor(readonly name: StoreName) {}
  hold(title: string): () => void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gates.set(title, { promise, open });
    return open;
  }
  async health(): Promise<EngineHealth> {
    return { status: 'up' };
  }
  async apply(writes: readonly Write[]): Promise<void> {
    for (const w of writes) {
      const gate = w.op === 'put' ? this.gates.get(String(w.item['title'])) : undefined;
      if (gate) await gate.promise;
    }
    for (const w of writes) this.applied.push(w.id);
  }
  asStore(): Store {
    return this as unknown as Store;
  }
}

test('barrier() waits for an earlier slow write and not for a later one', async () => {
  const level = new GatedStore('level');
  const queue = new InProcessQueue([level.asStore()], dir);
  await queue.start();
  const release = level.hold('slow');
  const slow = queue.submit([put('a', 'slow')], { async: true, timeoutMs: 1000 });
  await slow;
  let passed = false;
  const barrier = queue.barrier().then(() => (passed = true));
  // a later write that is held too must not hold the barrier
  const releaseLater = level.hold('later');
  await queue.submit([put('b', 'later')], { async: true, timeoutMs: 1000 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(passed, false, 'the barrier passed before the earlier write was applied');
  release();
  await barrier;
  assert.deepEqual(level.applied, ['a']);
  releaseLater();
  await queue.barrier();
  assert.deepEqual(level.applied, ['a', 'b']);
  await queue.close();
});

test('health() tells each engine\'s pending writes and the age of the oldest', async () => {
  const level = new GatedStore('level');
  const queue = new InProcessQueue([level.asStore()], dir);
  await queue.start();
  const release = level.hold('slow');
  await queue.submit([put('a', 'slow'), put('c')], { async: true, timeoutMs: 1000 });
  await new Promise((r) => setTimeout(r, 150));
  const lane = (await queue.health()).engines!.level!;
  assert.equal(lane.pending, 2);
  assert.ok(lane.oldestPendingMs >= 100, `oldest ${lane.oldestPendingMs} ms`);
  release();
  await queue.barrier();
  assert.deepEqual((await queue.health()).engines!.level, { pending: 0, oldestPendingMs: 0 });
  await queue.close();
});

test('a dead letter whose item cannot be serialized is kept (identity and reason), leaves no temp file, and does not block later letters', async () => {
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let i = 0; i < 20000; i++) cur = (cur['x'] = {}) as Record<string, unknown>;
  const refusing = {
    name: 'level',
    health: async () => ({ status: 'up' }),
    apply: async (writes: readonly Write[]) => {
      for (const w of writes) if (w.op === 'put') JSON.stringify(w.item);
    },
  } as unknown as Store;
  const queue = new InProcessQueue([refusing], dir);
  await queue.start();
  const poison: Write = { ...put('p1'), item: { id: 'p1', project_version: 1, title: 'x', blob: deep } } as Write;
  const result = await queue.submit([put('ok1'), poison, put('ok2')], { async: false, timeoutMs: 5000 });
  assert.equal(result.state, 'refused');
  const letters = await queue.deadLetters();
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.write.id, 'p1');
  assert.match(letters[0]!.reason, /Maximum call stack size exceeded/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
  // the unserializable letter stays in the list, and is not replayed into the journal
  assert.equal(await queue.replay(), 0);
  await queue.close();
});
