import type { Blueprint } from '../../schema/blueprint.ts';
import { columnType, DATETIME_FORMAT } from '../../schema/column-types.ts';
import type { Item } from '../../schema/item.ts';
import { ident } from './postgresql-sql.ts';

/**
 * Items travel to PostgreSQL as one JSON array per table, unpacked server-side
 * by json_to_recordset. Rows keep the client's JSON almost verbatim: json_to_recordset
 * (not jsonb) turns JSON arrays into PostgreSQL arrays and keeps nested JSON text as
 * sent, so `json` columns are stored faithfully. Only two things change on the way:
 * datetimes without an offset get `+00` (SPEC §4 reads them as UTC whatever the
 * server's TimeZone), and geometry is converted by PostGIS from GeoJSON in the SELECT.
 */

/** Hidden fields of a row in the JSON array; no column can be named `_dstore…` (identifiers.ts). */
export const STAMP_FIELD = '_dstore_stamp';
export const DELETED_FIELD = '_dstore_deleted';

const SPACE_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

type Convert = (value: unknown) => unknown;

interface ColumnPlan {
  name: string;
  /** Type in the json_to_recordset column list. */
  recordsetType: string;
  /** Expression turning `r."name"` into the column's value. */
  select: string;
  convert?: Convert;
}

/** What the writer needs to write one blueprint's table: column lists and how each value is read. */
export interface TableShape {
  /** `"col" TYPE, …` for json_to_recordset, including id, links and the hidden fields. */
  recordset: string;
  /** Quoted target columns, id first. */
  columns: string[];
  /** SELECT expressions over alias `r`, in the order of `columns`. */
  values: string[];
  plans: ColumnPlan[];
}

function utc(value: unknown): unknown {
  return typeof value === 'string' && SPACE_DATETIME.test(value) ? `${value}+00` : value;
}

function utcArray(value: unknown): unknown {
  return Array.isArray(value) ? value.map(utc) : value;
}

function planColumn(name: string, typeName: string): ColumnPlan {
  const type = columnType(typeName);
  const q = ident(name, 'column');
  if (type.geometry) {
    // GEOMETRY(…, 4326) columns are 2D (SPEC §4): a third coordinate (altitude) is dropped rather than refused
    return { name, recordsetType: 'json', select: `ST_SetSRID(ST_Force2D(ST_GeomFromGeoJSON(r.${q})), 4326)` };
  }
  const plan: ColumnPlan = { name, recordsetType: type.postgresql, select: `r.${q}` };
  if (type.valueSchema['format'] === DATETIME_FORMAT) plan.convert = type.array ? utcArray : utc;
  return plan;
}

const shapes = new WeakMap<Blueprint, TableShape>();

export function tableShape(definition: Blueprint): TableShape {
  let shape = shapes.get(definition);
  if (shape) return shape;
  const plans = Object.entries(definition.columns).map(([name, column]) => planColumn(name, column.type));
  const recordset = [
    `"id" UUID`,
    `${ident(STAMP_FIELD, 'bookkeeping')} BIGINT`,
    `${ident(DELETED_FIELD, 'bookkeeping')} BOOLEAN`,
    `"links" UUID[]`,
    ...plans.map((p) => `${ident(p.name, 'column')} ${p.recordsetType}`),
  ].join(', ');
  shape = {
    recordset,
    columns: ['"id"', '"links"', ...plans.map((p) => ident(p.name, 'column'))],
    values: ['r."id"', 'r."links"', ...plans.map((p) => p.select)],
    plans,
  };
  shapes.set(definition, shape);
  return shape;
}

/** The JSON row of a put: id, stamp, links and every column of the blueprint (absent ones become NULL). */
export function serializePut(shape: TableShape, id: string, stamp: number, item: Item): Record<string, unknown> {
  const row: Record<string, unknown> = { id, [STAMP_FIELD]: stamp, links: item.links ?? null };
  for (const plan of shape.plans) {
    const value = item[plan.name];
    if (value === undefined || value === null) continue;
    row[plan.name] = plan.convert ? plan.convert(value) : value;
  }
  return row;
}

/** The JSON row of a delete: only what the stamp bookkeeping needs. */
export function serializeDelete(id: string, stamp: number): Record<string, unknown> {
  return { id, [STAMP_FIELD]: stamp, [DELETED_FIELD]: true };
}

/** `"col" TYPE` for CREATE TABLE, each type read from the column-type table. */
export function columnDefinitions(definition: Blueprint): string[] {
  return Object.entries(definition.columns).map(([name, column]) => `${ident(name, 'column')} ${columnType(column.type).postgresql}`);
}

export function hasGeometry(definition: Blueprint): boolean {
  return Object.values(definition.columns).some((c) => columnType(c.type).geometry !== undefined);
}
