/**
 * The write queue over RabbitMQ (QUEUE_CONNECTIONSTRING): how accepted writes
 * reach the engines when API and workers are separate processes.
 *
 * Topology (names under QUEUE_PREFIX, default `dstore`):
 *   dstore.writes          direct exchange → dstore.partition.0 … .{P-1}
 *                          (quorum queues, single active consumer) for the
 *                          shared engines, PostgreSQL and Elasticsearch
 *   dstore.level           fanout exchange → dstore.level.{WORKER_ID}, one
 *                          durable quorum queue per worker that keeps a LevelDB copy
 *   dstore.deadletter      durable queue of the writes an engine refused
 *
 * Publishing. A submit is split by item: each write goes to partition
 * FNV-1a(project/blueprint/id) mod P, one message per partition touched (a bulk
 * PUT stays a few large messages, not one per item), plus one message with all
 * its writes to dstore.level. Messages are persistent, `mandatory`, published
 * on a confirm channel; submit resolves only after RabbitMQ confirmed every one.
 * While the connection is down (or RabbitMQ blocks publishers) submit throws
 * QueueUnavailableError at once: the API answers 503 and nothing was accepted.
 * A message whose confirm never came (the connection died in between) also
 * answers 503, though it may have been queued; retrying it is harmless.
 *
 * Order. All writes of one item travel through one partition queue, and a
 * partition queue has a single active consumer, so at any moment one worker
 * applies it, batch after batch, in queue order; a worker acks a batch only
 * after every store applied it (or dead-lettered a write of it), never requeues
 * explicitly (a quorum queue would put a requeued message at the back), and
 * when a worker dies RabbitMQ hands its unacked messages, at the head of the
 * queue, to the next consumer. Each LevelDB queue has exactly one reader, its
 * worker, same rules. Behind that, every store skips a write whose stamp is not
 * newer than the last one it applied to the item, so a redelivered or late
 * batch never takes an item back in time, and a delete is never undone.
 * Partitions are spread over workers: each worker subscribes to a partition
 * with an x-priority and after a delay both derived from a hash of (worker id,
 * partition), so workers started together split the partitions; RabbitMQ 4
 * also moves a partition to a higher-priority worker that joins later, after
 * the messages the current one holds are acked (RabbitMQ 3.x keeps the first
 * consumer until it leaves).
 *
 * LevelDB with many workers. LevelDB lives inside one process, so every worker
 * that keeps one (STORES includes level) holds a full copy fed by its own queue
 * dstore.level.{WORKER_ID}, bound to the fanout exchange; PostgreSQL and
 * Elasticsearch writes are shared among the workers through the partitions.
 * The queue is named by WORKER_ID (default: host name + a hash of LEVEL_PATH),
 * so a restarted worker resumes its copy where it stopped. A worker that joins
 * later only receives the writes published after its queue was first declared:
 * seed its LevelDB from another copy (stop that worker, copy LEVEL_PATH) before
 * giving it a new WORKER_ID, or copy the directory and keep the old id's queue.
 * A retired worker's queue keeps filling until it is deleted
 * (`rabbitmqctl delete_queue dstore.level.{id}`). The API refuses writes (503)
 * while no LevelDB queue at all is bound, rather than accept writes no copy
 * will ever receive: start a worker first.
 *
 * Applied (read-your-write). A default submit waits for replies over direct
 * reply-to: every shared engine reports per batch, and the LevelDB copy counts
 * once — the copy of this very process when it keeps one (ROLE=all: a client
 * reading the LevelDB beside the API it wrote to sees its write), otherwise the
 * first copy that applied it (ROLE=api). Other copies follow within their queue
 * backlog; a reader that needs its write in one particular copy reads that
 * worker's copy through its ROLE=all API. Past `timeoutMs` (WRITE_TIMEOUT_MS)
 * the answer is 202 naming the engines still pending, and the writes stay
 * queued. A write an engine dead-lettered answers 202 naming that engine.
 *
 * Failures. An engine that is down keeps its batch unacked and is retried with
 * backoff (applyToStore); a write it refuses is published, with confirm, to
 * dstore.deadletter with its reason, engine, origin queue and the write, before
 * the batch is acked. GET /_deadletter lists them by taking every message and
 * handing them all back; replay republishes the chosen ones to their origin
 * (the partition, or the one LevelDB copy that refused) and then removes them.
 * A lost connection is re-established with backoff (0.2 s doubling to 5 s);
 * exchanges and queues are re-declared, the consumers re-subscribe, and
 * RabbitMQ redelivers whatever was unacked; submits waiting for replies answer
 * 202 at once (their replies were addressed to the old channel).
 *
 * Settings read here (besides QUEUE_CONNECTIONSTRING):
 *   QUEUE_PREFIX      name prefix of every exchange and queue (default dstore)
 *   QUEUE_PARTITIONS  P, the number of partition queues (default 8); the same on
 *                     every API and worker, changed only with the queues empty
 *   WORKER_ID         names this worker's LevelDB queue (default host + LEVEL_PATH hash)
 * The API's STORES must name the engines its workers run: it decides whether a
 * write goes to the partitions (PostgreSQL, Elasticsearch) and to the LevelDB fan-out.
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import type { Store, StoreName, Write } from '../../stores/store.ts';
import type { DeadLetter, QueueHealth, SubmitOptions, SubmitResult, WriteQueue } from '../queue.ts';
import { QueueUnavailableError } from '../queue.ts';
import { BrokerConnection, redact } from './broker-connection.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { encodeReply, encodeWrites, type Reply, type StoredLetter } from './message-codec.ts';
import { NotConfirmedError, Publisher, REPLY_TO, UnroutableError } from './publisher.ts';
import { Tickets } from './tickets.ts';
import { affinity, declare, declareWorkQueue, partitionOf, readQueueSettings, topology, workQueueArguments, type Topology } from './topology.ts';
import { WorkerLane } from './worker-lane.ts';

export interface RabbitQueueOptions {
  url: string;
  stores: Store[];
  runWorkers: boolean;
  runApi: boolean;
  log: (msg: string) => void;
  /** Overrides of QUEUE_PREFIX, QUEUE_PARTITIONS and WORKER_ID (tests and tools). */
  prefix?: string;
  partitions?: number;
  workerId?: string;
}

