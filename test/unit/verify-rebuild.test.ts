import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
import { contentChecksum, normalizeItem } from '../../src/schema/readback.ts';
import { mergeById, PagedScan } from '../../src/jobs/sources.ts';
import { judge, referenceState, type Tally } from '../../src/jobs/verify.ts';
import { defaultRebuildSource, repairOf } from '../../src/jobs/rebuild.ts';
import type { ScannedItem } from '../../src/stores/store.ts';

const ID = 'aaaaaaaa-0000-4000-8000-000000000001';
const bp = normalizeBlueprint('thing', {
  columns: {
    at: { type: 'datetime' },
    ats: { type: 'datetime[]' },
    f: { type: 'float' },
    fs: { type: 'float[]' },
    u: { type: 'uuid' },
    shape: { type: 'polygon[]' },
    where: { type: 'point' },
    j: { type: 'json' },
    s: { type: 'string' },
  },
});

test('read-back: what LevelDB holds as sent and what PostgreSQL and Elasticsearch read back have one checksum', () => {
  const sent = { id: ID, project_version: 1, at: '2024-03-01 10:20:30', ats: ['2024-03-01 10:20:30'], f: 0.1, fs: [0.1, 2.5], u: 'AAAAAAAA-0000-4000-8000-000000000002', shape: { type: 'MultiPolygon', coordinates: [] }, where: { type: 'Point', coordinates: [1.5, 2.5], bbox: [1.5, 2.5, 1.5, 2.5] }, j: { b: 1, a: [1, { d: 2, c: 3 }] }, s: 'x', links: [] };
  const postgresql = { id: ID, project_version: 1, at: '2024-03-01T10:20:30Z', ats: ['2024-03-01T10:20:30Z'], f: Math.fround(0.1), fs: [0.1, 2.5], u: 'aaaaaaaa-0000-4000-8000-000000000002', shape: { type: 'MultiPolygon', coordinates: [] }, where: { type: 'Point', coordinates: [1.5, 2.5] }, j: { a: [1, { c: 3, d: 2 }], b: 1 }, s: 'x' };
  const elasticsearch = { id: ID, project_version: 1, at: '2024-03-01 10:20:30', ats: ['2024-03-01 10:20:30'], f: 0.1, fs: [0.1, 2.5], u: 'AAAAAAAA-0000-4000-8000-000000000002', where: { type: 'Point', coordinates: [1.5, 2.5] }, j: { b: 1, a: [1, { d: 2, c: 3 }] }, s: 'x' };
  const sum = contentChecksum(bp, sent);
  assert.equal(contentChecksum(bp, postgresql), sum);
  assert.equal(contentChecksum(bp, elasticsearch), sum);
  assert.deepEqual(normalizeItem(bp, { id: ID, project_version: 1, at: '2024-03-01T12:20:30+02:00' }), { id: ID, at: '2024-03-01T10:20:30.000Z' });
});

test('read-back: a changed value, a changed second or a float beyond REAL precision changes the checksum', () => {
  const base = { id: ID, project_version: 1, s: 'x', f: 1.5, at: '2024-03-01 10:20:30' };
  const sum = contentChecksum(bp, base);
  assert.notEqual(contentChecksum(bp, { ...base, s: 'y' }), sum);
  assert.notEqual(contentChecksum(bp, { ...base, at: '2024-03-01 10:20:31' }), sum);
  assert.notEqual(contentChecksum(bp, { ...base, f: 1.50001 }), sum);
  assert.notEqual(contentChecksum(bp, { ...base, s: undefined }), sum);
  assert.equal(contentChecksum(bp, { ...base, f: 1.5000000001 }), sum, 'below REAL precision');
});

function source(ids: string[], pageSize = 2): PagedScan {
  const items: ScannedItem[] = ids.sort().map((id) => ({ id, stamp: 1, item: { id, project_version: 1 } }));
  let reads = 0;
  return new PagedScan(async (after) => {
    reads++;
    if (reads > ids.length + 2) throw new Error('read past the end');
    return items.filter((i) => after === undefined || i.id > after).slice(0, pageSize);
  }, undefined);
}

