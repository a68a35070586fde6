// SPEC §6 with the in-process queue: an engine that goes away makes writes wait and
// retry, answers 202 after WRITE_TIMEOUT_MS naming it, and loses nothing; /_health says so.
// PostgreSQL is the real server, reached through a TCP proxy the test can cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';

const host = process.env['POSTGRESQL_HOST'] ?? '127.0.0.1';
const port = Number(process.env['POSTGRESQL_PORT'] ?? 5432);
const database = process.env['POSTGRESQL_DATABASE'] ?? 'dstore_test';
const user = process.env['POSTGRESQL_USER'] ?? 'postgres';
const project = `outage_${process.pid}`;

let proxy: TcpProxy;
let d: TestDstore;
let sql: pg.Client;

before(async () => {
  proxy = await new TcpProxy(host, port).start();
  d = await startDstore({ STORES: 'postgresql,level', POSTGRESQL_HOST: '127.0.0.1', POSTGRESQL_PORT: String(proxy.port), POSTGRESQL_USER: user, POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] ?? '', POSTGRESQL_DATABASE: database, WRITE_TIMEOUT_MS: '1000' });
  sql = new pg.Client({ host, port, user, database, password: process.env['POSTGRESQL_PASSWORD'] || undefined });
  await sql.connect();
});

after(async () => {
  await proxy.restore();
  await d?.request('DELETE', `/${project}`);
  await d?.stop();
  await sql?.end();
  await proxy?.stop();
});

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** One gauge of GET /_metrics for one engine (SPEC §13), read with the Prometheus text parser. */
async function gauge(name: string, engine: string): Promise<number | undefined> {
  const res = await d.running.app!.inject({ method: 'GET', url: '/_metrics' });
  return sampleValue(parsePrometheus(res.body), name, { engine });
}

async function rows(): Promise<string[]> {
  const r = await sql.query(`SELECT id::text FROM "${project}_v1"."articles" ORDER BY id`);
  return r.rows.map((x: { id: string }) => x.id);
}

test('PostgreSQL away: health says so, writes answer 202 naming it, and everything lands once it is back', { timeout: 90_000 }, async () => {
  assert.equal((await d.request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await d.request('POST', `/${project}/_version`)).status, 201);
  assert.equal((await d.request('PUT', `/${project}/article/${id(0)}`, { ...ARTICLE, id: id(0) })).status, 200);
  assert.deepEqual(await rows(), [id(0)]);
  assert.equal(await gauge('dstore_engine_up', 'postgresql'), 1);
  assert.equal(await gauge('dstore_queue_pending_writes', 'postgresql'), 0);

  await proxy.cut();
  const health = await d.request('GET', '/_health');
  assert.equal(health.status, 503);
  assert.equal(health.body.status, 'down');
  assert.equal(health.body.engines.postgresql.status, 'down');
  assert.ok(health.body.engines.postgresql.reason, 'a reason is given');
  assert.equal(health.body.engines.level.status, 'up');

  const started = Date.now();
  const answers = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => d.request('PUT', `/${project}/article/${id(i + 1)}`, { ...ARTICLE, id: id(i + 1), title_en: `during the outage ${i}` })),
    d.request('DELETE', `/${project}/article/${id(0)}`),
  ]);
  assert.ok(Date.now() - started >= 900, 'the writes waited for WRITE_TIMEOUT_MS');
  for (const a of answers) {
    assert.equal(a.status, 202, a.text);
    assert.deepEqual(a.body.pending, ['postgresql']);
  }
  // the metrics show it too: PostgreSQL down, its writes waiting, and how long the oldest has waited (queue lag)
  assert.equal(await gauge('dstore_engine_up', 'postgresql'), 0);
  assert.equal(await gauge('dstore_engine_up', 'level'), 1);
  assert.equal(await gauge('dstore_queue_pending_writes', 'postgresql'), 21);
  assert.ok((await gauge('dstore_queue_oldest_pending_seconds', 'postgresql'))! >= 0.9, 'queue lag at least WRITE_TIMEOUT_MS');
  assert.equal(await gauge('dstore_queue_pending_writes', 'level'), 0);
  // LevelDB did not wait for PostgreSQL
  const keys = await d.levelKeys();
  assert.ok(keys.includes(`${project}/v0000000001/article/${id(20)}`));

  await new Promise((r) => setTimeout(r, 3000));
  await proxy.restore();
  const deadline = Date.now() + 30_000;
  let landed: string[] = [];
  while (Date.now() < deadline) {
    landed = await rows();
    if (landed.length === 20 && !landed.includes(id(0))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(landed, Array.from({ length: 20 }, (_, i) => id(i + 1)));
  assert.equal(await gauge('dstore_engine_up', 'postgresql'), 1);
  assert.equal(await gauge('dstore_queue_pending_writes', 'postgresql'), 0);
  assert.equal(await gauge('dstore_queue_oldest_pending_seconds', 'postgresql'), 0);
  const title = await sql.query(`SELECT title_en FROM "${project}_v1"."articles" WHERE id = $1`, [id(7)]);
  assert.equal(title.rows[0].title_en, 'during the outage 6');
  assert.equal((await d.request('GET', '/_health')).status, 200);
  assert.deepEqual((await d.request('GET', '/_deadletter')).body.count, 0);
});

