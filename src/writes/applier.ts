import type { Store, StoreName, Write } from '../stores/store.ts';
import { StoreUnavailableError, WriteRejectedError } from '../stores/store.ts';

export interface ApplyHooks {
  /** A write the store refused for good. */
  deadLetter(write: Write, store: StoreName, reason: string): Promise<void>;
  /** True once the caller gives up (shutdown): stop retrying and throw. */
  stopping(): boolean;
  /** The store is unreachable; called before each backoff wait. */
  unavailable?(store: StoreName, reason: string, attempt: number): void;
  /** The store answered again after being unreachable. */
  recovered?(store: StoreName): void;
}

export class ApplyAbortedError extends Error {}

const MAX_BACKOFF_MS = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Applies writes to one store until they are in or parked: an unreachable
 * store is retried with exponential backoff (never dropped); writes the store
 * refuses go to the dead-letter hook, the rest still apply, in order.
 * Returns the writes that were dead-lettered.
 */
export async function applyToStore(store: Store, writes: readonly Write[], hooks: ApplyHooks): Promise<Write[]> {
  const parked: Write[] = [];
  let remaining = writes;
  let attempt = 0;
  while (remaining.length) {
    if (hooks.stopping()) throw new ApplyAbortedError(`stopped before ${store.name} applied ${remaining.length} write(s)`);
    try {
      await store.apply(remaining);
      if (attempt > 0) hooks.recovered?.(store.name);
      return parked;
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        attempt++;
        hooks.unavailable?.(store.name, err.message, attempt);
        await sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** attempt));
        continue;
      }
      if (err instanceof WriteRejectedError && err.reasons.size) {
        const keep: Write[] = [];
        for (let i = 0; i < remaining.length; i++) {
          const reason = err.reasons.get(i);
          if (reason === undefined) keep.push(remaining[i]!);
          else {
            await hooks.deadLetter(remaining[i]!, store.name, reason);
            parked.push(remaining[i]!);
          }
        }
        remaining = keep;
        continue;
      }
      if (remaining.length === 1) {
        await hooks.deadLetter(remaining[0]!, store.name, (err as Error).message);
        parked.push(remaining[0]!);
        return parked;
      }
      // the store refused the batch without saying which write: find it by applying one at a time, in order
      for (const w of remaining) parked.push(...(await applyToStore(store, [w], hooks)));
      return parked;
    }
  }
  return parked;
}
