/**
 * PostgreSQL's side of schema evolution (SPEC §9) against a real server, through the store
 * itself: scan (paging, stamps, deletes, every column type read back as a client sends it),
 * activate (the latest schema's views), retire (one version's schema). Read back with a
 * separate pg client. Fails (never skips) when PostgreSQL is not reachable.
 *
 *   POSTGRESQL_HOST=127.0.0.1 POSTGRESQL_USER=postgres POSTGRESQL_DATABASE=dstore_test \
 *     node --import tsx --test test/integration/scan-postgresql.int.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { normalizeBlueprint, type Blueprint, type Blueprints } from '../../src/schema/blueprint.ts';
import { itemProblems, type Item } from '../../src/schema/item.ts';
import { PostgresqlStore } from '../../src/stores/postgresql/postgresql-store.ts';
import type { ItemDelete, ItemPut, Snapshot } from '../../src/stores/store.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem } from '../support/harness.ts';
import { PG } from '../support/postgresql.ts';


/** Hex never contains `v`, so no `_v<digits>` appears by accident. */
const RUN = `scan_${randomBytes(4).toString('hex')}`;
const OTHER_TIME_ZONE = 'Asia/Kathmandu';

let store: PostgresqlStore;
let db: pg.Client;
let stamp = 1_000;

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> {
  return (await db.query<T>(text, values)).rows;
}

