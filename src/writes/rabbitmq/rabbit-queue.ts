/**
 * The write queue over RabbitMQ (QUEUE_CONNECTIONSTRING): how accepted writes
 * reach the engines when API and workers are separate processes.
 *
 * Topology (names under QUEUE_PREFIX, default `dstore`):
 *   dstore.writes          direct exchange → dstore.partition.0 … .{P-1}
 *                          (quorum queues, single active consumer) for the
 *                          shared engines, PostgreSQL and Elasticsearch
 *   dstore.level           fanout exchange → dstore.level.{WORKER_ID}, one
 *                          durable quorum queue per worker keeping a LevelDB
 *   dstore.deadletter      durable queue of the writes an engine refused
 *   dstore.copies          durable queue where each LevelDB worker announces
 *                          its queue (see "Barrier")
 *
 * Publishing. Each write goes to partition hash(project/blueprint/id) mod P,
 * and every write also to dstore.level. The submits of one turn of the event
 * loop are published together: one message per partition touched plus one to
 * dstore.level, each carrying the writes of all those submits in submit order
 * (at most 5,000 per message), so a bulk PUT stays a few large messages and
 * concurrent single-item PUTs share messages and confirms. Messages are
 * persistent, `mandatory`, published on a confirm channel; submit resolves
 * only after RabbitMQ confirmed every message holding its writes.
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
 * queue, to the next consumer. A worker that stops finishes its batch and then
 * closes its channels without cancelling its consumers first (a cancelled
 * consumer keeps its unacked messages while the next one already gets newer
 * ones). Each LevelDB queue has exactly one reader, its worker, same rules.
 * Behind that, every store skips a write whose stamp is not newer than the
 * last one it applied to the item, so a redelivered or late batch never takes
 * an item back in time, and a delete is never undone.
 *
 * Partitions (SPEC §11). Workers share them whenever they start and stop, on
 * RabbitMQ 3.x (where a single active consumer stays with the first subscriber,
 * whatever its priority) as on 4.x: each worker that consumes partitions joins
 * dstore.presence (rabbitmq/presence.ts: a heartbeat every 2 s, gone after 7 s,
 * a hello answered at once, a goodbye on stop) and computes the same fair
 * assignment over the live workers (rabbitmq/assignment.ts: rendezvous hashing,
 * floor or ceil of P/W each). It subscribes to the partitions assigned to it
 * (waiting, as RabbitMQ's single-active-consumer rule has it, until the holder
 * leaves) and releases the others: no new batch starts, the one being applied
 * finishes and is acked, then that partition's channel closes, which puts the
 * deliveries it held but had not applied back at the head of the queue before
 * RabbitMQ activates the next consumer. So no write is applied by two workers
 * at once and the queue order holds across a hand-over; should two consumers
 * overlap anyway, the stores' stamps keep the last accepted write. A joining
 * worker waits SETTLE_MS for the others' answers before it takes anything.
 *
 * LevelDB with many workers. LevelDB lives inside one process, so every worker
 * that keeps one (STORES includes level) holds a full copy fed by its own queue
 * dstore.level.{WORKER_ID}, bound to the fanout exchange; PostgreSQL and
 * Elasticsearch writes are shared among the workers through the partitions.
 * The queue is named by WORKER_ID (default: host name + a hash of LEVEL_PATH),
 * so a restarted worker resumes its copy where it stopped. A worker that joins
 * later only receives the writes published after its queue was first declared.
 * To add a complete copy: start the new worker once (its queue now collects
 * every write) and stop it; wait until an existing worker's queue is empty
 * (its copy then holds everything before); stop that worker, copy its
 * LEVEL_PATH over the new worker's, start both. The new copy re-applies from
 * its queue some writes it already holds, which the stamps make harmless.
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
 * backlog; a client that reads one particular copy and must see its own writes
 * there writes through the ROLE=all process that keeps that copy. Past
 * `timeoutMs` (WRITE_TIMEOUT_MS) the answer is 202 naming the engines still
 * pending, and the writes stay queued. A write an engine dead-lettered answers
 * 502 naming the item and that engine (as with the in-process queue).
 *
 * Failures. An engine that is down keeps its batch unacked and is retried with
 * backoff (applyToStore); past RabbitMQ's consumer_timeout (30 min by default)
 * the broker closes that channel, the worker reconnects and the batch comes
 * back to be retried again. A write an engine refuses is published, with
 * confirm, to dstore.deadletter with its reason, engine, origin queue and the
 * write, before the batch is acked. GET /_deadletter lists them by taking every
 * message and handing them all back; replay republishes the chosen ones to
 * their origin (the partition, or the one LevelDB copy that refused) and then
 * removes them.
 * A lost connection is re-established with backoff (0.2 s doubling to 5 s);
 * exchanges and queues are re-declared, the consumers re-subscribe, and
 * RabbitMQ redelivers whatever was unacked; submits waiting for replies answer
 * 202 at once (their replies were addressed to the old channel). The API and
 * the workers of one process use a connection each: RabbitMQ throttles a
 * connection that publishes fast, which must not hold back the acks of the
 * consumers (with one shared connection, ROLE=all answered 6x slower).
 *
 * Verify and rebuild (SPEC §12). A worker keeping a copy also answers scans and
 * counts of it on <prefix>.scan.{WORKER_ID} (copy-scan.ts), so a verify or a
 * rebuild in the API process reads every copy without opening its files. A
 * rebuild's refill is submitted with `only`: to one shared engine, through the
 * item's partition with the header x-dstore-only (the lane hands those writes
 * to that store alone), or to one copy, straight to its worker's queue.
 *
 * Settings read here (besides QUEUE_CONNECTIONSTRING):
 *   QUEUE_PREFIX      name prefix of every exchange and queue (default dstore)
 *   QUEUE_PARTITIONS  P, the number of partition queues (default 8); the same on
 *                     every API and worker, changed only with the queues empty
 *   WORKER_ID         names this worker's LevelDB queue (default: host name
 *                     and a hash of LEVEL_PATH)
 * The API's STORES must name the engines its workers run: it decides whether a
 * write goes to the partitions (PostgreSQL, Elasticsearch) and to the LevelDB
 * fan-out.
 *
 * Dropping a project. DELETE /{project} drops PostgreSQL and Elasticsearch from
 * the API, and publishes a drop message (AMQP type dstore.drop-project) to the
 * LevelDB fan-out: each copy applies the writes before it, drops the project's
 * keys, then goes on. An API-only process (ROLE=api) opens no LevelDB itself.
 * Retiring a version (DELETE /{project}/_version/{N}) travels the same way:
 * retireCopies publishes a dstore.retire-version message to the fan-out, each
 * copy applies the writes before it, calls store.retire(project, N) (retried
 * until it succeeds), then goes on; it resolves once RabbitMQ confirmed it.
 *
 * Barrier. barrier() resolves once every write accepted before it has been
 * applied (or dead-lettered) by every shared engine and every LevelDB copy, so
 * a back-fill can scan its source (SPEC §9). It publishes a marker, a batch of
 * no writes with reply-to, to each of the P partitions and to the fan-out; a
 * lane answers a batch per store only after everything ahead of it in its
 * queue is applied, and an empty batch answers too. It waits for P replies per
 * shared engine (whichever worker holds the partition, also after a hand-over)
 * and one reply per LevelDB copy. AMQP cannot list the queues bound to the
 * fan-out, so each worker keeping a copy announces its queue in dstore.copies
 * whenever it connects (after binding it); the barrier reads that list
 * (dropping duplicates and deleted queues) and waits for the copies whose
 * queue has a consumer now. A copy without one (its worker is down) is not
 * waited for, nor is one whose worker leaves while the barrier waits (checked
 * every second): nothing can apply that queue now, and when the worker is back
 * it applies the writes, the marker and whatever follows in queue order, so
 * its copy converges all the same. A worker that connects while a barrier is
 * being set up may or may not be counted. Partitions are always waited for
 * (their writes must be in the shared engines before a scan). Past
 * barrierTimeoutMs (BARRIER_TIMEOUT_MS, 2 min) it fails with a
 * BarrierTimeoutError naming the queues still behind (and those nobody reads);
 * a lost API connection fails it at once (the replies were addressed to the
 * old channel). Either way the caller tries again; stray markers are harmless.
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import type { ScannedItem, ScanRequest, Store, StoreName, Write } from '../../stores/store.ts';
import type { DeadLetter, LaneHealth, QueueHealth, SubmitOptions, SubmitResult, WriteQueue } from '../queue.ts';
import { QueueUnavailableError } from '../queue.ts';
import { BrokerConnection, redact } from './broker-connection.ts';
import { CoalescingStore } from '../coalescing-store.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { CopyRegistry, consumersOf } from './copy-registry.ts';
import { CopyScanClient, CopyScanService, scanQueue } from './copy-scan.ts';
import { DROP_PROJECT_TYPE, RETIRE_VERSION_TYPE, type Reply, type StoredLetter, encodeDrop, encodeReply, encodeRetire, encodeWrites } from './message-codec.ts';
import { NotConfirmedError, Publisher, REPLY_TO, UnroutableError } from './publisher.ts';
import { Barrier, Tickets, answerer, type Ticket } from './tickets.ts';
import { assignPartitions } from './assignment.ts';
import { HEARTBEAT_MS, Presence } from './presence.ts';
import { declare, declareWorkQueue, partitionOf, readQueueSettings, topology, workQueueArguments, type Topology } from './topology.ts';
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
  /** How long barrier() waits before it fails (default BARRIER_TIMEOUT_MS). */
  barrierTimeoutMs?: number;
}

