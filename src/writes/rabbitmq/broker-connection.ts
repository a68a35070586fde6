import amqp, { type ChannelModel } from 'amqplib';

const CONNECT_TIMEOUT_MS = 3000;
const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

export interface ConnectionEvents {
  /** A new connection is open: declare, open channels, consume. Throwing closes it and retries. */
  up(model: ChannelModel, generation: number): Promise<void>;
  /** The connection is gone (its channels with it); a reconnect follows unless closing. */
  down(reason: string): void;
}

/** The URL without its password, for logs and health answers. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'amqp://…';
  }
}

/** Heartbeats every 10 s unless the URL asks otherwise, so a silent network drop is noticed within ~20 s. */
function withHeartbeat(url: string): string {
  return /[?&]heartbeat=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}heartbeat=10`;
}

/**
 * One AMQP connection that comes back: after a loss (or a failed first
 * attempt) it reconnects with exponential backoff, forever, until closed.
 * `ready` is true only between a finished `up` and the next loss.
 */
export class BrokerConnection {
  private model: ChannelModel | null = null;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  generation = 0;
  ready = false;
  blocked: string | null = null;
  reason = 'not connected yet';

  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly events: ConnectionEvents,
    private readonly log: (msg: string) => void,
  ) {}

  get current(): ChannelModel | null {
    return this.ready ? this.model : null;
  }

  /** Makes the first attempt and returns whether it succeeded; on failure it keeps trying in the background. */
  async start(): Promise<boolean> {
    return this.connect();
  }

  private async connect(): Promise<boolean> {
    this.timer = null;
    if (this.closing) return false;
    let model: ChannelModel | null = null;
    try {
      // noDelay: without it Nagle's algorithm holds a small publish until the previous one is acknowledged by TCP (~40 ms)
      model = await amqp.connect(withHeartbeat(this.url), { timeout: CONNECT_TIMEOUT_MS, noDelay: true, clientProperties: { connection_name: this.name } });
      if (this.closing) {
        await model.close().catch(() => {});
        return false;
      }
      const generation = ++this.generation;
      this.model = model;
      const opened = model;
      opened.on('error', (err: Error) => (this.reason = err.message));
      opened.on('close', (err?: Error) => this.lost(opened, err));
      opened.on('blocked', (reason: string) => {
        this.blocked = reason;
        this.log(`queue: RabbitMQ blocks publishing: ${reason}`);
      });
      opened.on('unblocked', () => {
        this.blocked = null;
        this.log('queue: RabbitMQ accepts publishing again');
      });
      await this.events.up(opened, generation);
      if (this.model !== opened) return false; // lost while setting up; `lost` scheduled the next attempt
      this.ready = true;
      this.log(`queue: connected to ${redact(this.url)}${this.attempt ? ` after ${this.attempt} attempt(s)` : ''}`);
      this.attempt = 0;
      return true;
    } catch (err) {
      this.reason = `cannot reach RabbitMQ at ${redact(this.url)}: ${(err as Error).message || (err as { code?: string }).code || String(err)}`;
      if (model && this.model === model) {
        this.model = null;
        await model.close().catch(() => {});
      }
      this.attempt++;
      if (this.attempt === 1 || this.attempt % 20 === 0) this.log(`queue: ${this.reason}; retrying (attempt ${this.attempt})`);
      this.schedule();
      return false;
    }
  }

  private lost(model: ChannelModel, err?: Error): void {
    if (this.model !== model) return;
    this.model = null;
    const wasReady = this.ready;
    this.ready = false;
    this.blocked = null;
    this.reason = `connection to RabbitMQ lost: ${err?.message ?? 'closed'}`;
    if (this.closing) return;
    if (wasReady) this.log(`queue: ${this.reason}; reconnecting`);
    this.events.down(this.reason);
    this.schedule();
  }

  private schedule(): void {
    if (this.closing || this.timer) return;
    const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(this.attempt, 10));
    const delay = base * (0.8 + Math.random() * 0.4);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }

  /**
   * A channel of `model` ended on its own (its queue was deleted, a publish
   * was refused): start over on a fresh connection, which re-declares the
   * topology and reopens every channel. Deferred, so that a channel closing
   * because the whole connection closed is not mistaken for this.
   */
  recycle(model: ChannelModel, reason: string): void {
    setImmediate(() => {
      if (this.closing || this.model !== model) return;
      this.log(`queue: ${reason}; reopening the connection`);
      void model.close().catch(() => {});
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ready = false;
    const model = this.model;
    this.model = null;
    if (model) await model.close().catch(() => {});
  }
}
