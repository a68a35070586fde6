import type { EngineHealth, PruneHorizon, PruneResult, ScannedItem, ScanRequest, Snapshot, Store, StoreName, Write } from '../stores/store.ts';
import { StoreUnavailableError, WriteRejectedError } from '../stores/store.ts';

interface Call {
  writes: readonly Write[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Merges the apply() calls that several queues (a worker's partitions) make at
 * the same time into one call of the store underneath: one SQL statement or one
 * _bulk instead of one per partition. Each caller's writes keep their order, and
 * different callers never hold writes of the same item, so merging keeps every
 * item's order. Each caller still gets its own outcome.
 */
export class CoalescingStore implements Store {
  readonly name: StoreName;
  private waiting: Call[] = [];
  private running = false;

  constructor(private readonly store: Store) {
    this.name = store.name;
  }

  apply(writes: readonly Write[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ writes, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length) {
      const calls = this.waiting;
      this.waiting = [];
      await this.applyMerged(calls);
    }
    this.running = false;
  }

  private async applyMerged(calls: Call[]): Promise<void> {
    if (calls.length === 1) {
      await this.store.apply(calls[0]!.writes).then(calls[0]!.resolve, calls[0]!.reject);
      return;
    }
    try {
      await this.store.apply(calls.flatMap((c) => c.writes));
      for (const c of calls) c.resolve();
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        for (const c of calls) c.reject(err);
      } else if (err instanceof WriteRejectedError) {
        // hand each caller the refusals of its own writes, numbered as it numbered them
        let offset = 0;
        for (const c of calls) {
          const own = new Map<number, string>();
          for (let i = 0; i < c.writes.length; i++) {
            const reason = err.reasons.get(offset + i);
            if (reason !== undefined) own.set(i, reason);
          }
          offset += c.writes.length;
          if (own.size) c.reject(new WriteRejectedError(err.store, own));
          else c.resolve();
        }
      } else {
        // the store refused the merged batch without saying which write: let each caller find out alone
        for (const c of calls) await this.store.apply(c.writes).then(c.resolve, c.reject);
      }
    }
  }

  open(): Promise<void> {
    return this.store.open();
  }
  health(): Promise<EngineHealth> {
    return this.store.health();
  }
  migrate(snapshot: Snapshot): Promise<void> {
    return this.store.migrate(snapshot);
  }
  abandon(project: string, version: number): Promise<void> {
    return this.store.abandon(project, version);
  }
  dropProject(project: string, versions: readonly number[]): Promise<void> {
    return this.store.dropProject(project, versions);
  }
  scan(request: ScanRequest): Promise<ScannedItem[]> {
    return this.store.scan(request);
  }
  count(request: Parameters<Store['count']>[0]): Promise<number> {
    return this.store.count(request);
  }
  activate(snapshot: Snapshot): Promise<void> {
    return this.store.activate(snapshot);
  }
  retire(project: string, version: number): Promise<void> {
    return this.store.retire(project, version);
  }
  prune(horizon: PruneHorizon): Promise<PruneResult> {
    return this.store.prune(horizon);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}
