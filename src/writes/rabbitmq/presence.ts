import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel } from 'amqplib';

/** How often a worker says it is alive. */
export const HEARTBEAT_MS = 2000;
/** A worker not heard of for this long (three beats missed) is gone. */
export const EXPIRY_MS = 7000;

interface Announcement {
  member: string;
  kind: 'hello' | 'beat' | 'leave';
}

/**
 * How the workers that consume partitions learn of each other (SPEC §11): a
 * fanout exchange (`<prefix>.presence`) where each one publishes a heartbeat
 * every HEARTBEAT_MS, and says hello when it connects (the others answer with
 * a beat at once) and goodbye when it stops. Each reads them from a queue of
 * its own (exclusive, gone with its connection). A member is live while it was
 * heard of within EXPIRY_MS; `changed` is told whenever the set changes.
 */
export class Presence {
  /** This process among the members: its worker id and an instance id, unique even if two share a WORKER_ID. */
  readonly member: string;
  private readonly seen = new Map<string, number>();
  private channel: Channel | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly exchange: string,
    workerId: string,
    private readonly changed: () => void,
    private readonly log: (msg: string) => void,
  ) {
    this.member = `${workerId} ${randomUUID().slice(0, 8)}`;
  }

  /** The live members, this one included, sorted. */
  members(now = Date.now()): string[] {
    const live = [this.member];
    for (const [member, at] of this.seen) if (now - at <= EXPIRY_MS) live.push(member);
    return live.sort();
  }

  /** Joins on a (new) connection: declares the exchange and this member's queue, says hello, beats from then on. */
  async attach(model: ChannelModel): Promise<void> {
    this.detach();
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => this.log(`queue: presence channel error: ${err.message}`));
    channel.on('close', () => {
      if (this.channel === channel) this.channel = null;
    });
    await channel.assertExchange(this.exchange, 'fanout', { durable: true });
    // a heartbeat older than the expiry says nothing: let RabbitMQ drop it
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, arguments: { 'x-message-ttl': EXPIRY_MS } });
    await channel.bindQueue(queue, this.exchange, '');
    await channel.consume(queue, (msg) => msg && this.receive(msg.content), { noAck: true });
    this.channel = channel;
    this.seen.clear();
    this.announce('hello');
    this.timer = setInterval(() => {
      this.announce('beat');
      this.expire();
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  private receive(content: Buffer): void {
    let a: Announcement;
    try {
      a = JSON.parse(content.toString('utf8')) as Announcement;
    } catch {
      return;
    }
    if (typeof a?.member !== 'string' || a.member === this.member) return;
    const known = this.seen.has(a.member);
    if (a.kind === 'leave') {
      if (this.seen.delete(a.member)) this.changed();
      return;
    }
    this.seen.set(a.member, Date.now());
    // a newcomer learns of everyone within one round trip instead of one heartbeat
    if (a.kind === 'hello') this.announce('beat');
    if (!known) this.changed();
  }

  private expire(now = Date.now()): void {
    let gone = false;
    for (const [member, at] of this.seen) {
      if (now - at > EXPIRY_MS) {
        this.seen.delete(member);
        gone = true;
      }
    }
    if (gone) this.changed();
  }

  private announce(kind: Announcement['kind']): void {
    try {
      this.channel?.publish(this.exchange, '', Buffer.from(JSON.stringify({ member: this.member, kind } satisfies Announcement)), { persistent: false });
    } catch {
      // the channel is closing: the connection's return re-attaches
    }
  }

  /** Says goodbye, so the others take this worker's partitions at once instead of after the expiry. */
  leave(): void {
    this.announce('leave');
  }

  /** Stops beating and forgets the others (a new connection starts afresh). */
  detach(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const channel = this.channel;
    this.channel = null;
    if (channel) void channel.close().catch(() => {});
  }
}
