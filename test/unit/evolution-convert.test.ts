// The conversion table of SPEC §9, row by row, each row forwards and backwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertible, convertValue } from '../../src/evolution/convert.ts';
import { COLUMN_TYPE_NAMES } from '../../src/schema/column-types.ts';

const UUID = '66276124-ebcd-45e1-8013-825346daa283';
const POINT = { type: 'Point', coordinates: [4.9, 52.37] };
const LINE = { type: 'LineString', coordinates: [[0, 0], [1, 1]] };
const POLYGON = { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };

function converts(from: string, to: string, value: unknown, expected: unknown): void {
  assert.ok(convertible(from, to), `${from} -> ${to} should be possible`);
  assert.deepEqual(convertValue(from, to, value), { ok: true, value: expected }, `${from} -> ${to} of ${JSON.stringify(value)}`);
}

function refuses(from: string, to: string, value: unknown, message: RegExp): void {
  const result = convertValue(from, to, value);
  assert.equal(result.ok, false, `${from} -> ${to} of ${JSON.stringify(value)} should be refused, got ${JSON.stringify(result)}`);
  if (!result.ok) assert.match(result.problem, message);
}

test('same type: v, for every type', () => {
  const samples: Record<string, unknown> = { uuid: UUID, string: 's', text: 't', date: '2020-01-02', datetime: '2020-01-02 03:04:05', float: 1.5, integer: 7, boolean: true, json: { a: 1 }, point: POINT, linestring: LINE, polygon: POLYGON };
  for (const type of COLUMN_TYPE_NAMES) {
    const base = type.replace('[]', '');
    const value = type.endsWith('[]') && !['point', 'linestring', 'polygon'].includes(base) ? [samples[base]] : samples[base];
    converts(type, type, value, value);
  }
});

test('null stays null, in every direction', () => {
  for (const [from, to] of [['integer', 'float'], ['string', 'integer'], ['point', 'point[]'], ['string[]', 'string'], ['json', 'date'], ['date', 'datetime']] as const) {
    converts(from, to, null, null);
    converts(to, from, null, null);
  }
});

test('integer -> float is v; float -> integer only a whole number in 32-bit range', () => {
  converts('integer', 'float', 42, 42);
  converts('integer', 'float', -2147483648, -2147483648);
  converts('float', 'integer', 42, 42);
  converts('float', 'integer', -3, -3);
  refuses('float', 'integer', 1.5, /cannot be copied as integer: 1.5 is not a whole number in 32-bit range/);
  refuses('float', 'integer', 2147483648, /not a whole number in 32-bit range/);
  refuses('float', 'integer', -3e9, /not a whole number in 32-bit range/);
});

test('any scalar -> string or text: numbers and booleans as JSON prints them, others as they are; and back when it parses', () => {
  for (const to of ['string', 'text']) {
    converts('integer', to, 42, '42');
    converts('float', to, 1.5, '1.5');
    converts('float', to, 1e21, '1e+21');
    converts('boolean', to, false, 'false');
    converts('uuid', to, UUID, UUID);
    converts('date', to, '2020-01-02', '2020-01-02');
    converts('datetime', to, '2020-01-02T03:04:05+02:00', '2020-01-02T03:04:05+02:00');
    // backwards: the text parsed into the earlier type
    converts(to, 'integer', '42', 42);
    converts(to, 'float', '1.5', 1.5);
    converts(to, 'float', '1e+21', 1e21);
    converts(to, 'boolean', 'false', false);
    converts(to, 'boolean', 'true', true);
    converts(to, 'uuid', UUID, UUID);
    converts(to, 'date', '2020-01-02', '2020-01-02');
    converts(to, 'datetime', '2020-01-02 03:04:05', '2020-01-02 03:04:05');
  }
  converts('string', 'text', 's', 's');
  converts('text', 'string', 't', 't');
});

