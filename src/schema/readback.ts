import { createHash } from 'node:crypto';
import type { Blueprint } from './blueprint.ts';
import { columnType, type ColumnType } from './column-types.ts';
import type { Item } from './item.ts';

/**
 * How each column type reads back from each engine, as data (SPEC §12): the
 * canonical form every engine's scan of a value reduces to, so a verify can
 * compare PostgreSQL, Elasticsearch and LevelDB item by item. Each entry says
 * which engine makes it necessary; `undefined` means "reads back absent".
 */
export interface ReadBack {
  /** The canonical form of one non-null value of the type. */
  normalize(value: unknown): unknown;
  /** The engines whose read-back this form absorbs, and how (for the README and for reviewers). */
  why: string;
}

const AS_SENT: ReadBack = { normalize: (v) => v, why: 'every engine reads it back as sent' };

const lower = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v);

/** `yyyy-MM-dd HH:mm:ss` is UTC (column-types.ts); every form becomes ISO 8601 in UTC to the millisecond. */
function utc(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const text = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(v) ? `${v.replace(' ', 'T')}Z` : v;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? v : new Date(ms).toISOString();
}

const real = (v: unknown): unknown => (typeof v === 'number' ? Math.fround(v) : v);

const each = (f: (v: unknown) => unknown) => (v: unknown): unknown => (Array.isArray(v) ? v.map((x) => (x === null ? null : f(x))) : v);

/** Only `type` and `coordinates` survive PostGIS; an empty Multi* geometry is no shape in Elasticsearch, so absent. */
function geometry(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const g = v as { type?: unknown; coordinates?: unknown };
  if (typeof g.type === 'string' && g.type.startsWith('Multi') && Array.isArray(g.coordinates) && g.coordinates.length === 0) return undefined;
  return { type: g.type, coordinates: g.coordinates };
}

/** By the type's base name (`float` and `float[]` share a row); geometry types by their GeoJSON kind. */
const BY_BASE: Readonly<Record<string, ReadBack>> = {
  uuid: { normalize: lower, why: 'PostgreSQL prints UUIDs in lowercase' },
  string: AS_SENT,
  text: AS_SENT,
  date: { normalize: AS_SENT.normalize, why: 'PostgreSQL prints DATE as yyyy-MM-dd, as sent' },
  datetime: { normalize: utc, why: 'PostgreSQL reads TIMESTAMP WITH TIME ZONE back in UTC with Z; LevelDB and Elasticsearch as sent' },
  float: { normalize: real, why: 'PostgreSQL keeps REAL (float32): every engine compares at that precision' },
  integer: AS_SENT,
  boolean: AS_SENT,
  json: { normalize: AS_SENT.normalize, why: 'PostgreSQL JSON keeps the text; key order is ignored by the checksum' },
};
const GEOMETRY: ReadBack = { normalize: geometry, why: 'PostGIS keeps type and coordinates only; Elasticsearch reads an empty Multi* shape as absent' };

export function readBackOf(type: ColumnType): ReadBack {
  if (type.geometry) return GEOMETRY;
  const base = BY_BASE[type.name.replace(/\[\]$/, '')] ?? AS_SENT;
  return type.array ? { normalize: each(base.normalize), why: base.why } : base;
}

/**
 * The item as every engine reads it back alike: `project_version` dropped (the
 * scan names the version), null columns, null and empty links left out (PostgreSQL
 * and Elasticsearch have no absent array), each column through its type's read-back.
 */
export function normalizeItem(definition: Blueprint, item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    if (key === 'project_version' || value === null || value === undefined) continue;
    if (key === 'id') out[key] = lower(value);
    else if (key === 'links') {
      if (Array.isArray(value) && value.length) out[key] = value.map(lower);
    } else {
      const column = Object.hasOwn(definition.columns, key) ? definition.columns[key] : undefined;
      const normalized = column ? readBackOf(columnType(column.type)).normalize(value) : value;
      if (normalized !== undefined) out[key] = normalized;
    }
  }
  return out;
}

/** JSON with object keys sorted at every level, so two engines' key orders cannot differ. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as object).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The content checksum of SPEC §12: equal exactly when two engines hold the same item. */
export function contentChecksum(definition: Blueprint, item: Item): string {
  return createHash('sha1').update(canonicalJson(normalizeItem(definition, item))).digest('base64url');
}