/** A confirm that takes longer than this answers 503: RabbitMQ is there but not taking writes. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** How long close() lets the batches being applied finish before handing them back. */
const CLOSE_GRACE_MS = 4000;
/** Workers subscribe to partitions spread over this window, favourites first (see "Order" above). */
const SUBSCRIBE_SPREAD_MS = 1500;
const HEALTH_TIMEOUT_MS = 1000;

export class RabbitQueue implements WriteQueue {
  readonly kind = 'rabbitmq';
  readonly stores: readonly Store[];
  readonly workerId: string;
  readonly topology: Topology;
  private readonly url: string;
  private readonly log: (msg: string) => void;
  private readonly runApi: boolean;
  private readonly connection: BrokerConnection;
  private readonly tickets: Tickets;
  private readonly letters: DeadLetterQueue;
  private readonly levelLane: WorkerLane | null = null;
  private readonly partitionLanes: WorkerLane[] = [];
  /** Identifies this process in the batches it publishes, so its own worker answers it without a round trip. */
  private readonly origin = randomUUID();
  /** Shared engines a write goes to through the partitions; whether it also goes to the LevelDB fan-out. */
  private readonly shared: StoreName[];
  private readonly toLevel: boolean;
  private publisher: Publisher | null = null;
  private levelBound = false;
  private levelProbe: Promise<void> | null = null;
  private closing = false;
  private stopped = false;

