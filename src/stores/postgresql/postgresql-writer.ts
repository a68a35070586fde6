/**
 * Stamp bookkeeping: each version schema has a table "_dstore_stamps"(tbl, id,
 * stamp, deleted) holding the stamp of the last write applied to each item of
 * each table, deletes included (a tombstone, deleted = true), so application
 * tables stay exactly as SPEC §5 lists them (id, links, columns). Stamps are kept
 * per version: a put names one version and a delete carries every version it
 * reaches, so each version's row follows the last write that touched it.
 *
 * SQL: one statement per target table. The rows travel as one JSON parameter
 * unpacked by json_to_recordset; the statement first upserts the stamps (only
 * where the new stamp is higher; the stamp row's lock, taken in id order,
 * serializes concurrent workers per item without deadlocks), then deletes the
 * rows whose winning write is a delete and upserts those whose winning write is
 * a put. Within a batch the highest stamp of an item wins before any SQL.
 *
 * Transactions: the statements of a batch share one transaction (a single one
 * needs none). A large batch is split by item id into up to MAX_PARTITIONS
 * transactions on as many connections, run at once. The batch as a whole is then
 * not atomic, and need not be: applying a write again is a no-op (its stamp is
 * not newer), so the queue retrying a partly applied batch converges.
 */
import type { Pool, PoolClient } from 'pg';
import type { Blueprint } from '../../schema/blueprint.ts';
import type { Item } from '../../schema/item.ts';
import type { Write } from '../store.ts';
import { StoreTimeoutError, StoreUnavailableError, WriteRejectedError } from '../store.ts';
import { describe, isMissingTarget, isTimeout, isUnavailable } from './postgresql-errors.ts';
import { DELETED_FIELD, serializeDelete, serializePut, STAMP_FIELD, tableShape } from './postgresql-serializer.ts';
import { ident, qualified, schemaName, STAMPS_TABLE } from './postgresql-sql.ts';

/** The writes of one batch that land in one table. */
interface TableBatch {
  schema: string;
  table: string;
  definition: Blueprint;
  /** Winning write per item id: its stamp, and its item (none for a delete). */
  rows: Map<string, { stamp: number; item?: Item }>;
  /** Indexes (in the batch) of every write that touches this table. */
  writes: number[];
}

function group(writes: readonly Write[], indexes: readonly number[]): TableBatch[] {
  const batches = new Map<string, TableBatch>();
  const target = (index: number, version: number, project: string, definition: Blueprint): TableBatch => {
    const schema = schemaName(project, version);
    const key = `${schema}.${definition.postgresql.table}`;
    let batch = batches.get(key);
    if (!batch) batches.set(key, (batch = { schema, table: definition.postgresql.table, definition, rows: new Map(), writes: [] }));
    batch.writes.push(index);
    return batch;
  };
  for (const index of indexes) {
    const w = writes[index]!;
    const id = w.id.toLowerCase();
    if (w.op === 'put') {
      const batch = target(index, w.version, w.project, w.definition);
      const seen = batch.rows.get(id);
      if (!seen || w.stamp >= seen.stamp) batch.rows.set(id, { stamp: w.stamp, item: w.item });
    } else {
      for (const t of w.targets) {
        const batch = target(index, t.version, w.project, t.definition);
        const seen = batch.rows.get(id);
        if (!seen || w.stamp >= seen.stamp) batch.rows.set(id, { stamp: w.stamp });
      }
    }
  }
  // a fixed order of tables (and of ids inside each statement) keeps concurrent batches from deadlocking
  return [...batches.values()].sort((a, b) => (a.schema === b.schema ? a.table.localeCompare(b.table) : a.schema.localeCompare(b.schema)));
}

/** The JSON array parameter of a table's statement. */
function serializeRows(batch: TableBatch): string {
  const rows: string[] = [];
  for (const [id, { stamp, item }] of batch.rows) rows.push(item ? serializePut(id, stamp, item) : serializeDelete(id, stamp));
  return `[${rows.join(',')}]`;
}

