import type { ChannelModel, GetMessage } from 'amqplib';
import { decodeAnnouncement, encodeAnnouncement, type CopyAnnouncement } from './message-codec.ts';
import type { Publisher } from './publisher.ts';
import { declare } from './topology.ts';

/** A LevelDB copy that exists now: its queue is declared, and `consumers` workers read it. */
export interface LiveCopy extends CopyAnnouncement {
  consumers: number;
}

/**
 * Which LevelDB copies exist. AMQP cannot list the queues bound to the
 * fan-out, so every worker keeping a copy announces its queue (a persistent
 * message in one durable classic queue) each time it connects. Reading takes
 * every announcement unacknowledged on a channel of its own, acks the
 * duplicates and those whose queue was deleted (a retired worker), and closes
 * the channel, which puts the rest back. Readers within this process take
 * turns, so each sees the whole queue.
 */
export class CopyRegistry {
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly queue: string,
    private readonly log: (msg: string) => void,
  ) {}

  async announce(publisher: Publisher, copy: CopyAnnouncement): Promise<void> {
    await publisher.publish('', this.queue, encodeAnnouncement(copy), { messageId: `copy ${copy.worker}`, mandatory: true });
  }

  list(model: ChannelModel): Promise<LiveCopy[]> {
    const run = this.turn.then(async () => {
      const channel = await model.createChannel();
      channel.on('error', (err: Error) => this.log(`queue: reading ${this.queue}: ${err.message}`));
      try {
        const taken: Array<{ copy: CopyAnnouncement; msg: GetMessage }> = [];
        for (;;) {
          const msg = await channel.get(this.queue, { noAck: false });
          if (!msg) break;
          try {
            taken.push({ copy: decodeAnnouncement(msg.content), msg });
          } catch (err) {
            this.log(`queue: ${this.queue}: removing an unreadable announcement (${(err as Error).message})`);
            channel.ack(msg);
          }
        }
        const live: LiveCopy[] = [];
        const seen = new Set<string>();
        for (const { copy, msg } of taken) {
          if (seen.has(copy.queue)) {
            channel.ack(msg);
            continue;
          }
          seen.add(copy.queue);
          const consumers = await consumersOf(model, copy.queue);
          if (consumers === null) channel.ack(msg);
          else live.push({ ...copy, consumers });
        }
        return live;
      } finally {
        // the announcements kept go back where they were
        await channel.close().catch(() => {});
      }
    });
    this.turn = run.catch(() => {});
    return run;
  }
}

/** How many consumers read a queue; null when the queue does not exist. */
export async function consumersOf(model: ChannelModel, queue: string): Promise<number | null> {
  try {
    return (await declare(model, (ch) => ch.checkQueue(queue))).consumerCount;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return null;
    throw err;
  }
}
