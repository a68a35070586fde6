// Item validation (SPEC §3, §4): every column type, required/null, JSON Schema keywords, all problems at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeBlueprint, type Column } from '../../src/schema/blueprint.ts';
import { itemProblems } from '../../src/schema/item.ts';
import { isDatetime } from '../../src/schema/ajv.ts';
import { COLUMN_TYPE_NAMES } from '../../src/schema/column-types.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem } from '../support/harness.ts';

const ID = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const U1 = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
const U2 = '9b2e4c1a-3d5f-4a6b-8c7d-0e1f2a3b4c5d';

const square = [[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4], [4.8, 52.3]];
const unclosed = [[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4]];

/** For each of the 24 types: values a column of that type takes, and values it refuses. */
const CASES: Record<string, { valid: unknown[]; invalid: unknown[] }> = {
  'uuid': {
    valid: [U1, U1.toUpperCase()],
    invalid: ['not-a-uuid', 'f47ac10b58cc4372a5670e02b2c3d479', 'f47ac10b-58cc-4372-a567-0e02b2c3d47g', `${U1} `, 42, [U1], {}],
  },
  'uuid[]': { valid: [[], [U1, U2]], invalid: [[U1, 'nope'], U1, [1], [null]] },
  'string': { valid: ['', 'exact value', 'ünïcødé ✓'], invalid: [42, true, ['a'], { a: 1 }] },
  'string[]': { valid: [[], ['red', 'green']], invalid: [['red', 1], 'red', [null], [['nested']]] },
  'text': { valid: ['The quick brown fox'], invalid: [1, false, { text: 'x' }] },
  'text[]': { valid: [['first', 'second']], invalid: [[['nested']], 'paragraph', [1]] },
  'point': {
    valid: [
      { type: 'Point', coordinates: [4.9041, 52.3676] },
      { type: 'Point', coordinates: [180, 90] },
      { type: 'Point', coordinates: [-180, -90] },
    ],
    invalid: [
      { type: 'Point', coordinates: [181, 0] }, // longitude 181
      { type: 'Point', coordinates: [-180.5, 0] },
      { type: 'Point', coordinates: [0, 90.1] }, // latitude
      { type: 'Point', coordinates: [0, -91] },
      { type: 'Point', coordinates: [4.9] },
      { type: 'Point', coordinates: ['4.9', '52.3'] },
      { type: 'Point', coordinates: [1, 2, 3, 4] },
      { type: 'Point' },
      { type: 'MultiPoint', coordinates: [[4.9, 52.3]] }, // wrong GeoJSON type
      { type: 'point', coordinates: [4.9, 52.3] },
      { type: 'Feature', geometry: { type: 'Point', coordinates: [4.9, 52.3] }, properties: {} },
      { type: 'Point', coordinates: [4.9, 52.3], properties: {} },
      [4.9, 52.3],
      'POINT(4.9 52.3)',
    ],
  },
  'point[]': {
    valid: [{ type: 'MultiPoint', coordinates: [[4.9, 52.3], [5.1, 52.1]] }, { type: 'MultiPoint', coordinates: [] }],
    invalid: [
      { type: 'Point', coordinates: [4.9, 52.3] },
      { type: 'MultiPoint', coordinates: [[4.9, 52.3], [200, 0]] },
      [{ type: 'Point', coordinates: [4.9, 52.3] }],
      { type: 'MultiPoint', coordinates: [4.9, 52.3] },
    ],
  },
  'linestring': {
    valid: [{ type: 'LineString', coordinates: [[4.9, 52.3], [5.1, 52.1]] }],
    invalid: [
      { type: 'LineString', coordinates: [[4.9, 52.3]] }, // one position
      { type: 'LineString', coordinates: [] },
      { type: 'LineString', coordinates: [[4.9, 52.3], [5.1, 95]] },
      { type: 'Point', coordinates: [4.9, 52.3] },
      { type: 'MultiLineString', coordinates: [[[4.9, 52.3], [5.1, 52.1]]] },
    ],
  },
  'linestring[]': {
    valid: [{ type: 'MultiLineString', coordinates: [[[4.9, 52.3], [5.1, 52.1]], [[4, 51], [4.5, 51.5]]] }],
    invalid: [
      { type: 'MultiLineString', coordinates: [[[4.9, 52.3], [5.1, 52.1]], [[4, 51]]] },
      { type: 'LineString', coordinates: [[4.9, 52.3], [5.1, 52.1]] },
      { type: 'MultiLineString', coordinates: [[4.9, 52.3], [5.1, 52.1]] },
    ],
  },
  'polygon': {
    valid: [
      { type: 'Polygon', coordinates: [square] },
      { type: 'Polygon', coordinates: [square, [[4.85, 52.33], [4.9, 52.33], [4.9, 52.35], [4.85, 52.33]]] }, // with a hole
    ],
    invalid: [
      { type: 'Polygon', coordinates: [unclosed] }, // unclosed ring
      { type: 'Polygon', coordinates: [square, unclosed] }, // unclosed hole
      { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [0, 0]]] }, // fewer than 4 positions
      { type: 'Polygon', coordinates: [] },
      { type: 'Polygon', coordinates: square }, // not nested in rings
      { type: 'Polygon', coordinates: [[[0, 0], [0, 100], [1, 1], [0, 0]]] },
      { type: 'MultiPolygon', coordinates: [[square]] },
      { type: 'LineString', coordinates: square },
    ],
  },
  'polygon[]': {
    valid: [{ type: 'MultiPolygon', coordinates: [[square], [[[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]] }],
    invalid: [
      { type: 'MultiPolygon', coordinates: [[square], [unclosed]] },
      { type: 'Polygon', coordinates: [square] },
      { type: 'MultiPolygon', coordinates: [square] },
    ],
  },
  'date': {
    valid: ['2024-02-29', '2023-12-31', '2000-02-29', '0001-01-01'],
    invalid: ['2023-02-29', '1900-02-29', '2023-13-01', '2023-04-31', '2023-00-10', '2023-01-00', '2023-1-5', '2023-01-01T00:00:00Z', '2023-01-01 00:00:00', '01-02-2023', 20230101, ''],
  },
  'date[]': { valid: [['2024-01-01', '2024-12-31']], invalid: [['2024-01-01', '2023-02-29'], '2024-01-01', [20240101]] },
  'datetime': {
    valid: ['2014-01-17 03:50:12', '2014-01-17T03:50:12+01:00', '2014-01-17T03:50:12Z', '2014-01-17T03:50:12.123-05:30', '2024-02-29 23:59:59', '2014-01-17T00:00:00+00:00'],
    invalid: [
      '2014-13-01 00:00:00',
      '2014-01-17T03:50:12', // ISO without an offset
      '2014-01-17 24:00:00',
      '2014-01-17T24:00:00Z',
      '2023-02-29 00:00:00',
      '2014-01-17 03:60:00',
      '2014-01-17 03:50:60',
      '2014-01-17T03:50:12+25:00',
      '2014-01-17 03:50:12+01:00',
      '2014-01-17',
      '2014-01-17 3:50:12',
      1390000000,
    ],
  },
  'datetime[]': { valid: [['2014-01-17 03:50:12', '2020-06-01T12:00:00+02:00']], invalid: [['2014-01-17 03:50:12', '2014-01-17T03:50:12'], '2014-01-17 03:50:12'] },
  'float': { valid: [1.5, 0, -3, 1e10, -2.5e-7], invalid: ['1.5', true, 1e39, -1e39, [1.5]] },
  'float[]': { valid: [[0.25, -2.5], []], invalid: [[1, '2'], 1.5, [1e39]] },
  'integer': {
    valid: [0, 42, -7, 2147483647, -2147483648],
    invalid: [1.5, 2147483648, -2147483649, 1e12, '42', true, [1]],
  },
  'integer[]': { valid: [[-2147483648, 0, 42]], invalid: [[1, 1.5], [2147483648], 1, ['1']] },
  'boolean': { valid: [true, false], invalid: ['true', 'false', 1, 0, [true]] },
  'boolean[]': { valid: [[true, false]], invalid: [[true, 'false'], true, [0]] },
  // json takes any JSON value by definition; what it refuses comes from its validation keywords (below)
  'json': { valid: [{ nested: { a: [1, 2] } }, [1, 2], 'a string', 3, true], invalid: [] },
  'json[]': { valid: [[{ a: 1 }, { b: 'two' }], [], [1, 'x', null]], invalid: [{ a: 1 }, 'x', 1] },
};

function blueprintWith(column: Column): ReturnType<typeof normalizeBlueprint> {
  return normalizeBlueprint('thing', { columns: { v: column } });
}

function item(extra: Record<string, unknown>): Record<string, unknown> {
  return { id: ID, project_version: 1, ...extra };
}

test('the cases cover all 24 column types', () => {
  assert.deepEqual(Object.keys(CASES).sort(), [...COLUMN_TYPE_NAMES].sort());
});

for (const [type, { valid, invalid }] of Object.entries(CASES)) {
  test(`${type}: valid values pass, invalid values fail on that column alone`, () => {
    const bp = blueprintWith({ type });
    for (const value of valid) assert.deepEqual(itemProblems(bp, item({ v: value })), {}, `${type} should accept ${JSON.stringify(value)}`);
    for (const value of invalid) {
      const problems = itemProblems(bp, item({ v: value }));
      assert.deepEqual(Object.keys(problems), ['v'], `${type} should refuse ${JSON.stringify(value)}`);
      assert.ok(problems['v']!.length > 0);
    }
  });
}

test('json: a json column refuses what its validation keywords exclude', () => {
  const bp = blueprintWith({ type: 'json', validation: { type: 'object', properties: { a: { type: 'integer' } } } });
  assert.deepEqual(itemProblems(bp, item({ v: { a: 1 } })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ v: 'a string' }))), ['v']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ v: { a: 'x' } }))), ['v']);
});

