import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../../config.ts';
import { ConfigError } from '../../config.ts';
import type { Blueprint, Blueprints } from '../../schema/blueprint.ts';
import { BlueprintError, tableCollisions } from '../../schema/blueprint.ts';
import type { Snapshot } from '../../stores/store.ts';
import { busy, CatalogError, type DropProject, type MigrateSnapshot, type SnapshotOptions, type VersionState } from '../catalog.ts';
import { LoadedCatalog, type ProjectState } from '../loaded-catalog.ts';
import type { OpenedCatalog } from '../open-catalog.ts';
import { CatalogChannel, LIVE_S } from './catalog-channel.ts';
import { PostgresqlJobStorage } from './postgresql-jobs.ts';
import { setUpSchema } from './postgresql-schema.ts';
import { PostgresqlTokenStorage } from './postgresql-tokens.ts';

/** The per-project lock of snapshots and drops: a session-level advisory lock, so a crashed process's lock ends with its connection. */
const TRY_PROJECT_LOCK = "SELECT pg_try_advisory_lock(hashtext('dstore_catalog'), hashtext($1)) AS locked";
const PROJECT_UNLOCK = "SELECT pg_advisory_unlock(hashtext('dstore_catalog'), hashtext($1))";
const SEEN_POLL_MS = 25;

interface ProjectRow {
  name: string;
  created_at: string;
  working: Blueprints;
  revision: string;
  versions: Array<{ version: number; snapshot: Snapshot; state: VersionState }>;
}

const PROJECT_SELECT = `
SELECT p.name, p.created_at, p.working, p.revision,
  COALESCE((SELECT json_agg(json_build_object('version', s.version, 'snapshot', s.snapshot, 'state', v.state) ORDER BY s.version)
            FROM dstore_catalog.snapshots s JOIN dstore_catalog.version_states v USING (project, version)
            WHERE s.project = p.name), '[]'::json) AS versions
FROM dstore_catalog.projects p`;

function toState(row: ProjectRow): ProjectState {
  const snapshots = new Map<number, Snapshot>();
  const states: Record<string, VersionState> = {};
  for (const v of row.versions) {
    snapshots.set(v.version, v.snapshot);
    states[v.version] = v.state;
  }
  return { record: { name: row.name, createdAt: row.created_at, versions: row.versions.map((v) => v.version), states }, working: row.working, snapshots };
}

/**
 * The catalog in the schema dstore_catalog (SPEC §11), shared by any number of API processes. Each
 * keeps it in memory; every change runs in a transaction that bumps the catalog's revision and
 * NOTIFYs it, and every process reloads what changed (catalog-channel.ts).
 */
