import type { Blueprint } from '../../schema/blueprint.ts';
import { columnType } from '../../schema/column-types.ts';
import type { Item } from '../../schema/item.ts';
import { ident } from './postgresql-sql.ts';
import { wkbToGeoJson } from './wkb.ts';

/**
 * Items travel to PostgreSQL as one JSON array per table, unpacked server-side
 * by json_to_recordset. Each row is the validated item's own JSON with the
 * stamp appended, nothing copied: json_to_recordset (not jsonb) turns JSON
 * arrays into PostgreSQL arrays and keeps nested JSON text as sent, so `json`
 * columns are stored faithfully; keys that are not columns (project_version)
 * are ignored and absent columns become NULL. Geometry is converted from
 * GeoJSON by PostGIS in the SELECT. Datetimes without an offset are read as UTC
 * because every session of the store runs with TimeZone=UTC (postgresql-store.ts).
 */

/** Hidden fields of a row in the JSON array; no column can be named `_dstore…` (identifiers.ts). */
export const STAMP_FIELD = '_dstore_stamp';
export const DELETED_FIELD = '_dstore_deleted';

interface ColumnPlan {
  name: string;
  /** Type in the json_to_recordset column list. */
  recordsetType: string;
  /** Expression turning `r."name"` into the column's value. */
  select: string;
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

function planColumn(name: string, typeName: string): ColumnPlan {
  const type = columnType(typeName);
  const q = ident(name, 'column');
  if (type.geometry) {
    // GEOMETRY(…, 4326) columns are 2D (SPEC §4): a third coordinate (altitude) is dropped rather than refused
    return { name, recordsetType: 'json', select: `ST_SetSRID(ST_Force2D(ST_GeomFromGeoJSON(r.${q})), 4326)` };
  }
  return { name, recordsetType: type.postgresql, select: `r.${q}` };
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

/**
 * The JSON row of a put: the item as JSON with the write's id and stamp appended
 * (json_to_recordset takes the last of duplicate keys, so they win over anything in the item).
 */
export function serializePut(id: string, stamp: number, item: Item): string {
  const json = JSON.stringify(item);
  return `${json.length > 2 ? `${json.slice(0, -1)},` : '{'}"id":${JSON.stringify(id)},"${STAMP_FIELD}":${stamp}}`;
}

/** The JSON row of a delete: only what the stamp bookkeeping needs. */
export function serializeDelete(id: string, stamp: number): string {
  return `{"id":${JSON.stringify(id)},"${STAMP_FIELD}":${stamp},"${DELETED_FIELD}":true}`;
}

/** `"col" TYPE` for CREATE TABLE, each type read from the column-type table. */
export function columnDefinitions(definition: Blueprint): string[] {
  return Object.entries(definition.columns).map(([name, column]) => `${ident(name, 'column')} ${columnType(column.type).postgresql}`);
}

export function hasGeometry(definition: Blueprint): boolean {
  return Object.values(definition.columns).some((c) => columnType(c.type).geometry !== undefined);
}

/**
 * How a column reads back as the JSON a client sends (the scan of SPEC §9 and §12), by the
 * column's PostgreSQL type in the column-type table: each SELECT gives JSON, which pg parses.
 * Geometry comes back as GeoJSON from its WKB (every coordinate bit for bit), dates as `yyyy-MM-dd` (to_json
 * never goes through a JavaScript Date), datetimes as ISO 8601 in UTC with `Z`, REAL as its
 * shortest exact number (its largest kept within the type's bounds), arrays element by element, json as stored.
 */
interface ReadBack {
  select: (column: string) => string;
  parse?: (value: unknown) => unknown;
}

const utc = (v: unknown): unknown => (typeof v === 'string' ? v.replace(/\+00(?::00)?$/, 'Z') : v);

/** REAL's largest value prints as 3.4028235e38, just above the float type's `maximum` (the same REAL): bring it back inside. */
const REAL_MAX = Number(columnType('float').valueSchema['maximum']);
const real = (v: unknown): unknown => (typeof v === 'number' && Math.abs(v) > REAL_MAX ? Math.sign(v) * REAL_MAX : v);

const READ_BACK: Readonly<Record<string, ReadBack>> = {
  REAL: { select: (c) => `to_json(${c})`, parse: real },
  'REAL[]': { select: (c) => `to_json(${c})`, parse: (v) => (Array.isArray(v) ? v.map(real) : v) },
  geometry: { select: (c) => `ST_AsBinary(${c})`, parse: (v) => (Buffer.isBuffer(v) ? wkbToGeoJson(v) : v) },
  'TIMESTAMP WITH TIME ZONE': { select: (c) => `to_json(${c})`, parse: utc },
  'TIMESTAMP WITH TIME ZONE[]': { select: (c) => `to_json(${c})`, parse: (v) => (Array.isArray(v) ? v.map(utc) : v) },
};
const AS_JSON: ReadBack = { select: (c) => `to_json(${c})` };

function readBackOf(typeName: string): ReadBack {
  const type = columnType(typeName);
  return (type.geometry ? READ_BACK['geometry'] : READ_BACK[type.postgresql]) ?? AS_JSON;
}

/** What a scan selects from a table aliased `t` (columns as `c0`, `c1`, …) and how it turns a row back into the item. */
export interface ReadShape {
  selects: string[];
  item: (id: string, version: number, row: Record<string, unknown>) => Item;
}

const readShapes = new WeakMap<Blueprint, ReadShape>();

export function readShape(definition: Blueprint): ReadShape {
  let shape = readShapes.get(definition);
  if (shape) return shape;
  const columns = Object.entries(definition.columns).map(([name, column], i) => ({ name, alias: `c${i}`, ...readBackOf(column.type), quoted: `t.${ident(name, 'column')}` }));
  shape = {
    selects: columns.map((c) => `${c.select(c.quoted)} AS ${c.alias}`),
    // null columns are left out: an absent column and a null one are the same item (item.ts), and every engine's scan says it the same way
    item: (id, version, row) => {
      const item: Item = { id, project_version: version };
      if (row['links'] !== null && row['links'] !== undefined) item.links = row['links'] as string[];
      for (const c of columns) {
        const value = row[c.alias];
        if (value !== null && value !== undefined) item[c.name] = c.parse ? c.parse(value) : value;
      }
      return item;
    },
  };
  readShapes.set(definition, shape);
  return shape;
}
