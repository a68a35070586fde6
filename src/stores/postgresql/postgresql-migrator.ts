import type { Pool, PoolClient } from 'pg';
import type { Snapshot } from '../store.ts';
import { describe, isUnavailable, sqlState } from './postgresql-errors.ts';
import { columnDefinitions, hasGeometry } from './postgresql-serializer.ts';
import { ident, qualified, schemaMarker, schemaName, STAMPS_TABLE } from './postgresql-sql.ts';

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
    });
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
  if (!/^dstore:[a-z][a-z0-9_]*:\d+$/.test(marker)) throw new Error(`refusing schema marker ${JSON.stringify(marker)}`);
  return `'${marker}'`;
}