test('the kitchen-sink item (all 24 types) is valid against its blueprint', () => {
  const bp = normalizeBlueprint('sink', KITCHEN_SINK_BLUEPRINT);
  assert.deepEqual(itemProblems(bp, kitchenSinkItem(ID)), {});
});

test('messages say what is wrong in words', () => {
  const bp = normalizeBlueprint('t', {
    columns: { u: { type: 'uuid' }, d: { type: 'date' }, dt: { type: 'datetime' }, i: { type: 'integer' }, p: { type: 'point' }, g: { type: 'polygon' }, l: { type: 'linestring' }, b: { type: 'boolean' } },
  });
  const p = itemProblems(bp, item({
    u: 'nope',
    d: '2023-02-29',
    dt: '2014-01-17T03:50:12',
    i: 2147483648,
    p: { type: 'Point', coordinates: [181, 0] },
    g: { type: 'Polygon', coordinates: [unclosed] },
    l: { type: 'LineString', coordinates: [[1, 1]] },
    b: 'true',
  }));
  assert.match(p['u']!, /UUID/);
  assert.match(p['d']!, /calendar date/);
  assert.match(p['dt']!, /offset/);
  assert.match(p['i']!, /2147483647/);
  assert.match(p['p']!, /longitude 181/);
  assert.match(p['g']!, /not closed/);
  assert.match(p['l']!, /at least 2/);
  assert.match(p['b']!, /boolean/);
});

