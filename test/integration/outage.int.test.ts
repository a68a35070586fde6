// SPEC §6 with the in-process queue: an engine that goes away makes writes wait and
// retry, answers 202 after WRITE_TIMEOUT_MS naming it, and loses nothing; /_health says so.
// PostgreSQL is the real server, reached through a TCP proxy the test can cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

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
  proxy.restore();
  await d?.request('DELETE', `/${project}`);
  await d?.stop();
  await sql?.end();
  await proxy?.stop();
});

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function rows(): Promise<string[]> {
  const r = await sql.query(`SELECT id::text FROM "${project}_v1"."articles" ORDER BY id`);
  return r.rows.map((x: { id: string }) => x.id);
}

test('PostgreSQL away: health says so, writes answer 202 naming it, and everything lands once it is back', async () => {
  assert.equal((await d.request('PUT', `/${project}/article/_blueprint`, ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await d.request('POST', `/${project}/_version`)).status, 201);
  assert.equal((await d.request('PUT', `/${project}/article/${id(0)}`, { ...ARTICLE, id: id(0) })).status, 200);
  assert.deepEqual(await rows(), [id(0)]);

  proxy.cut();
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
  // LevelDB did not wait for PostgreSQL
  const keys = await d.levelKeys();
  assert.ok(keys.includes(`${project}/v0000000001/article/${id(20)}`));

  await new Promise((r) => setTimeout(r, 3000));
  proxy.restore();
  const deadline = Date.now() + 30_000;
  let landed: string[] = [];
  while (Date.now() < deadline) {
    landed = await rows();
    if (landed.length === 20 && !landed.includes(id(0))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(landed, Array.from({ length: 20 }, (_, i) => id(i + 1)));
  const title = await sql.query(`SELECT title_en FROM "${project}_v1"."articles" WHERE id = $1`, [id(7)]);
  assert.equal(title.rows[0].title_en, 'during the outage 6');
  assert.equal((await d.request('GET', '/_health')).status, 200);
  assert.deepEqual((await d.request('GET', '/_deadletter')).body.count, 0);
});
