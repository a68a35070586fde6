// SPEC §6 "One write never stops the others": a write validation lets through but PostgreSQL refuses
// (a CHECK constraint added behind dstore's back fails the whole statement, not one row) is found inside
// a batch of 1,000, dead-lettered with the reason, and the 999 others are applied; the same after kill -9
// with the batch in the journal. A lane behind an engine that never answers shows "stuck" in /_health.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';
import { startServerProcess } from '../support/server-process.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

const host = process.env['POSTGRESQL_HOST'] ?? '127.0.0.1';
const port = Number(process.env['POSTGRESQL_PORT'] ?? 5432);
const database = process.env['POSTGRESQL_DATABASE'] ?? 'dstore_test';
const user = process.env['POSTGRESQL_USER'] ?? 'postgres';
const password = process.env['POSTGRESQL_PASSWORD'] ?? '';
const pgEnv = (p: number) => ({ STORES: 'postgresql,level', POSTGRESQL_HOST: host, POSTGRESQL_PORT: String(p), POSTGRESQL_USER: user, POSTGRESQL_PASSWORD: password, POSTGRESQL_DATABASE: database, QUEUE_CONNECTIONSTRING: '', ELASTICSEARCH_HOST: '' });

let sql: pg.Client;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  sql = new pg.Client({ host, port, user, database, password: password || undefined });
  await sql.connect();
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await sql?.end();
});

const id = (run: number, i: number) => `00000000-0000-4000-${String(8000 + run)}-${String(i).padStart(12, '0')}`;
const items = (run: number, count: number, poisonAt: number) => Array.from({ length: count }, (_, i) => ({ ...ARTICLE, id: id(run, i), title_en: i === poisonAt ? 'poison' : `title ${i}` }));

async function rowCount(project: string): Promise<number> {
  return Number((await sql.query(`SELECT count(*) AS n FROM "${project}_v1"."articles"`)).rows[0].n);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Deletes the queues and exchanges of one QUEUE_PREFIX (one worker, WORKER_ID w1, 8 partitions). */
async function deleteTopology(amqp: string, prefix: string): Promise<void> {
  const { default: amqplib } = await import('amqplib');
  const conn = await amqplib.connect(amqp);
  const queues = [...Array.from({ length: 8 }, (_, p) => `${prefix}.partition.${p}`), `${prefix}.level.w1`, `${prefix}.deadletter`, `${prefix}.copies`];
  for (const [kind, name] of [...queues.map((q) => ['queue', q] as const), ['exchange', `${prefix}.writes`] as const, ['exchange', `${prefix}.level`] as const]) {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    await (kind === 'queue' ? ch.deleteQueue(name) : ch.deleteExchange(name)).catch(() => {});
    await ch.close().catch(() => {});
  }
  await conn.close();
}

/** The snapshot exists in PostgreSQL; then the CHECK constraint dstore does not know of. */
async function poisonedProject(request: (m: string, u: string, b?: unknown) => Promise<{ status: number }>, project: string): Promise<void> {
  assert.equal((await request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await request('POST', `/${project}/_version`)).status, 201);
  await sql.query(`ALTER TABLE "${project}_v1"."articles" ADD CONSTRAINT poison CHECK (title_en <> 'poison')`);
}

test('one write PostgreSQL refuses inside a batch of 1,000: exactly it is dead-lettered, the 999 others applied, the lane keeps flowing', { timeout: 120_000 }, async () => {
  const project = `poison_${process.pid}`;
  const d: TestDstore = await startDstore(pgEnv(port));
  cleanups.push(() => d.stop(), () => d.request('DELETE', `/${project}`));
  await poisonedProject(d.request, project);

  const started = Date.now();
  const bulk = await d.request('PUT', `/${project}/article`, items(1, 1000, 613));
  assert.equal(bulk.status, 502, bulk.text);
  assert.deepEqual(Object.keys(bulk.body.errors), [`${id(1, 613)}.postgresql`]);
  assert.match(bulk.body.errors[`${id(1, 613)}.postgresql`], /poison/);
  assert.ok(Date.now() - started < 30_000, 'isolated by halving, in seconds');

  assert.equal(await rowCount(project), 999);
  const missing = await sql.query(`SELECT 1 FROM "${project}_v1"."articles" WHERE id = $1`, [id(1, 613)]);
  assert.equal(missing.rowCount, 0);
  // LevelDB took all 1,000, the poison included
  assert.equal((await d.levelKeys()).filter((k) => k.startsWith(`${project}/v0000000001/article/`)).length, 1000);

  const letters = await d.request('GET', '/_deadletter');
  const mine = letters.body.letters.filter((l: { project: string }) => l.project === project);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].item_id, id(1, 613));
  assert.equal(mine[0].engine, 'postgresql');
  assert.match(mine[0].reason, /check constraint "poison"/);

  // the lane keeps flowing: the next ordinary write is applied at once
  const t = Date.now();
  const next = await d.request('PUT', `/${project}/article/${id(1, 5000)}`, { ...ARTICLE, id: id(1, 5000) });
  assert.equal(next.status, 200, next.text);
  assert.ok(Date.now() - t < 1000, `the next write took ${Date.now() - t} ms`);
  assert.equal(await rowCount(project), 1000);
});

