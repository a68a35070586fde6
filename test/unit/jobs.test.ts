// Jobs (SPEC §8): progress, total before the first item, skipped items, saved cursor, resume after a restart.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jobs, SKIPPED_LISTED, type JobContext } from '../../src/jobs/jobs.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-jobs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A job over the numbers 1..total: handles `step` per round, resuming after its cursor. */
function counting(total: number, step: number, seen: number[], pause = 0) {
  return () => async (ctx: JobContext) => {
    if (ctx.job.total === 0) ctx.setTotal(total);
    let at = (ctx.job.cursor as number | undefined) ?? 0;
    while (at < total) {
      if (ctx.stopping()) return 'stopped' as const;
      const next = Math.min(total, at + step);
      for (let n = at + 1; n <= next; n++) {
        seen.push(n);
        if (n % 10 === 0) ctx.skip({ id: String(n), blueprint: 'b', reason: `${n} is round` });
      }
      ctx.advance(next - at, next);
      at = next;
      if (pause) await sleep(pause);
    }
    return { result: { last: at } };
  };
}

test('a job knows its total before its first item, counts done and skipped, and lists the first skipped with reasons', async () => {
  const jobs = new Jobs(dir);
  const seen: number[] = [];
  jobs.define('backfill', counting(2000, 100, seen));
  const started = await jobs.start('backfill', 'myblog', { version: 2 });
  assert.equal(started.total, 2000);
  const done = await jobs.finished(started.id);
  assert.equal(done.state, 'done');
  assert.equal(done.done, 2000);
  assert.equal(done.skipped, 200);
  assert.deepEqual(done.result, { last: 2000 });
  assert.ok(done.finished_at);
  assert.equal(jobs.skipped(started.id).length, SKIPPED_LISTED);
  assert.equal(jobs.skipped(started.id)[0]!.reason, '10 is round');
  const onDisk = JSON.parse(await readFile(join(dir, `${started.id}.json`), 'utf8'));
  assert.equal(onDisk.job.state, 'done');
  assert.equal((await readdir(dir)).filter((f) => f.endsWith('.tmp')).length, 0);
});

test('jobs are listed newest first and filtered by project', async () => {
  const jobs = new Jobs(dir);
  jobs.define('backfill', counting(1, 1, []));
  const a = await jobs.start('backfill', 'one');
  await sleep(5);
  const b = await jobs.start('backfill', 'two');
  await Promise.all([jobs.finished(a.id), jobs.finished(b.id)]);
  assert.deepEqual(jobs.list().map((j) => j.id), [b.id, a.id]);
  assert.deepEqual(jobs.list({ project: 'one' }).map((j) => j.id), [a.id]);
});

test('a failing job is failed with its error', async () => {
  const jobs = new Jobs(dir);
  jobs.define('verify', () => async () => {
    throw new Error('source gone');
  });
  const job = await jobs.start('verify', 'myblog');
  const end = await jobs.finished(job.id);
  assert.equal(end.state, 'failed');
  assert.equal(end.error, 'source gone');
});

test('a stopped job keeps its cursor and resumes after a restart, without handling again what it had done', async () => {
  const first = new Jobs(dir);
  const seen: number[] = [];
  first.define('backfill', counting(1000, 50, seen, 20));
  const job = await first.start('backfill', 'myblog', { version: 2 });
  while (first.get(job.id).done < 200) await sleep(10);
  await first.close();
  const stoppedAt = first.get(job.id).done;
  assert.equal(first.get(job.id).state, 'running', 'a stop is not an end');
  assert.ok(stoppedAt < 1000);

  const second = new Jobs(dir);
  const again: number[] = [];
  second.define('backfill', counting(1000, 50, again));
  await second.load();
  second.resume();
  const end = await second.finished(job.id);
  assert.equal(end.state, 'done');
  assert.equal(end.done, 1000);
  assert.equal(end.total, 1000);
  assert.equal(again[0], stoppedAt + 1, 'resumed right after its saved cursor');
  assert.equal(again.length, 1000 - stoppedAt);
});
