// SPEC §6 "A full disk loses nothing": LevelDB and the journal (QUEUE_PATH) on a 2 MB tmpfs the test
// mounts; writes until it is full, then the tmpfs is grown. Never a 500, /_health down while full, and
// every write answered 200 or 202 is in LevelDB afterwards. Then the dead-letter file on a full disk:
// the refused write waits (engine down) instead of being dropped, and is dead-lettered once space returns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';

const host = process.env['POSTGRESQL_HOST'] ?? '127.0.0.1';
const port = Number(process.env['POSTGRESQL_PORT'] ?? 5432);
const database = process.env['POSTGRESQL_DATABASE'] ?? 'dstore_test';
const user = process.env['POSTGRESQL_USER'] ?? 'postgres';
const password = process.env['POSTGRESQL_PASSWORD'] ?? '';

const mounts: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** A tmpfs of `size` at a fresh directory; unmounted in after(), whatever happened. */
async function smallDisk(size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function grow(dir: string, size: string): void {
  execFileSync('mount', ['-o', `remount,size=${size}`, dir]);
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'mounting a tmpfs needs root');
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  for (const dir of mounts) {
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
    await rm(dir, { recursive: true, force: true });
  }
});

const id = (run: number, i: number) => `00000000-0000-4000-${String(8000 + run)}-${String(i).padStart(12, '0')}`;
const big = 'x'.repeat(20 * 1024);

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    // LevelDB is closed for a moment while it is reopened after a storage failure
    const got = await probe().catch(() => false as const);
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function snapshot(d: TestDstore, project: string): Promise<void> {
  assert.equal((await d.request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await d.request('POST', `/${project}/_version`)).status, 201);
}