test('required: absent and null are refused; without required both are accepted', () => {
  const bp = normalizeBlueprint('t', { columns: { must: { type: 'string', validation: { required: true } }, may: { type: 'integer' }, may_not: { type: 'point', validation: { required: false } } } });
  assert.deepEqual(itemProblems(bp, item({})), { must: 'is required' });
  assert.deepEqual(itemProblems(bp, item({ must: null })), { must: 'is required' });
  assert.deepEqual(itemProblems(bp, item({ must: 'x', may: null, may_not: null })), {});
  assert.deepEqual(itemProblems(bp, item({ must: 'x' })), {});
  // required on an array column: an empty array is a value
  const arr = normalizeBlueprint('t', { columns: { tags: { type: 'string[]', validation: { required: true } } } });
  assert.deepEqual(itemProblems(arr, item({ tags: [] })), {});
  assert.deepEqual(itemProblems(arr, item({ tags: null })), { tags: 'is required' });
});

test('string keywords: minLength, maxLength, pattern, enum', () => {
  const bp = normalizeBlueprint('t', {
    columns: {
      code: { type: 'string', validation: { minLength: 2, maxLength: 4, pattern: '^[A-Z]+$' } },
      color: { type: 'string', validation: { enum: ['red', 'green'] } },
    },
  });
  assert.deepEqual(itemProblems(bp, item({ code: 'AB', color: 'red' })), {});
  assert.deepEqual(itemProblems(bp, item({ code: 'ABCD' })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ code: 'A' }))), ['code']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ code: 'ABCDE' }))), ['code']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ code: 'ab' }))), ['code']);
  assert.match(itemProblems(bp, item({ color: 'blue' }))['color']!, /red.*green/);
  // several keywords failing on one value are all reported
  const both = itemProblems(bp, item({ code: 'abcdef' }))['code']!;
  assert.match(both, /4/);
  assert.match(both, /pattern/);
});

