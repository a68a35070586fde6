/**
 * Schema evolution (SPEC §8, §9) against the real engines this suite is given:
 * LevelDB always, PostgreSQL when POSTGRESQL_HOST is set, Elasticsearch/OpenSearch
 * when ELASTICSEARCH_HOST is set; the in-process queue. What each engine holds
 * is read back directly (SQL, the search REST API, LevelDB keys), value by value.
 *
 *   POSTGRESQL_HOST=127.0.0.1 POSTGRESQL_USER=postgres POSTGRESQL_DATABASE=dstore_test \
 *   ELASTICSEARCH_HOST=http://127.0.0.1:9201 node --import tsx --test test/integration/evolution.int.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ClassicLevel } from 'classic-level';
import { startDstore, type TestDstore } from '../support/harness.ts';
import { startServerProcess } from '../support/server-process.ts';
import { connectTestDatabase } from '../support/postgresql.ts';

const PG_HOST = process.env['POSTGRESQL_HOST'] || '';
const ES_HOST = process.env['ELASTICSEARCH_HOST'] || '';
const PG = { host: PG_HOST, port: Number(process.env['POSTGRESQL_PORT'] || 5432), user: process.env['POSTGRESQL_USER'] || 'postgres', password: process.env['POSTGRESQL_PASSWORD'] || undefined, database: process.env['POSTGRESQL_DATABASE'] || 'dstore_test' };
const ENGINE_ENV: Record<string, string> = {
  QUEUE_CONNECTIONSTRING: '',
  STORES: ['level', PG_HOST && 'postgresql', ES_HOST && 'elasticsearch'].filter(Boolean).join(','),
  POSTGRESQL_HOST: PG_HOST,
  POSTGRESQL_PORT: String(PG.port),
  POSTGRESQL_USER: PG.user,
  POSTGRESQL_PASSWORD: PG.password ?? '',
  POSTGRESQL_DATABASE: PG.database,
  ELASTICSEARCH_HOST: ES_HOST,
};

const RUN = `ev_${randomBytes(3).toString('hex').replace(/\d/g, (d) => 'abcdefghij'[+d]!)}`;
let seq = 0;
const project = (name: string) => `${RUN}_${name}_${'abcdefghij'[seq++ % 10]}${'abcdefghij'[Math.floor(seq / 10) % 10]}`;

let db: pg.Client | null = null;

async function sql<T extends pg.QueryResultRow = Record<string, any>>(text: string, values?: unknown[]): Promise<T[]> {
  return (await db!.query<T>(text, values)).rows;
}

async function es(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${ES_HOST.replace(/\/$/, '')}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function ok(res: Promise<{ status: number; body: any; text: string }>, status: number): Promise<any> {
  const r = await res;
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.body;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const V1 = {
  postgresql: { table: 'articles' },
  elasticsearch: { type: 'article' },
  columns: {
    title: { type: 'string', validation: { required: true } },
    views: { type: 'integer' },
    score: { type: 'integer' },
    code: { type: 'string' },
    loc: { type: 'point' },
    obsolete: { type: 'string' },
  },
};

const V2 = {
  postgresql: { table: 'articles' },
  elasticsearch: { type: 'article' },
  columns: {
    headline: { type: 'string', renamed_from: 'title', validation: { required: true, maxLength: 40 } },
    views: { type: 'integer' },
    score: { type: 'float' },
    code: { type: 'integer' },
    loc: { type: 'point[]' },
    category: { type: 'string', default: 'general' },
  },
};

function id(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

function v1Item(n: number, extra: Record<string, unknown> = {}) {
  return { id: id(n), project_version: 1, title: `T${n}`, views: n, score: n, code: String(1000 + n), loc: { type: 'Point', coordinates: [4 + n / 1000, 52] }, obsolete: 'x', ...extra };
}

function v2Copy(n: number) {
  return { id: id(n), project_version: 2, headline: `T${n}`, views: n, score: n, code: 1000 + n, loc: { type: 'MultiPoint', coordinates: [[4 + n / 1000, 52]] }, category: 'general' };
}

function start(env: Record<string, string> = {}): Promise<TestDstore> {
  return startDstore({ ...ENGINE_ENV, ...env });
}

async function levelItems(d: TestDstore, p: string, version: number): Promise<Map<string, any>> {
  const prefix = `${p}/v${String(version).padStart(10, '0')}/article/`;
  const rows = await d.level!.entries({ gte: prefix, lt: `${prefix}\uffff` });
  return new Map(rows.map(([k, v]) => [k.slice(prefix.length), JSON.parse(v)]));
}

/** The PostgreSQL row of an item in one version, geometry as GeoJSON. */
async function pgRow(p: string, version: number, itemId: string): Promise<Record<string, any> | undefined> {
  const rows = await sql(`SELECT to_jsonb(t) - 'loc' AS row, ST_AsGeoJSON(t.loc)::jsonb AS loc FROM "${p}_v${version}".articles t WHERE id = $1`, [itemId]);
  if (!rows[0]) return undefined;
  return { ...rows[0].row, loc: rows[0].loc };
}

