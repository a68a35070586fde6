import pg from 'pg';
import type { EngineHealth, PruneHorizon, PruneResult, ScannedItem, ScanRequest, Snapshot, Store, Write } from '../store.ts';
import { StoreUnavailableError } from '../store.ts';
import { describe, isUnavailable, isUnreachable, sqlState } from './postgresql-errors.ts';
import { PostgresqlMigrator } from './postgresql-migrator.ts';
import { PostgresqlPruner } from './postgresql-pruner.ts';
import { PostgresqlReader } from './postgresql-reader.ts';
import { ident } from './postgresql-sql.ts';
import { PostgresqlWriter } from './postgresql-writer.ts';

export interface PostgresqlConfig {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database: string;
}

const POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 5000;
const HEALTH_TIMEOUT_MS = 1500;
/** The server cancels a statement running longer (57014); the client gives up on a silent server a little later ("Query read timeout"). */
const STATEMENT_TIMEOUT_MS = 30_000;
const QUERY_TIMEOUT_MS = 35_000;

/**
 * PostgreSQL with PostGIS: one schema per project version in the database named
 * by POSTGRESQL_DATABASE, created at start-up if missing (SPEC §5, §7).
 * PostgreSQL being down at start-up is not an error: health reports it and
 * writes wait; the database is then checked on first use.
 */
export class PostgresqlStore implements Store {
  readonly name = 'postgresql' as const;
  private pool_: pg.Pool | null = null;
  private databaseReady = false;
  private readonly migrator: PostgresqlMigrator;
  private readonly writer: PostgresqlWriter;
  private readonly reader: PostgresqlReader;
  private readonly pruner: PostgresqlPruner;

  constructor(private readonly config: PostgresqlConfig) {
    this.migrator = new PostgresqlMigrator(() => this.pool);
    this.writer = new PostgresqlWriter(() => this.pool);
    this.reader = new PostgresqlReader(() => this.pool);
    this.pruner = new PostgresqlPruner(() => this.pool);
  }

  private connection(database: string): pg.ClientConfig {
    return {
      host: this.config.host,
      port: this.config.port,
      user: this.config.user,
      password: this.config.password,
      database,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: 'dstore',
      keepAlive: true,
      // SPEC §4: `yyyy-MM-dd HH:mm:ss` is UTC. Set in the startup packet, so no session of the store
      // can run without it whatever the server's or the database's TimeZone (a proxy that refuses it fails loudly)
      options: '-c TimeZone=UTC',
    };
  }

  async open(): Promise<void> {
    const pool = new pg.Pool({ ...this.connection(this.config.database), max: POOL_SIZE, idleTimeoutMillis: 30_000 });
    // a client whose server went away must not crash the process, idle (pool 'error') or checked out
    // (the client's own 'error', which pg emits besides failing the query in flight); the query reports it
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    this.pool_ = pool;
    try {
      await this.ensureDatabase();
    } catch (err) {
      if (isUnreachable(err)) return; // down now: health says so, writes wait, the database is checked on first use
      await pool.end().catch(() => {});
      this.pool_ = null;
      const { host, port, user, database } = this.config;
      throw new Error(`PostgreSQL at ${host}:${port} (user ${user ?? 'default'}, database "${database}"): ${describe(err)}`, { cause: err });
    }
  }

  private get pool(): pg.Pool {
    if (!this.pool_) throw new StoreUnavailableError('postgresql', 'not opened');
    return this.pool_;
  }

  /** Connects to the configured database; if it does not exist, creates it from the `postgres` database. */
  private async ensureDatabase(): Promise<void> {
    if (this.databaseReady) return;
    const { database } = this.config;
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      if (sqlState(err) !== '3D000') throw err;
      const admin = new pg.Client(this.connection('postgres'));
      admin.on('error', () => {});
      try {
        await admin.connect();
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (!exists.rowCount) await admin.query(`CREATE DATABASE ${ident(database, 'database')}`);
      } catch (createErr) {
        if (isUnavailable(createErr)) throw createErr;
        // another process created it between our check and our CREATE
        if (sqlState(createErr) !== '42P04' && sqlState(createErr) !== '23505') throw new Error(`database "${database}" does not exist and cannot be created: ${describe(createErr)}`, { cause: createErr });
      } finally {
        await admin.end().catch(() => {});
      }
    }
    this.databaseReady = true;
  }

  /** The database as a precondition of every operation: unreachable is "later", anything else says what is wrong. */
  private async ready(): Promise<void> {
    try {
      await this.ensureDatabase();
    } catch (err) {
      throw new StoreUnavailableError('postgresql', describe(err), { cause: err });
    }
  }

  async health(): Promise<EngineHealth> {
    if (!this.pool_) return { status: 'down', reason: 'not opened' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to SELECT 1 within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS)));
    try {
      await Promise.race([(async () => {
        await this.ensureDatabase();
        await this.pool.query('SELECT 1');
      })(), timeout]);
      return { status: 'up' };
    } catch (err) {
      return { status: 'down', reason: describe(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  async migrate(snapshot: Snapshot): Promise<void> {
    await this.ready();
    await this.migrator.migrate(snapshot);
  }

  async abandon(project: string, version: number): Promise<void> {
    await this.ready();
    await this.migrator.abandon(project, version);
  }

  async apply(writes: readonly Write[]): Promise<void> {
    if (!writes.length) return;
    await this.ready();
    await this.writer.apply(writes);
  }

  async dropProject(project: string, versions: readonly number[]): Promise<void> {
    await this.ready();
    await this.migrator.dropProject(project, versions);
  }

  async scan(request: ScanRequest): Promise<ScannedItem[]> {
    await this.ready();
    return this.reader.scan(request);
  }

  async count(request: Parameters<Store['count']>[0]): Promise<number> {
    await this.ready();
    return this.reader.count(request);
  }

  async activate(snapshot: Snapshot): Promise<void> {
    await this.ready();
    await this.migrator.activate(snapshot);
  }

  async retire(project: string, version: number): Promise<void> {
    await this.ready();
    await this.migrator.retire(project, version);
  }

  async prune(horizon: PruneHorizon): Promise<PruneResult> {
    await this.ready();
    try {
      return await this.pruner.prune(horizon);
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError('postgresql', describe(err), { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    const pool = this.pool_;
    this.pool_ = null;
    if (pool) await pool.end();
  }
}