  constructor(options: RabbitQueueOptions) {
    const env = readQueueSettings(process.env);
    this.topology = topology(options.prefix ?? env.prefix, options.partitions ?? env.partitions);
    this.workerId = options.workerId ?? env.workerId;
    this.stores = options.stores;
    this.url = options.url;
    this.log = options.log;
    this.runApi = options.runApi;
    this.shared = options.stores.filter((s) => s.name !== 'level').map((s) => s.name);
    this.toLevel = options.stores.some((s) => s.name === 'level');

    const lane = {
      workerId: this.workerId,
      log: this.log,
      stopping: () => this.stopped,
      deadLetter: (write: Write, store: StoreName, reason: string, queue: string) => this.letters.add(write, store, reason, queue),
      answer: (origin: string | undefined, replyTo: string, reply: Reply) => {
        if (origin === this.origin) this.tickets.receive(reply);
        else this.publisher?.send(replyTo, encodeReply(reply));
      },
    };
    if (options.runWorkers) {
      const level = options.stores.find((s) => s.name === 'level');
      if (level) this.levelLane = new WorkerLane(this.topology.levelQueue(this.workerId), [level], lane);
      const sharedStores = options.stores.filter((s) => s.name !== 'level');
      if (sharedStores.length) {
        for (let p = 0; p < this.topology.partitions; p++) this.partitionLanes.push(new WorkerLane(this.topology.partitionQueue(p), sharedStores, lane));
      }
    }
    this.tickets = new Tickets(this.levelLane ? this.workerId : null);

    const role = options.runApi && options.runWorkers ? 'all' : options.runApi ? 'api' : 'worker';
    this.connection = new BrokerConnection(options.url, `dstore ${role} ${this.topology.prefix} ${this.workerId} pid ${process.pid}`, { up: (model) => this.up(model), down: () => this.down() }, this.log);
    this.letters = new DeadLetterQueue(this.topology.deadLetterQueue, {
      model: () => this.connection.current,
      publisher: () => (this.connection.ready ? this.publisher : null),
      unavailable: () => this.connection.reason,
    }, this.log);
  }

  /** Connects once; when RabbitMQ is not there, start-up goes on and the connection keeps being retried. */
  async start(): Promise<void> {
    const connected = await this.connection.start();
    if (!connected) this.log(`queue: RabbitMQ not reachable yet (${this.connection.reason}); writes answer 503 until it is`);
  }

  /** Declares everything (idempotent), opens the publishing channel, subscribes the worker lanes. */
  private async up(model: ChannelModel): Promise<void> {
    const t = this.topology;
    const args = workQueueArguments(String(model.connection.serverProperties.version ?? ''));
    await declare(model, async (ch) => {
      await ch.assertExchange(t.writesExchange, 'direct', { durable: true });
      await ch.assertExchange(t.levelExchange, 'fanout', { durable: true });
      await ch.assertQueue(t.deadLetterQueue, { durable: true });
    });
    // the API declares the partitions too, so writes accepted before any worker started are kept
    if (this.shared.length) {
      for (let p = 0; p < t.partitions; p++) {
        await declareWorkQueue(model, t.partitionQueue(p), args, this.log);
        await declare(model, (ch) => ch.bindQueue(t.partitionQueue(p), t.writesExchange, String(p)));
      }
    }
    if (this.levelLane) {
      await declareWorkQueue(model, this.levelLane.queue, args, this.log);
      await declare(model, (ch) => ch.bindQueue(this.levelLane!.queue, t.levelExchange, ''));
    }
    const publisher = await Publisher.open(model, this.runApi ? (reply) => this.tickets.receive(reply) : null, () => {
      if (this.publisher === publisher) {
        this.publisher = null;
        this.tickets.abandonAll();
      }
    });
    this.publisher = publisher;
    if (this.levelLane) await this.levelLane.attach(model);
    for (let p = 0; p < this.partitionLanes.length; p++) {
      const a = affinity(this.workerId, p);
      await this.partitionLanes[p]!.attach(model, { priority: Math.floor(a * 1000), delayMs: Math.round((1 - a) * SUBSCRIBE_SPREAD_MS) });
    }
  }

