import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import { decodeReply, type Reply } from './message-codec.ts';

/** RabbitMQ's direct reply-to pseudo-queue: replies come straight back to the publishing channel. */
export const REPLY_TO = 'amq.rabbitmq.reply-to';

/** The message could not be routed to any queue (published with `mandatory`). */
export class UnroutableError extends Error {}

/** The broker did not take the message: it nacked it, or the channel closed before the confirm. */
export class NotConfirmedError extends Error {}

/**
 * The confirm channel of one connection. Everything dstore publishes goes
 * through it (write batches, replies, dead letters, replays), and an API
 * process also receives its replies on it (direct reply-to must be consumed on
 * the channel that publishes the requests).
 */
export class Publisher {
  private readonly returned = new Set<string>();
  private closed = false;

  private constructor(private readonly channel: ConfirmChannel) {}

  static async open(model: ChannelModel, onReply: ((reply: Reply) => void) | null, onClose: (reason: string) => void): Promise<Publisher> {
    const channel = await model.createConfirmChannel();
    const publisher = new Publisher(channel);
    channel.on('error', (err: Error) => onClose(err.message));
    channel.on('close', () => {
      publisher.closed = true;
      onClose('channel closed');
    });
    // RabbitMQ sends basic.return before the confirm of an unroutable mandatory message
    channel.on('return', (msg: Message) => publisher.returned.add(returnKey(msg.fields.exchange, msg.fields.routingKey, msg.properties.messageId)));
    if (onReply) {
      await channel.consume(
        REPLY_TO,
        (msg: ConsumeMessage | null) => {
          const reply = msg && decodeReply(msg.content);
          if (reply) onReply(reply);
        },
        { noAck: true },
      );
    }
    return publisher;
  }

  get open(): boolean {
    return !this.closed;
  }

  /**
   * Publishes persistently and resolves once RabbitMQ confirmed it; rejects
   * with UnroutableError when `mandatory` found no queue, NotConfirmedError otherwise.
   */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish & { messageId: string }): Promise<void> {
    if (this.closed) return Promise.reject(new NotConfirmedError('the channel to RabbitMQ is closed'));
    const key = returnKey(exchange, routingKey, options.messageId);
    return new Promise((resolve, reject) => {
      try {
        this.channel.publish(exchange, routingKey, content, { persistent: true, contentType: 'application/json', ...options }, (err: unknown) => {
          const wasReturned = this.returned.delete(key);
          if (err) reject(new NotConfirmedError(err instanceof Error ? err.message : 'RabbitMQ did not confirm the message'));
          else if (wasReturned) reject(new UnroutableError(`no queue is bound to ${exchange || 'the default exchange'} for ${routingKey}`));
          else resolve();
        });
      } catch (err) {
        reject(new NotConfirmedError((err as Error).message));
      }
    });
  }

  /** Fire and forget (replies: losing one only makes the API answer 202 instead of 200). */
  send(routingKey: string, content: Buffer, options: Options.Publish = {}): void {
    if (this.closed) return;
    try {
      this.channel.publish('', routingKey, content, { contentType: 'application/json', ...options }, () => {});
    } catch {
      // the channel closed between the check and the publish
    }
  }
}

function returnKey(exchange: string, routingKey: string, messageId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${String(messageId)}`;
}
