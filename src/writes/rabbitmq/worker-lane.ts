import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Store, StoreName, Write } from '../../stores/store.ts';
import { ApplyAbortedError, applyToStore, type ApplyHooks } from '../applier.ts';
import type { LaneHealth } from '../queue.ts';
import { DROP_PROJECT_TYPE, RETIRE_VERSION_TYPE, type ProjectDrop, type Reply, type VersionRetire, decodeDrop, decodeRetire, decodeWrites, writeKey } from './message-codec.ts';

/** Unacknowledged messages RabbitMQ may push to one lane ahead of the batch being applied. */
const PREFETCH = 64;
/** Writes applied to a store in one call (one LevelDB batch, one SQL statement, one _bulk). */
const MAX_BATCH = 5000;
/** Pause before retrying a batch that failed for a reason other than the store (e.g. a dead letter could not be published). */
const RETRY_PAUSE_MS = 1000;

export interface LaneContext {
  /** The LevelDB copy this worker keeps, named in its replies. */
  workerId: string;
  log(msg: string): void;
  /** True once shutdown gave up waiting: abort retries, leave the messages unacked. */
  stopping(): boolean;
  deadLetter(write: Write, store: StoreName, reason: string, queue: string): Promise<void>;
  /** Sends a reply to the API process that published the batches (`origin` identifies it, `replyTo` addresses it). */
  answer(origin: string | undefined, replyTo: string, reply: Reply): void;
}

interface Delivery {
  msg: ConsumeMessage;
  channel: Channel;
  writes: Write[];
  /** A project drop: applied after the writes before it and before those after it. */
  drop?: ProjectDrop;
  /** A version retirement (store.retire), ordered the same way. */
  retire?: VersionRetire;
  /** Only this store applies the writes (a rebuild's refill, header x-dstore-only); the others pass them by. */
  only?: string;
  /** When it arrived (Date.now()): the age of the oldest write a store has not applied shows a stuck engine. */
  arrived: number;
}

/**
 * One queue a worker consumes (a partition, or its own LevelDB queue) and the
 * stores it feeds. Deliveries are applied strictly in arrival order: the lane
 * takes everything that has arrived (up to MAX_BATCH writes), applies it to
 * each store — the stores side by side, each in order — answers the waiting
 * API processes per store, and acks only when every store has applied or
 * dead-lettered each write. A batch never overlaps the next one, and after a
 * channel loss the deliveries of the old channel are dropped unacked
 * (RabbitMQ hands them out again), so a store never sees a write of this
 * queue before the ones ahead of it.
 */
export class WorkerLane {
  private channel: Channel | null = null;
  private buffer: Delivery[] = [];
  private running: Promise<void> | null = null;
  private subscribeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Set while handing the partition to another worker: no further batch starts. */
  private releasing = false;
  /** hold() and release() one after the other. */
  private transition: Promise<void> = Promise.resolve();
  private stalled = 0;
  private lost: (reason: string) => void = () => {};
  /** Per store: arrival of the oldest delivery of the batch being applied that it has not finished yet. */
  private readonly applying = new Map<StoreName, number>();
  /** Per store: why it is not taking writes (down, a dead letter that cannot be kept), until it does again. */
  private readonly down = new Map<StoreName, string>();
  /** The deliveries of the batch being applied. */
  private inFlight = new Set<Delivery>();

  constructor(
    readonly queue: string,
    private readonly stores: readonly Store[],
    private readonly ctx: LaneContext,
  ) {}