test('number keywords: minimum and maximum, on integer and float', () => {
  const bp = normalizeBlueprint('t', { columns: { age: { type: 'integer', validation: { minimum: 0, maximum: 150 } }, score: { type: 'float', validation: { minimum: -1, maximum: 1, exclusiveMaximum: 1 } } } });
  assert.deepEqual(itemProblems(bp, item({ age: 0, score: -1 })), {});
  assert.deepEqual(itemProblems(bp, item({ age: 150, score: 0.99 })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ age: -1, score: 1 }))).sort(), ['age', 'score']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ age: 151, score: -1.01 }))).sort(), ['age', 'score']);
});

test("a column's minimum/maximum never widens the type's own range (32-bit integer, REAL)", () => {
  const bp = normalizeBlueprint('t', { columns: { n: { type: 'integer', validation: { minimum: -5e9, maximum: 5e9 } }, f: { type: 'float', validation: { maximum: 1e300 } }, ns: { type: 'integer[]', validation: { maximum: 1e12 } } } });
  assert.deepEqual(itemProblems(bp, item({ n: 2147483647, f: 3e38, ns: [-2147483648] })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ n: 4e9 }))), ['n']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ n: -4e9 }))), ['n']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ f: 1e100 }))), ['f']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ ns: [2147483648] }))), ['ns']);
});

test('array columns: maxItems/minItems/uniqueItems apply to the array, the other keywords to each element', () => {
  const bp = normalizeBlueprint('t', {
    columns: {
      tags: { type: 'string[]', validation: { maxItems: 2, minLength: 2, enum: ['ab', 'cd', 'efg'] } },
      nums: { type: 'integer[]', validation: { minItems: 1, uniqueItems: true, maximum: 10 } },
    },
  });
  assert.deepEqual(itemProblems(bp, item({ tags: ['ab', 'efg'], nums: [1, 10] })), {});
  // minLength 2 does not ask for two elements
  assert.deepEqual(itemProblems(bp, item({ tags: ['ab'] })), {});
  assert.deepEqual(itemProblems(bp, item({ tags: [] })), {});
  // maxItems 2 is about the array, not about the strings' length
  assert.deepEqual(Object.keys(itemProblems(bp, item({ tags: ['ab', 'cd', 'efg'] }))), ['tags']);
  // minLength and enum are about each element
  assert.match(itemProblems(bp, item({ tags: ['ab', 'x'] }))['tags']!, /\/1/);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ tags: ['zz'] }))), ['tags']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ nums: [] }))), ['nums']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ nums: [1, 1] }))), ['nums']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ nums: [11] }))), ['nums']);
});

test('date keywords: formatMinimum / formatMaximum compare dates and datetimes as time', () => {
  const bp = normalizeBlueprint('t', {
    columns: {
      d: { type: 'date', validation: { formatMinimum: '2020-01-01' } },
      dt: { type: 'datetime', validation: { formatMaximum: '2020-01-01 00:00:00' } },
    },
  });
  assert.deepEqual(itemProblems(bp, item({ d: '2020-01-01', dt: '2019-12-31 23:59:59' })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ d: '2019-12-31' }))), ['d']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ dt: '2020-01-01T00:00:01Z' }))), ['dt']);
  // 01:00 at +02:00 is the previous day 23:00 UTC: before the maximum
  assert.deepEqual(itemProblems(bp, item({ dt: '2020-01-01T01:00:00+02:00' })), {});
});

test('every failing field is listed at once, not just the first', () => {
  const bp = normalizeBlueprint('sink', KITCHEN_SINK_BLUEPRINT);
  const bad = {
    ...kitchenSinkItem(ID),
    id: 'nope',
    project_version: 'one',
    links: ['not-a-uuid'],
    c_uuid: 'x',
    c_integer: 1.5,
    c_boolean: 'yes',
    c_date: '2023-02-29',
    c_point: { type: 'Point', coordinates: [181, 0] },
    c_polygon: { type: 'Polygon', coordinates: [unclosed] },
    c_strings: ['ok', 7],
    unknown_one: 1,
    unknown_two: null,
  };
  const problems = itemProblems(bp, bad);
  assert.deepEqual(Object.keys(problems).sort(), ['c_boolean', 'c_date', 'c_integer', 'c_point', 'c_polygon', 'c_strings', 'c_uuid', 'id', 'links', 'project_version', 'unknown_one', 'unknown_two'].sort());
});

