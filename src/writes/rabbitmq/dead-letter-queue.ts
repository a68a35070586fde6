import { randomUUID } from 'node:crypto';
import type { ChannelModel, GetMessage } from 'amqplib';
import type { StoreName, Write } from '../../stores/store.ts';
import { QueueUnavailableError } from '../queue.ts';
import { decodeLetter, encodeLetter, type StoredLetter } from './message-codec.ts';
import type { Publisher } from './publisher.ts';

interface Link {
  model(): ChannelModel | null;
  publisher(): Publisher | null;
  unavailable(): string;
}

/**
 * The dead-letter queue: one durable classic queue (classic, because reading
 * it hands every letter back, and a quorum queue of RabbitMQ 4 would drop a
 * letter after 20 such returns). Letters are listed by taking every message
 * unacknowledged on a channel of its own and closing that channel, which puts
 * them all back in their places; replay republishes the chosen ones with
 * confirms and only then acks them, so a letter is never lost between the two
 * (at worst, after a crash, it is replayed twice — harmless, the stores skip a
 * write whose stamp they have seen). Readers within this process take turns,
 * so each sees the whole queue.
 */
export class DeadLetterQueue {
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly queue: string,
    private readonly link: Link,
    private readonly log: (msg: string) => void,
  ) {}

  async add(write: Write, store: StoreName, reason: string, queue: string): Promise<void> {
    const publisher = this.link.publisher();
    if (!publisher) throw new QueueUnavailableError(this.link.unavailable());
    const letter: StoredLetter = { id: randomUUID(), store, reason, failedAt: new Date().toISOString(), write, queue };
    await publisher.publish('', this.queue, encodeLetter(letter), { messageId: letter.id, mandatory: true });
    this.log(`queue: ${store} refused ${write.op} ${write.project}/${write.blueprint}/${write.id}: ${reason} (dead-lettered as ${letter.id})`);
  }

  list(): Promise<StoredLetter[]> {
    return this.exclusive(async (taken) => taken.map((t) => t.letter));
  }

  /** Republishes the letters named (all when `ids` is absent) through `republish`, then removes them. */
  replay(ids: readonly string[] | undefined, republish: (letter: StoredLetter) => Promise<void>): Promise<number> {
    const wanted = ids ? new Set(ids) : null;
    return this.exclusive(async (taken, ack) => {
      let count = 0;
      for (const { letter, msg } of taken) {
        if (wanted && !wanted.has(letter.id)) continue;
        await republish(letter);
        ack(msg);
        count++;
      }
      return count;
    });
  }

  private exclusive<T>(work: (taken: Array<{ letter: StoredLetter; msg: GetMessage }>, ack: (msg: GetMessage) => void) => Promise<T>): Promise<T> {
    const run = this.turn.then(async () => {
      const model = this.link.model();
      if (!model) throw new QueueUnavailableError(this.link.unavailable());
      const channel = await model.createChannel();
      channel.on('error', (err: Error) => this.log(`queue: reading ${this.queue}: ${err.message}`));
      try {
        const taken: Array<{ letter: StoredLetter; msg: GetMessage }> = [];
        for (;;) {
          const msg = await channel.get(this.queue, { noAck: false });
          if (!msg) break;
          try {
            taken.push({ letter: decodeLetter(msg.content), msg });
          } catch (err) {
            this.log(`queue: ${this.queue} holds an unreadable message ${String(msg.properties.messageId)} (${(err as Error).message}); left in place`);
          }
        }
        return await work(taken, (msg) => channel.ack(msg));
      } finally {
        // everything taken and not acked goes back where it was
        await channel.close().catch(() => {});
      }
    });
    this.turn = run.catch(() => {});
    return run;
  }
}
