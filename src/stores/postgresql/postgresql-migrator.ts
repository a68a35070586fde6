import type { Pool, PoolClient } from 'pg';
import type { Snapshot } from '../store.ts';
import { describe, isUnavailable, sqlState } from './postgresql-errors.ts';
import { columnDefinitions, hasGeometry } from './postgresql-serializer.ts';
import { ident, latestMarker, latestSchemaName, qualified, schemaMarker, schemaName, STAMPS_TABLE } from './postgresql-sql.ts';

/**
 * One schema per project version (`myblog_v1`), one table per blueprint, made in
 * one transaction so a failed migration leaves nothing behind.
 *
 * A schema left by an attempt that was never announced (dstore crashed, or another
 * engine failed and the abandon did not get through) is replaced in the same
 * transaction. To never replace real data, a schema is only replaced or abandoned
 * when dstore's marker is on it (COMMENT ON SCHEMA) and it holds no items yet: writes
 * only ever target announced versions, so a leftover attempt is always empty.
 *
 * PostGIS is enabled only when a snapshot has a geometry column: CREATE EXTENSION
 * needs privileges a database without geometry should not require.
 *
 * The "latest" readers (SPEC §9) get a schema named like the project, holding one view
 * per table of the activated version, marked like the version schemas. It is made by the
 * first `activate`; `migrate` refuses early when that name is taken by a schema dstore did
 * not make. Lock order, so no two of these deadlock: version schema first, then the latest one.
 */
export class PostgresqlMigrator {
  private postgis = false;

  constructor(private readonly pool: () => Pool) {}

  async migrate(snapshot: Snapshot): Promise<void> {
    const schema = schemaName(snapshot.project, snapshot.version);
    const blueprints = Object.entries(snapshot.blueprints).sort(([a], [b]) => a.localeCompare(b));
    if (blueprints.some(([, bp]) => hasGeometry(bp))) await this.enablePostgis();

    const marker = schemaMarker(snapshot.project, snapshot.version);
    const ddl: string[] = [
      `CREATE SCHEMA ${ident(schema, 'schema')}`,
      `COMMENT ON SCHEMA ${ident(schema, 'schema')} IS ${markerLiteral(marker)}`,
      `CREATE TABLE ${qualified(schema, STAMPS_TABLE, 'bookkeeping')} (tbl TEXT NOT NULL, id UUID NOT NULL, stamp BIGINT NOT NULL, deleted BOOLEAN NOT NULL, PRIMARY KEY (tbl, id))`,
    ];
    for (const [, bp] of blueprints) {
      ddl.push(`CREATE TABLE ${qualified(schema, bp.postgresql.table)} ("id" UUID PRIMARY KEY, "links" UUID[]${columnDefinitions(bp).map((c) => `, ${c}`).join('')})`);
    }

    await this.transaction(schema, async (client) => {
      await this.lockLatest(client, snapshot.project);
      await this.checkLatest(client, snapshot.project);
      const leftover = await this.inspect(client, schema);
      if (leftover) {
        if (leftover.marker !== marker) throw new Error(`schema "${schema}" already exists and was not made by dstore for ${snapshot.project} version ${snapshot.version}; refusing to replace it`);
        if (leftover.holdsItems) throw new Error(`schema "${schema}" already exists and holds items (was the catalog at PROJECT_FILE_PATH reset?); refusing to replace it`);
        await client.query(`DROP SCHEMA ${ident(schema, 'schema')} CASCADE`);
      }
      // without parameters pg sends this as one simple query: one round trip for the whole DDL
      await client.query(ddl.join(';\n'));
    });
  }

  /** Drops a version that was not announced; leaves alone a schema that is not dstore's or that holds items. */
  async abandon(project: string, version: number): Promise<void> {
    const schema = schemaName(project, version);
    await this.transaction(schema, async (client) => {
      const existing = await this.inspect(client, schema);
      if (!existing || existing.marker !== schemaMarker(project, version) || existing.holdsItems) return;
      await client.query(`DROP SCHEMA ${ident(schema, 'schema')} CASCADE`);
    });
  }