function statement(batch: TableBatch): string {
  const shape = tableShape(batch.definition);
  const table = qualified(batch.schema, batch.table);
  const stamp = ident(STAMP_FIELD, 'bookkeeping');
  const deleted = ident(DELETED_FIELD, 'bookkeeping');
  const puts = [...batch.rows.values()].some((r) => r.item);
  const head = `WITH input AS (SELECT * FROM json_to_recordset($1::json) AS r(${shape.recordset})),
won AS (
  INSERT INTO ${qualified(batch.schema, STAMPS_TABLE, 'bookkeeping')} AS s (tbl, id, stamp, deleted)
  SELECT $2, r."id", r.${stamp}, coalesce(r.${deleted}, false) FROM input r ORDER BY r."id"
  ON CONFLICT (tbl, id) DO UPDATE SET stamp = EXCLUDED.stamp, deleted = EXCLUDED.deleted WHERE s.stamp < EXCLUDED.stamp
  RETURNING s.id, s.deleted
)`;
  if (!puts) return `${head}\nDELETE FROM ${table} t USING won WHERE won.deleted AND t."id" = won.id`;
  const updates = shape.columns.filter((c) => c !== '"id"').map((c) => `${c} = EXCLUDED.${c}`);
  return `${head},
removed AS (DELETE FROM ${table} t USING won WHERE won.deleted AND t."id" = won.id)
INSERT INTO ${table} (${shape.columns.join(', ')})
SELECT ${shape.values.join(', ')} FROM input r JOIN won ON won.id = r."id" AND NOT won.deleted
ON CONFLICT ("id") DO UPDATE SET ${updates.join(', ')}`;
}

/** Rows per statement above which a batch is split over several connections. */
const PARTITION_ROWS = 500;
const MAX_PARTITIONS = 4;

/** Same id → same partition, so every write of an item (and every version a delete reaches) stays in one transaction. */
function partitionOf(id: string, partitions: number): number {
  return (parseInt(id.slice(-8), 16) || 0) % partitions;
}

export class PostgresqlWriter {
  constructor(private readonly pool: () => Pool) {}

  async apply(writes: readonly Write[]): Promise<void> {
    if (!writes.length) return;
    const rows = writes.reduce((n, w) => n + (w.op === 'put' ? 1 : w.targets.length), 0);
    const partitions = Math.min(MAX_PARTITIONS, Math.ceil(rows / PARTITION_ROWS));
    if (partitions <= 1) return this.applyPartition(writes, writes.map((_, i) => i));
    const indexes: number[][] = Array.from({ length: partitions }, () => []);
    writes.forEach((w, i) => indexes[partitionOf(w.id, partitions)]!.push(i));
    const outcomes = await Promise.allSettled(indexes.filter((ix) => ix.length).map((ix) => this.applyPartition(writes, ix)));
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    if (!failures.length) return;
    // partitions that committed are harmless to apply again: their stamps make every write a no-op
    const unavailable = failures.find((e) => e instanceof StoreUnavailableError);
    if (unavailable) throw unavailable;
    const other = failures.find((e) => !(e instanceof WriteRejectedError));
    if (other) throw other;
    throw new WriteRejectedError('postgresql', new Map(failures.flatMap((e) => [...(e as WriteRejectedError).reasons])));
  }

  /** Applies the writes at `indexes` (positions in `writes`) in one transaction, one statement per table. */
  private async applyPartition(writes: readonly Write[], indexes: number[]): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.pool().connect();
    } catch (err) {
      throw new StoreUnavailableError('postgresql', describe(err), { cause: err });
    }
    let broken: Error | undefined;
    let transaction = false;
    let current: TableBatch | undefined;
    try {
      // grouped and serialized only once connected: while PostgreSQL runs one partition's statement, the next one is being serialized
      const batches = group(writes, indexes);
      transaction = batches.length > 1;
      if (transaction) await client.query('BEGIN');
      for (const batch of batches) {
        current = batch;
        await client.query(statement(batch), [serializeRows(batch), batch.table]);
      }
      current = undefined;
      if (transaction) await client.query('COMMIT');
    } catch (err) {
      if (transaction) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      if (isUnavailable(err)) {
        broken ??= err as Error;
        throw new (isTimeout(err) ? StoreTimeoutError : StoreUnavailableError)('postgresql', describe(err), { cause: err });
      }
      throw refusal(err, indexes, current);
    } finally {
      client.release(broken);
    }
  }
}

/**
 * A missing table refuses exactly the writes aimed at it; any other refusal of a
 * batch cannot be pinned on one row, so the queue re-applies one write at a time.
 */
function refusal(err: unknown, indexes: number[], batch: TableBatch | undefined): Error {
  const reason = describe(err);
  if (batch && isMissingTarget(err)) {
    const why = `table ${batch.schema}.${batch.table} does not exist (version abandoned or project dropped?): ${reason}`;
    return new WriteRejectedError('postgresql', new Map(batch.writes.map((i) => [i, why])));
  }
  if (indexes.length === 1) return new WriteRejectedError('postgresql', new Map([[indexes[0]!, reason]]));
  return new Error(`postgresql refused a batch of ${indexes.length} writes: ${reason}`, { cause: err });
}
