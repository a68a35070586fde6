import type { StoreName } from '../../stores/store.ts';
import type { SubmitResult } from '../queue.ts';
import type { Reply } from './message-codec.ts';

/** One submit waiting for its batches to be applied: per message id, the stores that have not answered yet. */
class Ticket {
  readonly waiting: Map<string, Set<StoreName>>;
  readonly parked = new Set<StoreName>();
  private settle!: (result: SubmitResult) => void;
  readonly result = new Promise<SubmitResult>((resolve) => (this.settle = resolve));
  settled = false;

  constructor(expected: ReadonlyMap<string, readonly StoreName[]>) {
    this.waiting = new Map([...expected].map(([id, stores]) => [id, new Set(stores)]));
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
    this.settle(outcome === 'complete' && pending.length === 0 ? { state: 'applied' } : { state: 'accepted', pending });
  }
}

/**
 * The API side of read-your-write: tickets of the submits that wait for their
 * writes to be applied, settled by the workers' replies.
 *
 * A LevelDB copy counts once: the reply of `levelWorker` (this process's own
 * copy, when it keeps one) or else the first copy that answers.
 */
export class Tickets {
  private readonly byMessage = new Map<string, Ticket>();

  constructor(private readonly levelWorker: string | null) {}

  open(expected: ReadonlyMap<string, readonly StoreName[]>): Ticket {
    const ticket = new Ticket(expected);
    for (const [id, stores] of ticket.waiting) {
      if (stores.size) this.byMessage.set(id, ticket);
      else ticket.waiting.delete(id);
    }
    if (ticket.waiting.size === 0) ticket.finish('complete');
    return ticket;
  }

  receive(reply: Reply): void {
    if (reply.store === 'level' && this.levelWorker !== null && reply.worker !== this.levelWorker) return;
    const parked = new Set(reply.parked);
    for (const id of reply.done) {
      const ticket = this.byMessage.get(id);
      const stores = ticket?.waiting.get(id);
      if (!ticket || !stores?.delete(reply.store)) continue;
      if (parked.has(id)) ticket.parked.add(reply.store);
      if (stores.size === 0) {
        ticket.waiting.delete(id);
        this.byMessage.delete(id);
        if (ticket.waiting.size === 0) ticket.finish('complete');
      }
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
    for (const id of ticket.waiting.keys()) this.byMessage.delete(id);
    ticket.finish(outcome);
  }

  /** The replies can no longer arrive (the channel they were addressed to is gone): answer every waiting submit now. */
  abandonAll(): void {
    for (const ticket of new Set(this.byMessage.values())) this.drop(ticket, 'unknown');
  }
}

export type { Ticket };
