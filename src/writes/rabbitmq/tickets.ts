import type { StoreName, Write } from '../../stores/store.ts';
import type { SubmitResult } from '../queue.ts';
import { writeKey, type Reply } from './message-codec.ts';

/**
 * One submit waiting for its writes to be applied: per message that carries
 * some of them, the stores that have not answered yet.
 */
export class Ticket {
  readonly waiting: Map<string, Set<StoreName>>;
  readonly parked = new Set<StoreName>();
  /** Writes of this submit an engine refused (dead-lettered), by engine. */
  readonly refused: Array<{ store: StoreName; id: string; reason: string }> = [];
  private settle!: (result: SubmitResult) => void;
  readonly result = new Promise<SubmitResult>((resolve) => (this.settle = resolve));
  private settled = false;
  private keys: Set<string> | null = null;

  constructor(
    private readonly writes: readonly Write[],
    expected: ReadonlyMap<string, readonly StoreName[]>,
  ) {
    this.waiting = new Map([...expected].map(([id, stores]) => [id, new Set(stores)]));
  }

  /** Records the writes of this submit that a store dead-lettered. */
  refuse(store: StoreName, keys: readonly string[]): void {
    this.keys ??= new Set(this.writes.map(writeKey));
    for (const key of keys) {
      if (!this.keys.has(key)) continue;
      this.parked.add(store);
      this.refused.push({ store, id: key.slice(key.lastIndexOf('/') + 1, key.lastIndexOf('@')), reason: 'refused by the engine; the reason is in GET /_deadletter' });
    }
  }

  /** The engines still owing an answer, plus those that dead-lettered a write of this submit. */
  pending(): StoreName[] {
    const names = new Set<StoreName>(this.parked);
    for (const stores of this.waiting.values()) for (const s of stores) names.add(s);
    return [...names];
  }

  finish(outcome: 'complete' | 'unknown'): void {
    if (this.settled) return;
    this.settled = true;
    const pending = this.pending();
    if (outcome === 'complete' && this.refused.length) this.settle({ state: 'refused', refused: this.refused });
    else this.settle(outcome === 'complete' && pending.length === 0 ? { state: 'applied' } : { state: 'accepted', pending });
  }
}

/**
 * The API side of read-your-write: tickets of the submits that wait for their
 * writes to be applied, settled by the workers' replies. Submits published in
 * the same turn share messages, so one message may settle several tickets.
 *
 * A LevelDB copy counts once: the reply of `levelWorker` (this process's own
 * copy, when it keeps one) or else the first copy that answers.
 */
export class Tickets {
  private readonly byMessage = new Map<string, Set<Ticket>>();

  constructor(private readonly levelWorker: string | null) {}

  open(writes: readonly Write[], expected: ReadonlyMap<string, readonly StoreName[]>): Ticket {
    const ticket = new Ticket(writes, expected);
    for (const [id, stores] of ticket.waiting) {
      if (!stores.size) {
        ticket.waiting.delete(id);
        continue;
      }
      let tickets = this.byMessage.get(id);
      if (!tickets) this.byMessage.set(id, (tickets = new Set()));
      tickets.add(ticket);
    }
    if (ticket.waiting.size === 0) ticket.finish('complete');
    return ticket;
  }

  receive(reply: Reply): void {
    if (reply.store === 'level' && this.levelWorker !== null && reply.worker !== this.levelWorker) return;
    for (const id of reply.done) {
      const tickets = this.byMessage.get(id);
      if (!tickets) continue;
      for (const ticket of tickets) {
        const stores = ticket.waiting.get(id);
        if (!stores?.delete(reply.store)) continue;
        if (reply.parked.length) ticket.refuse(reply.store, reply.parked);
        if (stores.size) continue;
        ticket.waiting.delete(id);
        tickets.delete(ticket);
        if (ticket.waiting.size === 0) ticket.finish('complete');
      }
      if (!tickets.size) this.byMessage.delete(id);
    }
  }

  /** Waits up to `timeoutMs`; then the answer names the engines still pending (the writes stay queued). */
  async wait(ticket: Ticket, timeoutMs: number): Promise<SubmitResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([ticket.result, timeout]);
    clearTimeout(timer);
    this.drop(ticket, 'unknown');
    return ticket.result;
  }

  drop(ticket: Ticket, outcome: 'complete' | 'unknown'): void {
    for (const id of ticket.waiting.keys()) {
      const tickets = this.byMessage.get(id);
      tickets?.delete(ticket);
      if (tickets && !tickets.size) this.byMessage.delete(id);
    }
    ticket.finish(outcome);
  }

  /** The replies can no longer arrive (the channel they were addressed to is gone): answer every waiting submit now. */
  abandonAll(): void {
    const all = new Set<Ticket>();
    for (const tickets of this.byMessage.values()) for (const t of tickets) all.add(t);
    for (const ticket of all) this.drop(ticket, 'unknown');
  }
}

/** Who answers for a barrier marker: a shared engine (any worker holding the partition), or one LevelDB copy. */
export function answerer(store: StoreName, worker: string): string {
  return store === 'level' ? `level@${worker}` : store;
}

/**
 * One barrier waiting for its markers: per marker (message id), the answerers
 * that have not reported it yet, each with the queue it stands for.
 */
export class Barrier {
  private readonly waiting = new Map<string, Map<string, string>>();
  private settle!: () => void;
  private reject!: (err: Error) => void;
  readonly passed = new Promise<void>((resolve, reject) => ((this.settle = resolve), (this.reject = reject)));

  constructor() {
    this.passed.catch(() => {}); // a failure before anyone awaits it is not "unhandled": barrier() reads it
  }

  expect(messageId: string, who: string, queue: string): void {
    let answerers = this.waiting.get(messageId);
    if (!answerers) this.waiting.set(messageId, (answerers = new Map()));
    answerers.set(who, queue);
  }

  /** Call once every marker is expected: an empty barrier passes at once. */
  armed(): void {
    this.check();
  }

  receive(reply: Reply): void {
    for (const id of reply.done) {
      const answerers = this.waiting.get(id);
      if (!answerers?.delete(answerer(reply.store, reply.worker))) continue;
      if (!answerers.size) this.waiting.delete(id);
    }
    this.check();
  }

  /** Stops waiting for the answers of the queue named (its worker is gone; it applies its backlog in order when it returns). */
  forget(queue: string): void {
    for (const [id, answerers] of this.waiting) {
      for (const [who, q] of answerers) if (q === queue) answerers.delete(who);
      if (!answerers.size) this.waiting.delete(id);
    }
    this.check();
  }

  /** The queues still owing an answer, each with the answerers it owes. */
  pending(): Map<string, string[]> {
    const queues = new Map<string, string[]>();
    for (const answerers of this.waiting.values()) {
      for (const [who, q] of answerers) {
        let list = queues.get(q);
        if (!list) queues.set(q, (list = []));
        if (!list.includes(who)) list.push(who);
      }
    }
    return queues;
  }

  fail(err: Error): void {
    this.reject(err);
  }

  private check(): void {
    if (!this.waiting.size) this.settle();
  }
}
