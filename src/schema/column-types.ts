/**
 * The column-type table of SPEC §4, once, as data. Validation and every
 * engine's migrator and serializer read their column from here.
 */
import { MAX_KEYWORD_BYTES, type ValueLimits } from './limits.ts';

/** GeoJSON geometry types a column can hold. */
export type GeometryKind = 'Point' | 'MultiPoint' | 'LineString' | 'MultiLineString' | 'Polygon' | 'MultiPolygon';

/** Which family of JSON Schema keywords a column's `validation` may use. */
export type KeywordFamily = 'string' | 'number' | 'boolean' | 'date' | 'geometry' | 'json';

export interface ColumnType {
  /** The blueprint name of the type, e.g. `uuid` or `point[]`. */
  readonly name: string;
  /** Whether the JSON value is an array of scalars (`geometry` types are never arrays: they map to Multi* GeoJSON). */
  readonly array: boolean;
  /** What the client sends, in words (for error messages and docs). */
  readonly input: string;
  /** JSON Schema of one (scalar) value, before the column's own validation keywords. */
  readonly valueSchema: Readonly<Record<string, unknown>>;
  readonly keywords: KeywordFamily;
  /** GeoJSON type the value must have, for geometry columns. */
  readonly geometry?: GeometryKind;
  /** PostgreSQL column type. */
  readonly postgresql: string;
  /** Elasticsearch / OpenSearch field mapping. */
  readonly elasticsearch: Readonly<Record<string, unknown>>;
  /** The JSON kind LevelDB keeps the value as. */
  readonly level: 'string' | 'number' | 'boolean' | 'object' | 'array';
  /** UTF-8 bytes a value (or each element) may hold in every engine, when some engine limits it. */
  readonly maxStringBytes?: number;
}

/** ISO 8601 date-time with an offset, or the seed's `yyyy-MM-dd HH:mm:ss` (read as UTC). */
export const DATETIME_FORMAT = 'dstore-datetime';
export const ES_DATE_FORMAT = 'yyyy-MM-dd';
export const ES_DATETIME_FORMAT = 'yyyy-MM-dd HH:mm:ss||strict_date_optional_time||epoch_millis';

const INT32 = { minimum: -2147483648, maximum: 2147483647 };
const REAL_MAX = 3.4028234663852886e38;

interface Row {
  base: string;
  input: string;
  valueSchema: Record<string, unknown>;
  keywords: KeywordFamily;
  postgresql: string;
  elasticsearch: Record<string, unknown>;
  level: ColumnType['level'];
  maxStringBytes?: number;
}

/** Scalar types: each also exists as `name[]` (an array of values). */
const SCALARS: Row[] = [
  { base: 'uuid', input: 'a UUID string', valueSchema: { type: 'string', format: 'uuid' }, keywords: 'string', postgresql: 'UUID', elasticsearch: { type: 'keyword' }, level: 'string' },
  { base: 'string', input: 'a string', valueSchema: { type: 'string' }, keywords: 'string', postgresql: 'TEXT', elasticsearch: { type: 'keyword' }, level: 'string', maxStringBytes: MAX_KEYWORD_BYTES },
  { base: 'text', input: 'a string', valueSchema: { type: 'string' }, keywords: 'string', postgresql: 'TEXT', elasticsearch: { type: 'text' }, level: 'string' },
  { base: 'date', input: 'a date yyyy-MM-dd', valueSchema: { type: 'string', format: 'date' }, keywords: 'date', postgresql: 'DATE', elasticsearch: { type: 'date', format: ES_DATE_FORMAT }, level: 'string' },
  { base: 'datetime', input: 'a date-time yyyy-MM-dd HH:mm:ss or ISO 8601 with offset', valueSchema: { type: 'string', format: DATETIME_FORMAT }, keywords: 'date', postgresql: 'TIMESTAMP WITH TIME ZONE', elasticsearch: { type: 'date', format: ES_DATETIME_FORMAT }, level: 'string' },
  { base: 'float', input: 'a number', valueSchema: { type: 'number', minimum: -REAL_MAX, maximum: REAL_MAX }, keywords: 'number', postgresql: 'REAL', elasticsearch: { type: 'float' }, level: 'number' },
  { base: 'integer', input: 'a 32-bit integer', valueSchema: { type: 'integer', ...INT32 }, keywords: 'number', postgresql: 'INTEGER', elasticsearch: { type: 'integer' }, level: 'number' },
  { base: 'boolean', input: 'true or false', valueSchema: { type: 'boolean' }, keywords: 'boolean', postgresql: 'BOOLEAN', elasticsearch: { type: 'boolean' }, level: 'boolean' },
  { base: 'json', input: 'any JSON value', valueSchema: {}, keywords: 'json', postgresql: 'JSON', elasticsearch: { type: 'object', enabled: false }, level: 'object' },
];