/** The barrier fails past this: some queue has not reached its marker (an engine down, a partition nobody consumes). */
export const BARRIER_TIMEOUT_MS = 120_000;
/** How often a barrier looks whether the LevelDB copies it waits for still have their worker. */
const BARRIER_WATCH_MS = 1000;

/** barrier() gave up: the queues named have not applied the writes before it. */
export class BarrierTimeoutError extends QueueUnavailableError {}

/** A confirm that takes longer than this answers 503: RabbitMQ is there but not taking writes. */
const CONFIRM_TIMEOUT_MS = 10_000;
/** How long close() lets the batches being applied finish before handing them back. */
const CLOSE_GRACE_MS = 4000;
/** After joining, a worker waits this long for the others' answers before it takes partitions (see "Partitions" above). */
const SETTLE_MS = 700;
/** Changes of the worker set that arrive together are acted on once. */
const REBALANCE_DEBOUNCE_MS = 100;
const HEALTH_TIMEOUT_MS = 1000;
/** Writes per message at most (RabbitMQ 4 refuses messages over 16 MiB by default). */
const MAX_MESSAGE_WRITES = 5000;

/** A submit waiting for the next flush. */
interface Submitted {
  writes: Write[];
  reply: boolean;
  only?: SubmitOptions['only'];
  sent(result: Sent): void;
  failed(err: Error): void;
}

