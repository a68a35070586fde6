/**
 * Many API processes on one catalog in PostgreSQL (SPEC §11), real processes and a real PostgreSQL:
 * snapshot numbers and migrations under the per-project lock, changes seen everywhere within 1 s,
 * a cut LISTEN connection caught up, the import of a file catalog, and the file-catalog lock.
 *   POSTGRESQL_HOST=127.0.0.1 POSTGRESQL_USER=postgres POSTGRESQL_DATABASE=dstore_test \
 *     node --import tsx --test test/integration/catalog-postgresql.int.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { failedStart, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { PG, PG_ENV } from '../support/postgresql.ts';

const ADMIN = 'catalog-test-admin-token-0123456789abcdef';
const ARTICLE = { columns: { title: { type: 'string' }, views: { type: 'integer' } } };

let dir: string;
let db: pg.Client;

function env(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CATALOG: 'postgresql',
    STORES: 'postgresql',
    ...PG_ENV,
    ELASTICSEARCH_HOST: '',
    QUEUE_CONNECTIONSTRING: '',
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'info',
    PROJECT_FILE_PATH: join(dir, name, 'blueprint'),
    LEVEL_PATH: join(dir, name, 'level'),
    QUEUE_PATH: join(dir, name, 'queue'),
    ...extra,
  };
}

async function call(server: ServerProcess, method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls until `ok`; resolves with the milliseconds it took, or fails after `limit` ms. */
async function within(limit: number, ok: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limit) {
    if (await ok()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not within ${limit} ms`);
}

async function dropProjects(...names: string[]): Promise<void> {
  const { rows } = await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) OR nspname ~ $2', [names, `^(${names.join('|')})_v[0-9]+$`]);
  for (const r of rows) await db.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-catalog-pg-'));
  db = new pg.Client({ ...PG, database: 'postgres' });
  await db.connect();
  const exists = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG.database]);
  if (!exists.rowCount) await db.query(`CREATE DATABASE "${PG.database}"`);
  await db.end();
  db = new pg.Client(PG);
  await db.connect();
  await db.query('DROP SCHEMA IF EXISTS dstore_catalog CASCADE');
  await dropProjects('catimp', 'catimpb', 'catsnap', 'catseen');
});

after(async () => {
  await db.end();
  await rm(dir, { recursive: true, force: true });
});

describe('first start on an empty PostgreSQL catalog', () => {
  test('imports the file catalog at PROJECT_FILE_PATH (projects, versions, states, tokens) and logs it; items are written for the imported versions', async () => {
    // a deployment on the file catalog: two projects, one with two versions, one token
    const fileEnv = env('import', { CATALOG: 'file' });
    const old = await startServerProcess(fileEnv);
    let token: string;
    try {
      assert.equal((await call(old, 'PUT', '/catimp/article/_blueprint', ARTICLE)).status, 200);
      assert.equal((await call(old, 'POST', '/catimp/_version')).status, 201);
      assert.equal((await call(old, 'PUT', '/catimp/article/_blueprint', { columns: { ...ARTICLE.columns, lead: { type: 'text', default: '' } } })).status, 200);
      assert.equal((await call(old, 'POST', '/catimp/_version?wait=backfill')).status, 201);
      assert.equal((await call(old, 'PUT', '/catimpb/note/_blueprint', { columns: { body: { type: 'text' } } })).status, 200);
      assert.equal((await call(old, 'POST', '/catimpb/_version')).status, 201);
      const made = await call(old, 'POST', '/_token', { name: 'importer', projects: ['catimp'], scopes: ['write'] });
      assert.equal(made.status, 201);
      token = made.body.token;
    } finally {
      await old.stop();
    }
    await db.query('DROP SCHEMA IF EXISTS dstore_catalog CASCADE');

    const moved = await startServerProcess(env('import'));
    try {
      assert.match(moved.output(), /imported the file catalog at PROJECT_FILE_PATH=\S+ into PostgreSQL \(schema dstore_catalog\): 2 projects, 3 versions, 1 tokens, 1 jobs/);
      const versions = await call(moved, 'GET', '/catimp/_version');
      assert.deepEqual(versions.body, { project_version: 2, versions: [1, 2], retired: [] });
      assert.deepEqual((await call(moved, 'GET', '/catimpb/_version')).body.versions, [1]);
      const rows = await db.query('SELECT project, version, state FROM dstore_catalog.version_states ORDER BY project, version');
      assert.deepEqual(rows.rows, [
        { project: 'catimp', version: 1, state: 'ready' },
        { project: 'catimp', version: 2, state: 'ready' },
        { project: 'catimpb', version: 1, state: 'ready' },
      ]);
      // the imported token works, its secret never stored
      const tokens = await db.query('SELECT name, sha256 FROM dstore_catalog.tokens');
      assert.equal(tokens.rows[0].name, 'importer');
      assert.notEqual(tokens.rows[0].sha256, token!);
      const w1 = await call(moved, 'PUT', '/catimp/article/00000000-0000-4000-8000-0000000000a1', { id: '00000000-0000-4000-8000-0000000000a1', project_version: 1, title: 'old client', views: 1 }, token!);
      assert.equal(w1.status, 200, JSON.stringify(w1.body));
      const w2 = await call(moved, 'PUT', '/catimp/article/00000000-0000-4000-8000-0000000000a2', { id: '00000000-0000-4000-8000-0000000000a2', project_version: 2, title: 'new client', views: 2, lead: 'x' }, token!);
      assert.equal(w2.status, 200, JSON.stringify(w2.body));
      const v2 = await db.query('SELECT id, title, lead FROM catimp_v2.article ORDER BY id');
      assert.deepEqual(v2.rows.map((r) => [r.id, r.title, r.lead]), [['00000000-0000-4000-8000-0000000000a1', 'old client', ''], ['00000000-0000-4000-8000-0000000000a2', 'new client', 'x']]);
      const v1 = await db.query('SELECT id FROM catimp_v1.article ORDER BY id');
      assert.deepEqual(v1.rows.map((r) => r.id), ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2']);
    } finally {
      await moved.stop();
    }
    // a second start imports nothing again
    const again = await startServerProcess(env('import'));
    await again.stop();
    assert.doesNotMatch(again.output(), /imported the file catalog/);
  });
});

describe('three API processes on one PostgreSQL catalog', () => {
  const servers: ServerProcess[] = [];

  before(async () => {
    for (const name of ['a', 'b', 'c']) servers.push(await startServerProcess(env(name)));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  test('30 snapshots requested at once across them end as exactly 1..k, each migrated once; the others are 409', async () => {
    const [a] = servers;
    assert.equal((await call(a!, 'PUT', '/catsnap/article/_blueprint', ARTICLE)).status, 200);
    await within(1000, async () => (await call(servers[2]!, 'GET', '/catsnap/article/_blueprint')).status === 200);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(servers[i % 3]!, 'POST', '/catsnap/_version')));
    const made = answers.filter((r) => r.status === 201).map((r) => r.body.project_version as number).sort((x, y) => x - y);
    const refused = answers.filter((r) => r.status === 409);
    assert.equal(made.length + refused.length, 30, JSON.stringify(answers.filter((r) => r.status !== 201 && r.status !== 409)));
    assert.ok(made.length >= 1);
    assert.deepEqual(made, Array.from({ length: made.length }, (_, i) => i + 1));
    for (const r of refused) assert.match(r.body.message, /already in progress/);
    const schemas = await db.query("SELECT nspname FROM pg_namespace WHERE nspname ~ '^catsnap_v[0-9]+$' ORDER BY nspname");
    assert.equal(schemas.rowCount, made.length);
    const stored = await db.query("SELECT version FROM dstore_catalog.snapshots WHERE project = 'catsnap' ORDER BY version");
    assert.deepEqual(stored.rows.map((r) => r.version), made);
    // every process knows them all
    for (const s of servers) await within(1000, async () => JSON.stringify((await call(s, 'GET', '/catsnap/_version')).body.versions) === JSON.stringify(made));
    // snapshots are immutable in the catalog too
    await assert.rejects(db.query("UPDATE dstore_catalog.snapshots SET snapshot = '{}' WHERE project = 'catsnap'"), /immutable/);
  });

  test('a blueprint put on one is read from another within 1 s', async () => {
    const [a, b, c] = servers;
    assert.equal((await call(a!, 'PUT', '/catseen/note/_blueprint', { columns: { body: { type: 'text' } } })).status, 200);
    const ms = await within(1000, async () => (await call(b!, 'GET', '/catseen/note/_blueprint')).status === 200);
    await within(1000, async () => (await call(c!, 'GET', '/catseen/note/_blueprint')).status === 200);
    assert.ok(ms < 1000);
    // a deletion travels too
    assert.equal((await call(b!, 'DELETE', '/catseen/note/_blueprint')).status, 204);
    await within(1000, async () => (await call(a!, 'GET', '/catseen/note/_blueprint')).status === 404);
  });

  test('a token revoked on one is refused on another within 1 s', async () => {
    const [a, b] = servers;
    const made = await call(a!, 'POST', '/_token', { name: 'reader', projects: ['*'], scopes: ['read'] });
    assert.equal(made.status, 201);
    await within(1000, async () => (await call(b!, 'GET', '/_project', undefined, made.body.token)).status === 200);
    assert.equal((await call(a!, 'DELETE', `/_token/${made.body.id}`)).status, 204);
    const ms = await within(1000, async () => (await call(b!, 'GET', '/_project', undefined, made.body.token)).status === 401);
    assert.ok(ms < 1000);
  });

  test('a process whose LISTEN connection is cut reconnects and catches up', async () => {
    const [a, , c] = servers;
    const id = (await db.query('SELECT id FROM dstore_catalog.processes WHERE pid = $1', [c!.child.pid])).rows[0].id as string;
    const backend = async () => (await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'", [`dstore catalog ${id}`])).rows[0]?.pid;
    const before = await backend();
    assert.ok(before, 'the LISTEN backend of process c');
    await db.query('SELECT pg_terminate_backend($1)', [before]);
    // a change while c listens to nothing
    assert.equal((await call(a!, 'PUT', '/catseen/late/_blueprint', { columns: { body: { type: 'text' } } })).status, 200);
    await within(10_000, async () => (await call(c!, 'GET', '/catseen/late/_blueprint')).status === 200);
    await within(10_000, async () => {
      const now = await backend();
      return now !== undefined && now !== before;
    });
    assert.match(c!.output(), /lost the LISTEN connection/);
    // and it hears the next change through the new connection within 1 s
    assert.equal((await call(a!, 'PUT', '/catseen/later/_blueprint', { columns: { body: { type: 'text' } } })).status, 200);
    await within(1000, async () => (await call(c!, 'GET', '/catseen/later/_blueprint')).status === 200);
  });
});

describe('the file catalog is one process per directory', () => {
  test('a second process refuses with one line naming the directory and the pid; a lock left by kill -9 does not block a restart', async () => {
    const fileEnv = env('locked', { CATALOG: 'file', STORES: 'level', POSTGRESQL_HOST: '' });
    const first = await startServerProcess(fileEnv);
    try {
      const second = await failedStart({ ...fileEnv, PORT: '0' });
      assert.equal(second.code, 1);
      const lines = second.stderr.trim().split('\n');
      assert.equal(lines.length, 1, second.stderr);
      assert.match(lines[0]!, new RegExp(`PROJECT_FILE_PATH=${fileEnv['PROJECT_FILE_PATH']} is in use by dstore process ${first.child.pid}`));
    } finally {
      await first.stop('SIGKILL');
    }
    const restarted = await startServerProcess(fileEnv);
    await restarted.stop();
  });
});
