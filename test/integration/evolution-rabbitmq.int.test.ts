/**
 * Schema evolution through RabbitMQ (SPEC §9): an API process and two worker
 * processes, each keeping its own LevelDB copy; PostgreSQL (and the search
 * engine when ELASTICSEARCH_HOST is set) shared through the partitions. The
 * back-fill travels the ordinary write path, so both copies are filled; a
 * retired version leaves both copies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ClassicLevel } from 'classic-level';
import { startDstore } from '../support/harness.ts';
import { spawnWorker, type Worker } from '../support/workers.ts';
import { freePort } from '../support/server-process.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';
import { PG } from '../support/postgresql.ts';

const AMQP = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const ES_HOST = process.env['ELASTICSEARCH_HOST'] || '';
const STORES = ['postgresql', ES_HOST && 'elasticsearch', 'level'].filter(Boolean).join(',');
const letters = (hex: string) => hex.replace(/\d/g, (d) => 'abcdefghij'[+d]!);
const P = `evrq_${letters(randomBytes(3).toString('hex'))}`;
const PREFIX = `dstoretest-evolution-${Date.now().toString(36)}`;
const run = promisify(execFile);

let db: pg.Client;

const V1 = { postgresql: { table: 'articles' }, columns: { title: { type: 'string', validation: { required: true } }, score: { type: 'integer' } } };
const V2 = { postgresql: { table: 'articles' }, columns: { headline: { type: 'string', renamed_from: 'title', validation: { required: true } }, score: { type: 'float' }, category: { type: 'string', default: 'general' } } };
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function readCopy(path: string, version: number): Promise<Map<string, any>> {
  const level = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8' });
  try {
    const prefix = `${P}/v${String(version).padStart(10, '0')}/article/`;
    return new Map((await level.iterator({ gte: prefix, lt: `${prefix}\uffff` }).all()).map(([k, v]) => [k.slice(prefix.length), JSON.parse(v)]));
  } finally {
    await level.close();
  }
}

async function queueDepths(): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', 'messages', '-q', '-s']);
  return stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter(([name]) => name?.startsWith(`${PREFIX}.`) && !name.endsWith('.deadletter') && !name.endsWith('.copies')).reduce((n, [, c]) => n + Number(c ?? 0), 0);
}

before(async () => {
  db = new pg.Client(PG);
  await db.connect();
});

after(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${P}_v1" CASCADE; DROP SCHEMA IF EXISTS "${P}_v2" CASCADE; DROP SCHEMA IF EXISTS "${P}" CASCADE`);
  await db.end();
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', '-q', '-s']);
  for (const q of stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(PREFIX))) await run('rabbitmqctl', ['delete_queue', q]).catch(() => {});
  if (ES_HOST) await fetch(`${ES_HOST.replace(/\/$/, '')}/${P}_*`, { method: 'DELETE' }).catch(() => {});
});

test('RabbitMQ with 2 workers: the back-fill fills every LevelDB copy and PostgreSQL; copies of new writes reach both; retiring v1 empties both copies', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-evolution-rabbit-'));
  const env = { QUEUE_CONNECTIONSTRING: AMQP, QUEUE_PREFIX: PREFIX, STORES, POSTGRESQL_HOST: PG.host, POSTGRESQL_PORT: String(PG.port), POSTGRESQL_USER: PG.user, POSTGRESQL_DATABASE: PG.database, ELASTICSEARCH_HOST: ES_HOST };
  const workers: Worker[] = [];
  process.env['QUEUE_PREFIX'] = PREFIX;
  process.env['WORKER_ID'] = 'evolution-api';
  const api = await startDstore({ ...env, ROLE: 'api' });
  try {
    const metricsPort = await freePort();
    workers.push(await spawnWorker({ ...env, METRICS_PORT: String(metricsPort) }, 'evolution-a', join(dir, 'a')), await spawnWorker(env, 'evolution-b', join(dir, 'b')));
    const ok = async (r: Promise<{ status: number; body: any; text: string }>, status: number) => {
      const res = await r;
      assert.equal(res.status, status, res.text);
      return res.body;
    };
    await ok(api.request('PUT', `/${P}/article/_blueprint`, V1), 200);
    await ok(api.request('POST', `/${P}/_version`), 201);
    await ok(api.request('PUT', `/${P}/article`, Array.from({ length: 500 }, (_, i) => ({ id: id(i + 1), project_version: 1, title: `T${i + 1}`, score: i + 1 }))), 200);
    await ok(api.request('PUT', `/${P}/article/_blueprint`, V2), 200);
    const created = await ok(api.request('POST', `/${P}/_version?wait=backfill`), 201);
    assert.equal(created.backfill.state, 'done', JSON.stringify(created));
    assert.equal(created.backfill.from, 'postgresql');
    assert.equal(created.backfill.total, 500);
    // a write for v2 after the back-fill reaches v1 in its shape too
    await ok(api.request('PUT', `/${P}/article/${id(1)}`, { id: id(1), project_version: 2, headline: 'From v2', score: 3, category: 'news' }), 200);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM "${P}_v2".articles`)).rows[0].n, 500);
    assert.equal((await db.query(`SELECT title FROM "${P}_v1".articles WHERE id = $1`, [id(1)])).rows[0].title, 'From v2');
    assert.equal((await db.query(`SELECT headline FROM "${P}".articles WHERE id = $1`, [id(2)])).rows[0].headline, 'T2');
    if (ES_HOST) {
      const es = (path: string, init: RequestInit = {}) => fetch(`${ES_HOST.replace(/\/$/, '')}${path}`, init).then((r) => r.json() as Promise<any>);
      await es(`/${P}_v2_article/_refresh`, { method: 'POST' });
      assert.equal((await es(`/${P}_v2_article/_count`)).count, 500);
      assert.equal((await es(`/${P}_v2_article/_doc/${id(7)}`))._source.headline, 'T7');
      assert.equal((await es(`/${P}_v1_article/_doc/${id(1)}`))._source.title, 'From v2');
      assert.deepEqual(Object.keys(await es(`/_alias/${P}`)), [`${P}_v2_article`]);
    }

    // a worker has no HTTP API: its metrics are on METRICS_PORT (SPEC §13)
    const scraped = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/_metrics`)).text());
    assert.ok(sampleValue(scraped, 'dstore_writes_total', { engine: 'level', outcome: 'applied' })! >= 1000, 'worker a applied every v1 item and its v2 copy to its LevelDB');
    assert.equal(sampleValue(scraped, 'dstore_engine_up', { engine: 'level' }), 1);

    await ok(api.request('DELETE', `/${P}/_version/1`), 204);
    const deadline = Date.now() + 60_000;
    while ((await queueDepths()) > 0) {
      assert.ok(Date.now() < deadline, 'the queues drain');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    for (const w of workers) await w.stop();
    for (const w of workers) {
      const v2 = await readCopy(w.levelPath, 2);
      assert.equal(v2.size, 500, `copy ${w.id} holds every back-filled item`);
      assert.deepEqual(v2.get(id(7)), { id: id(7), project_version: 2, headline: 'T7', score: 7, category: 'general' }, `copy ${w.id}`);
      assert.deepEqual(v2.get(id(1)), { id: id(1), project_version: 2, headline: 'From v2', score: 3, category: 'news' }, `copy ${w.id}`);
      assert.equal((await readCopy(w.levelPath, 1)).size, 0, `copy ${w.id} still holds retired v1`);
    }
    assert.equal((await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [`${P}_v1`])).rowCount, 0);
  } finally {
    await api.stop();
    for (const w of workers) await w.kill();
    delete process.env['QUEUE_PREFIX'];
    delete process.env['WORKER_ID'];
    await rm(dir, { recursive: true, force: true });
  }
});