  /** Drops every version's schema: those named, and any other `<project>_v<N>` carrying dstore's marker for this project. */
  async dropProject(project: string, versions: readonly number[]): Promise<void> {
    const named = versions.map((v) => schemaName(project, v));
    schemaName(project, 1); // checks the project name before it goes into the pattern below
    await this.transaction(`${project}_v*`, async (client) => {
      const { rows } = await client.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname ~ $1 AND starts_with(obj_description(oid, 'pg_namespace'), $2)`,
        [`^${project}_v[0-9]+$`, `dstore:${project}:`],
      );
      const schemas = [...new Set([...named, ...rows.map((r) => r.nspname)])];
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${ident(schema, 'schema')} CASCADE`);
      await this.lockLatest(client, project);
      const latest = latestSchemaName(project);
      if ((await this.markerOf(client, latest)) === latestMarker(project)) await client.query(`DROP SCHEMA ${ident(latest, 'schema')} CASCADE`);
    });
  }

  /**
   * Points the latest schema's views at this version's tables, in one transaction: readers see
   * the old version or the new one, never a mix. A view whose columns changed in a way CREATE
   * OR REPLACE cannot follow (renamed, retyped or dropped columns) is dropped and created; a
   * view of a blueprint the version no longer has is dropped. Only views carrying dstore's
   * mark are ever dropped, and never with CASCADE: a reader's own view on top of one stops the
   * activation with PostgreSQL's reason rather than vanishing.
   */
  async activate(snapshot: Snapshot): Promise<void> {
    const { project, version } = snapshot;
    const latest = latestSchemaName(project);
    const source = schemaName(project, version);
    const marker = latestMarker(project);
    const tables = Object.values(snapshot.blueprints).map((bp) => bp.postgresql.table).sort();
    await this.transaction(latest, async (client) => {
      const existing = await this.checkLatest(client, project);
      if (!existing) {
        await client.query(`CREATE SCHEMA ${ident(latest, 'schema')}`);
        await client.query(`COMMENT ON SCHEMA ${ident(latest, 'schema')} IS ${markerLiteral(marker)}`);
      }
      const { rows } = await client.query<{ relname: string }>(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') = $2 ORDER BY 1`,
        [latest, marker],
      );
      for (const { relname } of rows) {
        if (!tables.includes(relname)) await this.onView(client, latest, relname, 'drop', `DROP VIEW ${qualified(latest, relname)}`);
      }
      for (const table of tables) {
        const view = qualified(latest, table);
        const body = `AS SELECT * FROM ${qualified(source, table)}`;
        await client.query('SAVEPOINT dstore_view');
        try {
          await client.query(`CREATE OR REPLACE VIEW ${view} ${body}`);
        } catch (err) {
          // 42P16: the columns changed in a way a view cannot be replaced over
          if (sqlState(err) !== '42P16') throw viewProblem(latest, table, 'create', err);
          await client.query('ROLLBACK TO SAVEPOINT dstore_view');
          await this.onView(client, latest, table, 'replace', `DROP VIEW ${view}`);
          await this.onView(client, latest, table, 'create', `CREATE VIEW ${view} ${body}`);
        }
        await client.query('RELEASE SAVEPOINT dstore_view');
        await client.query(`COMMENT ON VIEW ${view} IS ${markerLiteral(marker)}`);
      }
    });
  }

  /**
   * Drops one version's schema. The caller never retires the version the latest views read
   * (SPEC §9: that is a 409); CASCADE would drop those views, and a reader's own views too,
   * so any view outside the schema that reads it stops the retirement, named.
   */
  async retire(project: string, version: number): Promise<void> {
    const schema = schemaName(project, version);
    await this.transaction(schema, async (client) => {
      await this.lockLatest(client, project);
      const marker = await this.markerOf(client, schema);
      if (marker === undefined) return;
      if (marker !== schemaMarker(project, version)) throw new Error(`schema "${schema}" was not made by dstore for ${project} version ${version}; refusing to drop it`);
      const { rows } = await client.query<{ view: string }>(
        `SELECT DISTINCT vn.nspname || '.' || v.relname AS view
           FROM pg_namespace n
           JOIN pg_class t ON t.relnamespace = n.oid
           JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass
           JOIN pg_rewrite r ON r.oid = d.objid
           JOIN pg_class v ON v.oid = r.ev_class
           JOIN pg_namespace vn ON vn.oid = v.relnamespace
          WHERE n.nspname = $1 AND v.relnamespace <> n.oid ORDER BY 1`,
        [schema],
      );
      if (rows.length) throw new Error(`schema "${schema}" is still read by view(s) ${rows.map((r) => r.view).join(', ')}; refusing to drop them with it`);
      await client.query(`DROP SCHEMA ${ident(schema, 'schema')} CASCADE`);
    });
  }

  /** One statement on a view of the latest schema, its failure named. */
  private async onView(client: PoolClient, schema: string, view: string, what: string, text: string): Promise<void> {
    try {
      await client.query(text);
    } catch (err) {
      throw viewProblem(schema, view, what, err);
    }
  }

  private async lockLatest(client: PoolClient, project: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dstore:${latestSchemaName(project)}`]);
  }

  /** The latest schema's marker, or undefined when it does not exist; throws when someone else's schema has the name. */
  private async checkLatest(client: PoolClient, project: string): Promise<string | undefined> {
    const latest = latestSchemaName(project);
    const marker = await this.markerOf(client, latest);
    if (marker !== undefined && marker !== latestMarker(project)) {
      throw new Error(`schema "${latest}" already exists in PostgreSQL and was not made by dstore: it is where project ${project}'s views of its latest version go (SPEC §9); rename or drop that schema`);
    }
    return marker;
  }

  /** A schema's COMMENT (null without one), or undefined when there is no such schema. */
  private async markerOf(client: PoolClient, schema: string): Promise<string | null | undefined> {
    const { rows } = await client.query<{ marker: string | null }>(`SELECT obj_description(oid, 'pg_namespace') AS marker FROM pg_namespace WHERE nspname = $1`, [schema]);
    return rows.length ? rows[0]!.marker : undefined;
  }

  private async enablePostgis(): Promise<void> {
    if (this.postgis) return;
    try {
      const { rowCount } = await this.pool().query(`SELECT 1 FROM pg_extension WHERE extname = 'postgis'`);
      if (!rowCount) await this.pool().query('CREATE EXTENSION IF NOT EXISTS postgis');
    } catch (err) {
      // two migrations creating it at once: the loser sees a duplicate, which means it is there
      const state = sqlState(err);
      if (isUnavailable(err)) throw err;
      if (state !== '23505' && state !== '42710') throw new Error(`PostGIS is needed for geometry columns but cannot be enabled: ${describe(err)}`, { cause: err });
    }
    this.postgis = true;
  }

  private async inspect(client: PoolClient, schema: string): Promise<{ marker: string | null; holdsItems: boolean } | null> {
    const { rows } = await client.query<{ marker: string | null; stamps: boolean }>(
      `SELECT obj_description(n.oid, 'pg_namespace') AS marker,
              EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = $2) AS stamps
         FROM pg_namespace n WHERE n.nspname = $1`,
      [schema, STAMPS_TABLE],
    );
    const row = rows[0];
    if (!row) return null;
    let holdsItems = false;
    if (row.stamps) {
      const held = await client.query(`SELECT 1 FROM ${qualified(schema, STAMPS_TABLE, 'bookkeeping')} LIMIT 1`);
      holdsItems = (held.rowCount ?? 0) > 0;
    }
    return { marker: row.marker, holdsItems };
  }

  /** One transaction, serialized per schema name by an advisory lock so two processes never race on one version. */
  private async transaction(lockName: string, body: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool().connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`dstore:${lockName}`]);
      await body(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/** The marker is built from a checked project name and a number; re-checked here because COMMENT takes no parameters. */
function markerLiteral(marker: string): string {
  if (!/^dstore:[a-z][a-z0-9_]*:(\d+|latest)$/.test(marker)) throw new Error(`refusing schema marker ${JSON.stringify(marker)}`);
  return `'${marker}'`;
}

function viewProblem(schema: string, view: string, what: string, err: unknown): Error {
  if (isUnavailable(err)) return err as Error;
  return new Error(`cannot ${what} view ${schema}.${view} of the latest version: ${describe(err)}`, { cause: err });
}
