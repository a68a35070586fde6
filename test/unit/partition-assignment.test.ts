// Partition assignment over live workers (SPEC §11): complete, fair (floor or ceil each), the same for every worker, and stable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignPartitions } from '../../src/writes/rabbitmq/assignment.ts';

function check(workers: string[], partitions: number): Map<string, number[]> {
  const a = assignPartitions(workers, partitions);
  const all = [...a.values()].flat().sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: partitions }, (_, p) => p), `${workers.length} workers, ${partitions} partitions: each partition exactly once`);
  const n = new Set(workers).size;
  for (const [w, held] of a) {
    assert.ok(held.length === Math.floor(partitions / n) || held.length === Math.ceil(partitions / n), `${w} holds ${held.length} of ${partitions} over ${n}`);
  }
  return a;
}

test('every partition to exactly one worker, each floor(P/W) or ceil(P/W), for many shapes', () => {
  for (let partitions = 1; partitions <= 20; partitions++) {
    for (let w = 1; w <= 9; w++) check(Array.from({ length: w }, (_, i) => `host-${i} ${i * 7919}`), partitions);
  }
  const three = check(['a', 'b', 'c'], 8);
  assert.deepEqual([...three.values()].map((h) => h.length).sort(), [2, 3, 3]);
});

test('the same set in any order (and with duplicates) gives the same assignment', () => {
  const a = assignPartitions(['w1', 'w2', 'w3'], 8);
  assert.deepEqual(assignPartitions(['w3', 'w1', 'w2', 'w1'], 8), a);
});

test('a worker leaving moves its own partitions and few others', () => {
  const before = assignPartitions(['w1', 'w2', 'w3'], 64);
  const after = assignPartitions(['w1', 'w2'], 64);
  let moved = 0;
  for (const w of ['w1', 'w2']) moved += before.get(w)!.filter((p) => !after.get(w)!.includes(p)).length;
  assert.ok(moved <= 8, `only ${moved} partitions of the staying workers moved`);
});

test('no workers: nothing assigned', () => {
  assert.equal(assignPartitions([], 8).size, 0);
});
