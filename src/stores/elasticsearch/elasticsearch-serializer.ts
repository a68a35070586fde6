import type { Blueprint } from '../../schema/blueprint.ts';
import { columnType } from '../../schema/column-types.ts';
import type { Item } from '../../schema/item.ts';

type Convert = (value: unknown) => unknown;
type Position = readonly number[];
interface Geometry {
  type: string;
  coordinates: unknown;
}

/**
 * geo_point takes `{ lat, lon }` on every engine dstore speaks to (Elasticsearch
 * 7.10 refuses a GeoJSON Point there); a MultiPoint becomes an array of them.
 */
function toGeoPoint(value: unknown): unknown {
  const g = value as Geometry;
  if (g.type === 'Point') return latLon(g.coordinates as Position);
  return (g.coordinates as Position[]).map(latLon);
}

function latLon(p: Position): { lat: number; lon: number } {
  return { lat: p[1]!, lon: p[0]! };
}

/**
 * geo_shape takes GeoJSON as is; only `type` and `coordinates` are sent (RFC 7946
 * `bbox`/`crs` stay in LevelDB), and an empty Multi* geometry, which the engines
 * refuse ("the list of shapes cannot be null or empty"), is stored as no shape.
 */
function toGeoShape(value: unknown): unknown {
  const g = value as Geometry;
  if (Array.isArray(g.coordinates) && g.coordinates.length === 0) return null;
  return { type: g.type, coordinates: g.coordinates };
}

/** Value conversions by the Elasticsearch field type of the column (column-types.ts); the rest go as sent. */
const CONVERSIONS: Readonly<Record<string, Convert>> = {
  geo_point: toGeoPoint,
  geo_shape: toGeoShape,
};

/** The columns of a blueprint whose values need converting; [] means the item goes out as sent. */
type Plan = Array<[column: string, convert: Convert]>;

const plans = new WeakMap<Blueprint, Plan>();

function planOf(definition: Blueprint): Plan {
  let plan = plans.get(definition);
  if (!plan) {
    plan = [];
    for (const [name, column] of Object.entries(definition.columns)) {
      const convert = CONVERSIONS[String(columnType(column.type).elasticsearch['type'])];
      if (convert) plan.push([name, convert]);
    }
    plans.set(definition, plan);
  }
  return plan;
}

/**
 * The document source of an item: `id`, `project_version`, `links` and its
 * columns, already validated against `definition`. Dates and datetimes go as
 * sent (the mapping's formats read both `yyyy-MM-dd HH:mm:ss` and ISO 8601);
 * `json` values go as sent into a disabled object (kept in _source, not indexed).
 */
export function serializeDocument(definition: Blueprint, item: Item): string {
  const plan = planOf(definition);
  if (!plan.length) return JSON.stringify(item);
  const doc: Record<string, unknown> = { ...item };
  for (const [name, convert] of plan) {
    const value = doc[name];
    if (value !== undefined && value !== null) doc[name] = convert(value);
  }
  return JSON.stringify(doc);
}

/** A `_bulk` action line that writes a document unless the index holds a newer (or equal) external version. */
export function indexAction(index: string, id: string, stamp: number): string {
  return `{"index":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)},"version":${stamp},"version_type":"external"}}`;
}

/** A `_bulk` delete that leaves a tombstone at `stamp`, so a late older write cannot bring the item back. */
export function deleteAction(index: string, id: string, stamp: number): string {
  return `{"delete":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)},"version":${stamp},"version_type":"external"}}`;
}

/** A geo_point as dstore wrote it (`{ lat, lon }`, or an array of them for a MultiPoint), back to GeoJSON. */
function fromGeoPoint(value: unknown, kind: string | undefined): unknown {
  const position = (p: { lat: number; lon: number }): number[] => [p.lon, p.lat];
  if (kind === 'MultiPoint') return { type: 'MultiPoint', coordinates: (Array.isArray(value) ? value : [value]).map(position) };
  return { type: 'Point', coordinates: position((Array.isArray(value) ? value[0] : value) as { lat: number; lon: number }) };
}

/** The inverse of CONVERSIONS, by the same Elasticsearch field type; geo_shape is GeoJSON already, the rest went as sent. */
const READ_BACK: Readonly<Record<string, (value: unknown, kind: string | undefined) => unknown>> = {
  geo_point: fromGeoPoint,
};

/**
 * The item a document's `_source` holds, as a client would send it for that version (the
 * scan of SPEC §9 and §12): points back to GeoJSON, everything else as it was sent. Null
 * columns are left out, like every engine's scan; an empty Multi* shape, stored as no shape
 * (toGeoShape), therefore reads back absent.
 */
export function itemFromSource(definition: Blueprint, id: string, version: number, source: Record<string, unknown>): Item {
  const item: Item = { id, project_version: version };
  const links = source['links'];
  if (links !== null && links !== undefined) item.links = links as string[];
  for (const [name, column] of Object.entries(definition.columns)) {
    const value = source[name];
    if (value === null || value === undefined) continue;
    const type = columnType(column.type);
    const read = READ_BACK[String(type.elasticsearch['type'])];
    item[name] = read ? read(value, type.geometry) : value;
  }
  return item;
}