async function esDoc(p: string, version: number, itemId: string): Promise<Record<string, any> | undefined> {
  const r = await es('GET', `/${p}_v${version}_article/_doc/${itemId}`);
  return r.body?.found ? r.body._source : undefined;
}

before(async () => {
  if (PG_HOST) {
    db = await connectTestDatabase(PG);
  }
  if (ES_HOST) assert.equal((await es('GET', '/')).status, 200, `Elasticsearch at ${ES_HOST} must answer`);
});

after(async () => {
  if (db) {
    await db.query('SELECT 1'); // fails loudly if the connection was lost, rather than at the cleanup
    const rows = await sql<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, [RUN]);
    for (const r of rows) await sql(`DROP SCHEMA "${r.nspname}" CASCADE`);
    await db.end();
  }
  if (ES_HOST) await es('DELETE', `/${RUN}_*`);
});

describe('schema evolution, in-process queue', () => {
  let d: TestDstore;
  before(async () => {
    d = await start();
  });
  after(async () => {
    await d?.stop();
  });

  test('the user story: v1 items back-filled into v2 in its shape; writes for either version land in both; latest moves when ready; v1 retired', async () => {
    const p = project('story');
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V1), 200);
    await ok(d.request('POST', `/${p}/_version`), 201);
    await ok(d.request('PUT', `/${p}/article`, Array.from({ length: 30 }, (_, i) => v1Item(i + 1))), 200);

    await ok(d.request('PUT', `/${p}/article/_blueprint`, V2), 200);
    const created = await ok(d.request('POST', `/${p}/_version?wait=backfill`), 201);
    assert.equal(created.project_version, 2);
    assert.deepEqual(created.versions, [1, 2]);
    assert.equal(created.backfill.state, 'done');
    assert.equal(created.backfill.total, 30);
    const job = await ok(d.request('GET', `/_jobs/${created.backfill.job}`), 200);
    assert.equal(job.kind, 'backfill');
    assert.equal(job.done, 30);
    assert.equal(job.skipped, 0);
    assert.equal(job.from, PG_HOST ? 'postgresql' : 'level');
    assert.deepEqual((await ok(d.request('GET', `/${p}/_version`), 200)), { project_version: 2, versions: [1, 2], retired: [] });
    assert.equal((await ok(d.request('GET', `/${p}/_version/2`), 200)).state, 'ready');

    // every old item is in version 2, in its new shape, in every engine
    const level2 = await levelItems(d, p, 2);
    assert.equal(level2.size, 30);
    for (let n = 1; n <= 30; n++) assert.deepEqual(level2.get(id(n)), v2Copy(n));
    if (db) {
      const types = Object.fromEntries((await sql(`SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'articles'`, [`${p}_v2`])).map((r) => [r.column_name, r.udt_name]));
      assert.equal(types['score'], 'float4');
      assert.equal(types['code'], 'int4');
      assert.equal(types['headline'], 'text');
      assert.equal((await sql(`SELECT count(*)::int AS n FROM "${p}_v2".articles`))[0]!.n, 30);
      const row = (await pgRow(p, 2, id(7)))!;
      assert.equal(row['headline'], 'T7');
      assert.equal(row['score'], 7);
      assert.equal(row['code'], 1007);
      assert.equal(row['category'], 'general');
      assert.equal(row['title'], undefined);
      assert.equal(row['obsolete'], undefined);
      assert.deepEqual(row['loc'], { type: 'MultiPoint', coordinates: [[4.007, 52]] });
      // "latest" views read version 2
      assert.deepEqual((await sql(`SELECT headline FROM "${p}".articles WHERE id = $1`, [id(7)])).map((r) => r.headline), ['T7']);
    }
    if (ES_HOST) {
      await es('POST', `/${p}_v2_article/_refresh`);
      assert.equal((await es('GET', `/${p}_v2_article/_count`)).body.count, 30);
      const doc = (await esDoc(p, 2, id(7)))!;
      assert.equal(doc['headline'], 'T7');
      assert.equal(doc['score'], 7);
      assert.equal(doc['code'], 1007);
      assert.equal(doc['category'], 'general');
      assert.equal(doc['title'], undefined);
      const alias = (await es('GET', `/_alias/${p}`)).body;
      assert.deepEqual(Object.keys(alias), [`${p}_v2_article`]);
    }

    // a write for version 1 lands in both versions, each in its shape
    await ok(d.request('PUT', `/${p}/article/${id(1)}`, v1Item(1, { title: 'Changed in v1', score: 11 })), 200);
    assert.equal((await levelItems(d, p, 1)).get(id(1)).title, 'Changed in v1');
    assert.deepEqual((await levelItems(d, p, 2)).get(id(1)), { ...v2Copy(1), headline: 'Changed in v1', score: 11 });
    // a write for version 2 lands in version 1 too, converted back
    await ok(d.request('PUT', `/${p}/article/${id(2)}`, { id: id(2), project_version: 2, headline: 'From v2', score: 4, code: 77, loc: { type: 'MultiPoint', coordinates: [[5, 51]] }, category: 'news' }), 200);
    assert.deepEqual((await levelItems(d, p, 1)).get(id(2)), { id: id(2), project_version: 1, title: 'From v2', score: 4, code: '77', loc: { type: 'Point', coordinates: [5, 51] } });
    if (db) {
      const row1 = (await pgRow(p, 1, id(2)))!;
      assert.equal(row1['title'], 'From v2');
      assert.equal(row1['code'], '77');
      assert.equal(row1['obsolete'], null);
      assert.deepEqual(row1['loc'], { type: 'Point', coordinates: [5, 51] });
      assert.equal((await pgRow(p, 2, id(2)))!['category'], 'news');
    }
    if (ES_HOST) {
      assert.equal((await esDoc(p, 1, id(2)))!['code'], '77');
      assert.equal((await esDoc(p, 2, id(2)))!['headline'], 'From v2');
    }
    // a copy that does not fit a version is refused with its version and field, and nothing is stored anywhere
    const before1 = (await levelItems(d, p, 1)).get(id(3));
    const refused = await ok(d.request('PUT', `/${p}/article/${id(3)}`, { id: id(3), project_version: 2, headline: 'x', score: 2.5, loc: { type: 'MultiPoint', coordinates: [[1, 1], [2, 2]] } }), 400);
    assert.equal(refused.code, 'DSTORE_COPY_INVALID');
    assert.ok(refused.errors['v1.score'], JSON.stringify(refused));
    assert.ok(refused.errors['v1.loc'], JSON.stringify(refused));
    assert.deepEqual((await levelItems(d, p, 1)).get(id(3)), before1);
    assert.deepEqual((await levelItems(d, p, 2)).get(id(3)), v2Copy(3));
    const tooLong = await ok(d.request('PUT', `/${p}/article/${id(3)}`, v1Item(3, { title: 'y'.repeat(41) })), 400);
    assert.ok(tooLong.errors['v2.headline'], JSON.stringify(tooLong));
    if (db) assert.equal((await pgRow(p, 1, id(3)))!['title'], 'T3');

    // deletes reach both
    await ok(d.request('DELETE', `/${p}/article/${id(4)}`), 204);
    assert.equal((await levelItems(d, p, 1)).has(id(4)), false);
    assert.equal((await levelItems(d, p, 2)).has(id(4)), false);
    if (db) {
      assert.equal(await pgRow(p, 1, id(4)), undefined);
      assert.equal(await pgRow(p, 2, id(4)), undefined);
    }
    if (ES_HOST) {
      assert.equal(await esDoc(p, 1, id(4)), undefined);
      assert.equal(await esDoc(p, 2, id(4)), undefined);
    }

    // retiring: the latest ready version cannot be retired; v1 can, and is gone from every engine
    assert.equal((await ok(d.request('DELETE', `/${p}/_version/2`), 409)).code, 'DSTORE_CONFLICT');
    await ok(d.request('DELETE', `/${p}/_version/1`), 204);
    await ok(d.request('DELETE', `/${p}/_version/1`), 204);
    assert.deepEqual(await ok(d.request('GET', `/${p}/_version`), 200), { project_version: 2, versions: [2], retired: [1] });
    assert.equal((await ok(d.request('GET', `/${p}/_version/1`), 200)).state, 'retired');
    assert.equal((await levelItems(d, p, 1)).size, 0);
    assert.equal((await d.levelKeys()).filter((k) => k.includes(`${p}/v0000000001/`)).length, 0, 'no item or stamp key of v1 is left');
    assert.equal((await levelItems(d, p, 2)).size, 29);
    if (db) assert.equal((await sql(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [`${p}_v1`])).length, 0);
    if (ES_HOST) assert.equal((await es('HEAD', `/${p}_v1_article`)).status, 404);
    const retired = await ok(d.request('PUT', `/${p}/article/${id(5)}`, v1Item(5)), 400);
    assert.equal(retired.code, 'DSTORE_VERSION_RETIRED');
    assert.match(retired.message, new RegExp(`version 1 of "${p}" is retired`));
    // writes for v2 no longer copy into v1
    await ok(d.request('PUT', `/${p}/article/${id(5)}`, { ...v2Copy(5), headline: 'after retire' }), 200);
    assert.equal((await levelItems(d, p, 1)).size, 0);
  });

  test('snapshot-time refusals: a 400 naming blueprint and column, nothing created in any engine', async () => {
    const p = project('refuse');
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V1), 200);
    await ok(d.request('POST', `/${p}/_version`), 201);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['impossible conversion point → integer', { ...V1.columns, loc: { type: 'integer' } }, 'article.columns.loc'],
      ['required column without default or source', { ...V1.columns, summary: { type: 'text', validation: { required: true } } }, 'article.columns.summary'],
      ['renamed_from a column the previous snapshot lacks', { ...V1.columns, headline: { type: 'string', renamed_from: 'nope' } }, 'article.columns.headline'],
      ['renamed_from a column the new one keeps', { ...V1.columns, headline: { type: 'string', renamed_from: 'title' } }, 'article.columns.headline'],
    ];
    for (const [what, columns, field] of cases) {
      await ok(d.request('PUT', `/${p}/article/_blueprint`, { ...V1, columns }), 200);
      const r = await ok(d.request('POST', `/${p}/_version`), 400);
      assert.ok(Object.keys(r.errors ?? {}).some((k) => k.startsWith(field)), `${what}: ${JSON.stringify(r)}`);
      assert.deepEqual((await ok(d.request('GET', `/${p}/_version`), 200)).versions, [1], what);
      if (db) assert.equal((await sql(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [`${p}_v2`])).length, 0, what);
      if (ES_HOST) assert.equal((await es('HEAD', `/${p}_v2_article`)).status, 404, what);
    }
  });

  test('"latest" stays on version 1 while version 2 is back-filled; GET /_jobs/{id} shows progress', async () => {
    const slow = await start({ BACKFILL_RATE: '400' });
    try {
      const p = project('latest');
      await ok(slow.request('PUT', `/${p}/article/_blueprint`, V1), 200);
      await ok(slow.request('POST', `/${p}/_version`), 201);
      await ok(slow.request('PUT', `/${p}/article`, Array.from({ length: 1200 }, (_, i) => v1Item(i + 1))), 200);
      await ok(slow.request('PUT', `/${p}/article/_blueprint`, V2), 200);
      const created = await ok(slow.request('POST', `/${p}/_version`), 201);
      assert.equal(created.backfill.state, 'running');
      assert.equal(created.backfill.total, 1200);
      const seen = await until('progress between 0 and total', async () => {
        const j = await ok(slow.request('GET', `/_jobs/${created.backfill.job}`), 200);
        return j.done > 0 && j.done < 1200 ? j : undefined;
      });
      assert.equal(seen.state, 'running');
      assert.equal(seen.total, 1200);
      assert.equal((await ok(slow.request('GET', `/${p}/_version/2`), 200)).state, 'backfilling');
      assert.equal((await ok(slow.request('GET', `/${p}/_version`), 200)).project_version, 1);
      if (db) assert.ok((await sql(`SELECT title FROM "${p}".articles LIMIT 1`)).length === 1, 'the latest views still read version 1');
      if (ES_HOST) assert.deepEqual(Object.keys((await es('GET', `/_alias/${p}`)).body), [`${p}_v1_article`]);
      const listed = await ok(slow.request('GET', `/_jobs?project=${p}`), 200);
      assert.equal(listed.jobs[0].id, created.backfill.job);
      await until('back-fill done', async () => (await ok(slow.request('GET', `/_jobs/${created.backfill.job}`), 200)).state === 'done');
      assert.equal((await ok(slow.request('GET', `/${p}/_version`), 200)).project_version, 2);
      if (db) assert.ok((await sql(`SELECT headline FROM "${p}".articles LIMIT 1`)).length === 1);
      if (ES_HOST) assert.deepEqual(Object.keys((await es('GET', `/_alias/${p}`)).body), [`${p}_v2_article`]);
    } finally {
      await slow.stop();
    }
  });

  test('DELETE /{project} while its back-fill runs: the job stops first, the drop answers 204 and leaves nothing', async () => {
    const slow = await start({ BACKFILL_RATE: '200' });
    try {
      const p = project('dropping');
      await ok(slow.request('PUT', `/${p}/article/_blueprint`, V1), 200);
      await ok(slow.request('POST', `/${p}/_version`), 201);
      await ok(slow.request('PUT', `/${p}/article`, Array.from({ length: 600 }, (_, i) => v1Item(i + 1))), 200);
      await ok(slow.request('PUT', `/${p}/article/_blueprint`, V2), 200);
      const created = await ok(slow.request('POST', `/${p}/_version`), 201);
      await until('the back-fill under way', async () => (await ok(slow.request('GET', `/_jobs/${created.backfill.job}`), 200)).done > 0);
      await ok(slow.request('DELETE', `/${p}`), 204);
      assert.equal((await slow.request('GET', `/${p}`)).status, 404);
      assert.equal((await slow.request('GET', `/_jobs/${created.backfill.job}`)).status, 404);
      assert.equal((await slow.levelKeys()).filter((k) => k.startsWith(`${p}/`)).length, 0);
      if (db) assert.equal((await sql(`SELECT 1 FROM pg_namespace WHERE starts_with(nspname, $1)`, [p])).length, 0);
    } finally {
      await slow.stop();
    }
  });

  test('items that do not fit are skipped and listed with their reasons', async () => {
    const p = project('skip');
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V1), 200);
    await ok(d.request('POST', `/${p}/_version`), 201);
    await ok(d.request('PUT', `/${p}/article`, [v1Item(1), v1Item(2, { code: 'not a number' }), v1Item(3, { title: 'z'.repeat(50) })]), 200);
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V2), 200);
    const created = await ok(d.request('POST', `/${p}/_version?wait=backfill`), 201);
    const job = await ok(d.request('GET', `/_jobs/${created.backfill.job}`), 200);
    assert.equal(job.done, 3);
    assert.equal(job.skipped, 2);
    const skipped = await ok(d.request('GET', `/_jobs/${created.backfill.job}/skipped`), 200);
    assert.deepEqual(skipped.listed.map((s: any) => s.id).sort(), [id(2), id(3)]);
    assert.ok(skipped.listed.find((s: any) => s.id === id(2)).errors['v2.code']);
    assert.ok(skipped.listed.find((s: any) => s.id === id(3)).errors['v2.headline']);
    assert.deepEqual([...(await levelItems(d, p, 2)).keys()], [id(1)]);
  });

  test('concurrency: a back-fill of 20,000 items while 2,000 writes and deletes for v1 and v2 arrive ends with the last accepted write of every id', async () => {
    const p = project('race');
    const N = 20_000;
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V1), 200);
    await ok(d.request('POST', `/${p}/_version`), 201);
    for (let s = 0; s < N; s += 2000) await ok(d.request('PUT', `/${p}/article`, Array.from({ length: 2000 }, (_, i) => v1Item(s + i + 1))), 200);
    await ok(d.request('PUT', `/${p}/article/_blueprint`, V2), 200);
    const created = await ok(d.request('POST', `/${p}/_version`), 201);
    // the last accepted write of each touched id, in version 2's shape (null: deleted)
    const expected = new Map<string, any>();
    const touched = Array.from({ length: 2000 }, (_, k) => 1 + ((k * 7919) % N));
    let k = 0;
    const writers = Array.from({ length: 8 }, async () => {
      while (k < touched.length) {
        const mine = k++;
        const n = touched[mine]!;
        const kind = mine % 3;
        if (kind === 0) {
          await ok(d.request('PUT', `/${p}/article/${id(n)}`, v1Item(n, { title: `v1 write ${mine}` })), 200);
          expected.set(id(n), { ...v2Copy(n), headline: `v1 write ${mine}` });
        } else if (kind === 1) {
          await ok(d.request('PUT', `/${p}/article/${id(n)}`, { ...v2Copy(n), headline: `v2 write ${mine}`, category: 'race' }), 200);
          expected.set(id(n), { ...v2Copy(n), headline: `v2 write ${mine}`, category: 'race' });
        } else {
          await ok(d.request('DELETE', `/${p}/article/${id(n)}`), 204);
          expected.set(id(n), null);
        }
      }
    });
    await Promise.all(writers);
    const job = await until('back-fill done', async () => {
      const j = await ok(d.request('GET', `/_jobs/${created.backfill.job}`), 200);
      return j.state === 'done' || j.state === 'failed' ? j : undefined;
    }, 180_000);
    assert.equal(job.state, 'done', JSON.stringify(job));
    const level2 = await levelItems(d, p, 2);
    const deleted = [...expected.values()].filter((v) => v === null).length;
    assert.equal(level2.size, N - deleted);
    for (let n = 1; n <= N; n++) {
      const want = expected.has(id(n)) ? expected.get(id(n)) : v2Copy(n);
      if (want === null) assert.equal(level2.has(id(n)), false, `${id(n)} was deleted and must stay deleted`);
      else assert.deepEqual(level2.get(id(n)), want);
    }
    if (db) {
      const rows = await sql(`SELECT id::text, headline, category FROM "${p}_v2".articles`);
      assert.equal(rows.length, N - deleted);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const [itemId, want] of expected) {
        if (want === null) assert.equal(byId.has(itemId), false, `${itemId} resurrected in PostgreSQL`);
        else assert.equal(byId.get(itemId)?.headline, want.headline, `${itemId} in PostgreSQL`);
      }
    }
    if (ES_HOST) {
      await es('POST', `/${p}_v2_article/_refresh`);
      assert.equal((await es('GET', `/${p}_v2_article/_count`)).body.count, N - deleted);
      const ids = [...expected.keys()];
      const docs = (await es('POST', `/${p}_v2_article/_mget`, { ids })).body.docs;
      for (const doc of docs) {
        const want = expected.get(doc._id);
        if (want === null) assert.equal(doc.found, false, `${doc._id} resurrected in Elasticsearch`);
        else assert.equal(doc._source?.headline, want.headline, `${doc._id} in Elasticsearch`);
      }
    }
  });
});

