// Blueprint validation and normalization (SPEC §3): defaults, types, keywords, names, table collisions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlueprintError, normalizeBlueprint, normalizeBlueprints, tableCollisions, type Problems } from '../../src/schema/blueprint.ts';
import { COLUMN_TYPE_NAMES } from '../../src/schema/column-types.ts';
import { ARTICLE_BLUEPRINT, KITCHEN_SINK_BLUEPRINT } from '../support/harness.ts';

/** The problems a blueprint is refused with (fails the test when it is accepted). */
function problemsOf(run: () => unknown): Problems {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof BlueprintError, `expected a BlueprintError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('the blueprint was accepted');
}

function columnProblems(name: string, column: unknown): Problems {
  return problemsOf(() => normalizeBlueprint('thing', { columns: { [name]: column } }));
}

test('postgresql.table and elasticsearch.type default to the blueprint name', () => {
  const bp = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });
  assert.deepEqual(bp, { postgresql: { table: 'article' }, elasticsearch: { type: 'article' }, columns: { title: { type: 'string' } } });
  const nulls = normalizeBlueprint('article', { postgresql: null, elasticsearch: {}, columns: {} });
  assert.deepEqual(nulls, { postgresql: { table: 'article' }, elasticsearch: { type: 'article' }, columns: {} });
});

test('the seed blueprint keeps its own names and columns', () => {
  const bp = normalizeBlueprint('article', ARTICLE_BLUEPRINT);
  assert.deepEqual(bp, ARTICLE_BLUEPRINT);
});

test('the kitchen sink (all 24 types) is a valid blueprint', () => {
  const bp = normalizeBlueprint('sink', KITCHEN_SINK_BLUEPRINT);
  assert.equal(Object.keys(bp.columns).length, 24);
  assert.equal(bp.postgresql.table, 'sink');
});

test('an unknown type names the column and lists every valid type', () => {
  const problems = columnProblems('title', { type: 'varchar' });
  assert.deepEqual(Object.keys(problems), ['columns.title.type']);
  const message = problems['columns.title.type']!;
  assert.match(message, /"varchar" is not a column type/);
  for (const type of COLUMN_TYPE_NAMES) assert.ok(message.includes(type), `${type} missing from: ${message}`);
  // case matters; and a missing type is the same problem
  assert.ok(columnProblems('title', { type: 'STRING' })['columns.title.type']);
  assert.match(columnProblems('title', {})['columns.title.type']!, /null is not a column type/);
  assert.ok(columnProblems('title', { type: ['string'] })['columns.title.type']);
});

test('a validation keyword that does not fit the type is refused, naming the column and the keyword', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['integer', { minLength: 1 }],
    ['string', { minimum: 1 }],
    ['string', { maxItems: 2 }], // array keyword on a scalar column
    ['boolean', { pattern: 'x' }],
    ['point', { minimum: 0 }],
    ['polygon[]', { maxItems: 2 }],
    ['date', { pattern: '^2' }],
    ['string', { type: 'integer' }], // would replace the type's own schema
    ['uuid', { format: 'email' }],
    ['string', { minLenght: 2 }], // a typo
    ['integer', { $ref: '#/x' }],
  ];
  for (const [type, validation] of cases) {
    const keyword = Object.keys(validation)[0]!;
    const problems = columnProblems('c', { type, validation });
    assert.match(problems[`columns.c.validation.${keyword}`] ?? '', /is not a validation keyword for/, `${type} ${keyword}: ${JSON.stringify(problems)}`);
  }
  // the message lists what is allowed
  assert.match(columnProblems('c', { type: 'integer', validation: { minLength: 1 } })['columns.c.validation.minLength']!, /allowed: required, minimum, maximum/);
});

test('the keywords that fit each family are accepted', () => {
  const bp = normalizeBlueprint('t', {
    columns: {
      s: { type: 'string', validation: { required: true, minLength: 1, maxLength: 5, pattern: '^[a-z]+$', enum: ['ab', 'cd'] } },
      n: { type: 'integer', validation: { minimum: 0, maximum: 9, multipleOf: 3 } },
      f: { type: 'float', validation: { exclusiveMinimum: 0 } },
      d: { type: 'date', validation: { formatMinimum: '2020-01-01' } },
      a: { type: 'text[]', validation: { minItems: 1, maxItems: 3, uniqueItems: true, maxLength: 100 } },
      j: { type: 'json', validation: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } },
      g: { type: 'point', validation: { required: false } },
    },
  });
  assert.equal(bp.columns['s']!.validation!['pattern'], '^[a-z]+$');
});

test('an invalid JSON Schema keyword value is refused (bad regex, wrong value type)', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['string', { pattern: '([a-z' }],
    ['string', { pattern: '*' }],
    ['string', { minLength: 'two' }],
    ['string', { minLength: -1 }],
    ['string', { enum: 'red' }],
    ['integer', { minimum: '0' }],
    ['json', { type: 'bogus' }],
    ['string[]', { maxItems: 1.5 }],
  ];
  for (const [type, validation] of cases) {
    const problems = columnProblems('c', { type, validation });
    assert.match(problems['columns.c.validation'] ?? '', /is not valid JSON Schema/, `${type} ${JSON.stringify(validation)}: ${JSON.stringify(problems)}`);
  }
});

test('validation must be an object, and required a boolean', () => {
  assert.ok(columnProblems('c', { type: 'string', validation: 'required' })['columns.c.validation']);
  assert.ok(columnProblems('c', { type: 'string', validation: ['required'] })['columns.c.validation']);
  assert.match(columnProblems('c', { type: 'string', validation: { required: 'yes' } })['columns.c.validation.required']!, /true or false/);
  assert.match(columnProblems('c', { type: 'string', fallback: 'x' })['columns.c.fallback']!, /is not a column member \(expected type, validation, default, renamed_from\)/);
  assert.ok(columnProblems('c', 'string')['columns.c']);
  assert.ok(columnProblems('c', null)['columns.c']);
});

test('reserved and malformed column names are refused', () => {
  for (const name of ['id', 'project_version', 'links']) assert.match(columnProblems(name, { type: 'string' })[`columns.${name}`]!, /reserved/, name);
  assert.match(columnProblems('_dstore_stamp', { type: 'string' })['columns._dstore_stamp']!, /_dstore/);
  for (const name of ['1abc', 'a-b', 'a b', 'a.b', 'é', '', 'x'.repeat(64), 'a"b', 'title; DROP TABLE articles; --', "o'neil"]) {
    const problems = columnProblems(name, { type: 'string' });
    assert.match(problems[`columns.${name}`] ?? '', /column name must match/, JSON.stringify(name));
  }
  // mixed case and leading underscores are fine; 63 characters is the longest
  const ok = normalizeBlueprint('t', { columns: { Title_EN: { type: 'string' }, _private: { type: 'string' }, ['a'.repeat(63)]: { type: 'string' } } });
  assert.equal(Object.keys(ok.columns).length, 3);
});

test('bad and injection-shaped table and index names are refused', () => {
  for (const table of ['Articles', 'a-b', '1articles', 'articles; DROP TABLE x', 'a"b', '', 'x'.repeat(64), 'public.articles', '../etc']) {
    const p = problemsOf(() => normalizeBlueprint('article', { postgresql: { table }, columns: {} }));
    assert.match(p['postgresql.table'] ?? '', /must match/, table);
    const e = problemsOf(() => normalizeBlueprint('article', { elasticsearch: { type: table }, columns: {} }));
    assert.match(e['elasticsearch.type'] ?? '', /must match/, table);
  }
  assert.ok(problemsOf(() => normalizeBlueprint('article', { postgresql: { table: 5 }, columns: {} }))['postgresql.table']);
  assert.ok(problemsOf(() => normalizeBlueprint('article', { postgresql: 'articles', columns: {} }))['postgresql']);
  assert.ok(problemsOf(() => normalizeBlueprint('article', { postgresql: { table: 'a', schema: 'public' }, columns: {} }))['postgresql.schema']);
  assert.ok(problemsOf(() => normalizeBlueprint('article', { elasticsearch: { index: 'x' }, columns: {} }))['elasticsearch.index']);
});

test('bad and injection-shaped blueprint names are refused', () => {
  for (const name of ['Article', 'a-b', '1a', 'a;drop', '"x"', '..', '', 'x'.repeat(64), 'a/b', '_a']) {
    assert.match(problemsOf(() => normalizeBlueprint(name, { columns: {} }))['name'] ?? '', /must match/, name);
  }
  assert.deepEqual(normalizeBlueprint('x'.repeat(63), { columns: {} }).postgresql.table, 'x'.repeat(63));
});

test('the blueprint itself: an object with columns and nothing unknown', () => {
  assert.ok(problemsOf(() => normalizeBlueprint('t', {}))['columns']);
  assert.ok(problemsOf(() => normalizeBlueprint('t', { columns: [] }))['columns']);
  assert.ok(problemsOf(() => normalizeBlueprint('t', { colums: {} }))['colums']);
  for (const notObject of [null, [], 'x', 1]) assert.ok(problemsOf(() => normalizeBlueprint('t', notObject))['blueprint']);
});

test('every problem of a blueprint is reported at once', () => {
  const problems = problemsOf(() =>
    normalizeBlueprint('article', {
      postgresql: { table: 'Bad' },
      columns: { id: { type: 'uuid' }, a: { type: 'nope' }, b: { type: 'integer', validation: { minLength: 1 } }, c: { type: 'string', validation: { pattern: '(' } } },
    }),
  );
  assert.deepEqual(Object.keys(problems).sort(), ['columns.a.type', 'columns.b.validation.minLength', 'columns.c.validation', 'columns.id', 'postgresql.table']);
});

test('two blueprints of one project may not share a PostgreSQL table', () => {
  const p = problemsOf(() => normalizeBlueprints({ article: { postgresql: { table: 'posts' }, columns: {} }, post: { postgresql: { table: 'posts' }, columns: {} } }));
  assert.match(p['post.postgresql.table']!, /already the table of blueprint "article"/);
  // a default table name collides with an explicit one too
  const q = problemsOf(() => normalizeBlueprints({ posts: { columns: {} }, article: { postgresql: { table: 'posts' }, columns: {} } }));
  assert.deepEqual(Object.keys(q), ['posts.postgresql.table']);
  assert.deepEqual(tableCollisions({ a: { postgresql: { table: 'a' }, elasticsearch: { type: 'x' }, columns: {} }, b: { postgresql: { table: 'b' }, elasticsearch: { type: 'x' }, columns: {} } }), {});
});

test('a whole working copy: each blueprint checked, problems prefixed by blueprint name', () => {
  const ok = normalizeBlueprints({ article: ARTICLE_BLUEPRINT, sink: KITCHEN_SINK_BLUEPRINT });
  assert.deepEqual(Object.keys(ok), ['article', 'sink']);
  assert.equal(ok['sink']!.elasticsearch.type, 'sink');
  const p = problemsOf(() => normalizeBlueprints({ article: ARTICLE_BLUEPRINT, Bad: { columns: {} }, other: { columns: { x: { type: 'nope' } } } }));
  assert.deepEqual(Object.keys(p).sort(), ['Bad.name', 'other.columns.x.type']);
  assert.ok(problemsOf(() => normalizeBlueprints([ARTICLE_BLUEPRINT]))['blueprints']);
  assert.ok(problemsOf(() => normalizeBlueprints(null))['blueprints']);
  assert.deepEqual(normalizeBlueprints({}), {});
});

test('a column default is kept when it is a valid value of the column (type and validation)', () => {
  const bp = normalizeBlueprint('t', {
    columns: {
      title: { type: 'string', default: 'untitled', validation: { required: true, maxLength: 20 } },
      views: { type: 'integer', default: 0 },
      tags: { type: 'string[]', default: [] },
      at: { type: 'point', default: { type: 'Point', coordinates: [4.9, 52.4] } },
      meta: { type: 'json', default: { a: [1] } },
      on: { type: 'boolean', default: false },
    },
  });
  assert.deepEqual(bp.columns['title'], { type: 'string', validation: { required: true, maxLength: 20 }, default: 'untitled' });
  assert.equal(bp.columns['views']!.default, 0);
  assert.deepEqual(bp.columns['tags']!.default, []);
  assert.equal(bp.columns['on']!.default, false);
  assert.deepEqual(bp.columns['at']!.default, { type: 'Point', coordinates: [4.9, 52.4] });
});

test('a default that is not a valid value of its column is refused, naming columns.<c>.default', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ type: 'integer', default: 'zero' }, /must be an integer/],
    [{ type: 'integer', default: 1.5 }, /must be an integer/],
    [{ type: 'integer', default: 2 ** 31 }, /must be <= 2147483647/],
    [{ type: 'string', default: 'much too long', validation: { maxLength: 5 } }, /must NOT have more than 5 characters/],
    [{ type: 'string', default: 'b', validation: { enum: ['a'] } }, /must be one of \["a"\]/],
    [{ type: 'date', default: '2021-02-30' }, /real calendar date/],
    [{ type: 'uuid', default: 'nope' }, /must be a UUID/],
    [{ type: 'point', default: { type: 'Point', coordinates: [200, 0] } }, /longitude 200/],
    [{ type: 'string[]', default: 'a' }, /must be of type array/],
    [{ type: 'string', default: null }, /not null/],
    [{ type: 'string', default: 'a\u0000b' }, /contains U\+0000 at character 1/],
    [{ type: 'json', default: { n: 2 ** 53 } }, /integer beyond/],
  ];
  for (const [column, message] of cases) {
    const problems = columnProblems('c', column);
    assert.deepEqual(Object.keys(problems), ['columns.c.default'], JSON.stringify(column));
    assert.match(problems['columns.c.default']!, message, JSON.stringify(column));
  }
});

test('renamed_from must name another valid column; it is kept in the normalized blueprint', () => {
  const bp = normalizeBlueprint('t', { columns: { headline: { type: 'string', renamed_from: 'title' } } });
  assert.deepEqual(bp.columns['headline'], { type: 'string', renamed_from: 'title' });
  const cases: Array<[unknown, RegExp]> = [
    ['c', /another column than this one/],
    [5, /name of a column/],
    [null, /name of a column/],
    ['1abc', /must match/],
    ['id', /reserved/],
    ['_dstore_x', /_dstore/],
  ];
  for (const [from, message] of cases) {
    const problems = columnProblems('c', { type: 'string', renamed_from: from });
    assert.deepEqual(Object.keys(problems), ['columns.c.renamed_from'], JSON.stringify(from));
    assert.match(problems['columns.c.renamed_from']!, message, JSON.stringify(from));
  }
  // both hints at once, and every problem reported together
  const both = problemsOf(() => normalizeBlueprint('t', { columns: { c: { type: 'integer', default: 'x', renamed_from: 'c' } } }));
  assert.deepEqual(Object.keys(both).sort(), ['columns.c.default', 'columns.c.renamed_from']);
});

test('validation keywords holding what no engine or catalog can keep are refused, naming columns.<c>.validation', () => {
  for (const validation of [{ enum: ['ok', 'bad\u0000'] }, { pattern: '\ud800' }, { maximum: Infinity }]) {
    const problems = problemsOf(() => normalizeBlueprint('article', { columns: { title: { type: validation.maximum ? 'float' : 'string', validation } } }));
    assert.match(problems['columns.title.validation'] ?? '', /U\+0000|surrogate|finite|number/, JSON.stringify(problems));
  }
});