  private down(): void {
    this.publisher = null;
    this.tickets.abandonAll();
  }

  private unavailable(): QueueUnavailableError {
    if (this.closing) return new QueueUnavailableError('dstore is shutting down');
    if (this.connection.blocked) return new QueueUnavailableError(`RabbitMQ blocks publishing (${this.connection.blocked})`);
    return new QueueUnavailableError(this.connection.ready ? 'the channel to RabbitMQ is being reopened' : `${this.connection.reason}; reconnecting`);
  }

  async submit(writes: Write[], options: SubmitOptions): Promise<SubmitResult> {
    const publisher = this.publisher;
    if (this.closing || !this.connection.ready || this.connection.blocked || !publisher?.open) throw this.unavailable();
    if (this.toLevel && !this.levelBound) await this.ensureLevelBound(publisher);

    const expected = new Map<string, StoreName[]>();
    const sends: Array<{ exchange: string; key: string; id: string; writes: Write[] }> = [];
    if (this.shared.length) {
      const byPartition = new Map<number, Write[]>();
      for (const w of writes) {
        const p = partitionOf(w, this.topology.partitions);
        let group = byPartition.get(p);
        if (!group) byPartition.set(p, (group = []));
        group.push(w);
      }
      for (const [p, group] of byPartition) {
        const id = randomUUID();
        expected.set(id, this.shared);
        sends.push({ exchange: this.topology.writesExchange, key: String(p), id, writes: group });
      }
    }
    if (this.toLevel) {
      const id = randomUUID();
      expected.set(id, ['level']);
      sends.push({ exchange: this.topology.levelExchange, key: '', id, writes });
    }

    const ticket = options.async ? null : this.tickets.open(expected);
    const confirms = sends.map((s) =>
      publisher.publish(s.exchange, s.key, encodeWrites(s.writes), {
        messageId: s.id,
        mandatory: true,
        headers: { 'x-dstore-origin': this.origin },
        ...(ticket ? { replyTo: REPLY_TO } : {}),
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CONFIRM_TIMEOUT_MS)));
    const outcomes = await Promise.race([Promise.allSettled(confirms), timeout]);
    clearTimeout(timer);
    const unroutable = outcomes === 'timeout' ? [] : outcomes.flatMap((o, i) => (o.status === 'rejected' && o.reason instanceof UnroutableError ? [sends[i]!] : []));
    const failed = outcomes === 'timeout' ? 'RabbitMQ did not confirm the writes within 10 s' : outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected' && !(o.reason instanceof UnroutableError))?.reason?.message;
    if (failed || unroutable.length === sends.length) {
      if (ticket) this.tickets.drop(ticket, 'unknown');
      if (unroutable.some((s) => s.exchange === this.topology.levelExchange)) this.levelBound = false;
      throw failed ? new QueueUnavailableError(failed) : new QueueUnavailableError(`no queue is bound to ${unroutable.map((s) => s.exchange).join(', ')}; start a worker`);
    }
    for (const s of unroutable) {
      // a queue vanished between the check and this publish (deleted by hand): those engines will not see these writes
      this.log(`queue: batch ${s.id} (${s.writes.length} write(s)) reached no queue on ${s.exchange}; ${expected.get(s.id)!.join(', ')} will not receive it`);
      if (s.exchange === this.topology.levelExchange) this.levelBound = false;
    }
    const all = [...new Set([...this.shared, ...(this.toLevel ? (['level'] as const) : [])])];
    if (!ticket) return { state: 'accepted', pending: all };
    if (unroutable.length) {
      this.tickets.drop(ticket, 'unknown');
      return ticket.result;
    }
    return this.tickets.wait(ticket, options.timeoutMs);
  }