test('SIGTERM while PostgreSQL is away: waiting writes are answered 202, the process exits within 10 s, and the next start applies them', { timeout: 90_000 }, async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startServerProcess } = await import('../support/server-process.ts');
  const dir = await mkdtemp(join(tmpdir(), 'dstore-sigterm-'));
  const env = { STORES: 'postgresql,level', POSTGRESQL_HOST: '127.0.0.1', POSTGRESQL_PORT: String(proxy.port), POSTGRESQL_USER: user, POSTGRESQL_DATABASE: database, LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), WRITE_TIMEOUT_MS: '60000', QUEUE_CONNECTIONSTRING: '', ELASTICSEARCH_HOST: '' };
  const name = `sigterm_${process.pid}`;
  const send = (url: string, method: string, path: string, body?: unknown) => fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => undefined) }));
  try {
    const first = await startServerProcess(env);
    await send(first.url, 'PUT', `/${name}/article/_blueprint`, ARTICLE_BLUEPRINT);
    assert.equal((await send(first.url, 'POST', `/${name}/_version`)).status, 201);
    await proxy.cut();
    const waiting = Array.from({ length: 10 }, (_, i) => send(first.url, 'PUT', `/${name}/article/${id(100 + i)}`, { ...ARTICLE, id: id(100 + i) }));
    await new Promise((r) => setTimeout(r, 500));
    const exit = await first.stop('SIGTERM');
    assert.equal(exit.code, 0, first.output());
    assert.ok(exit.ms < 10_000, `exit took ${exit.ms} ms`);
    for (const answer of await Promise.all(waiting)) {
      assert.equal(answer.status, 202);
      assert.deepEqual(answer.json.pending, ['postgresql']);
    }
    await proxy.restore();
    const second = await startServerProcess(env);
    try {
      const deadline = Date.now() + 20_000;
      let count = 0;
      while (Date.now() < deadline) {
        count = Number((await sql.query(`SELECT count(*) FROM "${name}_v1"."articles"`)).rows[0].count);
        if (count === 10) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(count, 10);
      await send(second.url, 'DELETE', `/${name}`);
    } finally {
      await second.stop();
    }
  } finally {
    await proxy.restore();
    await rm(dir, { recursive: true, force: true });
  }
});

test('through RabbitMQ: PostgreSQL away for 20 s during writes; health says so, nothing is lost, every write lands once it is back', { timeout: 150_000 }, async () => {
  const amqp = (await import('amqplib')).default;
  const { topology } = await import('../../src/writes/rabbitmq/topology.ts');
  const url = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
  const prefix = `dstoretest-outage-${process.pid}`;
  const name = `outage_mq_${process.pid}`;
  process.env['QUEUE_PREFIX'] = prefix;
  process.env['WORKER_ID'] = 'outage';
  const mq = await startDstore({ STORES: 'postgresql,level', POSTGRESQL_HOST: '127.0.0.1', POSTGRESQL_PORT: String(proxy.port), POSTGRESQL_USER: user, POSTGRESQL_DATABASE: database, QUEUE_CONNECTIONSTRING: url, WRITE_TIMEOUT_MS: '1000' });
  try {
    assert.equal((await mq.request('PUT', `/${name}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
    assert.equal((await mq.request('POST', `/${name}/_version`)).status, 201);
    const put = (i: number) => mq.request('PUT', `/${name}/article/${id(i)}`, { ...ARTICLE, id: id(i), title_en: `write ${i}` });
    // the first writes may wait for the partition consumers to subscribe: 200, or 202 and applied shortly after
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => put(i)));
    assert.ok(before.every((a) => a.status === 200 || a.status === 202), JSON.stringify(before.map((a) => a.status)));
    const settle = Date.now() + 30_000;
    while (Number((await sql.query(`SELECT count(*) FROM "${name}_v1"."articles"`)).rows[0].count) < 20 && Date.now() < settle) await new Promise((r) => setTimeout(r, 200));

    await proxy.cut();
    const outageStarted = Date.now();
    let sawDown = false;
    let i = 20;
    const during: Array<{ status: number; body: any }> = [];
    while (Date.now() - outageStarted < 20_000) {
      during.push(...(await Promise.all(Array.from({ length: 10 }, () => put(i++)))));
      const health = await mq.request('GET', '/_health');
      if (health.status === 503 && health.body.engines.postgresql.status === 'down') sawDown = true;
    }
    assert.ok(sawDown, '/_health showed PostgreSQL down during the outage');
    for (const a of during) {
      assert.equal(a.status, 202, JSON.stringify(a.body));
      assert.ok(a.body.pending.includes('postgresql'));
    }
    await proxy.restore();
    const total = i;
    const deadline = Date.now() + 60_000;
    let count = 0;
    while (Date.now() < deadline) {
      count = Number((await sql.query(`SELECT count(*) FROM "${name}_v1"."articles"`)).rows[0].count);
      if (count === total) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(count, total, 'every accepted write is in PostgreSQL');
    const last = await sql.query(`SELECT title_en FROM "${name}_v1"."articles" WHERE id = $1`, [id(total - 1)]);
    assert.equal(last.rows[0].title_en, `write ${total - 1}`);
    assert.equal((await mq.request('GET', '/_deadletter')).body.count, 0);
    assert.equal((await mq.request('GET', '/_health')).status, 200);
    await mq.request('DELETE', `/${name}`);
  } finally {
    await proxy.restore();
    await mq.stop();
    delete process.env['QUEUE_PREFIX'];
    delete process.env['WORKER_ID'];
    const t = topology(prefix, Number(process.env['QUEUE_PARTITIONS'] || 8));
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    for (let p = 0; p < t.partitions; p++) await ch.deleteQueue(t.partitionQueue(p));
    await ch.deleteQueue(t.levelQueue('outage'));
    await ch.deleteQueue(t.deadLetterQueue);
    await ch.deleteExchange(t.writesExchange);
    await ch.deleteExchange(t.levelExchange);
    await conn.close();
  }
});