test('string or text -> uuid, date, datetime, integer, float, boolean is refused when the text is not a valid value', () => {
  for (const from of ['string', 'text']) {
    refuses(from, 'integer', 'x', /cannot be copied as integer: "x" is not a number/);
    refuses(from, 'integer', '1.5', /"1.5" is not a valid integer: it must be an integer/);
    refuses(from, 'integer', '3000000000', /is not a valid integer/);
    refuses(from, 'integer', ' 42', /is not a number/);
    refuses(from, 'integer', '0x10', /is not a number/);
    refuses(from, 'integer', '', /is not a number/);
    refuses(from, 'float', 'NaN', /is not a number/);
    refuses(from, 'float', '1e400', /is not a valid float/);
    refuses(from, 'boolean', 'yes', /is not true or false/);
    refuses(from, 'boolean', 'TRUE', /is not true or false/);
    refuses(from, 'uuid', 'not-a-uuid', /is not a valid uuid: it must be a UUID/);
    refuses(from, 'date', '2021-02-30', /is not a valid date/);
    refuses(from, 'datetime', '2021-01-01 25:00:00', /is not a valid datetime/);
  }
});

test('uuid <-> string <-> text is v', () => {
  for (const [a, b] of [['uuid', 'string'], ['uuid', 'text'], ['string', 'text']]) {
    converts(a!, b!, UUID, UUID);
    converts(b!, a!, UUID, UUID);
  }
});

test('date -> datetime is midnight UTC; datetime -> date is its UTC date', () => {
  converts('date', 'datetime', '2020-01-02', '2020-01-02 00:00:00');
  converts('datetime', 'date', '2020-01-02 00:00:00', '2020-01-02');
  converts('datetime', 'date', '2020-01-02 23:59:59', '2020-01-02');
  converts('datetime', 'date', '2020-01-02T23:30:00Z', '2020-01-02');
  converts('datetime', 'date', '2020-01-02T23:30:00-01:00', '2020-01-03');
  converts('datetime', 'date', '2020-01-02T00:30:00.123+02:00', '2020-01-01');
  converts('datetime', 'date', '2020-12-31T23:00:00-05:30', '2021-01-01');
  converts('datetime', 'date', '0050-03-01T01:00:00+02:00', '0050-02-28');
  refuses('datetime', 'date', '0001-01-01T00:30:00+01:00', /no UTC date in years 1 to 9999/);
  refuses('datetime', 'date', '9999-12-31T23:30:00-01:00', /no UTC date in years 1 to 9999/);
  // arrays element by element
  converts('date[]', 'datetime[]', ['2020-01-02', '2020-02-03'], ['2020-01-02 00:00:00', '2020-02-03 00:00:00']);
  converts('datetime[]', 'date[]', ['2020-01-02 00:00:00', '2020-02-03T23:00:00-02:00'], ['2020-01-02', '2020-02-04']);
});

test('T -> T[] is [v] (a Multi* geometry of one); T[] -> T the only element, null when empty, refused for more', () => {
  const scalars: Record<string, unknown> = { uuid: UUID, string: 's', text: 't', date: '2020-01-02', datetime: '2020-01-02 03:04:05', float: 1.5, integer: 7, boolean: true };
  for (const [type, value] of Object.entries(scalars)) {
    converts(type, `${type}[]`, value, [value]);
    converts(`${type}[]`, type, [value], value);
    converts(`${type}[]`, type, [], null);
    refuses(`${type}[]`, type, [value, value], /has 2 elements; only one fits/);
  }
  converts('json', 'json[]', [1, 2], [1, 2]); // json -> T is v when it is a valid T
  converts('json[]', 'json', [1, 2], [1, 2]); // any -> json is v
  converts('point', 'point[]', POINT, { type: 'MultiPoint', coordinates: [[4.9, 52.37]] });
  converts('point[]', 'point', { type: 'MultiPoint', coordinates: [[4.9, 52.37]] }, POINT);
  converts('point[]', 'point', { type: 'MultiPoint', coordinates: [] }, null);
  refuses('point[]', 'point', { type: 'MultiPoint', coordinates: [[0, 0], [1, 1]] }, /has 2 elements/);
  converts('linestring', 'linestring[]', LINE, { type: 'MultiLineString', coordinates: [LINE.coordinates] });
  converts('linestring[]', 'linestring', { type: 'MultiLineString', coordinates: [LINE.coordinates] }, LINE);
  converts('polygon', 'polygon[]', POLYGON, { type: 'MultiPolygon', coordinates: [POLYGON.coordinates] });
  converts('polygon[]', 'polygon', { type: 'MultiPolygon', coordinates: [POLYGON.coordinates] }, POLYGON);
});