  /** Refuses writes while no LevelDB queue is bound: a probe (an empty batch, published `mandatory`) tells. */
  private async ensureLevelBound(publisher: Publisher): Promise<void> {
    this.levelProbe ??= publisher
      .publish(this.topology.levelExchange, '', encodeWrites([]), { messageId: randomUUID(), mandatory: true })
      .then(() => {
        this.levelBound = true;
      })
      .finally(() => (this.levelProbe = null));
    try {
      await this.levelProbe;
    } catch (err) {
      if (err instanceof UnroutableError) throw new QueueUnavailableError(`no LevelDB worker has registered its queue on ${this.topology.levelExchange} yet: start a worker (ROLE=worker or all) with STORES including level`);
      throw new QueueUnavailableError((err as Error).message);
    }
  }

  async health(): Promise<QueueHealth> {
    if (this.closing) return { status: 'down', reason: 'shutting down' };
    const model = this.connection.current;
    if (!model) return { status: 'down', reason: this.connection.reason };
    if (this.connection.blocked) return { status: 'down', reason: `RabbitMQ blocks publishing: ${this.connection.blocked}` };
    const queues = [...(this.shared.length ? Array.from({ length: this.topology.partitions }, (_, p) => this.topology.partitionQueue(p)) : []), ...(this.levelLane ? [this.levelLane.queue] : [])];
    if (!queues.length) return { status: 'up' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), HEALTH_TIMEOUT_MS)));
    const count = declare(model, async (ch) => {
      let total = 0;
      for (const q of queues) total += (await ch.checkQueue(q)).messageCount;
      return total;
    }).catch(() => null);
    const pending = await Promise.race([count, timeout]);
    clearTimeout(timer);
    return pending === null ? { status: 'up' } : { status: 'up', pending };
  }

  async deadLetters(): Promise<DeadLetter[]> {
    const letters = await this.letters.list();
    return letters.map(({ queue: _queue, ...letter }) => letter);
  }

  async replay(ids?: readonly string[]): Promise<number> {
    return this.letters.replay(ids, (letter) => this.republish(letter));
  }

  /** A replayed write goes back where it failed: its partition, or the one LevelDB copy that refused it. */
  private async republish(letter: StoredLetter): Promise<void> {
    const publisher = this.publisher;
    if (!publisher?.open) throw this.unavailable();
    const body = encodeWrites([letter.write]);
    try {
      if (letter.store !== 'level') {
        await publisher.publish(this.topology.writesExchange, String(partitionOf(letter.write, this.topology.partitions)), body, { messageId: randomUUID(), mandatory: true });
        return;
      }
      try {
        await publisher.publish('', letter.queue, body, { messageId: randomUUID(), mandatory: true });
      } catch (err) {
        if (!(err instanceof UnroutableError)) throw err;
        // that worker's queue is gone: every LevelDB copy gets it (the others skip it by stamp)
        await publisher.publish(this.topology.levelExchange, '', body, { messageId: randomUUID(), mandatory: true });
      }
    } catch (err) {
      if (err instanceof NotConfirmedError || err instanceof UnroutableError) throw new QueueUnavailableError(`replay of ${letter.id} not confirmed: ${err.message}`);
      throw err;
    }
  }

  /**
   * Stops consuming, lets the batches being applied finish (up to CLOSE_GRACE_MS),
   * then closes the connection: RabbitMQ takes back every unacked message and
   * gives it to another worker, or to this one when it restarts.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const lanes = [...(this.levelLane ? [this.levelLane] : []), ...this.partitionLanes];
    await Promise.all(lanes.map((l) => l.cancel()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
    const outcome = await Promise.race([Promise.all(lanes.map((l) => l.idle())), grace]);
    clearTimeout(timer);
    if (outcome === 'late') this.log(`queue: handing the batches still being applied back to RabbitMQ`);
    this.stopped = true;
    this.tickets.abandonAll();
    await Promise.all(lanes.map((l) => l.detach()));
    await this.connection.close();
    this.log(`queue: disconnected from ${redact(this.url)}`);
  }
}
