// Copies of an item along the snapshots (SPEC §9 "Copies"): multi-step walks both ways, problems keyed by the target's names, absent blueprints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyItem, type CopyResult } from '../../src/evolution/copy.ts';
import { normalizeBlueprints, type Blueprints } from '../../src/schema/blueprint.ts';
import type { Item } from '../../src/schema/item.ts';

const ID = '66276124-ebcd-45e1-8013-825346daa283';
const LINK = '0d9f5f4e-2a55-4c3e-9d0b-1f2a3b4c5d6e';
const POINT = { type: 'Point', coordinates: [4.9, 52.37] };

// v1 → v2: rename title → headline (and rank → position), drop flag, add lang with a default; v2 → v3: retype views, position, location, add score
const SNAPSHOTS: Record<number, Blueprints> = {
  1: normalizeBlueprints({
    article: {
      columns: {
        title: { type: 'string', validation: { required: true, maxLength: 20 } },
        views: { type: 'integer' },
        rank: { type: 'string' },
        location: { type: 'point' },
        flag: { type: 'boolean', validation: { required: true } },
        body: { type: 'text' },
      },
    },
  }),
  2: normalizeBlueprints({
    article: {
      columns: {
        headline: { type: 'string', renamed_from: 'title', validation: { required: true, maxLength: 50 } },
        views: { type: 'integer' },
        position: { type: 'string', renamed_from: 'rank' },
        location: { type: 'point' },
        lang: { type: 'string', default: 'nl', validation: { required: true } },
        body: { type: 'text' },
      },
    },
  }),
  3: normalizeBlueprints({
    article: {
      columns: {
        headline: { type: 'string', validation: { required: true, maxLength: 50 } },
        views: { type: 'float' },
        position: { type: 'integer' },
        location: { type: 'point[]' },
        lang: { type: 'string', validation: { required: true } },
        body: { type: 'text' },
        score: { type: 'integer' },
      },
    },
  }),
};
const snapshots = (v: number): Blueprints => SNAPSHOTS[v]!;

function copied(result: CopyResult): Item {
  assert.ok(result.ok, `expected a copy, got ${JSON.stringify(result)}`);
  return result.item;
}

function problems(result: CopyResult): Record<string, string> {
  assert.ok(!result.ok && 'problems' in result, `expected problems, got ${JSON.stringify(result)}`);
  return result.problems;
}

const V1_ITEM: Item = { id: ID, project_version: 1, links: [LINK], title: 'Hello', views: 3, rank: '12', location: POINT, flag: true, body: null };

test('v1 -> v3 forwards: renamed, converted, dropped, added from its default, links and id unchanged', () => {
  assert.deepEqual(copied(copyItem(snapshots, 'article', V1_ITEM, 1, 3)), {
    id: ID,
    project_version: 3,
    links: [LINK],
    headline: 'Hello',
    views: 3,
    position: 12,
    location: { type: 'MultiPoint', coordinates: [[4.9, 52.37]] },
    lang: 'nl',
    body: null,
  });
  assert.deepEqual(copied(copyItem(snapshots, 'article', V1_ITEM, 1, 2)), {
    id: ID, project_version: 2, links: [LINK], headline: 'Hello', views: 3, position: '12', location: POINT, lang: 'nl', body: null,
  });
});

test('v3 -> v1 backwards: un-retyped, un-renamed, added columns dropped, a required column removed after v1 left absent', () => {
  const v3: Item = { id: ID, project_version: 3, headline: 'Hi', views: 2, position: 7, location: { type: 'MultiPoint', coordinates: [[1, 2]] }, lang: 'en', score: 5 };
  assert.deepEqual(copied(copyItem(snapshots, 'article', v3, 3, 1)), {
    id: ID, project_version: 1, title: 'Hi', views: 2, rank: '7', location: { type: 'Point', coordinates: [1, 2] },
  });
  // an empty MultiPoint becomes null; no links stays no links
  const empty = copied(copyItem(snapshots, 'article', { ...v3, location: { type: 'MultiPoint', coordinates: [] } }, 3, 1));
  assert.equal(empty['location'], null);
  assert.equal(Object.hasOwn(empty, 'links'), false);
});