  /**
   * Opens this lane's channel on a (new) connection and subscribes, after
   * `delayMs` when given. `lost` is told when the channel or the subscription
   * ends while the lane still wants it.
   */
  async attach(model: ChannelModel, options: { priority?: number; delayMs?: number }, lost: (reason: string) => void): Promise<void> {
    if (this.stopped) return;
    this.releasing = false;
    const channel = await model.createChannel();
    this.lost = lost;
    channel.on('error', (err: Error) => this.ctx.log(`queue: ${this.queue}: channel error: ${err.message}`));
    channel.on('close', () => {
      if (this.channel !== channel) return;
      this.channel = null;
      // amqplib calls this from its socket handling: a throw here would end the process
      if (!this.stopped) this.guard('channel close', () => lost(`the channel consuming ${this.queue} closed`));
    });
    await channel.prefetch(PREFETCH);
    this.channel = channel;
    const subscribe = async (): Promise<void> => {
      this.subscribeTimer = null;
      if (this.stopped || this.channel !== channel) return;
      try {
        // the tag names the worker, so an operator (and the rebalancing test) sees who is active where
        const consumerTag = `dstore ${this.ctx.workerId} ${this.queue} ${Math.random().toString(36).slice(2, 8)}`;
        await channel.consume(this.queue, (msg) => this.guard('a delivery', () => this.receive(channel, msg)), { consumerTag, ...(options.priority === undefined ? {} : { priority: options.priority }) });
      } catch (err) {
        this.ctx.log(`queue: cannot consume ${this.queue}: ${(err as Error).message}`);
      }
    };
    if (options.delayMs) {
      this.subscribeTimer = setTimeout(() => void subscribe(), options.delayMs);
      this.subscribeTimer.unref();
    } else {
      await subscribe();
    }
  }