test('unknown columns are refused, including bookkeeping-like names', () => {
  const bp = normalizeBlueprint('t', { columns: { title: { type: 'string' } } });
  assert.deepEqual(itemProblems(bp, item({ title: 'x', Title: 'y' })), { Title: 'is not a column of this blueprint' });
  assert.deepEqual(Object.keys(itemProblems(bp, item({ _dstore_stamp: 1 }))), ['_dstore_stamp']);
  assert.deepEqual(Object.keys(itemProblems(bp, item({ __proto__x: 1, constructor: 1 }))).sort(), ['__proto__x', 'constructor']);
});

test('id, project_version and links: the envelope of every item', () => {
  const bp = normalizeBlueprint('t', { columns: { title: { type: 'string' } } });
  assert.deepEqual(itemProblems(bp, { project_version: 1 }), { id: 'is required' });
  assert.deepEqual(Object.keys(itemProblems(bp, { id: null, project_version: 1 })), ['id']);
  assert.deepEqual(Object.keys(itemProblems(bp, { id: 'abc', project_version: 1 })), ['id']);
  assert.deepEqual(Object.keys(itemProblems(bp, { id: ID })), ['project_version']);
  for (const v of [0, -1, 1.5, '1', null]) assert.deepEqual(Object.keys(itemProblems(bp, { id: ID, project_version: v })), ['project_version'], String(v));
  assert.deepEqual(itemProblems(bp, item({ links: [U1, U2.toUpperCase()] })), {});
  assert.deepEqual(itemProblems(bp, item({ links: null })), {});
  assert.deepEqual(itemProblems(bp, item({ links: [] })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ links: U1 }))), ['links']);
  assert.match(itemProblems(bp, item({ links: [U1, 'x'] }))['links']!, /element 1/);
  for (const notObject of [null, [], 'x', 1]) assert.deepEqual(Object.keys(itemProblems(bp, notObject)), ['item']);
});

test('datetime: the seed format and ISO 8601 with an offset; nothing else', () => {
  for (const ok of ['2014-01-17 03:50:12', '2014-01-17T03:50:12+01:00', '2014-01-17T03:50:12-11:30', '2014-01-17T03:50:12Z', '2014-01-17T03:50:12.5Z', '2000-02-29 00:00:00', '2014-01-17 23:59:59']) {
    assert.equal(isDatetime(ok), true, ok);
  }
  for (const bad of ['2014-13-01 00:00:00', '2014-01-17T03:50:12', '2014-01-17 24:00:00', '2014-01-32 00:00:00', '1900-02-29 00:00:00', '2014-01-17T03:50:12+24:00', '2014-01-17T03:50:12+01:60', '2014-01-17 03:50', '2014-01-17T03:50:12z', ' 2014-01-17 03:50:12', '2014-01-17 03:50:12\n']) {
    assert.equal(isDatetime(bad), false, JSON.stringify(bad));
  }
});

test('geometry is two-dimensional WGS 84 GeoJSON: an altitude or a crs member is refused', () => {
  const bp = normalizeBlueprint('place', { columns: { where: { type: 'point' } } });
  const base = { id: ID, project_version: 1 };
  assert.deepEqual(itemProblems(bp, { ...base, where: { type: 'Point', coordinates: [4.9, 52.3] } }), {});
  assert.match(itemProblems(bp, { ...base, where: { type: 'Point', coordinates: [4.9, 52.3, 10] } })['where']!, /\[longitude, latitude\]/);
  assert.match(itemProblems(bp, { ...base, where: { type: 'Point', coordinates: [4.9, 52.3], crs: { type: 'name', properties: { name: 'EPSG:28992' } } } })['where']!, /crs/);
});

test('dates start at year 1 (PostgreSQL has no year 0)', () => {
  const bp = normalizeBlueprint('event', { columns: { on: { type: 'date' }, at: { type: 'datetime' } } });
  const base = { id: ID, project_version: 1 };
  assert.deepEqual(itemProblems(bp, { ...base, on: '0001-01-01', at: '0001-01-01 00:00:00' }), {});
  assert.deepEqual(Object.keys(itemProblems(bp, { ...base, on: '0000-01-01', at: '0000-06-01 00:00:00' })).sort(), ['at', 'on']);
});

