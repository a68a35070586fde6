import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { ScannedItem, ScanRequest, Store } from '../../stores/store.ts';
import { consumersOf } from './copy-registry.ts';

/**
 * Reading a worker's LevelDB copy from another process (SPEC §12 verify and
 * rebuild): LevelDB lives inside its worker, so the worker answers scans of it.
 * Each worker keeping a copy consumes `<prefix>.scan.<WORKER_ID>`, a transient
 * queue deleted with its last consumer (it goes when the worker goes, so a
 * request to a worker that is not running finds no queue; not exclusive, so
 * other connections may look it up). A request names the scan or the
 * count; the answer goes to the requester's own exclusive reply queue with the
 * request's correlation id. Requests expire after the timeout, so a worker
 * that comes back does not answer questions nobody waits for any more.
 */
export type CopyQuestion = { op: 'scan'; request: ScanRequest } | { op: 'count'; request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'> };
type CopyAnswer = { items: ScannedItem[] } | { count: number } | { error: string };

/** How long a scan of one page of a copy may take before the request fails. */
export const COPY_SCAN_TIMEOUT_MS = 60_000;

export function scanQueue(prefix: string, workerId: string): string {
  return `${prefix}.scan.${workerId}`;
}

/** The worker's side: answers scans and counts of its own LevelDB copy. */
export class CopyScanService {
  constructor(
    private readonly queue: string,
    private readonly store: Store,
    private readonly log: (msg: string) => void,
  ) {}

  /** Declares the queue on this (new) connection and answers from it; the queue ends with its consumer. */
  async attach(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.log(`queue: ${this.queue}: ${err.message}`));
    await channel.assertQueue(this.queue, { autoDelete: true, durable: false });
    await channel.prefetch(2);
    await channel.consume(this.queue, (msg) => {
      if (msg) void this.answer(channel, msg);
    });
  }

  private async answer(channel: Channel, msg: ConsumeMessage): Promise<void> {
    let answer: CopyAnswer;
    try {
      const question = JSON.parse(msg.content.toString('utf8')) as CopyQuestion;
      if (question.op === 'scan') answer = { items: await this.store.scan(question.request) };
      else if (question.op === 'count') answer = { count: await this.store.count(question.request) };
      else throw new Error(`unknown copy question ${JSON.stringify((question as { op?: unknown }).op)}`);
    } catch (err) {
      answer = { error: (err as Error).message };
    }
    try {
      const replyTo = msg.properties.replyTo as string | undefined;
      if (replyTo) channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(answer)), { correlationId: msg.properties.correlationId as string, contentType: 'application/json' });
      channel.ack(msg);
    } catch {
      // the channel closed: the requester times out and asks again
    }
  }
}

interface Waiting {
  resolve(answer: CopyAnswer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** The asking side: one channel with its own reply queue, opened on first use and again after a reconnect. */
export class CopyScanClient {
  private channel: Promise<{ model: ChannelModel; channel: Channel; replyQueue: string }> | null = null;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly prefix: string,
    private readonly model: () => ChannelModel | null,
    private readonly timeoutMs = COPY_SCAN_TIMEOUT_MS,
  ) {}

  private async open(): Promise<{ model: ChannelModel; channel: Channel; replyQueue: string }> {
    const model = this.model();
    if (!model) throw new Error('RabbitMQ is not connected');
    const current = this.channel && (await this.channel.catch(() => null));
    if (current && current.model === model) return current;
    this.channel = (async () => {
      const channel = await model.createChannel();
      channel.on('error', () => {}); // the close below fails whoever waits
      channel.on('close', () => {
        this.channel = null;
        for (const [id, w] of this.waiting) {
          clearTimeout(w.timer);
          w.reject(new Error('the channel to RabbitMQ closed while a LevelDB copy was being read'));
          this.waiting.delete(id);
        }
      });
      const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await channel.consume(replyQueue, (msg) => {
        if (!msg) return;
        const id = msg.properties.correlationId as string;
        const w = this.waiting.get(id);
        if (!w) return;
        this.waiting.delete(id);
        clearTimeout(w.timer);
        try {
          w.resolve(JSON.parse(msg.content.toString('utf8')) as CopyAnswer);
        } catch (err) {
          w.reject(new Error(`unreadable answer from a LevelDB copy: ${(err as Error).message}`));
        }
      }, { noAck: true });
      return { model, channel, replyQueue };
    })();
    this.channel.catch(() => (this.channel = null));
    return this.channel;
  }

  async ask(worker: string, question: CopyQuestion): Promise<CopyAnswer> {
    const { model, channel, replyQueue } = await this.open();
    const queue = scanQueue(this.prefix, worker);
    if (!(await consumersOf(model, queue))) throw new Error(`worker ${worker} does not answer scans of its LevelDB copy (no queue ${queue}: is it running?)`);
    const correlationId = randomUUID();
    const answer = new Promise<CopyAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new Error(`worker ${worker} did not answer a ${question.op} of its LevelDB copy within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.waiting.set(correlationId, { resolve, reject, timer });
    });
    channel.sendToQueue(queue, Buffer.from(JSON.stringify(question)), { correlationId, replyTo: replyQueue, expiration: String(this.timeoutMs), contentType: 'application/json' });
    const got = await answer;
    if ('error' in got) throw new Error(`worker ${worker}'s LevelDB copy: ${got.error}`);
    return got;
  }

  async scan(worker: string, request: ScanRequest): Promise<ScannedItem[]> {
    const got = await this.ask(worker, { op: 'scan', request });
    if (!('items' in got)) throw new Error(`worker ${worker} answered a scan without items`);
    return got.items;
  }

  async count(worker: string, request: CopyQuestion['request']): Promise<number> {
    const got = await this.ask(worker, { op: 'count', request });
    if (!('count' in got)) throw new Error(`worker ${worker} answered a count without a count`);
    return got.count;
  }

  async close(): Promise<void> {
    const current = this.channel && (await this.channel.catch(() => null));
    this.channel = null;
    await current?.channel.close().catch(() => {});
  }
}
