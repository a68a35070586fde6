/**
 * PostgreSQL/PostGIS against a real server: what lands in PostgreSQL is read
 * back with a separate pg client. Fails (never skips) when PostgreSQL is not reachable.
 *
 *   POSTGRESQL_HOST=127.0.0.1 POSTGRESQL_USER=postgres POSTGRESQL_DATABASE=dstore_test \
 *     node --import tsx --test test/integration/postgresql.int.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { TcpProxy } from '../support/tcp-proxy.ts';
import pg from 'pg';
import { normalizeBlueprint, type Blueprint } from '../../src/schema/blueprint.ts';
import { PostgresqlStore } from '../../src/stores/postgresql/postgresql-store.ts';
import { StoreUnavailableError, WriteRejectedError, type ItemPut, type Write } from '../../src/stores/store.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem, startDstore, type TestDstore } from '../support/harness.ts';
import { PG } from '../support/postgresql.ts';


/** Project names of this run: hex never contains `v`, so no `_v<digits>` can appear by accident. */
const RUN = `it_${randomBytes(4).toString('hex')}`;
const projects = new Set<string>();
function project(name: string): string {
  const p = `${RUN}_${name}`;
  projects.add(p);
  return p;
}

const OTHER_TIME_ZONE = 'America/Sao_Paulo';

let dstore: TestDstore;
let db: pg.Client;

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> {
  return (await db.query<T>(text, values)).rows;
}

async function schemas(prefix: string): Promise<string[]> {
  return (await sql<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1`, [prefix])).map((r) => r.nspname);
}

async function columns(schema: string, table: string): Promise<Record<string, [string, string]>> {
  const rows = await sql<{ column_name: string; data_type: string; udt_name: string }>(
    `SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
    [schema, table],
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, [r.data_type, r.udt_name]]));
}

async function ok(res: Promise<{ status: number; body: any; text: string }>, status: number): Promise<any> {
  const r = await res;
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.body;
}

/** Creates a project with these blueprints and snapshots it as version 1. */
async function snapshot(p: string, blueprints: Record<string, unknown>): Promise<void> {
  await ok(dstore.request('PUT', `/${p}/_blueprint`, blueprints), 200);
  await ok(dstore.request('POST', `/${p}/_version`), 201);
}

async function openStore(overrides: Partial<typeof PG> = {}): Promise<PostgresqlStore> {
  const store = new PostgresqlStore({ ...PG, ...overrides });
  await store.open();
  return store;
}


