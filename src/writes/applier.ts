import type { EngineHealth, Store, StoreName, Write } from '../stores/store.ts';
import { StoreTimeoutError, StoreUnavailableError, WriteRejectedError } from '../stores/store.ts';

export interface ApplyHooks {
  /** A write the store refused for good. Throws when the letter cannot be kept (disk full): it is tried again later. */
  deadLetter(write: Write, store: StoreName, reason: string): Promise<void>;
  /** True once the caller gives up (shutdown): stop retrying and throw. */
  stopping(): boolean;
  /** The store is unreachable (or a dead letter cannot be kept); called before each backoff wait. */
  unavailable?(store: StoreName, reason: string, attempt: number): void;
  /** The store answered again after being unreachable. */
  recovered?(store: StoreName): void;
}

export class ApplyAbortedError extends Error {}

/** SPEC §7 default of TOMBSTONE_TTL_S: seven days. */
export const DEFAULT_TOMBSTONE_TTL_S = 604_800;
let tombstoneTtlS = DEFAULT_TOMBSTONE_TTL_S;

/** Sets TOMBSTONE_TTL_S for every queue of this process (main.ts, from the configuration). */
export function setTombstoneTtl(seconds: number): void {
  tombstoneTtlS = seconds;
}

export function tombstoneTtl(): number {
  return tombstoneTtlS;
}

/** The oldest stamp a write may carry to be applied now (stamps are ms × 1000 + a counter, writes/stamps.ts). */
export function tombstoneHorizon(now = Date.now()): number {
  return (now - tombstoneTtlS * 1000) * 1000;
}

/** The reason a write is dead-lettered with when it is too old to be applied safely (SPEC §11). */
export const TOO_OLD = 'older than TOMBSTONE_TTL_S';

/** Writes judged too old once, so that every store dead-letters them rather than some applying them. */
const tooOld = new WeakSet<Write>();

/**
 * Why a write must not be applied: the tombstone of a later delete of its item may be pruned already.
 * Checked before every attempt, so a write that waited out an engine outage is judged when it is applied;
 * copies (back-fill, rebuild) are exempt: their source held the item live when it was scanned.
 */
function horizonProblem(write: Write, horizon: number): string | null {
  if (write.op === 'put' && write.copied) return null;
  if (!tooOld.has(write) && write.stamp >= horizon) return null;
  tooOld.add(write);
  const written = new Date(Math.floor(write.stamp / 1000)).toISOString();
  return `${TOO_OLD} (${tombstoneTtlS} s): stamped ${written}, before ${new Date(Math.floor(horizon / 1000)).toISOString()}; the tombstone of a later delete may be pruned, so applying it could bring a deleted item back`;
}

const MAX_BACKOFF_MS = 5000;
/** A health probe after a timed-out batch answers within this, or the engine counts as down. */
const PROBE_TIMEOUT_MS = 3000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 50 * 2 ** Math.min(attempt, 10));
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
}