test('LevelDB and the journal on a full disk: never a 500, /_health down while full, every write answered 200 or 202 applied once space is back', { timeout: 180_000 }, async () => {
  const disk = await smallDisk('2m');
  const project = `fulldisk_${process.pid}`;
  const d = await startDstore({ STORES: 'level', LEVEL_PATH: join(disk, 'level'), QUEUE_PATH: join(disk, 'queue'), WRITE_TIMEOUT_MS: '1000', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '' });
  cleanups.push(() => d.stop());
  await snapshot(d, project);

  const answered: string[] = [];
  const statuses = new Map<number, number>();
  let refusedInARow = 0;
  let healthWhileFull: { status: number; body: any } | undefined;
  for (let i = 0; i < 200 && refusedInARow < 15; i++) {
    const async = i % 2 === 1 ? '?async=true' : '';
    const res = await d.request('PUT', `/${project}/article/${id(1, i)}${async}`, { ...ARTICLE, id: id(1, i), content_en: big });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok([200, 202, 503].includes(res.status), `write ${i}: ${res.status} ${res.text}`);
    if (res.status === 503) {
      assert.match(res.body.message, /journal \(QUEUE_PATH\) cannot be written|cannot be put on disk/, res.text);
      assert.match(res.body.message, /ENOSPC|no space/i, res.text);
      refusedInARow++;
      healthWhileFull ??= await d.request('GET', '/_health');
    } else {
      answered.push(id(1, i));
      refusedInARow = 0;
    }
  }
  assert.ok(refusedInARow >= 15, `the disk never filled up: ${JSON.stringify([...statuses])}`);
  assert.ok(answered.length > 10, `${answered.length} writes answered 200/202`);
  assert.ok(healthWhileFull, 'health was asked while full');
  assert.equal(healthWhileFull.status, 503);
  const shown = JSON.stringify(healthWhileFull.body);
  assert.match(shown, /No space left on device|ENOSPC/i, shown);
  assert.ok(healthWhileFull.body.engines.level.status !== 'up' || healthWhileFull.body.queue.status === 'down', shown);

  grow(disk, '64m');
  const keys = await until('every write answered 200 or 202 in LevelDB', 60_000, async () => {
    const have = new Set((await d.levelKeys()).filter((k) => k.startsWith(`${project}/v0000000001/article/`)).map((k) => k.split('/').at(-1)));
    return answered.every((x) => have.has(x)) && have;
  });
  assert.ok(keys.size >= answered.length);
  const health = await until('healthy again', 30_000, async () => {
    const h = await d.request('GET', '/_health');
    return h.status === 200 && h;
  });
  assert.equal(health.body.engines.level.status, 'up');
  const next = await d.request('PUT', `/${project}/article/${id(1, 999)}`, { ...ARTICLE, id: id(1, 999) });
  assert.equal(next.status, 200, next.text);
  assert.deepEqual((await readdir(join(disk, 'queue'))).filter((f) => f.includes('.tmp') || f.endsWith('.new')), []);
  // a write the full disk cut short left no torn line: every line of the journal still reads, so a restart replays them all
  await d.stop();
  const lines = (await readFile(join(disk, 'queue', 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
  assert.ok(lines.length > 0);
  for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `torn journal line: ${line.slice(0, 80)}…`);
});

test('the dead-letter file on a full disk: the refused write is not dropped; it waits (engine down) and is dead-lettered once space returns', { timeout: 120_000 }, async () => {
  const disk = await smallDisk('1m');
  const project = `fullletter_${process.pid}`;
  const d = await startDstore({ STORES: 'postgresql,level', POSTGRESQL_HOST: host, POSTGRESQL_PORT: String(port), POSTGRESQL_USER: user, POSTGRESQL_PASSWORD: password, POSTGRESQL_DATABASE: database, QUEUE_PATH: join(disk, 'queue'), WRITE_TIMEOUT_MS: '1000', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '' });
  cleanups.push(() => d.stop(), () => d.request('DELETE', `/${project}`));
  await snapshot(d, project);
  const sql = new pg.Client({ host, port, user, database, password: password || undefined });
  await sql.connect();
  cleanups.push(() => sql.end());
  await sql.query(`ALTER TABLE "${project}_v1"."articles" ADD CONSTRAINT poison CHECK (title_en <> 'poison')`);

  // fill the disk the dead letters and the journal live on
  await writeFile(join(disk, 'filler'), Buffer.alloc(1024 * 1024)).catch((e: NodeJS.ErrnoException) => assert.equal(e.code, 'ENOSPC'));

  const poison = d.request('PUT', `/${project}/article/${id(2, 1)}`, { ...ARTICLE, id: id(2, 1), title_en: 'poison' });
  const health = await until('postgresql down because its dead letter cannot be kept', 10_000, async () => {
    const h = await d.request('GET', '/_health');
    return h.body.engines.postgresql.status === 'down' && h;
  });
  assert.equal(health.status, 503);
  assert.match(health.body.engines.postgresql.reason, /dead letter .* cannot be kept.*(ENOSPC|no space)/i);
  assert.equal((await d.request('GET', '/_deadletter')).body.letters.filter((l: { project: string }) => l.project === project).length, 0);
  // while the queue cannot keep a promise on disk, new writes are refused with the reason, nothing stored
  const refused = await d.request('PUT', `/${project}/article/${id(2, 2)}?async=true`, { ...ARTICLE, id: id(2, 2) });
  assert.equal(refused.status, 503, refused.text);
  assert.match(refused.body.message, /journal.*(ENOSPC|no space)/i);

  // not applied everywhere within WRITE_TIMEOUT_MS and not journaled: a 503 saying so, not a 202
  const answer = await poison;
  assert.equal(answer.status, 503, answer.text);
  assert.equal(answer.body.code, 'DSTORE_WRITE_NOT_DURABLE');
  assert.match(answer.body.message, /postgresql/);

  grow(disk, '64m');
  const letters = await until('the dead letter, once space is back', 30_000, async () => {
    const list = (await d.request('GET', '/_deadletter')).body.letters.filter((l: { project: string }) => l.project === project);
    return list.length > 0 && list;
  });
  assert.deepEqual(letters.map((l: { item_id: string; engine: string }) => [l.item_id, l.engine]), [[id(2, 1), 'postgresql']]);
  assert.match(letters[0].reason, /check constraint "poison"/);
  assert.ok((await d.levelKeys()).includes(`${project}/v0000000001/article/${id(2, 1)}`), 'LevelDB applied it');
  assert.ok(!(await d.levelKeys()).includes(`${project}/v0000000001/article/${id(2, 2)}`), 'the write answered 503 was not stored');
  await until('healthy again', 30_000, async () => (await d.request('GET', '/_health')).status === 200);
  assert.deepEqual((await readdir(join(disk, 'queue'))).filter((f) => f.includes('.tmp')), []);
});