  /** Runs an amqplib callback so that nothing it throws can end the process: one message never kills a worker. */
  private guard(what: string, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.ctx.log(`queue: ${this.queue}: handling ${what} failed: ${(err as Error).stack ?? String(err)}`);
    }
  }

  /** Per store: writes held, the age of the oldest one it has not applied, and why it is not moving. */
  health(now = Date.now()): Partial<Record<StoreName, LaneHealth>> {
    const live = this.buffer.filter((d) => d.channel === this.channel);
    const pending = live.reduce((n, d) => n + d.writes.length, 0);
    const result: Partial<Record<StoreName, LaneHealth>> = {};
    for (const store of this.stores) {
      const since = this.applying.get(store.name) ?? live.find((d) => !d.drop && !d.retire && !this.inFlight.has(d))?.arrived;
      const down = this.down.get(store.name);
      result[store.name] = { pending, oldestPendingMs: since === undefined ? 0 : now - since, ...(down ? { down } : {}) };
    }
    return result;
  }

  private receive(channel: Channel, msg: ConsumeMessage | null): void {
    if (!msg) {
      if (!this.stopped) this.lost(`RabbitMQ cancelled the consumer of ${this.queue} (queue deleted?)`);
      return;
    }
    let writes: Write[] = [];
    let drop: ProjectDrop | undefined;
    let retire: VersionRetire | undefined;
    try {
      if (msg.properties.type === DROP_PROJECT_TYPE) drop = decodeDrop(msg.content);
      else if (msg.properties.type === RETIRE_VERSION_TYPE) retire = decodeRetire(msg.content);
      else writes = decodeWrites(msg.content);
    } catch (err) {
      // only dstore publishes here; a message it cannot read is logged with its content and removed
      this.ctx.log(`queue: ${this.queue}: dropping unreadable message ${String(msg.properties.messageId)}: ${(err as Error).message}: ${msg.content.toString('utf8').slice(0, 500)}`);
      this.ack(channel, msg);
      return;
    }
    const only = msg.properties.headers?.['x-dstore-only'];
    this.buffer.push({ msg, channel, writes, drop, retire, ...(typeof only === 'string' ? { only } : {}), arrived: Date.now() });
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain()
      .catch((err: Error) => this.ctx.log(`queue: ${this.queue}: ${err.stack ?? err.message}`))
      .finally(() => {
        this.running = null;
        if (this.buffer.some((d) => d.channel === this.channel) && !this.ctx.stopping() && !this.stopped && !this.releasing) this.kick();
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      // deliveries of a closed channel are RabbitMQ's again: they come back on the new one
      this.buffer = this.buffer.filter((d) => d.channel === this.channel);
      if (!this.buffer.length || this.ctx.stopping() || this.stopped || this.releasing) return;
      const head = this.buffer[0]!;
      if (head.drop || head.retire) {
        if (await (head.drop ? this.dropProject(head.drop) : this.retireVersion(head.retire!))) {
          this.ack(head.channel, head.msg);
          this.buffer.shift();
        } else {
          await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
        }
        continue;
      }
      let count = 0;
      let take = 0;
      while (take < this.buffer.length && !this.buffer[take]!.drop && !this.buffer[take]!.retire && (take === 0 || count + this.buffer[take]!.writes.length <= MAX_BATCH)) count += this.buffer[take++]!.writes.length;
      const batch = this.buffer.slice(0, take);
      if (await this.apply(batch)) {
        for (const d of batch) this.ack(d.channel, d.msg);
        const taken = new Set(batch);
        this.buffer = this.buffer.filter((d) => !taken.has(d));
        this.stalled = 0;
      } else if (batch[0]!.channel === this.channel && !this.ctx.stopping()) {
        this.stalled++;
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }

  /** Drops a project from this lane's stores; false when it must be tried again. */
  private async dropProject(drop: ProjectDrop): Promise<boolean> {
    try {
      for (const store of this.stores) await store.dropProject(drop.project, drop.versions);
      this.ctx.log(`queue: ${this.queue}: dropped project ${drop.project}`);
      return true;
    } catch (err) {
      this.ctx.log(`queue: ${this.queue}: dropping project ${drop.project} failed, trying again: ${(err as Error).message}`);
      return false;
    }
  }

  /** Drops one retired version from this lane's stores; false when it must be tried again. */
  private async retireVersion(retire: VersionRetire): Promise<boolean> {
    try {
      for (const store of this.stores) await store.retire(retire.project, retire.version);
      this.ctx.log(`queue: ${this.queue}: retired version ${retire.version} of ${retire.project}`);
      return true;
    } catch (err) {
      this.ctx.log(`queue: ${this.queue}: retiring version ${retire.version} of ${retire.project} failed, trying again: ${(err as Error).message}`);
      return false;
    }
  }

  /** Applies a batch to every store; false when it must be tried again (or was abandoned). */
  private async apply(batch: readonly Delivery[]): Promise<boolean> {
    const writes: Write[] = [];
    const owner = new Map<Write, Delivery>();
    for (const d of batch) {
      for (const w of d.writes) {
        writes.push(w);
        owner.set(w, d);
      }
    }
    const targeted = batch.some((d) => d.only);
    const writesFor = (store: StoreName): Write[] => (targeted ? writes.filter((w) => !owner.get(w)!.only || owner.get(w)!.only === store) : writes);
    if (!writes.length) {
      // a batch of no writes (a barrier marker) still answers: everything ahead of it in this queue is applied
      for (const store of this.stores) this.guard('the answer', () => this.answer(store.name, batch, [], owner));
      return true;
    }
    const channel = batch[0]!.channel;
    const hooks: ApplyHooks = {
      deadLetter: async (write, store, reason) => {
        await this.ctx.deadLetter(write, store, reason, this.queue);
      },
      // a lost channel means another consumer may already have these messages: stop retrying them here
      stopping: () => this.ctx.stopping() || this.channel !== channel,
      unavailable: (store, reason, attempt) => {
        this.down.set(store, reason);
        if (attempt === 1 || attempt % 20 === 0) this.ctx.log(`queue: ${this.queue}: ${reason}; retrying (attempt ${attempt})`);
      },
      recovered: (store) => {
        this.down.delete(store);
        this.ctx.log(`queue: ${this.queue}: ${store} is back`);
      },
    };
    this.inFlight = new Set(batch);
    const since = Math.min(...batch.map((d) => d.arrived));
    const outcomes = await Promise.allSettled(
      this.stores.map(async (store) => {
        this.applying.set(store.name, since);
        try {
          const mine = writesFor(store.name);
          const parked = mine.length ? await applyToStore(store, mine, hooks) : [];
          // a reply that cannot be sent must not make the batch apply again and again: the API answers 202 after its timeout
          this.guard('the answer', () => this.answer(store.name, batch, parked, owner));
        } finally {
          this.applying.delete(store.name);
        }
      }),
    );
    this.inFlight = new Set();
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (!failed) return true;
    if (!(failed.reason instanceof ApplyAbortedError) && (this.stalled === 0 || this.stalled % 20 === 0)) {
      this.ctx.log(`queue: ${this.queue}: batch of ${writes.length} write(s) not finished, trying again: ${(failed.reason as Error).message}`);
    }
    return false;
  }

  /** One reply per store and per API process that waits for some of these batches. */
  private answer(store: StoreName, batch: readonly Delivery[], parked: readonly Write[], owner: ReadonlyMap<Write, Delivery>): void {
    const groups = new Map<string, { origin: string | undefined; replyTo: string; reply: Reply }>();
    const groupOf = (d: Delivery) => {
      const replyTo = d.msg.properties.replyTo as string | undefined;
      if (!replyTo) return null;
      const origin = d.msg.properties.headers?.['x-dstore-origin'] as string | undefined;
      const key = `${origin}\u0000${replyTo}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { origin, replyTo, reply: { store, worker: this.ctx.workerId, done: [], parked: [] } }));
      return group;
    };
    for (const d of batch) groupOf(d)?.reply.done.push(String(d.msg.properties.messageId));
    for (const w of parked) groupOf(owner.get(w)!)?.reply.parked.push(writeKey(w));
    for (const g of groups.values()) this.ctx.answer(g.origin, g.replyTo, g.reply);
  }

  private ack(channel: Channel, msg: ConsumeMessage): void {
    try {
      channel.ack(msg);
    } catch {
      // the channel closed: RabbitMQ redelivers the message, and the stores' stamps make applying it again harmless
    }
  }

  /**
   * Starts no further batch; what was received but not started is handed back
   * when the channel closes (detach). The consumer is deliberately not
   * cancelled first: after basic.cancel a single-active-consumer queue
   * activates the next consumer at once, while the cancelled one still holds
   * its unacked messages, so the next worker would apply newer writes before
   * those come back. Closing the channel returns them to the head of the queue
   * before the next consumer gets anything.
   */
  stop(): void {
    this.stopped = true;
    if (this.subscribeTimer) clearTimeout(this.subscribeTimer);
    this.subscribeTimer = null;
  }

  /** Whether this lane has a channel consuming its queue (active or waiting as the single active consumer). */
  get held(): boolean {
    return this.channel !== null;
  }

  /** Subscribes unless already subscribed (the partition was assigned to this worker). */
  hold(model: ChannelModel, lost: (reason: string) => void): Promise<void> {
    return this.next(async () => {
      if (this.channel || this.stopped) return;
      await this.attach(model, {}, lost);
    });
  }

  /**
   * Hands the queue to the next consumer (the partition was assigned to another
   * worker): starts no further batch, lets the one being applied finish and be
   * acked, then closes the channel. Closing, not basic.cancel, returns the
   * deliveries not yet applied to the head of the queue before RabbitMQ
   * activates the next consumer (see stop()), so the next worker applies them
   * first, in queue order, and no write is applied by two workers at once.
   */
  release(): Promise<void> {
    return this.next(async () => {
      if (!this.channel || this.stopped) return;
      this.releasing = true;
      await this.idle();
      if (this.releasing && !this.stopped) await this.detach();
      this.releasing = false;
    });
  }

  private next(step: () => Promise<void>): Promise<void> {
    const result = this.transition.then(step, step);
    this.transition = result.catch((err: Error) => this.ctx.log(`queue: ${this.queue}: ${err.message}`));
    return this.transition;
  }

  /** Resolves when the batch being applied is done (after stop, no further batch starts). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Closes the channel: RabbitMQ puts every unacknowledged delivery back at the head of the queue. */
  async detach(): Promise<void> {
    const channel = this.channel;
    this.channel = null;
    this.buffer = [];
    if (channel) await channel.close().catch(() => {});
  }
}