test('arrays convert element by element, and a change of base and arity combines both rows', () => {
  converts('string[]', 'integer[]', ['1', '2', '-3'], [1, 2, -3]);
  converts('integer[]', 'string[]', [1, 2, -3], ['1', '2', '-3']);
  refuses('string[]', 'integer[]', ['1', 'x'], /element 1 cannot be copied as integer: "x" is not a number/);
  converts('float[]', 'integer[]', [1, 2], [1, 2]);
  refuses('float[]', 'integer[]', [1, 2.5], /element 1 .*2.5 is not a whole number/);
  converts('integer[]', 'float[]', [1], [1]);
  converts('string', 'integer[]', '5', [5]);
  converts('integer[]', 'string', [5], '5');
  converts('uuid[]', 'text[]', [UUID], [UUID]);
  converts('json[]', 'integer[]', [1, 2], [1, 2]);
  refuses('json[]', 'integer[]', [1, 'a'], /element 1 cannot be copied as integer/);
  converts('point[]', 'json[]', { type: 'MultiPoint', coordinates: [[1, 2]] }, [{ type: 'Point', coordinates: [1, 2] }]);
  converts('json[]', 'point[]', [{ type: 'Point', coordinates: [1, 2] }], { type: 'MultiPoint', coordinates: [[1, 2]] });
});

test('any -> json is v (geometry as GeoJSON); json -> T is v when it is a valid T, else refused', () => {
  const samples: Array<[string, unknown]> = [['uuid', UUID], ['string', 's'], ['text', 't'], ['date', '2020-01-02'], ['datetime', '2020-01-02 03:04:05'], ['float', 1.5], ['integer', 7], ['boolean', false], ['point', POINT], ['linestring[]', { type: 'MultiLineString', coordinates: [LINE.coordinates] }], ['string[]', ['a', 'b']], ['integer[]', [1]]];
  for (const [type, value] of samples) {
    converts(type, 'json', value, value);
    converts('json', type, value, value);
  }
  refuses('json', 'integer', 1.5, /cannot be copied as integer: 1.5 is not a valid integer: it must be an integer/);
  refuses('json', 'integer', '7', /is not a valid integer/);
  refuses('json', 'string', { a: 1 }, /is not a valid string/);
  refuses('json', 'date', '2020-13-01', /is not a valid date/);
  refuses('json', 'point', { type: 'Point', coordinates: [0, 100] }, /is not a valid point: it .*latitude 100/);
  refuses('json', 'string[]', 'a', /is not a valid string\[\]/);
});

test('anything else is impossible: a geometry and a scalar, kinds of geometry, unrelated scalars', () => {
  const impossible: Array<[string, string]> = [
    ['point', 'string'], ['point', 'integer'], ['polygon', 'point'], ['linestring[]', 'point[]'], ['point', 'polygon[]'],
    ['integer', 'boolean'], ['boolean', 'float'], ['date', 'integer'], ['uuid', 'date'], ['datetime', 'uuid'], ['integer', 'date'],
    ['string[]', 'point'], ['date[]', 'boolean[]'],
  ];
  for (const [a, b] of impossible) {
    assert.equal(convertible(a, b), false, `${a} -> ${b}`);
    assert.equal(convertible(b, a), false, `${b} -> ${a}`);
  }
  refuses('point', 'string', POINT, /cannot be converted from point to string: use a new column/);
  // every possible pair is possible both ways
  for (const a of COLUMN_TYPE_NAMES) for (const b of COLUMN_TYPE_NAMES) assert.equal(convertible(a, b), convertible(b, a), `${a} <-> ${b}`);
});
