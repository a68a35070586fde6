import type { StoreName, Write } from '../stores/store.ts';

/** How a submitted batch of writes ended, as far as the client is told. */
export type SubmitResult =
  | { state: 'applied' }
  /** Durably queued; `pending` names the engines that had not applied it yet. */
  | { state: 'accepted'; pending: StoreName[] }
  /** An engine refused some of the writes for good; they are in the dead-letter list, the other engines applied them. */
  | { state: 'refused'; refused: Array<{ store: StoreName; id: string; reason: string }> };

export interface SubmitOptions {
  /** Answer as soon as the writes are durably queued. */
  async: boolean;
  /** Answer `accepted` after this long even if engines are still pending. */
  timeoutMs: number;
  /** Only this engine applies the writes (of LevelDB under RabbitMQ, only that worker's copy): a rebuild's refill (SPEC §12). */
  only?: { store: StoreName; worker?: string };
}

export interface QueueHealth {
  status: 'up' | 'down';
  reason?: string;
  pending?: number;
  /** Per engine, as the queue sees it (SPEC §6 "stuck"): /_health shows an engine down or stuck from this. */
  engines?: Partial<Record<StoreName, LaneHealth>>;
}

/** One engine's share of the queue: writes waiting, the age of the oldest, and why it is not moving. */
export interface LaneHealth {
  pending: number;
  /** Age of the oldest write this engine has not applied yet; 0 when none is waiting. */
  oldestPendingMs: number;
  /** Set while the engine refuses to take writes (down, disk full, a dead letter that cannot be kept). */
  down?: string;
}

/** A write that an engine kept refusing, parked with the reason. */
export interface DeadLetter {
  id: string;
  store: StoreName;
  reason: string;
  failedAt: string;
  write: Write;
}

/**
 * Carries accepted writes to the stores. The in-process queue and the
 * RabbitMQ queue both implement it; the HTTP layer only ever talks to this.
 */
export interface WriteQueue {
  readonly kind: string;
  start(): Promise<void>;
  /** Throws QueueUnavailableError when the writes cannot be accepted at all. */
  submit(writes: Write[], options: SubmitOptions): Promise<SubmitResult>;
  health(): Promise<QueueHealth>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Puts dead letters back on the queue: all, or those named; returns how many. */
  replay(ids?: readonly string[]): Promise<number>;
  /**
   * Removes a project from the engines this queue keeps one copy of per worker
   * (LevelDB, SPEC §5), after the writes queued before it. Engines shared by all
   * workers are dropped by the API directly.
   */
  dropCopies(project: string, versions: readonly number[]): Promise<void>;
  /**
   * Removes one retired version from the per-worker engines' copies (LevelDB in
   * every worker, SPEC §9 "Retiring"), after the writes queued before it.
   */
  retireCopies(project: string, version: number): Promise<void>;
  /**
   * Resolves once every write accepted before the call has been applied (or
   * dead-lettered) by every engine and every worker copy: a back-fill scans its
   * source only after it, so no write accepted before a snapshot was announced
   * can fall between the scan and the copies (SPEC §9 "Back-fill").
   */
  barrier(): Promise<void>;
  /** Engines that live in the workers (one copy each) rather than behind the API. */
  readonly perWorker: readonly StoreName[];
  /** Stops taking writes, finishes or hands back those in flight. */
  close(): Promise<void>;
}

export class QueueUnavailableError extends Error {}

/**
 * A write an engine had not applied by WRITE_TIMEOUT_MS could not be journaled
 * (disk full): no 202 can be promised. It stays queued in memory.
 */
export class WriteNotDurableError extends QueueUnavailableError {
  constructor(readonly pending: readonly StoreName[], reason: string, options?: { cause?: unknown }) {
    super(reason, options);
  }
}