/** The store's own health, bounded: a probe that hangs is a probe that failed. */
async function probe(store: Store): Promise<EngineHealth> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<EngineHealth>((resolve) => (timer = setTimeout(() => resolve({ status: 'down', reason: `no answer to a health probe within ${PROBE_TIMEOUT_MS} ms` }), PROBE_TIMEOUT_MS)));
  try {
    return await Promise.race([store.health().catch((e: unknown) => ({ status: 'down' as const, reason: message(e) })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How one failed apply() of a run of writes is to be handled: `down` (the engine,
 * not the writes: wait and retry the same run), `refused` (the engine named the
 * writes it will never take) or `suspect` (something in the run breaks it: split).
 */
type Verdict = { kind: 'down'; reason: string } | { kind: 'refused'; reasons: ReadonlyMap<number, string> } | { kind: 'suspect'; reason: string };

async function judge(store: Store, err: unknown): Promise<Verdict> {
  if (err instanceof StoreTimeoutError) {
    // a batch the engine never answers while it answers a probe is the batch's fault, not the engine's
    const health = await probe(store);
    if (health.status !== 'up') return { kind: 'down', reason: `${err.message}; health: ${health.reason ?? health.status}` };
    return { kind: 'suspect', reason: err.message };
  }
  if (err instanceof StoreUnavailableError) return { kind: 'down', reason: err.message };
  if (err instanceof WriteRejectedError && err.reasons.size) return { kind: 'refused', reasons: err.reasons };
  return { kind: 'suspect', reason: message(err) };
}

/**
 * Applies writes to one store until each is in or parked, in order. An
 * unreachable store (down, disk full) is retried with exponential backoff,
 * never dropped. Writes the store names as refused go to the dead-letter hook.
 * A run that fails for any other reason (a serializer throws, the engine errors
 * on the batch or never answers it while it answers a probe) is halved until
 * the write that breaks it is alone; that one is dead-lettered with the reason,
 * the others applied. A dead letter that cannot be kept counts as "down": the
 * write waits, it is never lost. Returns the writes that were dead-lettered.
 */
export async function applyToStore(store: Store, writes: readonly Write[], hooks: ApplyHooks): Promise<Write[]> {
  const parked: Write[] = [];
  // runs still to apply, in order; a split puts its two halves at the front
  const runs: Array<readonly Write[]> = writes.length ? [writes] : [];
  let attempt = 0;
  const wait = async (reason: string): Promise<void> => {
    attempt++;
    hooks.unavailable?.(store.name, reason, attempt);
    await sleep(backoff(attempt));
  };
  const park = async (write: Write, reason: string): Promise<void> => {
    for (;;) {
      if (hooks.stopping()) throw new ApplyAbortedError(`stopped before the dead letter of ${write.id} (${store.name}) was kept`);
      try {
        await hooks.deadLetter(write, store.name, reason);
        parked.push(write);
        if (attempt > 0) hooks.recovered?.(store.name);
        attempt = 0;
        return;
      } catch (err) {
        await wait(`${store.name}: the dead letter of ${write.id} cannot be kept (${message(err)})`);
      }
    }
  };
  while (runs.length) {
    let run = runs[0]!;
    if (hooks.stopping()) throw new ApplyAbortedError(`stopped before ${store.name} applied ${runs.reduce((n, r) => n + r.length, 0)} write(s)`);
    // the one horizon check of the write path (SPEC §11), before any engine sees the write
    const horizon = tombstoneHorizon();
    if (run.some((w) => horizonProblem(w, horizon))) {
      const fresh: Write[] = [];
      for (const w of run) {
        const problem = horizonProblem(w, horizon);
        if (problem) await park(w, problem);
        else fresh.push(w);
      }
      if (!fresh.length) {
        runs.shift();
        continue;
      }
      runs[0] = run = fresh;
    }
    let failure: unknown;
    try {
      await store.apply(run);
    } catch (err) {
      failure = err;
    }
    if (failure === undefined) {
      runs.shift();
      if (attempt > 0) hooks.recovered?.(store.name);
      attempt = 0;
      continue;
    }
    const verdict = await judge(store, failure);
    if (verdict.kind === 'down') {
      await wait(verdict.reason);
      continue;
    }
    if (verdict.kind === 'refused') {
      const keep: Write[] = [];
      for (let i = 0; i < run.length; i++) {
        const reason = verdict.reasons.get(i);
        if (reason === undefined) keep.push(run[i]!);
        else await park(run[i]!, reason);
      }
      if (keep.length) runs[0] = keep;
      else runs.shift();
      continue;
    }
    if (run.length === 1) {
      await park(run[0]!, verdict.reason);
      runs.shift();
      continue;
    }
    // the run breaks without saying which write: halve it, in order, until the culprit is alone
    const middle = Math.ceil(run.length / 2);
    runs.splice(0, 1, run.slice(0, middle), run.slice(middle));
  }
  return parked;
}