/** One message of a flush: writes of one or more submits for one destination. */
interface Outgoing {
  exchange: string;
  key: string;
  id: string;
  writes: Write[];
  stores: StoreName[];
  reply: boolean;
  /** Only this shared engine applies it (a rebuild's refill): the worker lane reads it from the x-dstore-only header. */
  only?: StoreName;
  confirmed: Promise<void>;
}

interface Sent {
  ticket: Ticket | null;
  messages: Outgoing[];
}

/** One connection and the publishing channel on it. */
class Link {
  publisher: Publisher | null = null;
  readonly connection: BrokerConnection;

  constructor(url: string, name: string, setup: (model: ChannelModel) => Promise<void>, onDown: () => void, log: (msg: string) => void) {
    this.connection = new BrokerConnection(url, name, { up: setup, down: () => ((this.publisher = null), onDown()) }, log);
  }

  /** The publisher, when the connection is up and RabbitMQ takes publishes. */
  get usable(): Publisher | null {
    return this.connection.ready && !this.connection.blocked && this.publisher?.open ? this.publisher : null;
  }

  /** Opens the publishing channel; when it closes on its own, the whole connection starts over. */
  async openPublisher(model: ChannelModel, onReply: ((reply: Reply) => void) | null, onClose: () => void, closing: () => boolean): Promise<void> {
    const publisher = await Publisher.open(model, onReply, (reason) => {
      if (this.publisher !== publisher) return;
      this.publisher = null;
      onClose();
      if (!closing()) this.connection.recycle(model, `the publishing channel closed (${reason})`);
    });
    this.publisher = publisher;
  }
}

export class RabbitQueue implements WriteQueue {
  readonly kind = 'rabbitmq';
  readonly stores: readonly Store[];
  readonly workerId: string;
  readonly topology: Topology;
  private readonly url: string;
  private readonly log: (msg: string) => void;
  /** Publishes writes and receives the replies (API side); null in a worker-only process. */
  private readonly api: Link | null = null;
  /** Consumes the work queues, publishes replies and dead letters (worker side); null in an API-only process. */
  private readonly worker: Link | null = null;
  private readonly tickets: Tickets;
  private readonly barriers = new Set<Barrier>();
  private readonly barrierTimeoutMs: number;
  private readonly copies: CopyRegistry;
  private readonly letters: DeadLetterQueue;
  private readonly levelLane: WorkerLane | null = null;
  /** Answers scans of this worker's LevelDB copy for verify and rebuild (copy-scan.ts). */
  private readonly copyScans: CopyScanService | null = null;
  private readonly copyReader: CopyScanClient;
  private readonly partitionLanes: WorkerLane[] = [];
  /** The workers that consume partitions, as this one knows them; null without partition lanes. */
  private readonly presence: Presence | null = null;
  private rebalanceTimer: NodeJS.Timeout | null = null;
  private rebalanceTick: NodeJS.Timeout | null = null;
  /** The partitions this worker was last assigned, for the log. */
  private share = '';
  /** Identifies this process in the batches it publishes, so its own worker answers it without a round trip. */
  private readonly origin = randomUUID();
  /** Shared engines a write goes to through the partitions; whether it also goes to the LevelDB fan-out. */
  private readonly shared: StoreName[];
  private readonly toLevel: boolean;
  readonly perWorker: readonly StoreName[];
  private outbox: Submitted[] = [];
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
    this.shared = options.stores.filter((s) => s.name !== 'level').map((s) => s.name);
    this.toLevel = options.stores.some((s) => s.name === 'level');
    this.perWorker = this.toLevel ? ['level'] : [];
    this.barrierTimeoutMs = options.barrierTimeoutMs ?? BARRIER_TIMEOUT_MS;
    this.copies = new CopyRegistry(this.topology.copiesQueue, this.log);
    this.copyReader = new CopyScanClient(this.topology.prefix, () => (this.api ?? this.worker)?.connection.current ?? null);

