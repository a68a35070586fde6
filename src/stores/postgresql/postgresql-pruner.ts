/**
 * Pruning tombstones (SPEC §11): the `_dstore_stamps` rows of deleted items
 * (deleted = true) stamped before the horizon, in every version schema dstore
 * made, a bounded batch per call. Rows are taken with FOR UPDATE SKIP LOCKED,
 * so a row a write is upserting right now is left for the next round instead of
 * waiting for it (or deleting the stamp that write just put there).
 */
import type { Pool } from 'pg';
import type { PruneHorizon, PruneResult } from '../store.ts';
import { qualified, STAMPS_TABLE } from './postgresql-sql.ts';

export class PostgresqlPruner {
  /** The schemas of this round still to prune, first one next; null before a round starts. */
  private schemas: string[] | null = null;

  constructor(private readonly pool: () => Pool) {}

  async prune(horizon: PruneHorizon): Promise<PruneResult> {
    this.schemas ??= await this.stampSchemas();
    const schema = this.schemas[0];
    if (schema === undefined) {
      this.schemas = null;
      return { removed: 0, more: false };
    }
    const table = qualified(schema, STAMPS_TABLE, 'bookkeeping');
    let removed = 0;
    try {
      const res = await this.pool().query(
        `DELETE FROM ${table} WHERE (tbl, id) IN (SELECT tbl, id FROM ${table} WHERE deleted AND stamp < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [horizon.stamp, horizon.limit],
      );
      removed = res.rowCount ?? 0;
    } catch (err) {
      // a schema retired or dropped since the round began has nothing left to prune
      if ((err as { code?: string }).code !== '42P01' && (err as { code?: string }).code !== '3F000') throw err;
    }
    if (removed < horizon.limit) this.schemas.shift();
    const more = this.schemas.length > 0;
    if (!more) this.schemas = null;
    return { removed, more };
  }

  /** Every schema dstore made for a project version (COMMENT `dstore:<project>:<version>`) that holds a stamps table. */
  private async stampSchemas(): Promise<string[]> {
    const { rows } = await this.pool().query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
        WHERE c.relname = $1 AND c.relkind = 'r' AND obj_description(n.oid, 'pg_namespace') ~ '^dstore:[a-z0-9_]+:[0-9]+$'
        ORDER BY 1`,
      [STAMPS_TABLE],
    );
    return rows.map((r) => r.nspname);
  }
}