export class PostgresqlCatalog extends LoadedCatalog {
  /** The catalog revision each project was loaded at: an older load never replaces a newer one. */
  private readonly revisions = new Map<string, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: (msg: string) => void = () => {},
  ) {
    super();
  }

  /** Loads every project; answers the catalog revision it holds at least. */
  async loadAll(): Promise<number> {
    const { rows } = await this.pool.query<{ revision: string }>('SELECT revision FROM dstore_catalog.meta');
    const revision = Number(rows[0]!.revision);
    const projects = await this.pool.query<ProjectRow>(PROJECT_SELECT);
    const names = new Set<string>();
    for (const row of projects.rows) {
      names.add(row.name);
      this.take(row);
    }
    for (const name of [...this.projects.keys()]) {
      if (!names.has(name) && (this.revisions.get(name) ?? 0) <= revision) {
        this.projects.delete(name);
        this.revisions.delete(name);
      }
    }
    return revision;
  }

  async load(): Promise<void> {
    await this.loadAll();
  }

  async close(): Promise<void> {}

  /** Reloads one project after a change (ours or another process's) at `revision`. */
  async reload(project: string, revision = 0): Promise<void> {
    const { rows } = await this.pool.query<ProjectRow>(`${PROJECT_SELECT} WHERE p.name = $1`, [project]);
    if (rows[0]) this.take(rows[0]);
    else if ((this.revisions.get(project) ?? 0) <= revision) {
      this.projects.delete(project);
      this.revisions.delete(project);
    }
  }

  private take(row: ProjectRow): void {
    const revision = Number(row.revision);
    if ((this.revisions.get(row.name) ?? -1) > revision) return;
    this.projects.set(row.name, toState(row));
    this.revisions.set(row.name, revision);
  }

  /** Runs `change` in a transaction that bumps the revision and announces the project changed. */
  private async changeProject<T>(project: string, change: (client: pg.PoolClient, revision: number) => Promise<T>, client?: pg.PoolClient): Promise<T> {
    const own = client ?? (await this.pool.connect());
    try {
      await own.query('BEGIN');
      // first: the revision row lock orders every change, so revisions follow commit order (the channel relies on it)
      const revision = Number((await own.query<{ revision: string }>('UPDATE dstore_catalog.meta SET revision = revision + 1 RETURNING revision')).rows[0]!.revision);
      const result = await change(own, revision);
      await own.query('UPDATE dstore_catalog.projects SET revision = $2 WHERE name = $1', [project, revision]);
      await CatalogChannel.notify(own, { p: project, rev: revision });
      await own.query('COMMIT');
      await this.reload(project, revision);
      return result;
    } catch (err) {
      await own.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      if (!client) own.release();
    }
  }

  /** The project's row, locked for the transaction; created empty when `create`. */
  private async lockRow(client: pg.PoolClient, project: string, create: boolean): Promise<{ working: Blueprints; versions: number }> {
    if (create) await client.query("INSERT INTO dstore_catalog.projects (name, created_at, working) VALUES ($1, $2, '{}') ON CONFLICT (name) DO NOTHING", [project, new Date().toISOString()]);
    const { rows } = await client.query<{ working: Blueprints; versions: string }>('SELECT working, (SELECT count(*) FROM dstore_catalog.snapshots s WHERE s.project = p.name) AS versions FROM dstore_catalog.projects p WHERE name = $1 FOR UPDATE', [project]);
    if (!rows[0]) throw new CatalogError('project-not-found', `project "${project}" does not exist`);
    return { working: rows[0].working, versions: Number(rows[0].versions) };
  }

  setVersionState(project: string, version: number, state: VersionState): Promise<void> {
    return this.changeProject(project, async (client) => {
      await this.lockRow(client, project, false);
      const r = await client.query('UPDATE dstore_catalog.version_states SET state = $3 WHERE project = $1 AND version = $2', [project, version, state]);
      if (!r.rowCount) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
    });
  }

  putBlueprint(project: string, name: string, blueprint: Blueprint): Promise<Blueprint> {
    return this.changeProject(project, async (client) => {
      const { working } = await this.lockRow(client, project, true);
      const next = { ...working, [name]: blueprint };
      const collisions = tableCollisions(next);
      if (Object.keys(collisions).length) throw new BlueprintError(name, collisions);
      await client.query('UPDATE dstore_catalog.projects SET working = $2 WHERE name = $1', [project, JSON.stringify(next)]);
      return blueprint;
    });
  }

  deleteBlueprint(project: string, name: string): Promise<void> {
    return this.changeProject(project, async (client) => {
      const { working } = await this.lockRow(client, project, false);
      if (!Object.hasOwn(working, name)) throw new CatalogError('blueprint-not-found', `project "${project}" has no blueprint "${name}" in its working copy`);
      const { [name]: _gone, ...rest } = working;
      await client.query('UPDATE dstore_catalog.projects SET working = $2 WHERE name = $1', [project, JSON.stringify(rest)]);
    });
  }

  replaceWorking(project: string, blueprints: Blueprints): Promise<Blueprints> {
    return this.changeProject(project, async (client) => {
      await this.lockRow(client, project, true);
      await client.query('UPDATE dstore_catalog.projects SET working = $2 WHERE name = $1', [project, JSON.stringify(blueprints)]);
      return blueprints;
    });
  }

  async replaceWorkingAndSnapshot<T>(project: string, blueprints: Blueprints, snapshot: () => Promise<T>): Promise<T> {
    const before = await this.pool.query<{ working: Blueprints; versions: string }>('SELECT working, (SELECT count(*) FROM dstore_catalog.snapshots s WHERE s.project = p.name) AS versions FROM dstore_catalog.projects p WHERE name = $1', [project]);
    const previous = before.rows[0]?.working;
    const versions = Number(before.rows[0]?.versions ?? 0);
    await this.replaceWorking(project, blueprints);
    try {
      return await snapshot();
    } catch (err) {
      const mine = JSON.stringify(blueprints);
      await this.changeProject(project, async (client) => {
        const now = await this.lockRow(client, project, false).catch(() => undefined);
        if (!now || JSON.stringify(now.working) !== mine || now.versions !== versions) return;
        if (previous !== undefined) {
          await client.query('UPDATE dstore_catalog.projects SET working = $2 WHERE name = $1', [project, JSON.stringify(previous)]);
        } else if ((await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('dstore_catalog'), hashtext($1)) AS locked", [project])).rows[0]!.locked) {
          // the project this call created, unless a snapshot of it runs elsewhere
          await client.query('DELETE FROM dstore_catalog.projects WHERE name = $1', [project]);
        }
      }).catch((e: Error) => this.log(`catalog: putting back the working copy of ${project} failed: ${e.message}`));
      throw err;
    }
  }

  /**
   * Takes the project's lock (a second snapshot or drop, in any process, gets 409 'busy'), reads the
   * project as stored, migrates every engine once, and announces the version in one transaction.
   */
  async createSnapshot(project: string, migrate: MigrateSnapshot, options: SnapshotOptions = {}): Promise<Snapshot> {
    this.state(project);
    const client = await this.pool.connect();
    let locked = false;
    try {
      locked = (await client.query<{ locked: boolean }>(TRY_PROJECT_LOCK, [project])).rows[0]!.locked;
      if (!locked) throw busy(project);
      // what another process announced a moment ago counts: the number and the checks follow the stored project
      await this.reload(project);
      const s = this.state(project);
      if (!Object.keys(s.working).length) throw new CatalogError('empty', `project "${project}" has no blueprints to snapshot`);
      const last = s.record.versions.length ? s.record.versions[s.record.versions.length - 1]! : 0;
      const snapshot: Snapshot = { project, version: last + 1, createdAt: new Date().toISOString(), blueprints: structuredClone(s.working) };
      options.check?.(last ? s.snapshots.get(last) : undefined, snapshot);
      await migrate(snapshot);
      const state = options.stateOf?.(snapshot) ?? 'ready';
      await this.changeProject(
        project,
        async (tx, revision) => {
          await this.lockRow(tx, project, false);
          await tx.query('INSERT INTO dstore_catalog.snapshots (project, version, snapshot, revision) VALUES ($1, $2, $3, $4)', [project, snapshot.version, JSON.stringify(snapshot), revision]);
          await tx.query('INSERT INTO dstore_catalog.version_states (project, version, state) VALUES ($1, $2, $3)', [project, snapshot.version, state]);
        },
        client,
      );
      return snapshot;
    } finally {
      if (locked) await client.query(PROJECT_UNLOCK, [project]).catch(() => {});
      client.release();
    }
  }

  async dropProject(project: string, drop: DropProject): Promise<void> {
    this.state(project);
    const client = await this.pool.connect();
    let locked = false;
    try {
      locked = (await client.query<{ locked: boolean }>(TRY_PROJECT_LOCK, [project])).rows[0]!.locked;
      if (!locked) throw busy(project);
      await this.reload(project);
      await drop(project, this.state(project).record.versions);
      // under the row lock: after every change of the project that took it first
      await this.changeProject(
        project,
        async (tx) => {
          await this.lockRow(tx, project, false);
          await tx.query('DELETE FROM dstore_catalog.projects WHERE name = $1', [project]);
        },
        client,
      );
    } finally {
      if (locked) await client.query(PROJECT_UNLOCK, [project]).catch(() => {});
      client.release();
    }
  }

  /** Waits until every live API process reports (heartbeat) a catalog revision that holds the version. */
  async seenEverywhere(project: string, version: number): Promise<void> {
    const { rows } = await this.pool.query<{ revision: string }>('SELECT revision FROM dstore_catalog.snapshots WHERE project = $1 AND version = $2', [project, version]);
    if (!rows[0]) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
    const revision = Number(rows[0].revision);
    const started = Date.now();
    let told = started;
    for (;;) {
      const behind = await this.pool.query<{ id: string; host: string; pid: number }>(`SELECT id, host, pid FROM dstore_catalog.processes WHERE heartbeat_at > now() - interval '${LIVE_S} seconds' AND seen_revision < $1`, [revision]);
      if (!behind.rowCount) return;
      if (Date.now() - told > 10_000) {
        told = Date.now();
        this.log(`catalog: ${project} v${version} waits for ${behind.rows.map((r) => `${r.host}:${r.pid}`).join(', ')} to load it (${Math.round((told - started) / 1000)} s)`);
      }
      await new Promise((resolve) => setTimeout(resolve, SEEN_POLL_MS));
    }
  }
}