    if (options.runWorkers) {
      const lane = {
        workerId: this.workerId,
        log: this.log,
        stopping: () => this.stopped,
        deadLetter: (write: Write, store: StoreName, reason: string, queue: string) => this.letters.add(write, store, reason, queue),
        answer: (origin: string | undefined, replyTo: string, reply: Reply) => {
          if (origin === this.origin) this.receive(reply);
          else this.worker?.publisher?.send(replyTo, encodeReply(reply));
        },
      };
      const level = options.stores.find((s) => s.name === 'level');
      if (level) this.levelLane = new WorkerLane(this.topology.levelQueue(this.workerId), [level], lane);
      if (level) this.copyScans = new CopyScanService(scanQueue(this.topology.prefix, this.workerId), level, this.log);
      // the partitions a worker holds are applied side by side: merge their calls into one per store
      const sharedStores = options.stores.filter((s) => s.name !== 'level').map((s) => new CoalescingStore(s));
      if (sharedStores.length) {
        for (let p = 0; p < this.topology.partitions; p++) this.partitionLanes.push(new WorkerLane(this.topology.partitionQueue(p), sharedStores, lane));
        this.presence = new Presence(this.topology.presenceExchange, this.workerId, () => this.scheduleRebalance(REBALANCE_DEBOUNCE_MS), this.log);
      }
      this.worker = new Link(options.url, this.connectionName('worker'), (model) => this.workerUp(model), () => this.presence?.detach(), this.log);
    }
    this.tickets = new Tickets(this.levelLane ? this.workerId : null);
    if (options.runApi) this.api = new Link(options.url, this.connectionName('api'), (model) => this.apiUp(model), () => this.repliesLost(), this.log);

