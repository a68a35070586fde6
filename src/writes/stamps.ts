/**
 * Write stamps: a number per accepted write, increasing within a process and
 * following the wall clock across processes (milliseconds × 1000 + a counter),
 * so every store can tell a later write of an item from an earlier one.
 * They stay below 2^53 (exact in JSON) and are valid Elasticsearch external versions.
 */
let last = 0;

export function nextStamp(now: number = Date.now()): number {
  last = Math.max(last + 1, now * 1000);
  return last;
}
