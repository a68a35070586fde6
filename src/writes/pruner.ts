import type { Store } from '../stores/store.ts';
import { StoreUnavailableError } from '../stores/store.ts';

/** Tombstones removed (or stamp keys looked at) per step: small enough that a step never holds writes back for long. */
export const PRUNE_BATCH = 1000;
/** Pause between two steps, so writes run between them. */
const PRUNE_PAUSE_MS = 20;
/** Longest pause the margin below adds; see `prunable`. */
const MAX_MARGIN_S = 60;

export interface PrunerOptions {
  ttlSeconds: number;
  /** How often a round runs: at least every min(TTL, 1 h) (SPEC §11). */
  intervalMs: number;
  log: (msg: string) => void;
}

/**
 * Below which stamp tombstones may go: the write horizon (writes/applier.ts) less a margin of
 * min(TTL, 60 s). A write is checked against the horizon right before each
 * store call (writes/applier.ts), and a store call ends within its timeout
 * (≤ 35 s), so a write that passed the check is applied before a tombstone it
 * could need is older than this.
 */
export function prunable(ttlSeconds: number, now = Date.now()): number {
  return (now - (ttlSeconds + Math.min(ttlSeconds, MAX_MARGIN_S)) * 1000) * 1000;
}

/**
 * Prunes tombstones on a schedule inside the process that applies writes
 * (a worker, or ROLE=all): one store at a time, in bounded steps with a pause
 * between them. A store that is down is skipped this round and tried the next.
 */
export class Pruner {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly stores: readonly Store[],
    private readonly options: PrunerOptions,
  ) {}

  start(): void {
    if (this.closed || this.timer) return;
    this.schedule(Math.min(this.options.intervalMs, 1000));
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.round = this.prune().then(() => {}).finally(() => {
        this.round = null;
        if (!this.closed) this.schedule(this.options.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One round over every store; resolves with what each removed. */
  async prune(): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    for (const store of this.stores) {
      if (this.closed) break;
      removed[store.name] = 0;
      try {
        for (;;) {
          const step = await store.prune({ stamp: prunable(this.options.ttlSeconds), ttlSeconds: this.options.ttlSeconds, limit: PRUNE_BATCH });
          removed[store.name]! += step.removed;
          if (!step.more || this.closed) break;
          await new Promise((resolve) => setTimeout(resolve, PRUNE_PAUSE_MS));
        }
      } catch (err) {
        const why = err instanceof StoreUnavailableError ? err.message : `${store.name}: ${(err as Error).message}`;
        this.options.log(`prune: ${why}; trying again in ${Math.round(this.options.intervalMs / 1000)} s`);
      }
      if (removed[store.name]) this.options.log(`prune: ${store.name}: removed ${removed[store.name]} tombstone(s) older than TOMBSTONE_TTL_S=${this.options.ttlSeconds}`);
    }
    return removed;
  }

  /** Stops scheduling; a round in progress ends after its current step. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round;
  }
}