/** Geometry types: the array form is the Multi* GeoJSON geometry. */
const GEOMETRIES: Array<{ base: string; single: GeometryKind; multi: GeometryKind; elasticsearch: string }> = [
  { base: 'point', single: 'Point', multi: 'MultiPoint', elasticsearch: 'geo_point' },
  { base: 'linestring', single: 'LineString', multi: 'MultiLineString', elasticsearch: 'geo_shape' },
  { base: 'polygon', single: 'Polygon', multi: 'MultiPolygon', elasticsearch: 'geo_shape' },
];

function build(): ColumnType[] {
  const types: ColumnType[] = [];
  for (const row of SCALARS) {
    const { base, ...rest } = row;
    types.push({ ...rest, name: base, array: false });
    types.push({
      ...rest,
      name: `${base}[]`,
      array: true,
      input: `an array of ${row.input.replace(/^an? /, '')} values`,
      postgresql: `${row.postgresql}[]`,
      level: 'array',
    });
  }
  for (const g of GEOMETRIES) {
    for (const [name, kind] of [[g.base, g.single], [`${g.base}[]`, g.multi]] as const) {
      types.push({
        name,
        array: false,
        input: `a GeoJSON ${kind}`,
        valueSchema: { type: 'object', geojson: kind },
        keywords: 'geometry',
        geometry: kind,
        postgresql: `GEOMETRY(${kind}, 4326)`,
        elasticsearch: { type: g.elasticsearch },
        level: 'object',
      });
    }
  }
  return types;
}

export const COLUMN_TYPES: ReadonlyMap<string, ColumnType> = new Map(build().map((t) => [t.name, t]));

export const COLUMN_TYPE_NAMES: readonly string[] = [...COLUMN_TYPES.keys()];

export function columnType(name: string): ColumnType {
  const type = COLUMN_TYPES.get(name);
  if (!type) throw new Error(`unknown column type ${name}`);
  return type;
}

/** The limits every value of a column type is checked against before any engine sees it (schema/limits.ts). */
export function valueLimitsOf(typeName: string): ValueLimits {
  const type = COLUMN_TYPES.get(typeName);
  // json numbers are kept as sent, so integers must be exact in a 64-bit float
  return { exactIntegers: type?.keywords === 'json', ...(type?.maxStringBytes === undefined ? {} : { maxStringBytes: type.maxStringBytes }) };
}

/** Validation keywords a column of each family accepts (besides `required`). */
export const KEYWORDS: Readonly<Record<KeywordFamily, readonly string[]>> = {
  string: ['minLength', 'maxLength', 'pattern', 'enum', 'const'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'enum', 'const'],
  boolean: ['enum', 'const'],
  date: ['enum', 'const', 'formatMinimum', 'formatMaximum', 'formatExclusiveMinimum', 'formatExclusiveMaximum'],
  geometry: [],
  json: ['type', 'properties', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'enum', 'const', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum'],
};

/** Keywords that apply to the array itself on `…[]` columns; the others apply to each element. */
export const ARRAY_KEYWORDS: readonly string[] = ['minItems', 'maxItems', 'uniqueItems'];
