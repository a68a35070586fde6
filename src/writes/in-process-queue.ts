import type { Store, StoreName, Write } from '../stores/store.ts';
import { applyToStore, ApplyAbortedError } from './applier.ts';
import { DeadLetterFile } from './dead-letter-file.ts';
import { Journal } from './journal.ts';
import type { DeadLetter, LaneHealth, QueueHealth, SubmitOptions, SubmitResult, WriteQueue } from './queue.ts';
import { QueueUnavailableError, WriteNotDurableError } from './queue.ts';

/** Writes submitted together, followed until every store has applied them. */
interface Ticket {
  writes: Write[];
  pending: Set<StoreName>;
  journalSeq?: number;
  /** When it was enqueued (Date.now()): the age of a lane's oldest ticket shows a stuck engine. */
  since: number;
  applied: Promise<void>;
  settle: () => void;
}

const MAX_BATCH = 5000;

/**
 * Store-by-store FIFO lanes: each store takes every ticket waiting for it and
 * applies them as one batch (one LevelDB batch, one SQL statement, one _bulk),
 * so writes that arrive together are committed together, and a slow or down
 * engine never holds back the others.
 */
class StoreLane {
  private readonly waiting: Ticket[] = [];
  private running: Promise<void> | null = null;
  down: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly queue: InProcessQueue,
  ) {}

  get size(): number {
    return this.waiting.length;
  }

  health(now: number): LaneHealth {
    const oldest = this.waiting[0];
    return { pending: this.waiting.reduce((n, t) => n + t.writes.length, 0), oldestPendingMs: oldest ? now - oldest.since : 0, ...(this.down ? { down: this.down } : {}) };
  }

  push(ticket: Ticket): void {
    this.waiting.push(ticket);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.queue.stopped) return;
    this.running = this.drain()
      .catch((err: Error) => this.queue.fault(this.store.name, err))
      .finally(() => {
        this.running = null;
        if (this.waiting.length) setTimeout(() => this.kick(), 100).unref();
      });
  }

  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) {
      let count = 0;
      let take = 0;
      while (take < this.waiting.length && (take === 0 || count + this.waiting[take]!.writes.length <= MAX_BATCH)) count += this.waiting[take++]!.writes.length;
      const tickets = this.waiting.slice(0, take);
      const writes = tickets.length === 1 ? tickets[0]!.writes : tickets.flatMap((t) => t.writes);
      try {
        await applyToStore(this.store, writes, this.queue.hooks(this));
      } catch (err) {
        if (err instanceof ApplyAbortedError) return; // shutting down: the journal keeps what was promised
        throw err;
      }
      this.waiting.splice(0, take);
      for (const t of tickets) this.queue.storeDone(t, this.store.name);
    }
  }
}

export class InProcessQueue implements WriteQueue {
  readonly kind = 'in-process';
  /** The API process is the only worker: every engine is dropped directly by the API. */
  readonly perWorker: readonly StoreName[] = [];
  private readonly lanes: Map<StoreName, StoreLane>;
  private readonly journal: Journal;
  private readonly letters: DeadLetterFile;
  stopped = false;
  private readonly live = new Set<Ticket>();
  /** Resolves once close() has journaled what is unapplied: clients still waiting are answered 202 then. */
  private handedBack!: () => void;
  private readonly closed = new Promise<'closed'>((resolve) => (this.handedBack = () => resolve('closed')));
  /** Writes an engine refused, so the client waiting for them is told instead of "applied". */
  private readonly refusals = new WeakMap<Write, Array<{ store: StoreName; reason: string }>>();

  constructor(
    private readonly stores: readonly Store[],
    dir: string,
    private readonly log: (msg: string) => void = () => {},
  ) {
    this.lanes = new Map(stores.map((s) => [s.name, new StoreLane(s, this)]));
    this.journal = new Journal(dir);
    this.letters = new DeadLetterFile(dir);
  }

  async start(): Promise<void> {
    await this.letters.load();
    const unfinished = await this.journal.open();
    if (unfinished.length) this.log(`queue: re-applying ${unfinished.length} journaled batch(es) left from the last run`);
    for (const entry of unfinished) this.enqueue(entry.writes, entry.seq);
  }

  hooks(lane: StoreLane) {
    return {
      deadLetter: async (write: Write, store: StoreName, reason: string) => {
        await this.letters.add(write, store, reason);
        this.log(`queue: ${store} refused ${write.op} ${write.project}/${write.blueprint}/${write.id}: ${reason} (dead-lettered)`);
        const list = this.refusals.get(write) ?? [];
        list.push({ store, reason });
        this.refusals.set(write, list);
      },
      stopping: () => this.stopped,
      unavailable: (store: StoreName, reason: string, attempt: number) => {
        lane.down = reason;
        if (attempt === 1 || attempt % 20 === 0) this.log(`queue: ${reason}; retrying (attempt ${attempt})`);
      },
      recovered: (store: StoreName) => {
        lane.down = null;
        this.log(`queue: ${store} is back`);
      },
    };
  }

  fault(store: StoreName, err: Error): void {
    this.log(`queue: ${store} lane failed: ${err.stack ?? err.message}; it will retry`);
  }

