import { hostname } from 'node:os';
import pg from 'pg';

/** The channel every change of the shared catalog is announced on (SPEC §11). */
export const CHANNEL = 'dstore_catalog';
const RECONNECT_MS = 1000;
const HEARTBEAT_MS = 1000;
/** A process whose heartbeat is older than this is gone: a back-fill no longer waits for it. */
export const LIVE_S = 5;

/** What a notification says changed: a project (at a catalog revision), the tokens, or a job. */
export type Change = { p: string; rev: number } | { t: 1 } | { j: string };

export interface ChannelHandlers {
  project(name: string, revision: number): Promise<void>;
  tokens(): void;
  job(id: string): void;
  /** Everything, after the LISTEN connection was lost (a notification may have been missed) or the process fell behind. */
  everything(): Promise<number>;
}

/**
 * One API process's link to the others: a dedicated connection that LISTENs (reconnected after a loss,
 * then the whole catalog reloaded), and a heartbeat row in dstore_catalog.processes with the revision
 * this process has loaded, which a back-fill waits on (SPEC §9).
 */
export class CatalogChannel {
  private listener: pg.Client | null = null;
  private connected = false;
  private closed = false;
  private seen = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnecting: NodeJS.Timeout | undefined;
  private handlers: ChannelHandlers | null = null;
  private reloadingAll = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connection: pg.ClientConfig,
    readonly processId: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Starts listening and beating; `seen` is the revision the process loaded at start. */
  async start(handlers: ChannelHandlers, seen: number): Promise<void> {
    this.handlers = handlers;
    this.seen = seen;
    await this.beat();
    await this.listen();
    this.heartbeat = setInterval(() => void this.beat().catch(() => {}), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Notifies inside the caller's transaction: the others hear of it once it commits. */
  static async notify(client: pg.ClientBase, change: Change): Promise<void> {
    await client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ ...this.connection, application_name: `dstore catalog ${this.processId}` });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      let change: Change;
      try {
        change = JSON.parse(msg.payload) as Change;
      } catch {
        return;
      }
      this.apply(change);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
    this.connected = true;
  }

  private apply(change: Change): void {
    const h = this.handlers!;
    if ('t' in change) h.tokens();
    else if ('j' in change) h.job(change.j);
    else {
      // in commit order, one after the other: once one is loaded, every earlier revision is too
      this.queue = this.queue
        .then(() => h.project(change.p, change.rev))
        .then(() => {
          if (change.rev > this.seen) {
            this.seen = change.rev;
            void this.beat().catch(() => {});
          }
        })
        .catch((e: Error) => this.log(`catalog: reloading project ${change.p} failed (${e.message}); reloading everything`));
    }
  }

  private lost(client: pg.Client): void {
    if (this.listener !== client) return;
    this.listener = null;
    this.connected = false;
    client.end().catch(() => {});
    if (this.closed) return;
    this.log('catalog: lost the LISTEN connection to PostgreSQL; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = setTimeout(() => {
      this.reconnecting = undefined;
      this.listen().then(
        () => {
          this.log('catalog: LISTEN connection back; reloading the whole catalog');
          return this.reloadAll();
        },
        () => this.scheduleReconnect(),
      );
    }, RECONNECT_MS);
    this.reconnecting.unref();
  }

  /** Reloads everything (a notification may have been missed), then reports the revision it holds. */
  private reloadAll(): Promise<void> {
    if (this.reloadingAll) return Promise.resolve();
    this.reloadingAll = true;
    const run = this.queue.then(async () => {
      const revision = await this.handlers!.everything();
      this.handlers!.tokens();
      if (revision > this.seen) this.seen = revision;
      await this.beat();
    });
    this.queue = run.catch((e: Error) => this.log(`catalog: reloading failed: ${e.message}`)).finally(() => (this.reloadingAll = false));
    return this.queue as Promise<void>;
  }

  /** Says this process is alive and which revision it holds; one that fell behind without hearing of it reloads. */
  private async beat(): Promise<void> {
    if (this.closed) return;
    const { rows } = await this.pool.query<{ revision: string }>(
      `INSERT INTO dstore_catalog.processes (id, pid, host, seen_revision, heartbeat_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (id) DO UPDATE SET seen_revision = EXCLUDED.seen_revision, heartbeat_at = now()
       RETURNING (SELECT revision FROM dstore_catalog.meta)`,
      [this.processId, process.pid, hostname(), this.seen],
    );
    const revision = Number(rows[0]!.revision);
    // no LISTEN now: what a notification would have said is loaded by polling
    if (revision > this.seen && !this.connected) void this.reloadAll();
  }

  get listening(): boolean {
    return this.connected;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.reconnecting);
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => {});
    await this.queue.catch(() => {});
    await this.pool.query('DELETE FROM dstore_catalog.processes WHERE id = $1', [this.processId]).catch(() => {});
  }
}