test('the same after kill -9 with the poisoned batch in the journal: the restart isolates it, the 999 others land', { timeout: 120_000 }, async () => {
  const project = `poisonkill_${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-poison-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const proxy = await new TcpProxy(host, port).start();
  cleanups.push(() => proxy.stop());
  const env = { ...pgEnv(proxy.port), POSTGRESQL_HOST: '127.0.0.1', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), WRITE_TIMEOUT_MS: '1000' };
  const first = await startServerProcess(env);
  cleanups.push(() => first.stop('SIGKILL'));
  const request = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${current.url}${url}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
  };
  let current = first;
  await poisonedProject(request, project);

  // PostgreSQL away: the batch is journaled (202) and cannot be applied before the kill
  await proxy.cut();
  const accepted = await request('PUT', `/${project}/article?async=true`, items(2, 1000, 271));
  assert.equal(accepted.status, 202, accepted.text);
  const killed = await first.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  await proxy.restore();

  current = await startServerProcess(env);
  cleanups.push(() => current.stop('SIGKILL'));
  await until('the 999 rows after the restart', 60_000, async () => (await rowCount(project)) === 999);
  const letters = (await request('GET', '/_deadletter')).body.letters.filter((l: { project: string }) => l.project === project);
  assert.deepEqual(letters.map((l: { item_id: string; engine: string }) => [l.item_id, l.engine]), [[id(2, 271), 'postgresql']]);
  assert.match(current.output(), /re-applying 1 journaled batch/);

  const next = await request('PUT', `/${project}/article/${id(2, 5000)}`, { ...ARTICLE, id: id(2, 5000) });
  assert.equal(next.status, 200, next.text);
  assert.equal(await rowCount(project), 1000);
  assert.equal((await request('DELETE', `/${project}`)).status, 204);
  await current.stop();
});

test('a lane behind an engine that accepts and never answers: /_health says "stuck" within 2 x WRITE_TIMEOUT_MS, with the age, and recovers', { timeout: 120_000 }, async () => {
  const project = `stuck_${process.pid}`;
  const proxy = await new TcpProxy(host, port).start();
  cleanups.push(() => proxy.stop());
  const d = await startDstore({ ...pgEnv(proxy.port), POSTGRESQL_HOST: '127.0.0.1', WRITE_TIMEOUT_MS: '1000' });
  cleanups.push(() => d.stop(), () => d.request('DELETE', `/${project}`));
  assert.equal((await d.request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await d.request('POST', `/${project}/_version`)).status, 201);
  assert.equal((await d.request('GET', '/_health')).status, 200);

  proxy.silence();
  const sent = Date.now();
  const write = await d.request('PUT', `/${project}/article/${id(3, 1)}?async=true`, { ...ARTICLE, id: id(3, 1) });
  assert.equal(write.status, 202, write.text);
  const health = await until('stuck in /_health', 6_000, async () => {
    const h = await d.request('GET', '/_health');
    return h.body.engines.postgresql.status === 'stuck' && h;
  });
  const seenAfter = Date.now() - sent;
  assert.equal(health.status, 503);
  assert.equal(health.body.status, 'down');
  assert.ok(health.body.engines.postgresql.oldest_pending_ms > 2000, JSON.stringify(health.body));
  assert.match(health.body.engines.postgresql.reason, /WRITE_TIMEOUT_MS/);
  assert.equal(health.body.engines.level.status, 'up');
  // within twice WRITE_TIMEOUT_MS of becoming stuck, give or take one health probe (2 s)
  assert.ok(seenAfter < 2000 + 4000, `stuck seen after ${seenAfter} ms`);

  await proxy.restore();
  await until('healthy again', 30_000, async () => (await d.request('GET', '/_health')).status === 200);
  const row = await sql.query(`SELECT 1 FROM "${project}_v1"."articles" WHERE id = $1`, [id(3, 1)]);
  assert.equal(row.rowCount, 1);
});

test('through RabbitMQ: the poison write of a batch of 1,000 is dead-lettered, the 999 others applied; redelivered after kill -9, it is isolated again and acked, not redelivered forever', { timeout: 180_000 }, async () => {
  const amqp = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
  const prefix = `dstorepoison-${process.pid}-${Date.now().toString(36)}`;
  const project = `poisonmq_${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-poison-mq-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const proxy = await new TcpProxy(host, port).start();
  cleanups.push(() => proxy.stop());
  cleanups.push(() => deleteTopology(amqp, prefix));
  const env = { ...pgEnv(proxy.port), POSTGRESQL_HOST: '127.0.0.1', QUEUE_CONNECTIONSTRING: amqp, QUEUE_PREFIX: prefix, WORKER_ID: 'w1', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), WRITE_TIMEOUT_MS: '3000' };
  let current = await startServerProcess(env);
  cleanups.push(() => current.stop('SIGKILL'));
  const request = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${current.url}${url}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
  };
  const letters = async () => (await request('GET', '/_deadletter')).body.letters.filter((l: { project: string }) => l.project === project).map((l: { item_id: string; engine: string }) => `${l.item_id} ${l.engine}`).sort();
  await poisonedProject(request, project);

  const bulk = await request('PUT', `/${project}/article`, items(4, 1000, 420));
  assert.equal(bulk.status, 502, bulk.text);
  assert.deepEqual(Object.keys(bulk.body.errors), [`${id(4, 420)}.postgresql`]);
  assert.equal(await rowCount(project), 999);
  assert.deepEqual(await letters(), [`${id(4, 420)} postgresql`]);

  // PostgreSQL away: the worker holds the batch unacknowledged when the process is killed
  await proxy.cut();
  const accepted = await request('PUT', `/${project}/article?async=true`, items(5, 1000, 77));
  assert.equal(accepted.status, 202, accepted.text);
  await new Promise((r) => setTimeout(r, 1000));
  await current.stop('SIGKILL');
  await proxy.restore();

  current = await startServerProcess(env);
  await until('the 999 redelivered rows', 90_000, async () => (await rowCount(project)) === 1998);
  await until('the redelivered poison dead-lettered', 30_000, async () => (await letters()).length === 2);
  assert.deepEqual(await letters(), [`${id(4, 420)} postgresql`, `${id(5, 77)} postgresql`].sort());
  // acked, not redelivered forever: the partitions drain and the process is alive and answering
  await until('nothing pending', 30_000, async () => {
    const h = await request('GET', '/_health');
    return h.status === 200 && h.body.queue.pending === 0;
  });
  await new Promise((r) => setTimeout(r, 2000));
  assert.deepEqual(await letters(), [`${id(4, 420)} postgresql`, `${id(5, 77)} postgresql`].sort());
  const next = await request('PUT', `/${project}/article/${id(5, 5000)}`, { ...ARTICLE, id: id(5, 5000) });
  assert.equal(next.status, 200, next.text);
  assert.equal((await request('DELETE', `/${project}`)).status, 204);
  await current.stop();
});