    this.letters = new DeadLetterQueue(this.topology.deadLetterQueue, {
      model: () => (this.api ?? this.worker)!.connection.current,
      publisher: () => this.worker?.usable ?? this.api?.usable ?? null,
      unavailable: () => this.unavailable().message,
    }, this.log);
  }

  /** A worker's answer: settles the submits and the barriers waiting for it. */
  private receive(reply: Reply): void {
    this.tickets.receive(reply);
    for (const barrier of this.barriers) barrier.receive(reply);
  }

  /** The channel the replies were addressed to is gone: waiting submits answer now, barriers fail (their caller tries again). */
  private repliesLost(): void {
    this.tickets.abandonAll();
    for (const barrier of this.barriers) barrier.fail(new QueueUnavailableError('the connection to RabbitMQ was lost while waiting for the barrier; try again'));
  }

  private connectionName(role: 'api' | 'worker'): string {
    return `dstore ${role} ${this.topology.prefix} ${this.workerId} pid ${process.pid}`;
  }

  private get links(): Link[] {
    return [this.api, this.worker].filter((l): l is Link => l !== null);
  }

  /** Connects once; when RabbitMQ is not there, start-up goes on and the connections keep being retried. */
  async start(): Promise<void> {
    const connected = await Promise.all(this.links.map((l) => l.connection.start()));
    if (connected.includes(false)) this.log(`queue: RabbitMQ not reachable yet (${this.unavailable().message}); writes answer 503 until it is`);
  }

  /** Exchanges, the dead-letter queue and, when this side uses them, the partitions (idempotent). */
  private async declareTopology(model: ChannelModel, withPartitions: boolean): Promise<Record<string, unknown>> {
    const t = this.topology;
    const args = workQueueArguments(String(model.connection.serverProperties.version ?? ''));
    await declare(model, async (ch) => {
      await ch.assertExchange(t.writesExchange, 'direct', { durable: true });
      await ch.assertExchange(t.levelExchange, 'fanout', { durable: true });
      await ch.assertQueue(t.deadLetterQueue, { durable: true });
      await ch.assertQueue(t.copiesQueue, { durable: true });
    });
    if (withPartitions) {
      for (let p = 0; p < t.partitions; p++) {
        await declareWorkQueue(model, t.partitionQueue(p), args, this.log);
        await declare(model, (ch) => ch.bindQueue(t.partitionQueue(p), t.writesExchange, String(p)));
      }
    }
    return args;
  }

  /** The API declares the partitions too, so writes accepted before any worker started are kept. */
  private async apiUp(model: ChannelModel): Promise<void> {
    await this.declareTopology(model, this.shared.length > 0);
    await this.api!.openPublisher(model, (reply) => this.receive(reply), () => this.repliesLost(), () => this.closing);
  }

  private async workerUp(model: ChannelModel): Promise<void> {
    const args = await this.declareTopology(model, this.partitionLanes.length > 0);
    const link = this.worker!;
    if (this.levelLane) {
      await declareWorkQueue(model, this.levelLane.queue, args, this.log);
      await declare(model, (ch) => ch.bindQueue(this.levelLane!.queue, this.topology.levelExchange, ''));
    }
    await link.openPublisher(model, null, () => {}, () => this.closing);
    // announced after the queue is bound, so a barrier that knows the copy finds its marker there
    if (this.levelLane) await this.copies.announce(link.publisher!, { worker: this.workerId, queue: this.levelLane.queue });
    const recycle = (reason: string) => link.connection.recycle(model, reason);
    if (this.levelLane) await this.levelLane.attach(model, {}, recycle);
    if (this.copyScans) await this.copyScans.attach(model);
    if (this.presence) {
      await this.presence.attach(model);
      this.scheduleRebalance(SETTLE_MS);
      if (!this.rebalanceTick) {
        // also on every heartbeat: a transition that failed, or a member that expired, is caught up with
        this.rebalanceTick = setInterval(() => this.rebalance(), HEARTBEAT_MS);
        this.rebalanceTick.unref();
      }
    }
  }

  private scheduleRebalance(delayMs: number): void {
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = setTimeout(() => {
      this.rebalanceTimer = null;
      this.rebalance();
    }, delayMs);
    this.rebalanceTimer.unref();
  }

  /**
   * Consumes the partitions assigned to this worker among the live ones and
   * hands the others over (see "Partitions" above); idempotent.
   */
  private rebalance(): void {
    const model = this.worker?.connection.current;
    if (this.closing || !this.presence || !model) return;
    const members = this.presence.members();
    const mine = new Set(assignPartitions(members, this.topology.partitions).get(this.presence.member) ?? []);
    const share = [...mine].join(',');
    if (share !== this.share) {
      this.share = share;
      this.log(`queue: ${members.length} worker(s) share the ${this.topology.partitions} partitions; this one consumes ${mine.size ? [...mine].join(', ') : 'none'}`);
    }
    const recycle = (reason: string) => this.worker!.connection.recycle(model, reason);
    this.partitionLanes.forEach((lane, p) => void (mine.has(p) ? lane.hold(model, recycle) : lane.release()));
  }

  private unavailable(): QueueUnavailableError {
    if (this.closing) return new QueueUnavailableError('dstore is shutting down');
    for (const link of this.links) {
      const c = link.connection;
      if (!c.ready) return new QueueUnavailableError(`${c.reason}; reconnecting`);
      if (c.blocked) return new QueueUnavailableError(`RabbitMQ blocks publishing (${c.blocked})`);
      if (!link.publisher?.open) return new QueueUnavailableError('the channel to RabbitMQ is being reopened');
    }
    return new QueueUnavailableError('RabbitMQ is not available');
  }

  async submit(writes: Write[], options: SubmitOptions): Promise<SubmitResult> {
    const usable = this.api?.usable;
    if (this.closing || !usable) throw this.unavailable();
    if (this.toLevel && !this.levelBound) await this.ensureLevelBound(usable);
    const sent = await new Promise<Sent>((sent, failed) => {
      this.outbox.push({ writes, reply: !options.async, only: options.only, sent, failed });
      if (this.outbox.length === 1) setImmediate(() => this.flush());
    });
    const { ticket, messages } = sent;
    if (!messages.length) return { state: 'applied' };

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CONFIRM_TIMEOUT_MS)));
    const outcomes = await Promise.race([Promise.allSettled(messages.map((m) => m.confirmed)), timeout]);
    clearTimeout(timer);
    const unroutable = outcomes === 'timeout' ? [] : messages.filter((_, i) => outcomes[i]!.status === 'rejected' && (outcomes[i] as PromiseRejectedResult).reason instanceof UnroutableError);
    const failed = outcomes === 'timeout' ? `RabbitMQ did not confirm the writes within ${CONFIRM_TIMEOUT_MS / 1000} s` : outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected' && !(o.reason instanceof UnroutableError))?.reason?.message;
    if (unroutable.some((m) => m.exchange === this.topology.levelExchange)) this.levelBound = false;
    if (failed || unroutable.length === messages.length) {
      if (ticket) this.tickets.drop(ticket, 'unknown');
      throw new QueueUnavailableError(failed ?? `no queue is bound to ${[...new Set(unroutable.map((m) => m.exchange))].join(', ')}; start a worker`);
    }
    for (const m of unroutable) {
      // a queue vanished between the check and this publish (deleted by hand): those engines will not see these writes
      this.log(`queue: batch ${m.id} (${m.writes.length} write(s)) reached no queue on ${m.exchange}; ${m.stores.join(', ')} will not receive it`);
    }
    if (!ticket) return { state: 'accepted', pending: [...this.shared, ...(this.toLevel ? (['level'] as const) : [])] };
    if (unroutable.length) {
      this.tickets.drop(ticket, 'unknown');
      return ticket.result;
    }
    return this.tickets.wait(ticket, options.timeoutMs);
  }

  /**
   * Publishes everything submitted in one turn of the event loop together:
   * per partition one message (and one to the LevelDB fan-out) holding the
   * writes of every submit, in submit order, so concurrent single-item PUTs
   * share messages and confirms instead of paying for one each.
   */
  private flush(): void {
    const outgoing = this.outbox;
    this.outbox = [];
    const publisher = this.api?.usable;
    if (this.closing || !publisher) {
      const err = this.unavailable();
      for (const o of outgoing) o.failed(err);
      return;
    }
    const messages: Outgoing[] = [];
    const open = new Map<string, Outgoing>();
    const carrying = new Map<Submitted, Outgoing[]>();
    const add = (s: Submitted, exchange: string, key: string, stores: StoreName[], w: Write, only?: StoreName) => {
      const dest = `${exchange} ${key} ${only ?? ''}`;
      let m = open.get(dest);
      if (!m || m.writes.length >= MAX_MESSAGE_WRITES) {
        m = { exchange, key, id: randomUUID(), writes: [], stores, reply: false, ...(only ? { only } : {}), confirmed: Promise.resolve() };
        open.set(dest, m);
        messages.push(m);
      }
      m.writes.push(w);
      if (s.reply) m.reply = true;
      let list = carrying.get(s);
      if (!list) carrying.set(s, (list = []));
      if (!list.includes(m)) list.push(m);
    };
    for (const s of outgoing) {
      const only = s.only;
      for (const w of s.writes) {
        if (!only) {
          if (this.shared.length) add(s, this.topology.writesExchange, String(partitionOf(w, this.topology.partitions)), this.shared, w);
          if (this.toLevel) add(s, this.topology.levelExchange, '', ['level'], w);
        } else if (only.store === 'level') {
          // one worker's copy: straight to its own queue, behind the writes already in it
          if (this.toLevel) add(s, only.worker ? '' : this.topology.levelExchange, only.worker ? this.topology.levelQueue(only.worker) : '', ['level'], w);
        } else if (this.shared.includes(only.store)) {
          add(s, this.topology.writesExchange, String(partitionOf(w, this.topology.partitions)), [only.store], w, only.store);
        }
      }
    }
    // tickets before publishing: a reply may come back before the confirm
    const tickets = outgoing.map((s) => (s.reply ? this.tickets.open(s.writes, new Map((carrying.get(s) ?? []).map((m) => [m.id, m.stores]))) : null));
    for (const m of messages) {
      m.confirmed = publisher.publish(m.exchange, m.key, encodeWrites(m.writes), {
        messageId: m.id,
        mandatory: true,
        headers: { 'x-dstore-origin': this.origin, ...(m.only ? { 'x-dstore-only': m.only } : {}) },
        ...(m.reply ? { replyTo: REPLY_TO } : {}),
      });
      m.confirmed.catch(() => {}); // each submit reads the outcome; this only keeps an unread one from being "unhandled"
    }
    outgoing.forEach((s, i) => s.sent({ ticket: tickets[i]!, messages: carrying.get(s) ?? [] }));
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

  /** What this process's worker lanes see per engine: the oldest write held and why a store is not moving (SPEC §6 "stuck"). */
  private laneHealth(): QueueHealth['engines'] {
    const engines: NonNullable<QueueHealth['engines']> = {};
    const now = Date.now();
    for (const lane of [...(this.levelLane ? [this.levelLane] : []), ...this.partitionLanes]) {
      for (const [name, h] of Object.entries(lane.health(now)) as Array<[StoreName, LaneHealth]>) {
        const seen = engines[name];
        engines[name] = { pending: (seen?.pending ?? 0) + h.pending, oldestPendingMs: Math.max(seen?.oldestPendingMs ?? 0, h.oldestPendingMs), ...((h.down ?? seen?.down) ? { down: (h.down ?? seen?.down)! } : {}) };
      }
    }
    return engines;
  }

  async health(): Promise<QueueHealth> {
    return { ...(await this.brokerHealth()), engines: this.laneHealth() };
  }

  private async brokerHealth(): Promise<QueueHealth> {
    if (this.closing) return { status: 'down', reason: 'shutting down' };
    for (const link of this.links) {
      if (!link.connection.ready) return { status: 'down', reason: link.connection.reason };
      if (link.connection.blocked) return { status: 'down', reason: `RabbitMQ blocks publishing: ${link.connection.blocked}` };
    }
    const model = this.links[0]?.connection.current;
    const queues = [...(this.shared.length ? Array.from({ length: this.topology.partitions }, (_, p) => this.topology.partitionQueue(p)) : []), ...(this.levelLane ? [this.levelLane.queue] : [])];
    if (!model || !queues.length) return { status: 'up' };
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

  /** Every LevelDB copy drops the project in order with its writes: a persistent, confirmed message on the fan-out. */
  async dropCopies(project: string, versions: readonly number[]): Promise<void> {
    await this.publishToCopies(DROP_PROJECT_TYPE, encodeDrop({ project, versions: [...versions] }), 'the project drop');
  }

  /** Every LevelDB copy drops one retired version in order with its writes, as dropCopies does for a project. */
  async retireCopies(project: string, version: number): Promise<void> {
    await this.publishToCopies(RETIRE_VERSION_TYPE, encodeRetire({ project, version }), `the retirement of version ${version} of ${project}`);
  }

  /** Resolves once RabbitMQ confirmed the control message (persistent, on the fan-out); no copy bound means nothing to do. */
  private async publishToCopies(type: string, body: Buffer, what: string): Promise<void> {
    if (!this.toLevel) return;
    const usable = this.api?.usable;
    if (this.closing || !usable) throw this.unavailable();
    try {
      await usable.publish(this.topology.levelExchange, '', body, { messageId: randomUUID(), type, mandatory: true });
    } catch (err) {
      if (err instanceof UnroutableError) return; // no LevelDB copy exists yet
      throw new QueueUnavailableError(`${what} was not confirmed by RabbitMQ: ${(err as Error).message}`);
    }
  }

  /**
   * Publishes a marker (a batch of no writes, with reply-to) to every
   * partition and to the LevelDB fan-out, and resolves once every shared
   * engine answered it on every partition and every LevelDB copy that has a
   * worker answered it: each queue answers a batch only after everything ahead
   * of it is applied (see "Barrier" above).
   */
  async barrier(): Promise<void> {
    if (!this.shared.length && !this.toLevel) return;
    const publisher = this.api?.usable;
    const model = this.api?.connection.current;
    if (this.closing || !publisher || !model) throw this.unavailable();
    const id = `barrier ${randomUUID()}`;
    const barrier = new Barrier();
    const markers: Array<{ exchange: string; key: string; messageId: string }> = [];
    if (this.shared.length) {
      for (let p = 0; p < this.topology.partitions; p++) {
        const messageId = `${id} p${p}`;
        for (const store of this.shared) barrier.expect(messageId, answerer(store, ''), this.topology.partitionQueue(p));
        markers.push({ exchange: this.topology.writesExchange, key: String(p), messageId });
      }
    }
    const copyQueues = new Set<string>();
    if (this.toLevel) {
      const messageId = `${id} level`;
      for (const copy of await this.copies.list(model)) {
        if (!copy.consumers) {
          this.log(`queue: barrier: not waiting for ${copy.queue}: no worker reads it now (its copy applies the writes in order when the worker is back)`);
          continue;
        }
        barrier.expect(messageId, answerer('level', copy.worker), copy.queue);
        copyQueues.add(copy.queue);
      }
      markers.push({ exchange: this.topology.levelExchange, key: '', messageId });
    }
    this.barriers.add(barrier);
    let timer: NodeJS.Timeout | undefined;
    let watch: NodeJS.Timeout | undefined;
    try {
      const published = await Promise.allSettled(
        markers.map((m) => publisher.publish(m.exchange, m.key, encodeWrites([]), { messageId: m.messageId, mandatory: true, replyTo: REPLY_TO, headers: { 'x-dstore-origin': this.origin } })),
      );
      published.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') return;
        // the fan-out reached no queue: no LevelDB copy exists, none to wait for
        if (outcome.reason instanceof UnroutableError && markers[i]!.exchange === this.topology.levelExchange) for (const q of copyQueues) barrier.forget(q);
        else throw new QueueUnavailableError(`the barrier was not confirmed by RabbitMQ: ${(outcome.reason as Error).message}`);
      });
      barrier.armed();
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.barrierTimeoutMs)));
      let watching = false;
      watch = setInterval(() => {
        if (watching) return;
        watching = true;
        void this.forgetDeparted(barrier, model, copyQueues).finally(() => (watching = false));
      }, BARRIER_WATCH_MS);
      const outcome = await Promise.race([barrier.passed.then(() => 'passed' as const), timeout]);
      if (outcome === 'timeout') throw await this.barrierTimedOut(barrier, model);
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
      this.barriers.delete(barrier);
    }
  }

  /** A LevelDB copy whose worker left (or whose queue was deleted) will not answer now: stop waiting for it. */
  private async forgetDeparted(barrier: Barrier, model: ChannelModel, copyQueues: ReadonlySet<string>): Promise<void> {
    for (const queue of barrier.pending().keys()) {
      if (!copyQueues.has(queue)) continue;
      const consumers = await consumersOf(model, queue).catch(() => undefined);
      if (consumers !== 0 && consumers !== null) continue;
      this.log(`queue: barrier: no longer waiting for ${queue}: its worker left (its copy applies the writes in order when the worker is back)`);
      barrier.forget(queue);
    }
  }

  private async barrierTimedOut(barrier: Barrier, model: ChannelModel): Promise<BarrierTimeoutError> {
    const queues: string[] = [];
    for (const [queue, owing] of barrier.pending()) {
      const consumers = await consumersOf(model, queue).catch(() => undefined);
      queues.push(`${queue} (${owing.map((o) => o.replace(/^level@.*/, 'level')).join(', ')}${consumers === 0 ? '; no worker reads it' : ''})`);
    }
    return new BarrierTimeoutError(`the writes accepted before the barrier were not all applied within ${this.barrierTimeoutMs / 1000} s; still behind: ${queues.join(', ')}`);
  }

  /** The worker id of the LevelDB copy this process keeps, or null. */
  get ownCopy(): string | null {
    return this.levelLane ? this.workerId : null;
  }

  /** Every LevelDB copy whose queue exists (the copies registry), with how many workers read it now. */
  async levelCopies(): Promise<Array<{ worker: string; consumers: number }>> {
    const model = (this.api ?? this.worker)?.connection.current;
    if (this.closing || !model) throw this.unavailable();
    return (await this.copies.list(model)).map((c) => ({ worker: c.worker, consumers: c.consumers }));
  }

  /** A page of one worker's LevelDB copy, scanned by that worker (copy-scan.ts). */
  scanCopy(worker: string, request: ScanRequest): Promise<ScannedItem[]> {
    return this.copyReader.scan(worker, request);
  }

  countCopy(worker: string, request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'>): Promise<number> {
    return this.copyReader.count(worker, request);
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
    const publisher = (this.api ?? this.worker)!.usable;
    if (!publisher) throw this.unavailable();
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
   * Stops consuming: lets the batches being applied finish (up to
   * CLOSE_GRACE_MS) and starts no new one, then closes the channels and
   * connections, which hands every unacked message back to the head of its
   * queue, for another worker or for this one when it restarts.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // the others take this worker's partitions now (they wait as consumers until its channels close)
    this.presence?.leave();
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    if (this.rebalanceTick) clearInterval(this.rebalanceTick);
    const lanes = [...(this.levelLane ? [this.levelLane] : []), ...this.partitionLanes];
    for (const lane of lanes) lane.stop();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
    const outcome = await Promise.race([Promise.all(lanes.map((l) => l.idle())), grace]);
    clearTimeout(timer);
    if (outcome === 'late') this.log('queue: handing the batches still being applied back to RabbitMQ');
    this.stopped = true;
    this.tickets.abandonAll();
    for (const barrier of this.barriers) barrier.fail(new QueueUnavailableError('dstore is shutting down'));
    await Promise.all(lanes.map((l) => l.detach()));
    this.presence?.detach();
    await this.copyReader.close();
    await Promise.all(this.links.map((l) => l.connection.close()));
    this.log(`queue: disconnected from ${redact(this.url)}`);
  }
}