  /** `only` names the one engine that applies these writes (a rebuild); replayed from the journal, every engine gets them, which their stamps make harmless. */
  private enqueue(writes: Write[], journalSeq?: number, only?: StoreName): Ticket {
    let settle!: () => void;
    const applied = new Promise<void>((resolve) => (settle = resolve));
    const lanes = only ? [...this.lanes].filter(([name]) => name === only) : [...this.lanes];
    const ticket: Ticket = { writes, pending: new Set(lanes.map(([name]) => name)), applied, settle, journalSeq, since: Date.now() };
    this.live.add(ticket);
    void applied.then(() => this.live.delete(ticket));
    if (ticket.pending.size === 0) settle();
    for (const [, lane] of lanes) lane.push(ticket);
    return ticket;
  }

  storeDone(ticket: Ticket, store: StoreName): void {
    ticket.pending.delete(store);
    if (ticket.pending.size === 0) {
      ticket.settle();
      if (ticket.journalSeq !== undefined) this.journal.done(ticket.journalSeq).catch((e: Error) => this.log(`queue: journal: ${e.message}`));
    }
  }

  /** Appends to the journal; a journal that cannot be written (disk full) means no write can be accepted: 503 with the reason. */
  private async journaled(writes: Write[]): Promise<number> {
    try {
      return await this.journal.append(writes);
    } catch (err) {
      throw new QueueUnavailableError(`the queue's journal (QUEUE_PATH) cannot be written: ${(err as Error).message}`, { cause: err });
    }
  }

  async submit(writes: Write[], options: SubmitOptions): Promise<SubmitResult> {
    if (this.stopped) throw new QueueUnavailableError('dstore is shutting down');
    // journal first for a 202 (a promise that survives a crash), and whenever an engine is down, since the answer will likely be a 202
    if (options.async || [...this.lanes.values()].some((l) => l.down)) {
      const seq = await this.journaled(writes);
      const ticket = this.enqueue(writes, seq, options.only?.store);
      if (options.async) return { state: 'accepted', pending: [...ticket.pending] };
      return this.outcome(ticket, options);
    }
    return this.outcome(this.enqueue(writes, undefined, options.only?.store), options);
  }

  /** Waits for a ticket until it is applied or the timeout; a 202 is only answered once the ticket is in the journal. */
  private async outcome(ticket: Ticket, options: SubmitOptions): Promise<SubmitResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
    const outcome = await Promise.race([ticket.applied.then(() => 'applied' as const), timedOut, this.closed]);
    clearTimeout(timer);
    if (outcome === 'closed') return { state: 'accepted', pending: [...ticket.pending] }; // journaled by close()
    if (outcome === 'applied') {
      const refused = ticket.writes.flatMap((w) => (this.refusals.get(w) ?? []).map((r) => ({ ...r, id: w.id })));
      return refused.length ? { state: 'refused', refused } : { state: 'applied' };
    }
    if (ticket.journalSeq !== undefined) return { state: 'accepted', pending: [...ticket.pending] };
    const pending = [...ticket.pending];
    try {
      ticket.journalSeq = await this.journal.append(ticket.writes);
    } catch (err) {
      // not on disk, so no 202: a 503 that says the write is only in memory
      throw new WriteNotDurableError(pending, (err as Error).message, { cause: err });
    }
    if (ticket.pending.size === 0) this.journal.done(ticket.journalSeq).catch(() => {});
    return { state: 'accepted', pending };
  }

  async health(): Promise<QueueHealth> {
    let pending = 0;
    const now = Date.now();
    const engines: QueueHealth['engines'] = {};
    for (const [name, lane] of this.lanes) {
      pending = Math.max(pending, lane.size);
      engines[name] = lane.health(now);
    }
    if (this.stopped) return { status: 'down', reason: 'shutting down', pending, engines };
    await this.journal.heal();
    const journal = this.journal.failing;
    if (journal) return { status: 'down', reason: `the journal (QUEUE_PATH) cannot be written: ${journal}`, pending, engines };
    return { status: 'up', pending, engines };
  }

  async dropCopies(): Promise<void> {}

  /** No per-worker copies here: every engine retires its version directly through the API. */
  async retireCopies(): Promise<void> {}

  /** Resolves once every ticket live now has settled in every lane (applied or dead-lettered); later tickets are not waited for. */
  async barrier(): Promise<void> {
    await Promise.all([...this.live].map((t) => t.applied));
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.letters.list();
  }

  async replay(ids?: readonly string[]): Promise<number> {
    const letters = this.letters.peek(ids);
    if (!letters.length) return 0;
    const writes = letters.map((l) => l.write);
    // journaled before the letters are removed: a failure in between replays a write twice (harmless), never loses one
    const seq = await this.journaled(writes);
    try {
      await this.letters.remove(letters);
    } catch (err) {
      this.log(`queue: replayed ${letters.length} dead letter(s) but cannot remove them from the list: ${(err as Error).message}`);
    }
    this.enqueue(writes, seq);
    return letters.length;
  }

  /** Stops taking writes and waits (bounded) for the lanes; what is not applied stays in the journal for the next start. */
  async close(graceMs = 5000): Promise<void> {
    const idle = Promise.all([...this.lanes.values()].map((l) => l.idle()));
    const grace = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([idle, grace]);
    this.stopped = true;
    await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
    // whatever is still unapplied is handed to the next start through the journal
    const unjournaled = [...this.live].filter((t) => t.journalSeq === undefined && t.pending.size > 0);
    if (unjournaled.length) {
      this.log(`queue: handing ${unjournaled.length} unfinished batch(es) to the next start`);
      const seq = await this.journal.append(unjournaled.flatMap((t) => t.writes));
      for (const t of unjournaled) t.journalSeq = seq;
    }
    this.handedBack();
    await this.journal.close();
  }
}