test('through RabbitMQ: a worker lane behind a silent PostgreSQL shows "stuck" in /_health with the age of the batch it holds, and recovers', { timeout: 120_000 }, async () => {
  const amqp = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
  const prefix = `dstorestuck-${process.pid}-${Date.now().toString(36)}`;
  const project = `stuckmq_${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-stuck-mq-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const proxy = await new TcpProxy(host, port).start();
  cleanups.push(() => proxy.stop());
  cleanups.push(() => deleteTopology(amqp, prefix));
  const env = { ...pgEnv(proxy.port), POSTGRESQL_HOST: '127.0.0.1', QUEUE_CONNECTIONSTRING: amqp, QUEUE_PREFIX: prefix, WORKER_ID: 'w1', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), WRITE_TIMEOUT_MS: '1000' };
  const server = await startServerProcess(env);
  cleanups.push(() => server.stop('SIGKILL'));
  const request = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${server.url}${url}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
  };
  assert.equal((await request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await request('POST', `/${project}/_version`)).status, 201);
  assert.equal((await request('GET', '/_health')).status, 200);

  proxy.silence();
  const write = await request('PUT', `/${project}/article/${id(6, 1)}?async=true`, { ...ARTICLE, id: id(6, 1) });
  assert.equal(write.status, 202, write.text);
  const health = await until('stuck in /_health', 8_000, async () => {
    const h = await request('GET', '/_health');
    return h.body.engines.postgresql.status === 'stuck' && h;
  });
  assert.equal(health.status, 503);
  assert.ok(health.body.engines.postgresql.oldest_pending_ms > 2000, JSON.stringify(health.body));
  assert.equal(health.body.engines.level.status, 'up');

  await proxy.restore();
  await until('healthy again', 30_000, async () => (await request('GET', '/_health')).status === 200);
  assert.equal((await sql.query(`SELECT 1 FROM "${project}_v1"."articles" WHERE id = $1`, [id(6, 1)])).rowCount, 1);
  assert.equal((await request('DELETE', `/${project}`)).status, 204);
  await server.stop();
});