test('a polygon ring that crosses itself is refused before any engine sees it', () => {
  const bp = normalizeBlueprint('area', { columns: { shape: { type: 'polygon' } } });
  const base = { id: ID, project_version: 1 };
  const bowtie = [[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]];
  assert.match(itemProblems(bp, { ...base, shape: { type: 'Polygon', coordinates: [bowtie] } })['shape']!, /crosses itself/);
  const withHole = [square, [[4.85, 52.32], [4.95, 52.32], [4.95, 52.38], [4.85, 52.38], [4.85, 52.32]]];
  assert.deepEqual(itemProblems(bp, { ...base, shape: { type: 'Polygon', coordinates: withHole } }), {});
});

test('polygons the search engines cannot index are refused up front: no area, repeated positions, holes outside the shell', () => {
  const bp = normalizeBlueprint('area', { columns: { shape: { type: 'polygon' } } });
  const base = { id: ID, project_version: 1 };
  const problem = (coordinates: unknown) => itemProblems(bp, { ...base, shape: { type: 'Polygon', coordinates } })['shape'] ?? '';
  assert.match(problem([[[0, 0], [1, 1], [2, 2], [0, 0]]]), /no area/);
  assert.match(problem([[[0, 0], [1, 0], [1, 0], [0, 1], [0, 0]]]), /repeats position/);
  assert.match(problem([[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], [[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]]), /not inside the outer ring/);
  assert.equal(problem([[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]), '');
});

// Values no engine may choke on (SPEC §4), reached before ajv for every column type.
const HOSTILE_STRINGS: Array<[string, string, RegExp]> = [
  ['U+0000', 'a\u0000b', /contains U\+0000 at character 1/],
  ['a lone high surrogate', '\ud800', /unpaired UTF-16 surrogate U\+D800/],
  ['a lone low surrogate', 'x\udfff', /unpaired UTF-16 surrogate U\+DFFF/],
];

/** A value of the column's type carrying `s` somewhere a string can be. */
function carrying(type: string, s: string): unknown {
  if (type.startsWith('json')) return type.endsWith('[]') ? [{ deep: [s] }] : { deep: { list: [1, s] } };
  if (/^(point|linestring|polygon)/.test(type)) return { type: s, coordinates: [] };
  return type.endsWith('[]') ? [s] : s;
}

test('U+0000 and unpaired surrogates are refused in every column type, naming the field and where in the value', () => {
  const columns = Object.fromEntries(COLUMN_TYPE_NAMES.map((t, i) => [`c${i}`, { type: t }]));
  const bp = normalizeBlueprint('all', { columns });
  for (const [what, s, expected] of HOSTILE_STRINGS) {
    COLUMN_TYPE_NAMES.forEach((type, i) => {
      const problems = itemProblems(bp, item({ [`c${i}`]: carrying(type, s) }));
      assert.deepEqual(Object.keys(problems), [`c${i}`], `${what} in ${type}`);
      assert.match(problems[`c${i}`]!, expected, `${what} in ${type}`);
    });
  }
  const json = itemProblems(bp, item({ [`c${COLUMN_TYPE_NAMES.indexOf('json')}`]: { deep: { list: [1, 'a\u0000'] } } }));
  assert.match(Object.values(json)[0]!, /^holds a string at \/deep\/list\/1 that contains U\+0000/);
});

test('a key with U+0000 or a lone surrogate is refused: in a json value, in the item itself (unknown member), and in GeoJSON', () => {
  const bp = normalizeBlueprint('t', { columns: { data: { type: 'json' }, where: { type: 'point' } } });
  assert.match(itemProblems(bp, item({ data: { ok: { 'bad\u0000key': 1 } } }))['data']!, /object key "bad\\u0000key" in the object at \/ok that contains U\+0000/);
  assert.match(itemProblems(bp, item({ data: { '\udc00': 1 } }))['data']!, /object key "\\udc00" that contains an unpaired UTF-16 surrogate/);
  assert.match(itemProblems(bp, item({ where: { type: 'Point', coordinates: [1, 2], 'x\u0000': 1 } }))['where']!, /object key/);
  const own = itemProblems(bp, item({ 'title\u0000': 'x' }));
  assert.deepEqual(Object.keys(own), ['title\u0000']);
  assert.match(own['title\u0000']!, /is a member name that contains U\+0000 at character 5/);
});

test('id and links get the limits too', () => {
  const bp = normalizeBlueprint('t', { columns: { title: { type: 'string' } } });
  assert.match(itemProblems(bp, { id: `${ID}\u0000`, project_version: 1 })['id']!, /U\+0000/);
  assert.match(itemProblems(bp, item({ links: [U1, '\ud800'] }))['links']!, /holds a string at \/1 that contains an unpaired UTF-16 surrogate/);
  assert.match(itemProblems(bp, item({ links: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] }))['links']!, /deeper than 32/);
});

test('a valid surrogate pair is accepted in every string column and in json keys', () => {
  const bp = normalizeBlueprint('t', { columns: { s: { type: 'string' }, t: { type: 'text[]' }, data: { type: 'json' } } });
  assert.deepEqual(itemProblems(bp, item({ s: '\ud83d\ude00', t: ['smile \ud83d\ude00'], data: { '\ud83d\ude00': ['\ud83d\ude00'] } })), {});
});

/** `levels` arrays inside each other around a 1. */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

test('json values: 32 levels accepted, 33 refused; the same for json[] and for any column', () => {
  const bp = normalizeBlueprint('t', { columns: { data: { type: 'json' }, many: { type: 'json[]' }, tags: { type: 'string[]' } } });
  assert.deepEqual(itemProblems(bp, item({ data: nested(32) })), {});
  assert.deepEqual(itemProblems(bp, item({ many: nested(32) })), {});
  assert.match(itemProblems(bp, item({ data: nested(33) }))['data']!, /nested deeper than 32 levels of arrays and objects \(level 33 at \/0/);
  assert.match(itemProblems(bp, item({ many: nested(33) }))['many']!, /deeper than 32/);
  assert.match(itemProblems(bp, item({ tags: nested(33) }))['tags']!, /deeper than 32/, 'the limit comes before the type check');
  const tenThousand = JSON.parse(`{"data": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
  assert.match(itemProblems(bp, item(tenThousand))['data']!, /deeper than 32/);
});

test('numbers: ±1e400 refused everywhere; in json values integers beyond ±(2^53 − 1) are refused, 2^53 − 1 is kept', () => {
  const bp = normalizeBlueprint('t', { columns: { data: { type: 'json' }, many: { type: 'json[]' }, ratio: { type: 'float' }, count: { type: 'integer' } } });
  const parsed = (text: string) => JSON.parse(`{"id": "${ID}", "project_version": 1, ${text}}`);
  assert.match(itemProblems(bp, parsed('"data": {"n": 1e400}'))['data']!, /holds a number at \/n beyond the range of a 64-bit float \(it parsed as Infinity\)/);
  assert.match(itemProblems(bp, parsed('"data": -1e400'))['data']!, /is a number beyond the range .*-Infinity/);
  assert.match(itemProblems(bp, parsed('"ratio": -1e400'))['ratio']!, /-Infinity/);
  assert.match(itemProblems(bp, parsed('"count": 1e400'))['count']!, /Infinity/);
  assert.deepEqual(itemProblems(bp, parsed('"data": {"n": 9007199254740991, "m": -9007199254740991}')), {});
  assert.match(itemProblems(bp, parsed('"data": {"n": 9007199254740993}'))['data']!, /at \/n that is an integer beyond ±9007199254740991/);
  assert.match(itemProblems(bp, parsed('"data": [9007199254740992]'))['data']!, /integer beyond/);
  assert.match(itemProblems(bp, parsed('"many": [{"n": 12345678901234567890}]'))['many']!, /at \/0\/n that is an integer beyond/);
  assert.match(itemProblems(bp, parsed('"project_version": 1e400'.replace('"project_version"', '"data": 1, "x"')))['x']!, /Infinity/, 'an unknown member with Infinity');
  assert.deepEqual(itemProblems(bp, parsed('"data": {"f": 0.1, "e": 1.5e-300}')), {});
});

test('__proto__ as an item member is refused like any unknown member (plain assignment would drop the problem)', () => {
  const bp = normalizeBlueprint('t', { columns: { title: { type: 'string' } } });
  const problems = itemProblems(bp, JSON.parse(`{"id": "${ID}", "project_version": 1, "__proto__": {"a": 1}}`));
  assert.deepEqual(Object.keys(problems), ['__proto__']);
  assert.equal(JSON.stringify(problems), '{"__proto__":"is not a column of this blueprint"}');
  assert.deepEqual(Object.keys(itemProblems(bp, JSON.parse(`{"id": "${ID}", "project_version": 1, "__proto__": "\\u0000"}`))), ['__proto__']);
});

test('patterns run in linear time: ^(a+)+$ against 28 × a and ! answers at once (RegExp backtracks for seconds)', () => {
  const bp = normalizeBlueprint('t', { columns: { s: { type: 'string', validation: { pattern: '^(a+)+$' } }, data: { type: 'json', validation: { properties: { k: { type: 'string', pattern: '(x+x+)+y' } } } } } });
  const started = performance.now();
  assert.match(itemProblems(bp, item({ s: `${'a'.repeat(28)}!`, data: { k: 'x'.repeat(5000) } }))['s']!, /must match pattern/);
  assert.ok(performance.now() - started < 100, `took ${performance.now() - started} ms`);
  assert.deepEqual(itemProblems(bp, item({ s: 'a'.repeat(28) })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ data: { k: 'x'.repeat(5000) } }))), ['data']);
});

test('patterns keep JavaScript syntax and meaning: escapes, classes, anchors, named groups, \\u escapes', () => {
  const bp = normalizeBlueprint('t', { columns: {
    code: { type: 'string', validation: { pattern: '^\\d{3}-[A-Z]{2}$' } },
    word: { type: 'string', validation: { pattern: '\\bcat\\b' } },
    accent: { type: 'string', validation: { pattern: '^caf\\u00e9$' } },
    named: { type: 'string', validation: { pattern: '^(?<year>\\d{4})/\\d{2}$' } },
    letters: { type: 'string', validation: { pattern: '^\\p{L}+$' } },
  } });
  assert.deepEqual(itemProblems(bp, item({ code: '123-AB', word: 'a cat sat', accent: 'café', named: '2024/01', letters: 'ünï' })), {});
  assert.deepEqual(Object.keys(itemProblems(bp, item({ code: '123-AB\n', word: 'concatenate', accent: 'cafe', named: '24/01', letters: 'a1' }))).sort(), ['accent', 'code', 'letters', 'named', 'word']);
});

test('a pattern RE2 cannot run (backreference, lookaround) is refused by the blueprint, naming the column and why', () => {
  for (const pattern of ['(a)\\1', '(?=a)b', '(?!a)b', '(?<=a)b', '(?<!a)b']) {
    assert.throws(() => normalizeBlueprint('t', { columns: { s: { type: 'string', validation: { pattern } } } }), (err: Error & { problems?: Record<string, string> }) => {
      assert.deepEqual(Object.keys(err.problems ?? {}), ['columns.s.validation'], pattern);
      assert.match(err.problems!['columns.s.validation']!, /linear time \(RE2 syntax, no backreferences or lookaround\)/, pattern);
      assert.ok(err.problems!['columns.s.validation']!.includes(JSON.stringify(pattern)), pattern);
      return true;
    });
  }
  assert.throws(() => normalizeBlueprint('t', { columns: { data: { type: 'json', validation: { properties: { k: { pattern: '(a)\\1' } } } } } }), (err: Error & { problems?: Record<string, string> }) => {
    assert.match(err.problems?.['columns.data.validation'] ?? '', /linear time/, 'a pattern nested in a json schema too');
    return true;
  });
});

test('string and string[] over 32,766 UTF-8 bytes are refused with "use text"; text and json take them', () => {
  const bp = normalizeBlueprint('long', { columns: { s: { type: 'string' }, a: { type: 'string[]' }, t: { type: 'text' }, ta: { type: 'text[]' }, j: { type: 'json' } } });
  const long = 'x'.repeat(32_767);
  assert.deepEqual(itemProblems(bp, item({ s: 'x'.repeat(32_766), a: ['ok', 'x'.repeat(32_766)] })), {});
  const p = itemProblems(bp, item({ s: long, a: ['ok', long], t: long, ta: [long], j: { long } }));
  assert.deepEqual(Object.keys(p).sort(), ['a', 's']);
  assert.match(p['s']!, /^is a string of 32767 UTF-8 bytes, over the 32,766 .*use text for long values$/);
  assert.match(p['a']!, /^holds a string at \/1 of 32767 UTF-8 bytes.*use text for long values$/);
  assert.match(itemProblems(bp, item({ s: '€'.repeat(10_923) }))['s']!, /of 32769 UTF-8 bytes/, 'three-byte characters count three');
});
