// The column-type table against SPEC §4, written out here independently of src/schema/column-types.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLUMN_TYPE_NAMES, COLUMN_TYPES, KEYWORDS, columnType } from '../../src/schema/column-types.ts';

type Level = 'string' | 'number' | 'boolean' | 'object' | 'array';

/** SPEC §4, one row per column type: PostgreSQL type, Elasticsearch field type (+ date format), LevelDB kind, GeoJSON type. */
const SPEC: Record<string, { pg: string; es: string; format?: 'date' | 'datetime'; level: Level; geometry?: string }> = {
  'uuid': { pg: 'UUID', es: 'keyword', level: 'string' },
  'uuid[]': { pg: 'UUID[]', es: 'keyword', level: 'array' },
  'string': { pg: 'TEXT', es: 'keyword', level: 'string' },
  'string[]': { pg: 'TEXT[]', es: 'keyword', level: 'array' },
  'text': { pg: 'TEXT', es: 'text', level: 'string' },
  'text[]': { pg: 'TEXT[]', es: 'text', level: 'array' },
  'point': { pg: 'GEOMETRY(Point, 4326)', es: 'geo_point', level: 'object', geometry: 'Point' },
  'point[]': { pg: 'GEOMETRY(MultiPoint, 4326)', es: 'geo_point', level: 'object', geometry: 'MultiPoint' },
  'linestring': { pg: 'GEOMETRY(LineString, 4326)', es: 'geo_shape', level: 'object', geometry: 'LineString' },
  'linestring[]': { pg: 'GEOMETRY(MultiLineString, 4326)', es: 'geo_shape', level: 'object', geometry: 'MultiLineString' },
  'polygon': { pg: 'GEOMETRY(Polygon, 4326)', es: 'geo_shape', level: 'object', geometry: 'Polygon' },
  'polygon[]': { pg: 'GEOMETRY(MultiPolygon, 4326)', es: 'geo_shape', level: 'object', geometry: 'MultiPolygon' },
  'date': { pg: 'DATE', es: 'date', format: 'date', level: 'string' },
  'date[]': { pg: 'DATE[]', es: 'date', format: 'date', level: 'array' },
  'datetime': { pg: 'TIMESTAMP WITH TIME ZONE', es: 'date', format: 'datetime', level: 'string' },
  'datetime[]': { pg: 'TIMESTAMP WITH TIME ZONE[]', es: 'date', format: 'datetime', level: 'array' },
  'float': { pg: 'REAL', es: 'float', level: 'number' },
  'float[]': { pg: 'REAL[]', es: 'float', level: 'array' },
  'integer': { pg: 'INTEGER', es: 'integer', level: 'number' },
  'integer[]': { pg: 'INTEGER[]', es: 'integer', level: 'array' },
  'boolean': { pg: 'BOOLEAN', es: 'boolean', level: 'boolean' },
  'boolean[]': { pg: 'BOOLEAN[]', es: 'boolean', level: 'array' },
  'json': { pg: 'JSON', es: 'object', level: 'object' },
  'json[]': { pg: 'JSON[]', es: 'object', level: 'array' },
};

test('the table has exactly the 24 column types of SPEC §4', () => {
  assert.equal(Object.keys(SPEC).length, 24);
  assert.deepEqual([...COLUMN_TYPE_NAMES].sort(), Object.keys(SPEC).sort());
  assert.equal(COLUMN_TYPES.size, 24);
  for (const [name, type] of COLUMN_TYPES) assert.equal(type.name, name);
});

test('each type maps to the PostgreSQL type of SPEC §4', () => {
  const actual = Object.fromEntries(COLUMN_TYPE_NAMES.map((n) => [n, columnType(n).postgresql]));
  const expected = Object.fromEntries(Object.entries(SPEC).map(([n, row]) => [n, row.pg]));
  assert.deepEqual(actual, expected);
});

test('each type maps to the Elasticsearch field type of SPEC §4', () => {
  const actual = Object.fromEntries(COLUMN_TYPE_NAMES.map((n) => [n, columnType(n).elasticsearch['type']]));
  const expected = Object.fromEntries(Object.entries(SPEC).map(([n, row]) => [n, row.es]));
  assert.deepEqual(actual, expected);
});

test('Elasticsearch date formats: yyyy-MM-dd for dates; yyyy-MM-dd HH:mm:ss plus ISO 8601 for datetimes; none elsewhere', () => {
  for (const [name, row] of Object.entries(SPEC)) {
    const mapping = columnType(name).elasticsearch;
    const format = mapping['format'];
    if (row.format === 'date') assert.equal(format, 'yyyy-MM-dd', name);
    else if (row.format === 'datetime') {
      assert.equal(typeof format, 'string', name);
      const formats = (format as string).split('||');
      assert.equal(formats[0], 'yyyy-MM-dd HH:mm:ss', name);
      assert.ok(formats.some((f) => /^(strict_)?date_(optional_)?time/.test(f)), `${name}: ${format} has no ISO 8601 format`);
    } else assert.equal(format, undefined, name);
    // nothing else in a field mapping, except that a json object is not indexed field by field
    const extra = Object.keys(mapping).filter((k) => k !== 'type' && k !== 'format');
    if (row.es === 'object') assert.ok(extra.every((k) => k === 'enabled' && mapping[k] === false), `${name}: ${extra.join(', ')}`);
    else assert.deepEqual(extra, [], name);
  }
});

test('each type keeps the LevelDB kind of SPEC §4', () => {
  const actual = Object.fromEntries(COLUMN_TYPE_NAMES.map((n) => [n, columnType(n).level]));
  const expected = Object.fromEntries(Object.entries(SPEC).map(([n, row]) => [n, row.level]));
  assert.deepEqual(actual, expected);
});

test('geometry types carry their GeoJSON type; [] of a geometry is the Multi* geometry, not a JSON array', () => {
  for (const [name, row] of Object.entries(SPEC)) {
    const type = columnType(name);
    assert.equal(type.geometry, row.geometry, name);
    const isArray = name.endsWith('[]') && !row.geometry;
    assert.equal(type.array, isArray, name);
  }
});

test('every type has a validation keyword family, and an unknown type name throws', () => {
  for (const name of COLUMN_TYPE_NAMES) assert.ok(Array.isArray(KEYWORDS[columnType(name).keywords]), name);
  assert.throws(() => columnType('varchar'), /unknown column type varchar/);
  assert.throws(() => columnType('STRING'), /unknown column type/);
});