async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('PostgreSQL store', () => {
  before(async () => {
    // no skip: an unreachable PostgreSQL fails the suite right here
    const admin = new pg.Client({ ...PG, database: 'postgres', connectionTimeoutMillis: 5000 });
    await admin.connect();
    try {
      if (!(await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [PG.database])).rowCount) await admin.query(`CREATE DATABASE "${PG.database}"`);
      // sessions of the test database default to a zone far from UTC: offset-less datetimes must still land as UTC
      await admin.query(`ALTER DATABASE "${PG.database}" SET TimeZone = '${OTHER_TIME_ZONE}'`);
    } finally {
      await admin.end();
    }
    dstore = await startDstore({
      STORES: 'postgresql,level',
      POSTGRESQL_HOST: PG.host,
      POSTGRESQL_PORT: String(PG.port),
      POSTGRESQL_USER: PG.user,
      POSTGRESQL_PASSWORD: PG.password,
      POSTGRESQL_DATABASE: PG.database,
    });
    db = new pg.Client(PG);
    await db.connect();
  });

  after(async () => {
    for (const p of projects) await dstore?.request('DELETE', `/${p}`);
    if (db) {
      // whatever a failed test left: every schema of this run
      for (const s of await schemas(RUN)) await db.query(`DROP SCHEMA "${s}" CASCADE`);
      for (const { datname } of await sql<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [RUN])) await db.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
      await db.query(`ALTER DATABASE "${PG.database}" RESET TimeZone`);
      await db.end();
    }
    await dstore?.stop();
  });

  test('opens, creates a missing database, and reports health', async () => {
    const health = await ok(dstore.request('GET', '/_health'), 200);
    assert.equal(health.engines.postgresql.status, 'up');

    const name = `${RUN}_created`;
    const store = await openStore({ database: name });
    try {
      assert.deepEqual(await store.health(), { status: 'up' });
      assert.equal((await sql(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).length, 1);
    } finally {
      await store.close();
      await db.query(`DROP DATABASE IF EXISTS "${name}"`);
    }
  });

  test('PostgreSQL down at start: open succeeds, health is down with the reason, apply throws StoreUnavailableError', async () => {
    const store = await openStore({ port: 1 });
    try {
      const health = await store.health();
      assert.equal(health.status, 'down');
      assert.match(health.reason ?? '', /ECONNREFUSED/);
      await assert.rejects(store.apply([{ op: 'delete', project: 'x', blueprint: 'y', id: randomUUID(), stamp: 1, targets: [] }]), StoreUnavailableError);
    } finally {
      await store.close();
    }
  });

  test('an outage: dstore starts while PostgreSQL is down, writes wait (202) and land when it is back; nothing is dead-lettered', async () => {
    const outage = await new TcpProxy(PG.host, PG.port).start();
    await outage.cut(); // PostgreSQL is down from the start
    const database = `${RUN}_outage`;
    const p = `${RUN}_outage`;
    const other = await startDstore({ STORES: 'postgresql,level', POSTGRESQL_HOST: '127.0.0.1', POSTGRESQL_PORT: String(outage.port), POSTGRESQL_USER: PG.user, POSTGRESQL_PASSWORD: PG.password, POSTGRESQL_DATABASE: database, WRITE_TIMEOUT_MS: '500' });
    try {
      const down = await other.request('GET', '/_health');
      assert.equal(down.status, 503);
      assert.equal(down.body.engines.postgresql.status, 'down');
      assert.match(down.body.engines.postgresql.reason, /ECONNREFUSED/);

      await outage.restore(); // the database did not exist: it is created on first use
      await until('health up', async () => (await other.request('GET', '/_health')).status === 200);
      assert.equal((await sql(`SELECT 1 FROM pg_database WHERE datname = $1`, [database])).length, 1);
      await ok(other.request('PUT', `/${p}/thing/_blueprint`, { columns: { x: { type: 'string' } } }), 200);
      await ok(other.request('POST', `/${p}/_version`), 201);

      await outage.cut(); // kills the pool's open connections too
      const id = randomUUID();
      const accepted = await ok(other.request('PUT', `/${p}/thing/${id}`, { id, project_version: 1, x: 'written during the outage' }), 202);
      assert.deepEqual(accepted.pending, ['postgresql']);
      assert.equal((await other.request('GET', '/_health')).body.engines.postgresql.status, 'down');

      await outage.restore();
      const landed = new pg.Client({ ...PG, database });
      await landed.connect();
      try {
        await until('the write to land', async () => (await landed.query(`SELECT x FROM "${p}_v1".thing WHERE id = $1`, [id])).rowCount === 1);
      } finally {
        await landed.end();
      }
      assert.equal((await ok(other.request('GET', '/_deadletter'), 200)).count, 0);
      await ok(other.request('DELETE', `/${p}`), 204);
    } finally {
      await other.stop().catch(() => {});
      await outage.stop();
    }
  });

  test('a database that is missing and cannot be created stops open with a clear message', async () => {
    const role = `${RUN}_nocreate`;
    await db.query(`CREATE ROLE "${role}" LOGIN NOCREATEDB`);
    try {
      await assert.rejects(openStore({ user: role, password: undefined, database: `${RUN}_forbidden` }), /does not exist and cannot be created: permission denied to create database/);
    } finally {
      await db.query(`DROP ROLE "${role}"`);
    }
  });

  test('kitchen sink: every column type of SPEC §4 has its PostgreSQL type and reads back as sent', async () => {
    const p = project('sink');
    await snapshot(p, { sink: KITCHEN_SINK_BLUEPRINT });
    const schema = `${p}_v1`;

    assert.deepEqual(await columns(schema, 'sink'), {
      id: ['uuid', 'uuid'],
      links: ['ARRAY', '_uuid'],
      c_uuid: ['uuid', 'uuid'],
      c_uuids: ['ARRAY', '_uuid'],
      c_string: ['text', 'text'],
      c_strings: ['ARRAY', '_text'],
      c_text: ['text', 'text'],
      c_texts: ['ARRAY', '_text'],
      c_point: ['USER-DEFINED', 'geometry'],
      c_points: ['USER-DEFINED', 'geometry'],
      c_line: ['USER-DEFINED', 'geometry'],
      c_lines: ['USER-DEFINED', 'geometry'],
      c_polygon: ['USER-DEFINED', 'geometry'],
      c_polygons: ['USER-DEFINED', 'geometry'],
      c_date: ['date', 'date'],
      c_dates: ['ARRAY', '_date'],
      c_datetime: ['timestamp with time zone', 'timestamptz'],
      c_datetimes: ['ARRAY', '_timestamptz'],
      c_float: ['real', 'float4'],
      c_floats: ['ARRAY', '_float4'],
      c_integer: ['integer', 'int4'],
      c_integers: ['ARRAY', '_int4'],
      c_boolean: ['boolean', 'bool'],
      c_booleans: ['ARRAY', '_bool'],
      c_json: ['json', 'json'],
      c_jsons: ['ARRAY', '_json'],
    });
    const pk = await sql<{ column_name: string }>(
      `SELECT k.column_name FROM information_schema.table_constraints c JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
        WHERE c.table_schema = $1 AND c.table_name = 'sink' AND c.constraint_type = 'PRIMARY KEY'`,
      [schema],
    );
    assert.deepEqual(pk.map((r) => r.column_name), ['id']);
    const geometry = await sql(`SELECT f_geometry_column AS col, type, srid, coord_dimension AS dims FROM geometry_columns WHERE f_table_schema = $1 AND f_table_name = 'sink' ORDER BY 1`, [schema]);
    assert.deepEqual(geometry, [
      { col: 'c_line', type: 'LINESTRING', srid: 4326, dims: 2 },
      { col: 'c_lines', type: 'MULTILINESTRING', srid: 4326, dims: 2 },
      { col: 'c_point', type: 'POINT', srid: 4326, dims: 2 },
      { col: 'c_points', type: 'MULTIPOINT', srid: 4326, dims: 2 },
      { col: 'c_polygon', type: 'POLYGON', srid: 4326, dims: 2 },
      { col: 'c_polygons', type: 'MULTIPOLYGON', srid: 4326, dims: 2 },
    ]);

    const id = randomUUID();
    const sent = kitchenSinkItem(id);
    await ok(dstore.request('PUT', `/${p}/sink/${id}`, sent), 200);
    const [row] = await sql<Record<string, any>>(
      `SELECT id::text, links, c_uuid::text, c_uuids::text[], c_string, c_strings, c_text, c_texts,
              ST_AsGeoJSON(c_point)::json AS c_point, ST_AsGeoJSON(c_points)::json AS c_points,
              ST_AsGeoJSON(c_line)::json AS c_line, ST_AsGeoJSON(c_lines)::json AS c_lines,
              ST_AsGeoJSON(c_polygon)::json AS c_polygon, ST_AsGeoJSON(c_polygons)::json AS c_polygons,
              ST_SRID(c_point) AS srid,
              c_date::text, c_dates::text[], c_datetime, c_datetimes, c_float, c_floats, c_integer, c_integers,
              c_boolean, c_booleans, c_json, c_jsons, c_json::text AS c_json_text
         FROM "${schema}".sink`,
    );
    assert.ok(row, 'the item is in PostgreSQL');
    const { c_datetime, c_datetimes, srid, c_json_text, ...rest } = row;
    const { project_version: _v, c_datetime: sentDatetime, c_datetimes: sentDatetimes, ...expected } = sent;
    assert.deepEqual(rest, expected);
    assert.equal(srid, 4326);
    assert.equal(c_json_text, JSON.stringify(sent['c_json']), 'json is kept as sent, not re-ordered');
    // instants: the seed's `yyyy-MM-dd HH:mm:ss` is UTC
    assert.equal((c_datetime as Date).toISOString(), '2014-01-17T03:50:12.000Z');
    assert.equal(sentDatetime, '2014-01-17 03:50:12');
    assert.deepEqual((c_datetimes as Date[]).map((d) => d.toISOString()), ['2014-01-17T03:50:12.000Z', '2020-06-01T10:00:00.000Z']);
    assert.equal((sentDatetimes as string[]).length, 2);

    // … although this database's sessions default to another time zone (set in before())
    assert.deepEqual(await sql(`SELECT current_setting('TimeZone') AS tz`), [{ tz: OTHER_TIME_ZONE }]);

    // a replace with missing columns nulls them
    await ok(dstore.request('PUT', `/${p}/sink/${id}`, { id, project_version: 1, c_string: 'only this' }), 200);
    const [replaced] = await sql<Record<string, unknown>>(`SELECT c_string, c_point, c_json, links FROM "${schema}".sink`);
    assert.deepEqual(replaced, { c_string: 'only this', c_point: null, c_json: null, links: null });
  });

  test('a second snapshot with a changed blueprint makes v2 tables; v1 tables and rows stay; each write lands in both versions, in each shape', async () => {
    const p = project('evolve');
    await snapshot(p, { note: { postgresql: { table: 'notes' }, columns: { title: { type: 'string' }, n: { type: 'integer' }, camelCase: { type: 'boolean' } } } });
    const a = randomUUID();
    await ok(dstore.request('PUT', `/${p}/note/${a}`, { id: a, project_version: 1, title: 'in v1', n: 1, camelCase: true }), 200);

    await ok(dstore.request('PUT', `/${p}/note/_blueprint`, { postgresql: { table: 'posts' }, columns: { title: { type: 'text' }, n: { type: 'float' }, added: { type: 'date' } } }), 200);
    assert.equal((await ok(dstore.request('POST', `/${p}/_version?wait=backfill`), 201)).project_version, 2);

    assert.deepEqual(await columns(`${p}_v1`, 'notes'), { id: ['uuid', 'uuid'], links: ['ARRAY', '_uuid'], title: ['text', 'text'], n: ['integer', 'int4'], camelCase: ['boolean', 'bool'] });
    assert.deepEqual(await columns(`${p}_v2`, 'posts'), { id: ['uuid', 'uuid'], links: ['ARRAY', '_uuid'], title: ['text', 'text'], n: ['real', 'float4'], added: ['date', 'date'] });
    assert.deepEqual(await sql(`SELECT id::text, title, n, "camelCase" FROM "${p}_v1".notes`), [{ id: a, title: 'in v1', n: 1, camelCase: true }]);

    // the v1 item was back-filled into v2, in v2's shape
    assert.deepEqual(await sql(`SELECT id::text, title, n, added::text FROM "${p}_v2".posts`), [{ id: a, title: 'in v1', n: 1, added: null }]);

    const b = randomUUID();
    // 2.5 has no place in v1's integer column: refused, naming the version and field, nothing stored
    const refused = await ok(dstore.request('PUT', `/${p}/note/${b}`, { id: b, project_version: 2, title: 'in v2', n: 2.5, added: '2024-03-01' }), 400);
    assert.ok(refused.errors['v1.n'], JSON.stringify(refused));
    assert.deepEqual(await sql(`SELECT id::text FROM "${p}_v2".posts WHERE id = $1`, [b]), []);
    await ok(dstore.request('PUT', `/${p}/note/${b}`, { id: b, project_version: 2, title: 'in v2', n: 2, added: '2024-03-01' }), 200);
    await ok(dstore.request('PUT', `/${p}/note/${a}`, { id: a, project_version: 1, title: 'v1 again', n: 3 }), 200);
    const byId = (rows: Array<Record<string, unknown>>) => rows.sort((x, y) => String(x['id']).localeCompare(String(y['id'])));
    assert.deepEqual(byId(await sql(`SELECT id::text, title, n, "camelCase" FROM "${p}_v1".notes`)), byId([{ id: a, title: 'v1 again', n: 3, camelCase: null }, { id: b, title: 'in v2', n: 2, camelCase: null }]));
    assert.deepEqual(byId(await sql(`SELECT id::text, title, n, added::text FROM "${p}_v2".posts`)), byId([{ id: a, title: 'v1 again', n: 3, added: null }, { id: b, title: 'in v2', n: 2, added: '2024-03-01' }]));
  });

  test('a migration that fails at its second table leaves no schema, and a retry succeeds', async () => {
    const p = project('halfway');
    const blueprints = { aa_first: { columns: { x: { type: 'string' } } }, zz_second: { columns: { g: { type: 'point' } } } };
    await ok(dstore.request('PUT', `/${p}/_blueprint`, blueprints), 200);
    // a real failure from inside PostgreSQL: an event trigger refuses CREATE TABLE of the second table only,
    // after the schema, the stamps table and the first table were created in the same transaction
    const fn = `${RUN}_refuse_second`;
    await db.query(`CREATE FUNCTION public."${fn}"() RETURNS event_trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = '${p}_v1.zz_second') THEN
          RAISE EXCEPTION 'injected failure creating ${p}_v1.zz_second';
        END IF;
      END $$`);
    await db.query(`CREATE EVENT TRIGGER "${fn}" ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public."${fn}"()`);
    try {
      const failed = await dstore.request('POST', `/${p}/_version`);
      assert.equal(failed.status, 502, failed.text);
      assert.match(failed.body.message, /postgresql.*injected failure/);
    } finally {
      await db.query(`DROP EVENT TRIGGER IF EXISTS "${fn}"`);
      await db.query(`DROP FUNCTION IF EXISTS public."${fn}"()`);
    }
    assert.deepEqual(await schemas(p), [], 'nothing of the failed migration is left');
    assert.deepEqual((await ok(dstore.request('GET', `/${p}/_version`), 200)).versions, []);

    assert.equal((await ok(dstore.request('POST', `/${p}/_version`), 201)).project_version, 1);
    // the version schema, and the latest schema of views over it (SPEC §9)
    assert.deepEqual(await schemas(p), [p, `${p}_v1`]);
    assert.deepEqual(Object.keys(await columns(`${p}_v1`, 'zz_second')).sort(), ['g', 'id', 'links']);
    assert.deepEqual(Object.keys(await columns(`${p}_v1`, 'aa_first')).sort(), ['id', 'links', 'x']);
  });

  test('a schema left by an unannounced attempt is replaced; one holding items is never replaced', async () => {
    const p = project('leftover');
    const bp = { columns: { x: { type: 'string' } } };
    await ok(dstore.request('PUT', `/${p}/_blueprint`, { thing: bp }), 200);
    const definition = normalizeBlueprint('thing', bp);
    const store = await openStore();
    try {
      // as if dstore crashed after PostgreSQL committed the migration but before the catalog announced it
      await store.migrate({ project: p, version: 1, createdAt: new Date().toISOString(), blueprints: { thing: definition } });
      await db.query(`INSERT INTO "${p}_v1".thing (id, x) VALUES ($1, 'stray row without stamp')`, [randomUUID()]);
      assert.equal((await ok(dstore.request('POST', `/${p}/_version`), 201)).project_version, 1);
      assert.deepEqual(await sql(`SELECT * FROM "${p}_v1".thing`), [], 'the leftover schema was replaced');

      // version 2 exists in PostgreSQL with an item but not in the catalog (a catalog reset): refuse, keep the data
      await store.migrate({ project: p, version: 2, createdAt: new Date().toISOString(), blueprints: { thing: definition } });
      const id = randomUUID();
      await store.apply([{ op: 'put', project: p, version: 2, blueprint: 'thing', definition, id, stamp: 1, item: { id, project_version: 2, x: 'keep me' } }]);
      const refused = await dstore.request('POST', `/${p}/_version`);
      assert.equal(refused.status, 502, refused.text);
      assert.match(refused.body.message, /holds items/);
      assert.deepEqual(await sql(`SELECT x FROM "${p}_v2".thing`), [{ x: 'keep me' }]);
    } finally {
      await store.close();
    }
    // DELETE /{project} also drops dstore's leftover schemas of the project that the catalog does not know
    await ok(dstore.request('DELETE', `/${p}`), 204);
    projects.delete(p);
    assert.deepEqual(await schemas(p), []);
  });

  test('a schema named like the project that dstore did not make stops the first snapshot with a 502 naming it; nothing is created', async () => {
    const p = project('taken');
    await db.query(`CREATE SCHEMA "${p}"`);
    await ok(dstore.request('PUT', `/${p}/_blueprint`, { thing: { columns: { x: { type: 'string' } } } }), 200);
    const refused = await dstore.request('POST', `/${p}/_version`);
    assert.equal(refused.status, 502, refused.text);
    assert.match(refused.body.message, new RegExp(`schema "${p}" already exists in PostgreSQL and was not made by dstore`));
    assert.deepEqual(await schemas(p), [p], 'no version schema, and the foreign one untouched');
    assert.deepEqual((await ok(dstore.request('GET', `/${p}/_version`), 200)).versions, []);
    await db.query(`DROP SCHEMA "${p}"`);
    assert.equal((await ok(dstore.request('POST', `/${p}/_version`), 201)).project_version, 1);
    assert.deepEqual(await schemas(p), [p, `${p}_v1`]);
  });

  test('injection-shaped names are refused with 400 and no schema appears', async () => {
    const before = await sql(`SELECT nspname FROM pg_namespace ORDER BY 1`);
    const tables = await sql(`SELECT count(*)::int AS n FROM pg_tables`);
    const bad = ['x;drop', '"quoted"', 'a b', "Robert'); DROP TABLE students;--", 'x"y', 'a\u0000b', "a'b", 'a-b', '1abc', 'a'.repeat(64)];
    const good = project('names');
    const columns = { c: { type: 'string' } };
    for (const name of bad) {
      const enc = encodeURIComponent(name);
      assert.equal((await dstore.request('PUT', `/${enc}/thing/_blueprint`, { columns })).status, 400, `project ${name}`);
      assert.equal((await dstore.request('PUT', `/${enc}`, { thing: { columns } })).status, 400, `project ${name}`);
      assert.equal((await dstore.request('POST', `/${enc}/_version`)).status, 400, `project ${name}`);
      assert.equal((await dstore.request('PUT', `/${good}/${enc}/_blueprint`, { columns })).status, 400, `blueprint ${name}`);
      assert.equal((await dstore.request('PUT', `/${good}`, { [name]: { columns } })).status, 400, `blueprint ${name}`);
      assert.equal((await dstore.request('PUT', `/${good}/thing/_blueprint`, { columns: { [name]: { type: 'string' } } })).status, 400, `column ${name}`);
      assert.equal((await dstore.request('PUT', `/${good}/thing/_blueprint`, { postgresql: { table: name }, columns })).status, 400, `table ${name}`);
      assert.equal((await dstore.request('PUT', `/${good}`, { thing: { postgresql: { table: name }, columns } })).status, 400, `table ${name}`);
    }
    for (const name of ['UPPER', 'pg_catalog', 'has_v1_suffix', 'a'.repeat(49)]) {
      assert.equal((await dstore.request('PUT', `/${name}/thing/_blueprint`, { columns })).status, 400, `project ${name}`);
      assert.equal((await dstore.request('POST', `/${name}/_version`)).status, 400, `project ${name}`);
    }
    assert.equal((await dstore.request('PUT', `/${good}/Thing/_blueprint`, { columns })).status, 400, 'blueprint names are lowercase');
    assert.equal((await dstore.request('PUT', `/${good}/thing/_blueprint`, { postgresql: { table: 'Thing' }, columns })).status, 400, 'table names are lowercase');
    for (const reserved of ['id', 'links', 'project_version', '_dstore_stamp']) {
      assert.equal((await dstore.request('PUT', `/${good}/thing/_blueprint`, { columns: { [reserved]: { type: 'string' } } })).status, 400, `column ${reserved}`);
    }
    assert.deepEqual(await sql(`SELECT nspname FROM pg_namespace ORDER BY 1`), before);
    assert.deepEqual(await sql(`SELECT count(*)::int AS n FROM pg_tables`), tables);

    // defence in depth: the store refuses such names itself, even when handed a snapshot that skipped validation
    const store = await openStore();
    try {
      const evil = { postgresql: { table: "t; DROP SCHEMA public CASCADE; --" }, elasticsearch: { type: 't' }, columns: {} } as Blueprint;
      await assert.rejects(store.migrate({ project: good, version: 1, createdAt: '', blueprints: { t: evil } }), /refusing table name/);
      const evilColumn = { postgresql: { table: 't' }, elasticsearch: { type: 't' }, columns: { 'a" TEXT); DROP TABLE x; --': { type: 'string' } } } as Blueprint;
      await assert.rejects(store.migrate({ project: good, version: 1, createdAt: '', blueprints: { t: evilColumn } }), /refusing column name/);
      await assert.rejects(store.migrate({ project: 'x; drop', version: 1, createdAt: '', blueprints: {} }), /refusing project name/);
    } finally {
      await store.close();
    }
    assert.deepEqual(await sql(`SELECT nspname FROM pg_namespace ORDER BY 1`), before);
  });

  test('DELETE of an item removes it from every version; DELETE of the project drops every version schema and the latest schema', async () => {
    const p = project('deletes');
    const bp = { columns: { t: { type: 'string' } } };
    await snapshot(p, { doc: bp });
    await ok(dstore.request('POST', `/${p}/_version`), 201);
    const [gone, kept] = [randomUUID(), randomUUID()];
    for (const version of [1, 2]) {
      await ok(dstore.request('PUT', `/${p}/doc`, [{ id: gone, project_version: version, t: 'x' }, { id: kept, project_version: version, t: 'y' }]), 200);
    }
    await ok(dstore.request('DELETE', `/${p}/doc/${gone}`), 204);
    for (const version of [1, 2]) assert.deepEqual(await sql(`SELECT id::text FROM "${p}_v${version}".doc`), [{ id: kept }]);
    await ok(dstore.request('DELETE', `/${p}/doc`, [kept]), 204);
    for (const version of [1, 2]) assert.deepEqual(await sql(`SELECT id::text FROM "${p}_v${version}".doc`), []);

    assert.deepEqual(await schemas(p), [p, `${p}_v1`, `${p}_v2`]);
    await ok(dstore.request('DELETE', `/${p}`), 204);
    projects.delete(p);
    assert.deepEqual(await schemas(p), []);
  });

  test('stamps: a late older write never overwrites a newer one, and never undoes a delete', async () => {
    const p = project('stamps');
    await snapshot(p, { s: { columns: { v: { type: 'string' }, n: { type: 'integer' } } } });
    const definition = (await ok(dstore.request('GET', `/${p}/s/_blueprint/1`), 200)) as Blueprint;
    const store = await openStore();
    const put = (id: string, stamp: number, v: string, version = 1): ItemPut => ({ op: 'put', project: p, version, blueprint: 's', definition, id, stamp, item: { id, project_version: version, v } });
    const del = (id: string, stamp: number): Write => ({ op: 'delete', project: p, blueprint: 's', id, stamp, targets: [{ version: 1, definition }] });
    const value = async (id: string) => (await sql<{ v: string }>(`SELECT v FROM "${p}_v1".s WHERE id = $1`, [id]))[0]?.v;
    try {
      const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await store.apply([put(a, 200, 'newer')]);
      await store.apply([put(a, 100, 'older')]);
      assert.equal(await value(a), 'newer');
      await store.apply([put(a, 200, 'same stamp again')]);
      assert.equal(await value(a), 'newer', 'a redelivered write with the same stamp changes nothing');

      await store.apply([put(b, 100, 'first')]);
      await store.apply([del(b, 300)]);
      await store.apply([put(b, 250, 'late older put')]);
      assert.equal(await value(b), undefined, 'the delete stays');
      await store.apply([put(b, 400, 'newer than the delete')]);
      assert.equal(await value(b), 'newer than the delete');

      // a delete of an item never seen leaves a tombstone that a late older put respects
      await store.apply([del(c, 500)]);
      await store.apply([put(c, 499, 'too late')]);
      assert.equal(await value(c), undefined);

      // within one batch the highest stamp wins, whatever the order
      await store.apply([put(d, 20, 'b'), put(d, 10, 'a'), put(a, 201, 'newest')]);
      assert.equal(await value(d), 'b');
      assert.equal(await value(a), 'newest');
      await store.apply([put(d, 30, 'c'), del(d, 50), put(d, 40, 'd')]);
      assert.equal(await value(d), undefined);

      // a large batch is split over several connections by id: the same rules hold
      const ids = Array.from({ length: 1000 }, () => randomUUID());
      const big: Write[] = [
        ...ids.map((id) => put(id, 1000, 'first')),
        ...ids.map((id) => put(id, 2000, 'second')),
        ...ids.slice(0, 100).map((id) => del(id, 3000)),
        ...ids.slice(100, 200).map((id) => put(id, 1500, 'older than second')),
      ];
      await store.apply(big);
      const rows = await sql<{ v: string; n: number }>(`SELECT v, count(*)::int AS n FROM "${p}_v1".s WHERE id = ANY($1::uuid[]) GROUP BY v`, [ids]);
      assert.deepEqual(rows, [{ v: 'second', n: 900 }]);
    } finally {
      await store.close();
    }
  });

  test('refusals: a missing table is rejected per write, a bad row fails the batch, never "unavailable"', async () => {
    const p = project('refuse');
    await snapshot(p, { s: { columns: { n: { type: 'integer' } } } });
    const definition = (await ok(dstore.request('GET', `/${p}/s/_blueprint/1`), 200)) as Blueprint;
    const store = await openStore();
    const put = (n: unknown, version = 1): ItemPut => {
      const id = randomUUID();
      return { op: 'put', project: p, version, blueprint: 's', definition, id, stamp: 1, item: { id, project_version: version, n } };
    };
    try {
      const missing = await store.apply([put(1), put(2, 7)]).then(() => null, (e: unknown) => e);
      assert.ok(missing instanceof WriteRejectedError, String(missing));
      assert.deepEqual([...missing.reasons.keys()], [1]);
      assert.match(missing.reasons.get(1)!, /does not exist/);

      const batch = await store.apply([put(1), put('not a number')]).then(() => null, (e: unknown) => e);
      assert.ok(batch instanceof Error && !(batch instanceof StoreUnavailableError) && !(batch instanceof WriteRejectedError), String(batch));
      const single = await store.apply([put('not a number')]).then(() => null, (e: unknown) => e);
      assert.ok(single instanceof WriteRejectedError, String(single));
      assert.deepEqual([...single.reasons.keys()], [0]);
      assert.deepEqual(await sql(`SELECT count(*)::int AS n FROM "${p}_v1".s`), [{ n: 0 }], 'a refused batch leaves nothing');

      // a large batch with one bad row: refused as a batch (the queue then isolates the bad write); applying the
      // good writes again, as the queue does, lands each exactly once whatever the partitions already committed
      const good = Array.from({ length: 1500 }, (_, i) => put(i));
      const bad = await store.apply([...good.slice(0, 700), put('not a number'), ...good.slice(700)]).then(() => null, (e: unknown) => e);
      assert.ok(bad instanceof Error && !(bad instanceof StoreUnavailableError), String(bad));
      await store.apply(good);
      assert.deepEqual(await sql(`SELECT count(*)::int AS n, sum(n)::int AS total FROM "${p}_v1".s`), [{ n: 1500, total: (1499 * 1500) / 2 }]);
    } finally {
      await store.close();
    }
  });

  test('a bulk PUT of 1,000 items lands 1,000 rows', async () => {
    const p = project('bulk');
    await snapshot(p, { sink: KITCHEN_SINK_BLUEPRINT });
    const items = Array.from({ length: 1000 }, () => kitchenSinkItem(randomUUID()));
    const res = await ok(dstore.request('PUT', `/${p}/sink`, items), 200);
    assert.equal(res.count, 1000);
    assert.deepEqual(await sql(`SELECT count(*)::int AS n, count(c_point)::int AS points FROM "${p}_v1".sink`), [{ n: 1000, points: 1000 }]);
  });

  test('two blueprints with the same postgresql.table are refused with 400', async () => {
    const p = project('clash');
    const clash = { a: { postgresql: { table: 'shared' }, columns: { x: { type: 'string' } } }, b: { postgresql: { table: 'shared' }, columns: { y: { type: 'string' } } } };
    assert.equal((await dstore.request('PUT', `/${p}`, clash)).status, 400);
    assert.equal((await dstore.request('PUT', `/${p}/_blueprint`, clash)).status, 400);
    await ok(dstore.request('PUT', `/${p}/a/_blueprint`, clash.a), 200);
    assert.equal((await dstore.request('PUT', `/${p}/b/_blueprint`, clash.b)).status, 400);
    // a blueprint whose default table (its name) is another's explicit table
    assert.equal((await dstore.request('PUT', `/${p}/shared/_blueprint`, { columns: { z: { type: 'string' } } })).status, 400);
    assert.deepEqual(await schemas(p), []);
  });
});