async function schemas(project: string): Promise<string[]> {
  return (await sql<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname ~ $2 ORDER BY 1`, [project, `^${project}_v[0-9]+$`])).map((r) => r.nspname);
}

function snapshotOf(project: string, version: number, blueprints: Record<string, unknown>): Snapshot {
  const normalized: Blueprints = {};
  for (const [name, bp] of Object.entries(blueprints)) normalized[name] = normalizeBlueprint(name, bp);
  return { project, version, createdAt: new Date().toISOString(), blueprints: normalized };
}

function put(s: Snapshot, blueprint: string, item: Record<string, unknown>, at = stamp++): ItemPut {
  return { op: 'put', project: s.project, version: s.version, blueprint, definition: s.blueprints[blueprint]!, id: item['id'] as string, stamp: at, item: item as Item };
}

function del(s: Snapshot, blueprint: string, id: string, at = stamp++): ItemDelete {
  return { op: 'delete', project: s.project, blueprint, id, stamp: at, targets: [{ version: s.version, definition: s.blueprints[blueprint]! }] };
}

function scan(s: Snapshot, blueprint: string, o: { after?: string; limit?: number } = {}) {
  return store.scan({ project: s.project, version: s.version, blueprint, definition: s.blueprints[blueprint]!, after: o.after, limit: o.limit ?? 1000 });
}

/** Sorted lowercase UUIDs. */
function ids(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID()).sort();
}

describe('PostgreSQL scan, activate, retire', () => {
  before(async () => {
    const admin = new pg.Client({ ...PG, database: 'postgres', connectionTimeoutMillis: 5000 });
    await admin.connect();
    try {
      if (!(await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [PG.database])).rowCount) await admin.query(`CREATE DATABASE "${PG.database}"`);
      // far from UTC, with a half-hour offset: dates and datetimes must not move on the way back
      await admin.query(`ALTER DATABASE "${PG.database}" SET TimeZone = '${OTHER_TIME_ZONE}'`);
    } finally {
      await admin.end();
    }
    store = new PostgresqlStore(PG);
    await store.open();
    db = new pg.Client(PG);
    await db.connect();
  });

  after(async () => {
    if (db) {
      for (const { nspname } of await sql<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, [RUN])) await db.query(`DROP SCHEMA "${nspname}" CASCADE`);
      await db.query(`ALTER DATABASE "${PG.database}" RESET TimeZone`);
      await db.end();
    }
    await store?.close();
  });

  test('scan pages in id order from a cursor, with the stamps written; deleted items are not scanned, rewritten ones carry the new stamp', async () => {
    const v1 = snapshotOf(`${RUN}_page`, 1, { note: { columns: { title: { type: 'string' } } }, other: { columns: { title: { type: 'string' } } } });
    await store.migrate(v1);
    const five = ids(5);
    const stamps = new Map<string, number>();
    // written in reverse id order, in two batches, with a neighbour in another table that must not show
    for (const batch of [five.slice(2).reverse(), five.slice(0, 2).reverse()]) {
      const writes = batch.map((id) => put(v1, 'note', { id, project_version: 1, title: `t ${id}` }));
      writes.forEach((w) => stamps.set(w.id, w.stamp));
      await store.apply(writes);
    }
    const elsewhere = put(v1, 'other', { id: five[0]!, project_version: 1, title: 'elsewhere' });
    await store.apply([elsewhere]);

    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await scan(v1, 'note', { after: cursor, limit: 2 });
      if (!page.length) break;
      pages.push(page.map((s) => s.id));
      for (const s of page) {
        assert.equal(s.stamp, stamps.get(s.id), `stamp of ${s.id}`);
        assert.deepEqual(s.item, { id: s.id, project_version: 1, title: `t ${s.id}` });
      }
      cursor = page.at(-1)!.id;
    }
    assert.deepEqual(pages, [five.slice(0, 2), five.slice(2, 4), five.slice(4)]);
    // the cursor is exclusive; one past the end gives nothing
    assert.deepEqual((await scan(v1, 'note', { after: five[2]! })).map((s) => s.id), five.slice(3));
    assert.deepEqual(await scan(v1, 'note', { after: 'ffffffff-ffff-4fff-bfff-ffffffffffff' }), []);

    const rewrite = put(v1, 'note', { id: five[3]!, project_version: 1, title: 'again' });
    await store.apply([del(v1, 'note', five[1]!), rewrite]);
    // a late older put of the deleted item stays away, and so stays unscanned
    await store.apply([put(v1, 'note', { id: five[1]!, project_version: 1, title: 'late' }, 1)]);
    const all = await scan(v1, 'note');
    assert.deepEqual(all.map((s) => s.id), [five[0], five[2], five[3], five[4]]);
    assert.equal(await store.count({ project: v1.project, version: v1.version, blueprint: 'note', definition: v1.blueprints['note']! }), all.length, 'count is what a scan gives');
    assert.equal(all[2]!.stamp, rewrite.stamp);
    assert.equal(all[2]!.item['title'], 'again');
    assert.deepEqual(await scan(v1, 'other'), [{ id: five[0], stamp: elsewhere.stamp, item: { id: five[0], project_version: 1, title: 'elsewhere' } }]);
    await assert.rejects(scan(v1, 'note', { after: 'not-a-uuid' }), /not a UUID/);
    await assert.rejects(scan({ ...v1, version: 7 }, 'note'), /no table .*_v7\.note/);
    await store.dropProject(v1.project, [1]);
  });

  test('every column type round-trips: the scanned item is a valid item of its version, and writing it back scans the same', async () => {
    const v1 = snapshotOf(`${RUN}_sink`, 1, { sink: KITCHEN_SINK_BLUEPRINT });
    await store.migrate(v1);
    const [full, odd, sparse] = ids(3);
    const oddItem = {
      id: odd,
      project_version: 1,
      links: [],
      c_uuids: [],
      c_strings: ['with "quotes", commas and {braces}', '', 'ünïcødé ✓'],
      c_texts: [],
      c_points: { type: 'MultiPoint', coordinates: [] },
      c_lines: { type: 'MultiLineString', coordinates: [] },
      c_polygons: { type: 'MultiPolygon', coordinates: [] },
      c_point: { type: 'Point', coordinates: [-179.123456789012, -89.987654321] },
      c_date: '0001-01-01',
      c_dates: ['9999-12-31'],
      c_datetime: '2020-06-01T23:59:59.123456+05:45',
      c_datetimes: ['1999-12-31 23:59:59', '2000-01-01T00:00:00Z'],
      c_float: 0.1,
      c_floats: [3.4028234663852886e38, -1e-30, 0, -3.4028234663852886e38, 0.123456789],
      c_integer: -2147483648,
      c_integers: [],
      c_boolean: false,
      c_booleans: [false],
      c_json: 'just a string',
      c_jsons: [1, 'two', [3, [4]], null, { deep: { er: true } }, false, 1.5e-300, 12.25],
    };
    await store.apply([put(v1, 'sink', kitchenSinkItem(full!)), put(v1, 'sink', oddItem), put(v1, 'sink', { id: sparse, project_version: 1, c_string: null, c_json: null })]);

    const scanned = await scan(v1, 'sink');
    assert.deepEqual(scanned.map((s) => s.id), [full, odd, sparse]);
    for (const s of scanned) assert.deepEqual(itemProblems(v1.blueprints['sink']!, s.item), {}, `scanned ${s.id} is a valid item`);

    // what changes on the way back, and nothing else: datetimes come back in UTC, floats at REAL precision
    const sent = kitchenSinkItem(full!);
    assert.deepEqual(scanned[0]!.item, { ...sent, c_datetime: '2014-01-17T03:50:12Z', c_datetimes: ['2014-01-17T03:50:12Z', '2020-06-01T10:00:00Z'] });
    assert.deepEqual(scanned[1]!.item, {
      ...oddItem,
      c_datetime: '2020-06-01T18:14:59.123456Z',
      c_datetimes: ['1999-12-31T23:59:59Z', '2000-01-01T00:00:00Z'],
      c_floats: [3.4028234663852886e38, -1e-30, 0, -3.4028234663852886e38, 0.12345679],
    });
    assert.equal(typeof scanned[1]!.item['c_float'], 'number');
    // null columns are left out, as absent ones are
    assert.deepEqual(scanned[2]!.item, { id: sparse, project_version: 1 });

    // written back (as a back-fill or rebuild does, with the same stamps), the scan is the same
    const v2 = snapshotOf(v1.project, 2, { sink: KITCHEN_SINK_BLUEPRINT });
    await store.migrate(v2);
    await store.apply(scanned.map((s) => put(v2, 'sink', { ...s.item, project_version: 2 }, s.stamp)));
    const again = await scan(v2, 'sink');
    assert.deepEqual(again, scanned.map((s) => ({ ...s, item: { ...s.item, project_version: 2 } })));
    await store.dropProject(v1.project, [1, 2]);
  });

  test('activate makes the latest schema\'s views read that version, replacing them in one go; migrate never moves them', async () => {
    const p = `${RUN}_latest`;
    const v1 = snapshotOf(p, 1, {
      article: { postgresql: { table: 'articles' }, columns: { title: { type: 'string' }, n: { type: 'integer' } } },
      gone: { postgresql: { table: 'gone' }, columns: { x: { type: 'string' } } },
    });
    await store.migrate(v1);
    assert.deepEqual(await schemas(p), [`${p}_v1`], 'migrate alone makes no latest schema');
    const [a, b] = ids(2);
    await store.apply([put(v1, 'article', { id: a, project_version: 1, title: 'one', n: 1 }), put(v1, 'gone', { id: a, project_version: 1, x: 'x' })]);
    await store.activate(v1);
    assert.deepEqual(await schemas(p), [p, `${p}_v1`]);
    assert.deepEqual(await sql(`SELECT obj_description(oid, 'pg_namespace') AS marker FROM pg_namespace WHERE nspname = $1`, [p]), [{ marker: `dstore:${p}:latest` }]);
    assert.deepEqual(await sql(`SELECT id::text, title, n FROM "${p}".articles`), [{ id: a, title: 'one', n: 1 }]);
    assert.deepEqual(await sql(`SELECT x FROM "${p}".gone`), [{ x: 'x' }]);
    // the stamps bookkeeping is not a reader's business
    assert.deepEqual((await sql<{ relname: string }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`, [p])).map((r) => r.relname), ['articles', 'gone']);
    // a reader's own view on top of the latest one
    await db.query(`CREATE VIEW "${p}_reader" AS SELECT title FROM "${p}".articles`);

    // v2: a column appended (CREATE OR REPLACE follows), `gone` dropped from the project
    const v2 = snapshotOf(p, 2, { article: { postgresql: { table: 'articles' }, columns: { title: { type: 'string' }, n: { type: 'integer' }, extra: { type: 'date' } } } });
    await store.migrate(v2);
    await store.apply([put(v2, 'article', { id: b, project_version: 2, title: 'two', n: 2, extra: '2024-02-29' })]);
    assert.deepEqual(await sql(`SELECT id::text, title FROM "${p}".articles`), [{ id: a, title: 'one' }], 'migrating v2 left the views on v1');
    await store.activate(v2);
    assert.deepEqual(await sql(`SELECT id::text, title, n, extra::text FROM "${p}".articles`), [{ id: b, title: 'two', n: 2, extra: '2024-02-29' }]);
    assert.deepEqual(await sql(`SELECT title FROM "${p}_reader"`), [{ title: 'two' }], 'the reader\'s view follows');
    assert.deepEqual(await sql(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'gone'`, [p]), [], 'the view of a blueprint v2 lacks is gone');
    await db.query(`DROP VIEW "${p}_reader"`);

    // v3: n retyped and title dropped: CREATE OR REPLACE cannot follow, so the view is dropped and made anew in the same transaction
    const v3 = snapshotOf(p, 3, { article: { postgresql: { table: 'articles' }, columns: { n: { type: 'float' }, subtitle: { type: 'text' } } } });
    await store.migrate(v3);
    await store.apply([put(v3, 'article', { id: a, project_version: 3, n: 2.5, subtitle: 'three' })]);
    await store.activate(v3);
    assert.deepEqual(await sql(`SELECT id::text, n, subtitle FROM "${p}".articles`), [{ id: a, n: 2.5, subtitle: 'three' }]);
    const cols = await sql<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'articles' ORDER BY ordinal_position`, [p]);
    assert.deepEqual(cols.map((c) => [c.column_name, c.data_type]), [['id', 'uuid'], ['links', 'ARRAY'], ['n', 'real'], ['subtitle', 'text']]);
    // activating again is harmless, and moving back works too
    await store.activate(v3);
    await store.activate(v1);
    assert.deepEqual(await sql(`SELECT id::text, title FROM "${p}".articles`), [{ id: a, title: 'one' }]);
    assert.deepEqual(await sql(`SELECT x FROM "${p}".gone`), [{ x: 'x' }]);

    // dropping the project drops the latest schema with the version schemas
    await store.dropProject(p, [1, 2, 3]);
    assert.deepEqual(await schemas(p), []);
  });

  test('a schema named like the project that dstore did not make stops migrate, naming it, and nothing is created', async () => {
    const p = `${RUN}_foreign`;
    const v1 = snapshotOf(p, 1, { thing: { columns: { x: { type: 'string' } } } });
    await db.query(`CREATE SCHEMA "${p}"`);
    await db.query(`CREATE TABLE "${p}".mine (a int)`);
    await assert.rejects(store.migrate(v1), (e: Error) => e.message.includes(`schema "${p}" already exists`) && /not made by dstore/.test(e.message));
    assert.deepEqual(await schemas(p), [p], 'no version schema was created');
    // a comment that is not dstore's mark is not enough
    await db.query(`COMMENT ON SCHEMA "${p}" IS 'dstore:${p}:1'`);
    await assert.rejects(store.migrate(v1), new RegExp(`schema "${p}" already exists`));
    await assert.rejects(store.activate(v1), new RegExp(`schema "${p}" already exists`));
    assert.deepEqual(await sql(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [p]), [{ relname: 'mine' }], 'the foreign schema was not touched');
    // dropProject leaves it alone too
    await store.dropProject(p, [1]);
    assert.deepEqual(await schemas(p), [p]);
    await db.query(`DROP SCHEMA "${p}" CASCADE`);
    await store.migrate(v1);
    assert.deepEqual(await schemas(p), [`${p}_v1`]);
    await store.dropProject(p, [1]);
  });

  test('retire drops one version\'s schema, leaves the others and the latest views, is harmless twice, and never drops views with it', async () => {
    const p = `${RUN}_retire`;
    const bp = { note: { columns: { title: { type: 'string' } } } };
    const [v1, v2, v3] = [1, 2, 3].map((v) => snapshotOf(p, v, bp)) as [Snapshot, Snapshot, Snapshot];
    const [id] = ids(1);
    for (const s of [v1, v2, v3]) {
      await store.migrate(s);
      await store.apply([put(s, 'note', { id, project_version: s.version, title: `v${s.version}` })]);
    }
    await store.activate(v2);
    await store.retire(p, 1);
    assert.deepEqual(await schemas(p), [p, `${p}_v2`, `${p}_v3`]);
    assert.deepEqual(await sql(`SELECT title FROM "${p}".note`), [{ title: 'v2' }]);
    assert.deepEqual((await scan(v3, 'note')).map((s) => s.item['title']), ['v3']);
    await store.retire(p, 1);
    await store.retire(p, 9);
    assert.deepEqual(await schemas(p), [p, `${p}_v2`, `${p}_v3`]);
    // the version the latest views read cannot go with CASCADE taking the views along
    await assert.rejects(store.retire(p, 2), new RegExp(`"${p}_v2" is still read by view\\(s\\) ${p}\\.note`));
    assert.deepEqual(await sql(`SELECT title FROM "${p}".note`), [{ title: 'v2' }]);
    await store.activate(v3);
    await store.retire(p, 2);
    assert.deepEqual(await schemas(p), [p, `${p}_v3`]);
    assert.deepEqual(await sql(`SELECT title FROM "${p}".note`), [{ title: 'v3' }]);
    // a schema with the name of a version that dstore did not make is never dropped
    await db.query(`CREATE SCHEMA "${p}_v5"`);
    await assert.rejects(store.retire(p, 5), /not made by dstore/);
    await db.query(`DROP SCHEMA "${p}_v5"`);
    await store.dropProject(p, [3]);
    assert.deepEqual(await schemas(p), []);
  });
});
