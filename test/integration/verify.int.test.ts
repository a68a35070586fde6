/**
 * Verify and rebuild (SPEC §12) against real PostgreSQL, Elasticsearch and
 * LevelDB: in one process with the in-process queue, and through RabbitMQ with
 * an API process and two worker processes, each keeping its own LevelDB copy.
 * Drift is injected behind dstore's back (SQL, the Elasticsearch API, a key
 * removed from one copy) and must be reported exactly; rebuilds run while a
 * writer sends 5,000 writes and deletes, and a rebuild killed with -9 resumes.
 *   POSTGRESQL_HOST=127.0.0.1 POSTGRESQL_USER=postgres POSTGRESQL_DATABASE=dstore_test \
 *   ELASTICSEARCH_HOST=http://127.0.0.1:9211 QUEUE_CONNECTIONSTRING=amqp://guest:guest@127.0.0.1:5672 \
 *   node --import tsx --test test/integration/verify.int.test.ts
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ClassicLevel } from 'classic-level';
import { startDstore, type TestDstore } from '../support/harness.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { spawnWorker, type Worker } from '../support/workers.ts';
import { PG } from '../support/postgresql.ts';

const AMQP = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const ES = (process.env['ELASTICSEARCH_HOST'] || '').replace(/\/$/, '');
const PG_ENV = { POSTGRESQL_HOST: PG.host, POSTGRESQL_PORT: String(PG.port), POSTGRESQL_USER: PG.user, POSTGRESQL_PASSWORD: PG.password ?? '', POSTGRESQL_DATABASE: PG.database };
const letters = (hex: string) => hex.replace(/\d/g, (d) => 'abcdefghij'[+d]!);
const P = `vf_${letters(randomBytes(3).toString('hex'))}`;
const Q = `vq_${letters(randomBytes(3).toString('hex'))}`;
const PREFIX = `dstoretest-verify-${Date.now().toString(36)}`;
const run = promisify(execFile);

const BLUEPRINT = {
  postgresql: { table: 'articles' },
  columns: { title: { type: 'string', validation: { required: true } }, n: { type: 'integer' }, f: { type: 'float' }, at: { type: 'datetime' }, where: { type: 'point' }, tags: { type: 'string[]' } },
};
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const article = (n: number, title = `T${n}`, version = 1) => ({ id: id(n), project_version: version, title, n, f: n + 0.1, at: '2024-05-06 07:08:09', where: { type: 'Point', coordinates: [4.9 + n / 1e4, 52.3] }, tags: ['a', `t${n % 7}`] });

let db: pg.Client;

before(async () => {
  assert.ok(ES, 'ELASTICSEARCH_HOST must name the search engine under test');
  const admin = new pg.Client({ ...PG, database: 'postgres' });
  await admin.connect();
  if (!(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG.database])).rowCount) await admin.query(`CREATE DATABASE "${PG.database}"`);
  await admin.end();
  db = new pg.Client(PG);
  await db.connect();
});

after(async () => {
  for (const p of [P, Q]) {
    await db.query(`DROP SCHEMA IF EXISTS "${p}_v1" CASCADE; DROP SCHEMA IF EXISTS "${p}" CASCADE`);
    await fetch(`${ES}/${p}_*`, { method: 'DELETE' }).catch(() => {});
  }
  await db.end();
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', '-q', '-s']).catch(() => ({ stdout: '' }));
  for (const q of stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(PREFIX))) await run('rabbitmqctl', ['delete_queue', q]).catch(() => {});
});

/** The `dstore` command as its own process against a running dstore. */
function cli(url: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, DSTORE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

type Call = (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any; text: string }>;

function overHttp(server: () => ServerProcess): Call {
  return async (method, url, body) => {
    const res = await fetch(`${server().url}${url}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  };
}

async function ok(r: Promise<{ status: number; body: any; text: string }>, status: number): Promise<any> {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res.body;
}

async function load(call: Call, project: string, count: number): Promise<Map<string, Record<string, unknown> | null>> {
  await ok(call('PUT', `/${project}/article/_blueprint`, BLUEPRINT), 200);
  await ok(call('POST', `/${project}/_version`), 201);
  const expected = new Map<string, Record<string, unknown> | null>();
  for (let from = 1; from <= count; from += 1000) {
    const items = Array.from({ length: Math.min(1000, count - from + 1) }, (_, i) => article(from + i));
    await ok(call('PUT', `/${project}/article`, items), 200);
    for (const item of items) expected.set(item.id, item);
  }
  return expected;
}

/** 5,000 writes and deletes in bulk requests of 50, no id twice in one round, recording the last accepted write of each id. */
async function writer(call: Call, project: string, expected: Map<string, Record<string, unknown> | null>, ids: number, total = 5000): Promise<void> {
  let sent = 0;
  let round = 0;
  while (sent < total) {
    round++;
    const picked = new Set<number>();
    while (picked.size < 100) picked.add(1 + Math.floor(Math.random() * ids));
    const chosen = [...picked];
    const puts = chosen.slice(0, 80).map((n) => article(n, `W${round}-${n}`));
    const deletes = chosen.slice(80).map(id);
    await Promise.all([
      ok(call('PUT', `/${project}/article`, puts), 200).then(() => puts.forEach((p) => expected.set(p.id, p))),
      ok(call('DELETE', `/${project}/article`, deletes), 204).then(() => deletes.forEach((d) => expected.set(d, null))),
    ]);
    sent += 100;
  }
}

async function verify(call: Call, project: string): Promise<any> {
  const job = await ok(call('POST', `/${project}/_verify?wait=true`), 200);
  assert.equal(job.state, 'done', JSON.stringify(job));
  assert.equal(job.kind, 'verify');
  return job.result;
}

async function rebuild(call: Call, project: string, body: Record<string, unknown>): Promise<any> {
  const job = await ok(call('POST', `/${project}/_rebuild`, body), 202);
  assert.equal(job.kind, 'rebuild');
  return job;
}

async function finished(call: Call, jobId: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await ok(call('GET', `/_jobs/${jobId}`), 200);
    if (job.state === 'done' || job.state === 'failed') return job;
    assert.ok(Date.now() < deadline, `job ${jobId} ends in time: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Only the drift of each engine, for an exact comparison. */
function drift(result: any): Record<string, { missing: string[]; extra: string[]; different: string[] }> {
  const out: Record<string, { missing: string[]; extra: string[]; different: string[] }> = {};
  for (const report of result.blueprints) {
    for (const [engine, t] of Object.entries<any>(report.engines)) {
      assert.equal(t.error, undefined, `${engine}: ${t.error}`);
      if (!t.missing.total && !t.extra.total && !t.different.total) continue;
      out[engine] = { missing: t.missing.ids, extra: t.extra.ids, different: t.different.ids };
    }
  }
  return out;
}

async function assertClean(call: Call, project: string, engines: string[]): Promise<any> {
  const result = await verify(call, project);
  assert.deepEqual(drift(result), {}, JSON.stringify(result));
  assert.equal(result.agree, true);
  assert.deepEqual(Object.keys(result.blueprints[0].engines).sort(), [...engines].sort());
  return result;
}

/** What PostgreSQL and Elasticsearch hold now: title by id. */
async function titles(project: string): Promise<{ postgresql: Map<string, string>; elasticsearch: Map<string, string> }> {
  const rows = (await db.query(`SELECT id::text AS id, title FROM "${project}_v1".articles`)).rows as Array<{ id: string; title: string }>;
  await fetch(`${ES}/${project}_v1_article/_refresh`, { method: 'POST' });
  const elasticsearch = new Map<string, string>();
  for (let after: string | undefined; ; ) {
    const body = { size: 10000, _source: ['title'], sort: [{ id: 'asc' }], ...(after ? { search_after: [after] } : {}) };
    const res = (await (await fetch(`${ES}/${project}_v1_article/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as any;
    for (const h of res.hits.hits) elasticsearch.set(h._id, h._source.title);
    if (res.hits.hits.length < 10000) break;
    after = res.hits.hits.at(-1)._id;
  }
  return { postgresql: new Map(rows.map((r) => [r.id, r.title])), elasticsearch };
}

function assertHoldsLast(name: string, held: Map<string, string>, expected: Map<string, Record<string, unknown> | null>): void {
  const want = new Map([...expected].filter(([, v]) => v !== null).map(([k, v]) => [k, v!['title'] as string]));
  assert.equal(held.size, want.size, `${name} holds every live item and no deleted one`);
  for (const [k, title] of want) assert.equal(held.get(k), title, `${name} holds the last accepted write of ${k}`);
}

test('in-process: verify reports drift injected by SQL and the Elasticsearch API exactly; rebuilds of PostgreSQL and Elasticsearch under 5,000 writes leave every engine with the last write', { timeout: 300_000 }, async () => {
  const d: TestDstore = await startDstore({ STORES: 'postgresql,elasticsearch,level', ...PG_ENV, ELASTICSEARCH_HOST: ES, QUEUE_CONNECTIONSTRING: '' });
  const call: Call = (m, u, b) => d.request(m, u, b);
  try {
    const expected = await load(call, P, 2000);
    const clean = await assertClean(call, P, ['postgresql', 'elasticsearch', 'level']);
    assert.deepEqual(Object.values<any>(clean.blueprints[0].engines).map((t) => t.count), [2000, 2000, 2000]);

    // bad input: each a 400 naming what is wrong, and no job made
    const jobsBefore = (await ok(call('GET', `/_jobs?project=${P}`), 200)).count;
    for (const [body, code] of [
      [{ engine: 'mongodb' }, 'DSTORE_ENGINE_UNKNOWN'],
      [{ engine: 'postgresql', from: 'postgresql' }, 'DSTORE_REBUILD_FROM_ITSELF'],
      [{ engine: 'elasticsearch', from: 'cassandra' }, 'DSTORE_ENGINE_UNKNOWN'],
      [{ engine: 'level', worker: 'nobody' }, 'DSTORE_WORKER_UNKNOWN'],
      [{ engine: 'postgresql', version: 7 }, 'DSTORE_VERSION_UNKNOWN'],
      [{}, 'DSTORE_ENGINE_UNKNOWN'],
    ] as const) {
      const res = await call('POST', `/${P}/_rebuild`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.code, code, res.text);
      assert.ok(res.body.message.length > 10);
    }
    assert.equal((await call('POST', `/${P}/_rebuild`, [1])).status, 400);
    assert.equal((await call('POST', `/nosuchproject/_verify`)).status, 404);
    assert.equal((await ok(call('GET', `/_jobs?project=${P}`), 200)).count, jobsBefore, 'a refused request makes no job');

    // drift behind dstore's back
    await db.query(`DELETE FROM "${P}_v1".articles WHERE id = $1`, [id(11)]);
    await db.query(`UPDATE "${P}_v1".articles SET title = 'tampered' WHERE id = $1`, [id(12)]);
    assert.equal((await fetch(`${ES}/${P}_v1_article/_doc/${id(13)}`, { method: 'DELETE' })).status, 200);
    const doc = (await (await fetch(`${ES}/${P}_v1_article/_doc/${id(14)}`)).json()) as any;
    // the same external version: only the content differs
    const changed = await fetch(`${ES}/${P}_v1_article/_doc/${id(14)}?version=${doc._version}&version_type=external_gte`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...doc._source, n: 99999 }) });
    assert.equal(changed.status, 200, await changed.text());
    const drifted = await verify(call, P);
    assert.equal(drifted.agree, false);
    assert.deepEqual(drift(drifted), {
      postgresql: { missing: [id(11)], extra: [], different: [id(12)] },
      elasticsearch: { missing: [id(13)], extra: [], different: [id(14)] },
    });
    assert.deepEqual(Object.values<any>(drifted.blueprints[0].engines).map((t) => t.count), [1999, 1999, 2000]);
    const { port } = d.running.app!.server.address() as { port: number };
    const url = `http://127.0.0.1:${port}`;
    const drifting = await cli(url, ['verify', '-p', P]);
    assert.equal(drifting.code, 1, `dstore verify exits 1 on drift:\n${drifting.stdout}${drifting.stderr}`);
    for (const n of [11, 12, 13, 14]) assert.ok(drifting.stdout.includes(id(n)), `the report names ${id(n)}:\n${drifting.stdout}`);
    assert.match(drifting.stdout, /postgresql: missing 1: \S+; different 1: /);

    // PostgreSQL repaired in place from LevelDB (by the CLI): the deleted row kept its stamp, the changed one has the same stamp
    const repaired = await cli(url, ['rebuild', '-p', P, '--engine', 'postgresql', '--from', 'level']);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.match(repaired.stdout, /rebuilt postgresql from level: \d+ copied, 2 repaired, 0 deleted/);
    assert.equal((await cli(url, ['rebuild', '-p', P, '--engine', 'mongodb'])).code, 1);
    assert.deepEqual(drift(await verify(call, P)), { elasticsearch: { missing: [id(13)], extra: [], different: [id(14)] } });

    // the index deleted by hand, rebuilt from PostgreSQL (the default source) while the writer runs
    assert.equal((await fetch(`${ES}/${P}_v1_article`, { method: 'DELETE' })).status, 200);
    const esJob = await rebuild(call, P, { engine: 'elasticsearch' });
    assert.equal(esJob.total, 2000, 'the total is known when the job is answered');
    assert.equal(esJob.from, 'postgresql');
    await writer(call, P, expected, 2000);
    const esDone = await finished(call, esJob.id);
    assert.equal(esDone.state, 'done', JSON.stringify(esDone));
    assert.equal((await (await fetch(`${ES}/_alias/${P}`)).json() as any)[`${P}_v1_article`] !== undefined, true, 'the latest alias is back');
    await assertClean(call, P, ['postgresql', 'elasticsearch', 'level']);
    let held = await titles(P);
    assertHoldsLast('elasticsearch', held.elasticsearch, expected);
    assertHoldsLast('postgresql', held.postgresql, expected);

    // PostgreSQL's schema dropped by hand, rebuilt from LevelDB while the writer runs
    await db.query(`DROP SCHEMA "${P}_v1" CASCADE`);
    const pgJob = await rebuild(call, P, { engine: 'postgresql' });
    assert.equal(pgJob.from, 'level');
    await writer(call, P, expected, 2000);
    assert.equal((await finished(call, pgJob.id)).state, 'done');
    await assertClean(call, P, ['postgresql', 'elasticsearch', 'level']);
    const agreeing = await cli(url, ['verify', '-p', P]);
    assert.equal(agreeing.code, 0, agreeing.stdout + agreeing.stderr);
    assert.match(agreeing.stdout, /all agree/);
    held = await titles(P);
    assertHoldsLast('postgresql', held.postgresql, expected);
    assertHoldsLast('elasticsearch', held.elasticsearch, expected);
    const level = new Map((await d.level!.entries({ gte: `${P}/v0000000001/article/`, lt: `${P}/v0000000001/article/\uffff` })).map(([k, v]) => [k.slice(k.lastIndexOf('/') + 1), JSON.parse(v).title as string]));
    assertHoldsLast('level', level, expected);
  } finally {
    await d.stop();
  }
});

test('RabbitMQ, two workers: a key removed from one copy is reported in that copy alone; a wiped copy is rebuilt under 5,000 writes; a rebuild killed with -9 resumes after the restart', { timeout: 400_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-verify-rabbit-'));
  const env = { QUEUE_CONNECTIONSTRING: AMQP, QUEUE_PREFIX: PREFIX, STORES: 'postgresql,elasticsearch,level', ...PG_ENV, ELASTICSEARCH_HOST: ES };
  const apiEnv = { ...env, ROLE: 'api', WORKER_ID: 'verify-api', PROJECT_FILE_PATH: join(dir, 'catalog'), LEVEL_PATH: join(dir, 'api-level'), QUEUE_PATH: join(dir, 'queue') };
  let api = await startServerProcess(apiEnv);
  const call = overHttp(() => api);
  const workers = new Map<string, Worker>();
  const startWorker = async (name: string) => workers.set(name, await spawnWorker(env, `verify-${name}`, join(dir, name)));
  try {
    await startWorker('a');
    await startWorker('b');
    const expected = await load(call, Q, 3000);
    const engines = ['postgresql', 'elasticsearch', 'level@verify-a', 'level@verify-b'];
    await assertClean(call, Q, engines);

    // a key removed from worker b's copy, behind its back
    await workers.get('b')!.stop();
    const copy = new ClassicLevel<string, string>(join(dir, 'b'), { valueEncoding: 'utf8' });
    await copy.del(`${Q}/v0000000001/article/${id(21)}`);
    await copy.close();
    await startWorker('b');
    assert.deepEqual(drift(await verify(call, Q)), { 'level@verify-b': { missing: [id(21)], extra: [], different: [] } });

    // bad input through RabbitMQ
    const unknown = await call('POST', `/${Q}/_rebuild`, { engine: 'level', worker: 'verify-z' });
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.body.code, 'DSTORE_WORKER_UNKNOWN');
    assert.match(unknown.body.message, /verify-a/);
    assert.equal((await call('POST', `/${Q}/_rebuild`, { engine: 'level' })).body.code, 'DSTORE_WORKER_NEEDED');

    // worker b's copy wiped; it comes back with an empty LEVEL_PATH and is filled by a rebuild while the writer runs
    await workers.get('b')!.stop();
    await rm(join(dir, 'b'), { recursive: true, force: true });
    await startWorker('b');
    const levelJob = await rebuild(call, Q, { engine: 'level', worker: 'verify-b' });
    await writer(call, Q, expected, 3000);
    const levelDone = await finished(call, levelJob.id);
    assert.equal(levelDone.state, 'done', JSON.stringify(levelDone));
    assert.equal(levelDone.from, 'postgresql');
    await assertClean(call, Q, engines);
    await workers.get('b')!.stop();
    const bCopy = new ClassicLevel<string, string>(join(dir, 'b'), { valueEncoding: 'utf8' });
    const prefix = `${Q}/v0000000001/article/`;
    const inB = new Map((await bCopy.iterator({ gte: prefix, lt: `${prefix}\uffff` }).all()).map(([k, v]) => [k.slice(prefix.length), JSON.parse(v).title as string]));
    await bCopy.close();
    assertHoldsLast('level@verify-b', inB, expected);
    await startWorker('b');

    // a rebuild of Elasticsearch killed with -9 halfway resumes where it stopped after the restart
    const more = Array.from({ length: 27_000 }, (_, i) => article(3001 + i));
    for (let i = 0; i < more.length; i += 3000) await ok(call('PUT', `/${Q}/article`, more.slice(i, i + 3000)), 200);
    for (const item of more) expected.set(item.id, item);
    assert.equal((await fetch(`${ES}/${Q}_v1_article`, { method: 'DELETE' })).status, 200);
    const esJob = await rebuild(call, Q, { engine: 'elasticsearch' });
    // killed once its progress is on disk (saved at least once a second) and before it ends
    let seen: any;
    for (;;) {
      seen = JSON.parse(await readFile(join(dir, 'catalog', '_jobs', `${esJob.id}.json`), 'utf8').catch(() => '{}')).job;
      if ((seen?.done ?? 0) > 0 || seen?.state === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(seen.state, 'running', `the rebuild is still running when killed: ${JSON.stringify(seen)}`);
    await api.stop('SIGKILL');
    api = await startServerProcess(apiEnv);
    const resumed = await finished(call, esJob.id, 180_000);
    assert.equal(resumed.state, 'done', JSON.stringify(resumed));
    assert.equal(resumed.done, resumed.total);
    assert.match(api.output(), new RegExp(`job ${esJob.id} \\(rebuild ${Q}\\): resuming after [1-9]\\d* of ${resumed.total}`));
    await assertClean(call, Q, engines);
    assertHoldsLast('elasticsearch', (await titles(Q)).elasticsearch, expected);
  } finally {
    await api.stop();
    for (const w of workers.values()) await w.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