test('walking backwards, a dropped column comes back from the default it has in the earlier snapshot', () => {
  const withDefault: Record<number, Blueprints> = { ...SNAPSHOTS, 1: normalizeBlueprints({ article: { columns: { ...SNAPSHOTS[1]!['article']!.columns, flag: { type: 'boolean', default: false, validation: { required: true } } } } }) };
  const item = copied(copyItem((v) => withDefault[v]!, 'article', { id: ID, project_version: 2, headline: 'Hi', lang: 'en' }, 2, 1));
  assert.deepEqual(item, { id: ID, project_version: 1, title: 'Hi', flag: false });
});

test('each copy gets its own default value', () => {
  const bp = normalizeBlueprints({ note: { columns: { tags: { type: 'string[]', default: ['new'] } } } });
  const v1 = normalizeBlueprints({ note: { columns: {} } });
  const walk = (v: number): Blueprints => (v === 1 ? v1 : bp);
  const a = copied(copyItem(walk, 'note', { id: ID, project_version: 1 }, 1, 2));
  (a['tags'] as string[]).push('changed');
  const b = copied(copyItem(walk, 'note', { id: ID, project_version: 1 }, 1, 2));
  assert.deepEqual(b['tags'], ['new']);
  assert.deepEqual(bp['note']!.columns['tags']!.default, ['new']);
});

test('a copy that does not fit is refused with problems keyed by the target version\'s column names', () => {
  const v3: Item = { id: ID, project_version: 3, headline: 'x'.repeat(30), views: 1.5, position: 7, location: { type: 'MultiPoint', coordinates: [[1, 2], [3, 4]] }, lang: 'en' };
  const p = problems(copyItem(snapshots, 'article', v3, 3, 1));
  assert.deepEqual(Object.keys(p).sort(), ['location', 'title', 'views']);
  assert.match(p['title']!, /must NOT have more than 20 characters/);
  assert.match(p['views']!, /cannot be copied as integer: 1.5 is not a whole number/);
  assert.match(p['location']!, /has 2 elements; only one fits a point/);
  // a string that is no number, renamed on the way: named as the target calls it
  const q = problems(copyItem(snapshots, 'article', { ...V1_ITEM, rank: 'x' }, 1, 3));
  assert.deepEqual(Object.keys(q), ['position']);
  assert.match(q['position']!, /cannot be copied as integer: "x" is not a number/);
});

test('a required column of the target that has a source is still required', () => {
  const required: Record<number, Blueprints> = { ...SNAPSHOTS, 3: normalizeBlueprints({ article: { columns: { ...SNAPSHOTS[3]!['article']!.columns, body: { type: 'text', validation: { required: true } } } } }) };
  const p = problems(copyItem((v) => required[v]!, 'article', V1_ITEM, 1, 3));
  assert.deepEqual(p, { body: 'is required' });
});

test('a copy to its own version is validated as is', () => {
  assert.deepEqual(copied(copyItem(snapshots, 'article', V1_ITEM, 1, 1)), V1_ITEM);
});

test('absent when a snapshot on the way lacks the blueprint', () => {
  const gap: Record<number, Blueprints> = { 1: SNAPSHOTS[1]!, 2: normalizeBlueprints({ other: { columns: {} } }), 3: SNAPSHOTS[3]! };
  assert.deepEqual(copyItem((v) => gap[v]!, 'article', V1_ITEM, 1, 3), { ok: false, absent: true });
  assert.deepEqual(copyItem((v) => gap[v]!, 'article', { id: ID, project_version: 3, headline: 'h', lang: 'en' }, 3, 1), { ok: false, absent: true });
  assert.deepEqual(copyItem((v) => gap[v]!, 'article', V1_ITEM, 1, 2), { ok: false, absent: true });
});
