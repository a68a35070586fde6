import type { Pool } from 'pg';
import { isUuid } from '../../schema/identifiers.ts';
import type { ScannedItem, ScanRequest } from '../store.ts';
import { StoreUnavailableError } from '../store.ts';
import { describe, isMissingTarget, isUnavailable } from './postgresql-errors.ts';
import { readShape } from './postgresql-serializer.ts';
import { qualified, schemaName, STAMPS_TABLE } from './postgresql-sql.ts';

/**
 * Reads one version's table in id order (SPEC §9 back-fill source, §12 verify and rebuild).
 * The primary key orders by UUID bytes, which is the order of their lowercase text: the same
 * order as LevelDB's keys and Elasticsearch's `id` sort, so scans of the engines can be merged.
 * Each row is joined with its stamp; a row exists only while its last write was a put.
 */
export class PostgresqlReader {
  constructor(private readonly pool: () => Pool) {}

  /** The rows of the version's table (each row is an item whose last write was a put). */
  async count(request: Pick<ScanRequest, 'project' | 'version' | 'definition'>): Promise<number> {
    const schema = schemaName(request.project, request.version);
    const table = request.definition.postgresql.table;
    try {
      const { rows } = await this.pool().query(`SELECT count(*)::bigint::text AS n FROM ${qualified(schema, table)}`);
      return Number(rows[0].n);
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError('postgresql', describe(err), { cause: err });
      throw new Error(`PostgreSQL count of ${schema}.${table}: ${describe(err)}`, { cause: err });
    }
  }

  async scan(request: ScanRequest): Promise<ScannedItem[]> {
    const { project, version, definition, after, limit } = request;
    if (after !== undefined && !isUuid(after)) throw new Error(`scan cursor ${JSON.stringify(after)} is not a UUID`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`scan limit ${JSON.stringify(limit)} is not a positive integer`);
    const schema = schemaName(project, version);
    const shape = readShape(definition);
    const text = `SELECT t."id"::text AS id, s.stamp::text AS stamp, to_json(t."links") AS links${shape.selects.map((s) => `, ${s}`).join('')}
  FROM ${qualified(schema, definition.postgresql.table)} t
  JOIN ${qualified(schema, STAMPS_TABLE, 'bookkeeping')} s ON s.tbl = $1 AND s.id = t."id" AND NOT s.deleted
  ${after === undefined ? '' : 'WHERE t."id" > $3::uuid AND s.id > $3::uuid'}
  ORDER BY t."id" LIMIT $2`;
    const values: unknown[] = [definition.postgresql.table, limit];
    if (after !== undefined) values.push(after.toLowerCase());
    let rows: Array<Record<string, unknown>>;
    try {
      // a scan from the start is the first page of a long walk: fresh statistics (a bulk load leaves none) keep every page an index range
      if (after === undefined) await this.pool().query(`ANALYZE ${qualified(schema, definition.postgresql.table)}, ${qualified(schema, STAMPS_TABLE, 'bookkeeping')}`);
      rows = (await this.pool().query(text, values)).rows;
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError('postgresql', describe(err), { cause: err });
      if (isMissingTarget(err)) throw new Error(`PostgreSQL has no table ${schema}.${definition.postgresql.table} to scan (version retired or never migrated?): ${describe(err)}`, { cause: err });
      throw new Error(`PostgreSQL scan of ${schema}.${definition.postgresql.table}: ${describe(err)}`, { cause: err });
    }
    return rows.map((row) => {
      const id = row['id'] as string;
      return { id, stamp: Number(row['stamp']), item: shape.item(id, version, row) };
    });
  }
}