test('mergeById walks several scans in id order, page by page, with what each holds for each id', async () => {
  const rows: Array<[string, boolean[]]> = [];
  for await (const row of mergeById([source(['a', 'c', 'd', 'f', 'g']), source(['b', 'c', 'g']), source([])])) rows.push([row.id, row.held.map(Boolean)]);
  assert.deepEqual(rows, [
    ['a', [true, false, false]],
    ['b', [false, true, false]],
    ['c', [true, true, false]],
    ['d', [true, false, false]],
    ['f', [true, false, false]],
    ['g', [true, true, false]],
  ]);
});

const tally = (): Tally => ({ count: 0, missing: { total: 0, ids: [] }, extra: { total: 0, ids: [] }, different: { total: 0, ids: [] } });

test('verify judges by majority: one engine missing, one extra, one different, each named alone', () => {
  const ok = { stamp: 5, sum: 'A' };
  assert.deepEqual(referenceState([ok, ok, null]), ok);
  assert.deepEqual(referenceState([null, null, ok]), null);
  assert.deepEqual(referenceState([ok, null]), ok, 'a tie: holding beats not holding');
  assert.deepEqual(referenceState([ok, { stamp: 6, sum: 'B' }]), { stamp: 6, sum: 'B' }, 'a tie: the newer stamp');
  const t = [tally(), tally(), tally()];
  assert.equal(judge('m', [ok, ok, null], t), true);
  assert.equal(judge('x', [null, { stamp: 1, sum: 'Z' }, null], t), true);
  assert.equal(judge('d', [ok, { stamp: 5, sum: 'B' }, ok], t), true);
  assert.equal(judge('same', [ok, ok, ok], t), false);
  assert.deepEqual(t.map((x) => [x.count, x.missing.ids, x.extra.ids, x.different.ids]), [
    [3, [], [], []],
    [4, [], ['x'], ['d']],
    [2, ['m'], [], []],
  ]);
});

test('rebuild repairs: copies with the source stamp first, restamps below the start what still differs, never touches writes since the start', () => {
  const start = 1000;
  const s = (stamp: number, sum = 'A') => ({ stamp, sum });
  assert.deepEqual(repairOf(1, s(5), null, start), { kind: 'copy' });
  assert.deepEqual(repairOf(2, s(5), null, start), { kind: 'repair' }, 'the target remembered a stamp that refused the copy');
  assert.deepEqual(repairOf(2, s(1200), null, start), { kind: 'none' }, 'a write since the start reaches the target by itself');
  assert.deepEqual(repairOf(1, s(5), s(3), start), { kind: 'copy' });
  assert.deepEqual(repairOf(1, s(5), s(5, 'B'), start), { kind: 'repair' }, 'changed behind dstore at the same stamp');
  assert.deepEqual(repairOf(1, s(5), s(7, 'B'), start), { kind: 'repair' }, 'a stamp newer than the source but older than the start is not a real write');
  assert.deepEqual(repairOf(1, s(5), s(1500, 'B'), start), { kind: 'none' }, 'a write since the start, on its way to the source');
  assert.deepEqual(repairOf(1, null, s(5), start), { kind: 'delete' });
  assert.deepEqual(repairOf(1, null, s(1500), start), { kind: 'none' }, 'created since the start');
  assert.deepEqual(repairOf(1, s(5), s(5), start), { kind: 'none' });
  assert.equal(defaultRebuildSource(['level', 'elasticsearch', 'postgresql'], 'postgresql'), 'level');
  assert.equal(defaultRebuildSource(['level', 'elasticsearch', 'postgresql'], 'elasticsearch'), 'postgresql');
  assert.equal(defaultRebuildSource(['level'], 'level'), undefined);
});
