// The in-process queue's journal (src/writes/journal.ts): what was promised with a 202 survives a restart.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/writes/journal.ts';
import type { Write } from '../../src/stores/store.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-journal-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const definition = normalizeBlueprint('article', { columns: { title: { type: 'string' } } });

function put(n: number): Write {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { op: 'put', project: 'myblog', version: 1, blueprint: 'article', definition, id, stamp: 1000 + n, item: { id, project_version: 1, title: `title ${n}` } };
}

function del(n: number): Write {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { op: 'delete', project: 'myblog', blueprint: 'article', id, stamp: 2000 + n, targets: [{ version: 1, definition }] };
}

async function reopen(): Promise<{ journal: Journal; pending: Array<{ seq: number; writes: Write[] }> }> {
  const journal = new Journal(dir);
  const pending = await journal.open();
  return { journal, pending };
}

test('a new journal has nothing pending; entries get increasing numbers', async () => {
  const { journal, pending } = await reopen();
  assert.deepEqual(pending, []);
  const a = await journal.append([put(1)]);
  const b = await journal.append([put(2)]);
  assert.ok(b > a);
  await journal.close();
});

test('entries without done come back on reopen, in order, with their writes intact; done entries do not', async () => {
  const first = await reopen();
  const s1 = await first.journal.append([put(1), put(2)]);
  const s2 = await first.journal.append([del(3)]);
  const s3 = await first.journal.append([put(4)]);
  await first.journal.done(s2);
  await first.journal.close();

  const second = await reopen();
  assert.deepEqual(second.pending.map((p) => p.writes), [[put(1), put(2)], [put(4)]]);
  assert.notEqual(s1, s3);
  // once marked done after the restart, they are gone for good
  for (const p of second.pending) await second.journal.done(p.seq);
  // a later entry never reuses a number that is still pending or was just marked done
  const s4 = await second.journal.append([del(5)]);
  assert.ok(second.pending.every((p) => p.seq !== s4));
  await second.journal.close();

  const third = await reopen();
  assert.deepEqual(third.pending.map((p) => p.writes), [[del(5)]]);
  await third.journal.close();
});

test('a torn last line (a crash in the middle of an append) is ignored', async () => {
  const first = await reopen();
  await first.journal.append([put(1)]);
  await first.journal.append([put(2)]);
  await first.journal.close();
  await appendFile(join(dir, 'journal.jsonl'), '{"seq":3,"writes":[{"op":"put","project":"myb');

  const second = await reopen();
  assert.deepEqual(second.pending.map((p) => p.writes), [[put(1)], [put(2)]]);
  // the journal was rewritten clean: appending after the torn line does not glue onto it
  await second.journal.append([put(6)]);
  await second.journal.close();
  const third = await reopen();
  assert.deepEqual(third.pending.map((p) => p.writes), [[put(1)], [put(2)], [put(6)]]);
  await third.journal.close();
});

test('a torn done line leaves the entry pending (it is re-applied, which stamps make harmless)', async () => {
  const first = await reopen();
  await first.journal.append([put(1)]);
  await first.journal.close();
  await appendFile(join(dir, 'journal.jsonl'), '{"done":');
  const second = await reopen();
  assert.deepEqual(second.pending.map((p) => p.writes), [[put(1)]]);
  await second.journal.close();
});

test('after a reopen the file holds only what is pending, and no temp file is left', async () => {
  const first = await reopen();
  for (let i = 0; i < 20; i++) {
    const seq = await first.journal.append([put(i)]);
    if (i !== 7) await first.journal.done(seq);
  }
  await first.journal.close();
  const second = await reopen();
  assert.deepEqual(second.pending.map((p) => p.writes), [[put(7)]]);
  await second.journal.close();
  const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
  assert.equal(lines.length, 1);
  assert.deepEqual(await readdir(dir), ['journal.jsonl']);
});

test('appends made concurrently are all on disk, each under its own number', async () => {
  const first = await reopen();
  const seqs = await Promise.all(Array.from({ length: 25 }, (_, i) => first.journal.append([put(i)])));
  assert.equal(new Set(seqs).size, 25);
  await first.journal.close();
  const second = await reopen();
  assert.deepEqual(second.pending.map((p) => p.writes), Array.from({ length: 25 }, (_, i) => [put(i)]));
  await second.journal.close();
});

test('a closed journal refuses appends', async () => {
  const { journal } = await reopen();
  await journal.close();
  await assert.rejects(journal.append([put(1)]), /closed/);
});