test('a back-fill killed with kill -9 resumes after a restart and finishes without starting over', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-evolution-crash-'));
  const env = { ...process.env, ...ENGINE_ENV, LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), BACKFILL_RATE: '500' } as Record<string, string>;
  const p = project('crash');
  const N = 3000;
  let server = await startServerProcess(env);
  try {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
    };
    await ok(call('PUT', `/${p}/article/_blueprint`, V1), 200);
    await ok(call('POST', `/${p}/_version`), 201);
    await ok(call('PUT', `/${p}/article`, Array.from({ length: N }, (_, i) => v1Item(i + 1))), 200);
    await ok(call('PUT', `/${p}/article/_blueprint`, V2), 200);
    const created = await ok(call('POST', `/${p}/_version`), 201);
    const jobId = created.backfill.job;
    const atKill = await until('a third copied', async () => {
      const j = await ok(call('GET', `/_jobs/${jobId}`), 200);
      return j.done >= N / 3 ? j : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the cursor is saved at least once a second
    await server.stop('SIGKILL');
    server = await startServerProcess(env);
    const resumed = await ok(call('GET', `/_jobs/${jobId}`), 200);
    assert.ok(resumed.done >= atKill.done, `resumed at ${resumed.done}, had copied ${atKill.done} before the kill`);
    assert.ok(resumed.done < N, 'still running after the restart');
    assert.match(server.output(), /resuming/);
    const done = await until('back-fill done after the restart', async () => {
      const j = await ok(call('GET', `/_jobs/${jobId}`), 200);
      return j.state === 'done' ? j : undefined;
    }, 120_000);
    assert.equal(done.total, N);
    assert.equal((await ok(call('GET', `/${p}/_version`), 200)).project_version, 2);
    await server.stop();
    const level = new ClassicLevel<string, string>(join(dir, 'level'), { valueEncoding: 'utf8' });
    try {
      const prefix = `${p}/v0000000002/article/`;
      const rows = await level.iterator({ gte: prefix, lt: `${prefix}\uffff` }).all();
      assert.equal(rows.length, N);
      assert.deepEqual(JSON.parse(rows[N - 1]![1]), v2Copy(N));
    } finally {
      await level.close();
    }
    if (db) assert.equal((await sql(`SELECT count(*)::int AS n FROM "${p}_v2".articles`))[0]!.n, N);
  } finally {
    await server.stop('SIGKILL').catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

