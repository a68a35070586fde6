// The steps between adjacent snapshots as data, and the snapshot-time checks of SPEC §9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backwardOps, evolutionProblems, stepBetween } from '../../src/evolution/steps.ts';
import { normalizeBlueprints, type Blueprints } from '../../src/schema/blueprint.ts';

const v1 = normalizeBlueprints({
  article: {
    columns: {
      title: { type: 'string', validation: { required: true } },
      views: { type: 'integer' },
      flag: { type: 'boolean', default: true },
      rank: { type: 'string' },
    },
  },
});
const v2 = normalizeBlueprints({
  article: {
    columns: {
      headline: { type: 'string', renamed_from: 'title', validation: { required: true } },
      views: { type: 'float' },
      position: { type: 'integer', renamed_from: 'rank' },
      lang: { type: 'string', default: 'nl', validation: { required: true } },
      score: { type: 'integer' },
    },
  },
});

test('the step between two snapshots lists renames, conversions under the new names, drops and additions', () => {
  const step = stepBetween('article', 1, v1['article']!, 2, v2['article']!);
  assert.deepEqual(step, {
    blueprint: 'article',
    fromVersion: 1,
    toVersion: 2,
    ops: [
      { op: 'rename', from: 'title', to: 'headline' },
      { op: 'rename', from: 'rank', to: 'position' },
      { op: 'convert', column: 'views', from: 'integer', to: 'float' },
      { op: 'convert', column: 'position', from: 'string', to: 'integer' },
      { op: 'drop', column: 'flag' },
      { op: 'add', column: 'lang', default: 'nl' },
      { op: 'add', column: 'score' },
    ],
  });
  // derived once per pair
  assert.equal(stepBetween('article', 1, v1['article']!, 2, v2['article']!), step);
  assert.deepEqual(stepBetween('article', 1, v1['article']!, 1, v1['article']!).ops, []);
});

test('walking a step backwards inverts each op in reverse order; a dropped column comes back with its earlier default', () => {
  const step = stepBetween('article', 1, v1['article']!, 2, v2['article']!);
  assert.deepEqual(backwardOps(step, v1['article']!), [
    { op: 'drop', column: 'score' },
    { op: 'drop', column: 'lang' },
    { op: 'add', column: 'flag', default: true },
    { op: 'convert', column: 'position', from: 'integer', to: 'string' },
    { op: 'convert', column: 'views', from: 'float', to: 'integer' },
    { op: 'rename', from: 'position', to: 'rank' },
    { op: 'rename', from: 'headline', to: 'title' },
  ]);
});

test('renamed_from matters only for a column absent from the previous snapshot', () => {
  const v3 = normalizeBlueprints({ article: { columns: { headline: { type: 'string', renamed_from: 'title' }, title: { type: 'string' } } } });
  // v2 already has headline: its renamed_from is history; title is a new, empty column
  assert.deepEqual(evolutionProblems(v2, v3), {});
  assert.deepEqual(stepBetween('article', 2, v2['article']!, 3, v3['article']!).ops.filter((op) => op.op === 'rename' || op.op === 'add'), [{ op: 'add', column: 'title' }]);
});

test('a sound evolution has no problems, and neither has a first snapshot or a new blueprint', () => {
  assert.deepEqual(evolutionProblems(v1, v2), {});
  assert.deepEqual(evolutionProblems(undefined, v1), {});
  const more = normalizeBlueprints({ ...v2, comment: { columns: { body: { type: 'text', validation: { required: true } } } } });
  assert.deepEqual(evolutionProblems(v2, more), {});
  // the backwards direction of the same pair is sound too
  assert.deepEqual(evolutionProblems(v2, normalizeBlueprints({ article: { columns: { headline: { type: 'string' }, views: { type: 'integer' } } } })), {});
});

function problemsFor(previous: Blueprints | undefined, columns: Record<string, unknown>): Record<string, string> {
  return evolutionProblems(previous, normalizeBlueprints({ article: { columns } }));
}

test('an impossible conversion is refused at snapshot time, naming the blueprint and column', () => {
  const p = problemsFor(v1, { title: { type: 'point' }, views: { type: 'boolean' }, flag: { type: 'boolean' }, rank: { type: 'date' } });
  assert.deepEqual(Object.keys(p).sort(), ['article.columns.title', 'article.columns.views']);
  assert.match(p['article.columns.title']!, /cannot be converted from string to point: use a new column/);
  assert.match(p['article.columns.views']!, /cannot be converted from integer to boolean: use a new column/);
  // through a rename too
  const r = problemsFor(v1, { place: { type: 'point', renamed_from: 'title' } });
  assert.match(r['article.columns.place']!, /cannot be converted from string \(column "title"\) to point/);
});

test('a new required column needs a default or a renamed_from when the previous snapshot holds the blueprint', () => {
  const p = problemsFor(v1, { ...v1['article']!.columns, summary: { type: 'text', validation: { required: true } } });
  assert.deepEqual(Object.keys(p), ['article.columns.summary']);
  assert.match(p['article.columns.summary']!, /new required column: give it a "default".*or a "renamed_from"/);
  assert.deepEqual(problemsFor(v1, { ...v1['article']!.columns, summary: { type: 'text', default: '', validation: { required: true } } }), {});
  assert.deepEqual(problemsFor(v1, { summary: { type: 'text', renamed_from: 'title', validation: { required: true } } }), {});
  // a required column that existed before is no new column
  assert.deepEqual(problemsFor(v1, { ...v1['article']!.columns, views: { type: 'integer', validation: { required: true } } }), {});
});

test('renamed_from must name a column of the previous snapshot that the new one no longer has', () => {
  const missing = problemsFor(v1, { headline: { type: 'string', renamed_from: 'subject' } });
  assert.match(missing['article.columns.headline']!, /renamed_from "subject": the previous snapshot has no column "subject" in "article"/);
  const kept = problemsFor(v1, { title: { type: 'string' }, headline: { type: 'string', renamed_from: 'title' } });
  assert.deepEqual(Object.keys(kept), ['article.columns.headline']);
  assert.match(kept['article.columns.headline']!, /"title" is still a column of "article" in this snapshot/);
  const twice = problemsFor(v1, { a: { type: 'string', renamed_from: 'title' }, b: { type: 'string', renamed_from: 'title' } });
  assert.deepEqual(Object.keys(twice), ['article.columns.b']);
  assert.match(twice['article.columns.b']!, /column "a" is already renamed from "title"/);
  const nothingBefore = problemsFor(undefined, { headline: { type: 'string', renamed_from: 'title' } });
  assert.match(nothingBefore['article.columns.headline']!, /the previous snapshot has no blueprint "article"/);
  const otherBlueprint = evolutionProblems(v1, normalizeBlueprints({ ...v1, note: { columns: { body: { type: 'text', renamed_from: 'title' } } } }));
  assert.deepEqual(Object.keys(otherBlueprint), ['note.columns.body']);
});
