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
