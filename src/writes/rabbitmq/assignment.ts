import { fnv1a } from './topology.ts';

/**
 * Which partitions each live worker should consume (SPEC §11): every partition
 * to exactly one worker, each worker floor(P/W) or ceil(P/W) of them. Pairs
 * (worker, partition) are taken best rendezvous score first, so the result
 * depends only on the set of workers (every worker computes the same one), and
 * a worker joining or leaving moves few partitions besides its own share.
 * Returns, per worker, its partitions in ascending order.
 */
export function assignPartitions(workers: readonly string[], partitions: number): Map<string, number[]> {
  const members = [...new Set(workers)].sort();
  const result = new Map<string, number[]>(members.map((w) => [w, []]));
  if (!members.length) return result;
  const floor = Math.floor(partitions / members.length);
  // how many workers may take one more than floor
  let extra = partitions % members.length;
  const pairs: Array<{ worker: string; partition: number; score: number }> = [];
  for (const worker of members) for (let p = 0; p < partitions; p++) pairs.push({ worker, partition: p, score: fnv1a(`${worker}#${p}`) });
  pairs.sort((a, b) => b.score - a.score || (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0) || a.partition - b.partition);
  const taken = new Set<number>();
  for (const { worker, partition } of pairs) {
    if (taken.has(partition)) continue;
    const held = result.get(worker)!;
    if (held.length < floor) {
      held.push(partition);
    } else if (held.length === floor && extra > 0) {
      held.push(partition);
      extra--;
    } else {
      continue;
    }
    taken.add(partition);
    if (taken.size === partitions) break;
  }
  for (const held of result.values()) held.sort((a, b) => a - b);
  return result;
}