/** Opens the shared catalog: schema, first-start import, load, LISTEN and heartbeat. */
export async function openPostgresqlCatalog(config: Config, log: (msg: string) => void): Promise<OpenedCatalog> {
  const settings = config.postgresql!;
  const connection: pg.ClientConfig = { host: settings.host, port: settings.port, user: settings.user, password: settings.password, database: settings.database, connectionTimeoutMillis: 5000, keepAlive: true };
  const pool = new pg.Pool({ ...connection, max: 6, idleTimeoutMillis: 30_000, application_name: 'dstore catalog' });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const where = `postgresql ${settings.host}:${settings.port}/${settings.database} (schema dstore_catalog)`;
  const catalog = new PostgresqlCatalog(pool, log);
  const processId = randomUUID();
  const channel = new CatalogChannel(pool, connection, processId, log);
  const tokens = new PostgresqlTokenStorage(pool);
  const jobs = new PostgresqlJobStorage(pool, processId);
  try {
    const imported = await setUpSchema(pool, config.projectFilePath);
    if (imported) log(imported);
    const revision = await catalog.loadAll();
    await channel.start(
      {
        project: (name, rev) => catalog.reload(name, rev),
        tokens: () => tokens.changed(),
        job: (id) => jobs.changed(id),
        everything: () => catalog.loadAll(),
      },
      revision,
    );
  } catch (err) {
    await channel.close().catch(() => {});
    await pool.end().catch(() => {});
    throw new ConfigError(`cannot open the catalog at ${where}: ${(err as Error).message}`);
  }
  return {
    catalog,
    tokens,
    jobs,
    where,
    async close() {
      await channel.close();
      await pool.end().catch(() => {});
    },
  };
}
