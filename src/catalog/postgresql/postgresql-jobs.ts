import type pg from 'pg';
import type { JobStorage, StoredJob } from '../../jobs/jobs.ts';
import { CatalogChannel } from './catalog-channel.ts';

/** A lease not renewed for this long is taken over: its owner died (SPEC §8: never run twice at once, resumed elsewhere). */
const LEASE_S = 10;
const ADOPT_EVERY_MS = 3000;

/** Jobs in dstore_catalog.jobs: record, cursor and skipped list, with the lease (owner, expires_at) of the process running it. */
export class PostgresqlJobStorage implements JobStorage {
  readonly adoptEveryMs = ADOPT_EVERY_MS;
  private readonly listeners: Array<(id: string) => void> = [];

  constructor(
    private readonly pool: pg.Pool,
    /** This process, as a lease owner. */
    private readonly owner: string,
  ) {}

  async loadAll(): Promise<StoredJob[]> {
    const { rows } = await this.pool.query<StoredJob>('SELECT record AS job, skipped FROM dstore_catalog.jobs');
    return rows;
  }

  async read(id: string): Promise<StoredJob | undefined> {
    const { rows } = await this.pool.query<StoredJob>('SELECT record AS job, skipped FROM dstore_catalog.jobs WHERE id = $1', [id]);
    return rows[0];
  }

  async create(stored: StoredJob): Promise<void> {
    await this.announced(stored.job.id, (c) =>
      c.query(`INSERT INTO dstore_catalog.jobs (id, project, record, skipped, owner, expires_at) VALUES ($1, $2, $3, $4, $5, now() + interval '${LEASE_S} seconds')`, [stored.job.id, stored.job.project, JSON.stringify(stored.job), JSON.stringify(stored.skipped), this.owner]),
    );
  }

  async save(stored: StoredJob): Promise<boolean> {
    let ours = false;
    await this.announced(stored.job.id, async (c) => {
      const r = await c.query(
        `UPDATE dstore_catalog.jobs SET record = $2, skipped = $3, owner = $4, expires_at = now() + interval '${LEASE_S} seconds'
         WHERE id = $1 AND (owner IS NULL OR owner = $4 OR expires_at < now())`,
        [stored.job.id, JSON.stringify(stored.job), JSON.stringify(stored.skipped), this.owner],
      );
      ours = r.rowCount === 1;
    });
    return ours;
  }

  async claim(id: string): Promise<StoredJob | undefined> {
    const { rows } = await this.pool.query<StoredJob>(
      `UPDATE dstore_catalog.jobs SET owner = $2, expires_at = now() + interval '${LEASE_S} seconds'
       WHERE id = $1 AND (owner IS NULL OR owner = $2 OR expires_at < now()) RETURNING record AS job, skipped`,
      [id, this.owner],
    );
    return rows[0];
  }

  async release(id: string): Promise<void> {
    await this.pool.query('UPDATE dstore_catalog.jobs SET owner = NULL, expires_at = NULL WHERE id = $1 AND owner = $2', [id, this.owner]);
  }

  async remove(id: string): Promise<void> {
    await this.announced(id, (c) => c.query('DELETE FROM dstore_catalog.jobs WHERE id = $1', [id]));
  }

  onChange(listener: (id: string) => void): void {
    this.listeners.push(listener);
  }

  /** The channel heard of a change of the job. */
  changed(id: string): void {
    for (const listener of this.listeners) listener(id);
  }

  private async announced(id: string, change: (client: pg.PoolClient) => Promise<unknown>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await change(client);
      await CatalogChannel.notify(client, { j: id });
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}
