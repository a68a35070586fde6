// dstore with only PostgreSQL enabled against raw `pg` inserts, in one run:
// bulk ingest of N kitchen-sink items (without and with geometry columns) through
// dstore's bulk PUT over HTTP vs a plain multi-row INSERT … SELECT FROM
// json_to_recordset over the same driver into an equivalent table; then
// single-item PUT latency at 32 connections. dstore runs compiled (dist/), and the bulk
// runs alternate (raw, dstore, raw, dstore) so load from elsewhere hits both alike.
//
// The raw baseline uses json_to_recordset, not COPY: COPY would need the
// pg-copy-streams dependency and GeoJSON → EWKT conversion in JS, and dstore
// cannot use it anyway (COPY has no ON CONFLICT for the stamp check).
//
//   npx tsx bench/postgresql.ts            (BENCH_ITEMS, BENCH_SECONDS, POSTGRESQL_* override)
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { columnType } from '../src/schema/column-types.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem } from '../test/support/harness.ts';
import { bulkLoad, fmt, putLoad, table, uuidFor, startCompiledDstore, peakRssMiB, type BenchProcess } from './support.ts';

const BATCH = 1000;
const IN_FLIGHT = 4;
const ROUNDS = 2;
const RAW_APPLICATION = 'dstore-bench-raw';

type Columns = Record<string, { type: string }>;

const PG = {
  host: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  port: Number(process.env['POSTGRESQL_PORT'] || 5432),
  user: process.env['POSTGRESQL_USER'] || 'postgres',
  password: process.env['POSTGRESQL_PASSWORD'] || undefined,
  database: process.env['POSTGRESQL_DATABASE'] || 'dstore_bench',
};

const ALL_COLUMNS = KITCHEN_SINK_BLUEPRINT.columns as Columns;
const NO_GEOMETRY = Object.fromEntries(Object.entries(ALL_COLUMNS).filter(([, c]) => !columnType(c.type).geometry)) as Columns;

function items(count: number, columns: Columns, offset = 0): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, n) => {
    const i = n + offset;
    const full = { ...kitchenSinkItem(uuidFor(i)), c_string: `value ${i}`, c_integer: i, c_float: i / 4 };
    return Object.fromEntries(Object.entries(full).filter(([k]) => k === 'id' || k === 'project_version' || k === 'links' || k in columns));
  });
}

async function send(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${(await res.text()).slice(0, 500)}`);
  await res.arrayBuffer();
}

/** The raw baseline's table and statement, written here by hand from the column-type table (not by dstore's serializer). */
function rawSql(schema: string, name: string, columns: Columns): { create: string; insert: string } {
  const cols = Object.entries(columns);
  const create = `CREATE TABLE "${schema}"."${name}" (id UUID PRIMARY KEY, links UUID[], ${cols.map(([c, d]) => `"${c}" ${columnType(d.type).postgresql}`).join(', ')})`;
  const recordset = ['id UUID', 'links UUID[]', ...cols.map(([c, d]) => `"${c}" ${columnType(d.type).geometry ? 'json' : columnType(d.type).postgresql}`)];
  const values = ['r.id', 'r.links', ...cols.map(([c, d]) => (columnType(d.type).geometry ? `ST_SetSRID(ST_GeomFromGeoJSON(r."${c}"), 4326)` : `r."${c}"`))];
  const insert = `INSERT INTO "${schema}"."${name}" (id, links, ${cols.map(([c]) => `"${c}"`).join(', ')}) SELECT ${values.join(', ')} FROM json_to_recordset($1::json) AS r(${recordset.join(', ')})`;
  return { create, insert };
}

/** CPU seconds (user + system) of each local process, from /proc; a process that is not there counts nothing. */
function cpuSeconds(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / 100); // USER_HZ
    } catch {
      // not local, or gone
    }
  }
  return out;
}

/** The PostgreSQL backends serving one application (dstore's pool, or the baseline's). */
async function backends(pool: pg.Pool, application: string): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [PG.database, application]);
  return rows.map((r) => r.pid);
}

/** Runs `body` and reports the CPU that dstore's process and the PostgreSQL backends of `application` spent on it. */
async function measured<T>(pool: pg.Pool, application: string, serverPid: number | undefined, body: () => Promise<T>): Promise<T & { serverCpu: number | null; pgCpu: number | null }> {
  const server = () => (serverPid === undefined ? undefined : cpuSeconds([serverPid]).get(serverPid));
  const s0 = server();
  const p0 = cpuSeconds(await backends(pool, application));
  const result = await body();
  const s1 = server();
  const p1 = cpuSeconds(await backends(pool, application));
  let pgCpu: number | null = p1.size ? 0 : null;
  for (const [pid, seconds] of p1) pgCpu! += seconds - (p0.get(pid) ?? 0);
  return { ...result, serverCpu: s0 === undefined || s1 === undefined ? null : s1 - s0, pgCpu };
}

function perThousand(cpu: number | null, rows: number): string {
  return cpu === null ? 'n/a' : fmt((cpu * 1000 * 1000) / rows, 0);
}

async function count(pool: pg.Pool, relation: string): Promise<number> {
  return (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${relation}`)).rows[0]!.n;
}

export async function benchPostgresql(opts: { items: number; log: (line: string) => void; seconds?: number }): Promise<Record<string, number>> {
  const { log } = opts;
  const seconds = opts.seconds ?? Number(process.env['BENCH_SECONDS'] ?? 10);
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-pg-'));
  const tag = randomBytes(3).toString('hex');
  const rawSchema = `bench_raw_${tag}`;
  const out: Record<string, number> = {};
  let server: BenchProcess | null = null;
  let pool: pg.Pool | null = null;
  const projects: string[] = [];
  try {
    server = await startCompiledDstore({
      STORES: 'postgresql',
      POSTGRESQL_HOST: PG.host,
      POSTGRESQL_PORT: String(PG.port),
      POSTGRESQL_USER: PG.user,
      POSTGRESQL_PASSWORD: PG.password ?? '',
      POSTGRESQL_DATABASE: PG.database,
      ELASTICSEARCH_HOST: '',
      QUEUE_CONNECTIONSTRING: '',
      LEVEL_PATH: join(dir, 'level'),
      PROJECT_FILE_PATH: join(dir, 'blueprint'),
      QUEUE_PATH: join(dir, 'queue'),
    });
    // dstore created the database if it was missing; the baseline uses the same one, same driver, same parallelism
    pool = new pg.Pool({ ...PG, max: IN_FLIGHT, application_name: RAW_APPLICATION, options: '-c TimeZone=UTC' });
    await pool.query('CREATE EXTENSION IF NOT EXISTS postgis');
    await pool.query(`CREATE SCHEMA "${rawSchema}"`);

    const rows: Array<Array<string | number>> = [];
    const roundRatios: string[] = [];
    for (const [variant, columns] of [['without geometry', NO_GEOMETRY], ['with geometry', ALL_COLUMNS]] as const) {
      const key = variant === 'with geometry' ? 'geo' : 'nogeo';
      const project = `bench_${tag}_${key}`;
      projects.push(project);
      await send('PUT', `${server.url}/${project}/sink/_blueprint`, { columns });
      await send('POST', `${server.url}/${project}/_version`);
      const raw = rawSql(rawSchema, key, columns);
      await pool.query(raw.create);

      const data = items(opts.items, columns);
      const warm = items(2 * BATCH, columns, opts.items);
      await bulkLoad({ items: warm, batch: BATCH, inFlight: IN_FLIGHT, send: (b) => pool!.query(raw.insert, [JSON.stringify(b)]).then(() => {}) });
      await bulkLoad({ items: warm, batch: BATCH, inFlight: IN_FLIGHT, send: (b) => send('PUT', `${server!.url}/${project}/sink`, b) });
      await pool.query('CHECKPOINT').catch(() => {});

      // alternating rounds (raw, dstore, raw, dstore): load from elsewhere and table growth hit both alike
      const viaRaw = { seconds: 0, perSecond: 0, serverCpu: null as number | null, pgCpu: 0 as number | null };
      const viaDstore = { seconds: 0, perSecond: 0, serverCpu: 0 as number | null, pgCpu: 0 as number | null };
      const per = Math.ceil(data.length / ROUNDS);
      const add = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);
      const ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const slice = data.slice(r * per, (r + 1) * per);
        await pool.query('CHECKPOINT').catch(() => {});
        const rr = await measured(pool, RAW_APPLICATION, undefined, () => bulkLoad({ items: slice, batch: BATCH, inFlight: IN_FLIGHT, send: (b) => pool!.query(raw.insert, [JSON.stringify(b)]).then(() => {}) }));
        await pool.query('CHECKPOINT').catch(() => {});
        const dr = await measured(pool, 'dstore', server.child.pid, () => bulkLoad({ items: slice, batch: BATCH, inFlight: IN_FLIGHT, send: (b) => send('PUT', `${server!.url}/${project}/sink`, b) }));
        viaRaw.seconds += rr.seconds;
        viaRaw.pgCpu = add(viaRaw.pgCpu, rr.pgCpu);
        viaDstore.seconds += dr.seconds;
        viaDstore.serverCpu = add(viaDstore.serverCpu, dr.serverCpu);
        viaDstore.pgCpu = add(viaDstore.pgCpu, dr.pgCpu);
        ratios.push(rr.seconds / dr.seconds);
      }
      viaRaw.perSecond = data.length / viaRaw.seconds;
      viaDstore.perSecond = data.length / viaDstore.seconds;
      roundRatios.push(`${variant}: ${ratios.map((x) => fmt(x, 2)).join(', ')}`);

      const landed = await count(pool, `"${project}_v1".sink`);
      const landedRaw = await count(pool, `"${rawSchema}"."${key}"`);
      if (landed !== opts.items + warm.length || landedRaw !== opts.items + warm.length) throw new Error(`${variant}: expected ${opts.items + warm.length} rows, dstore has ${landed}, raw has ${landedRaw}`);
      const ratio = viaDstore.perSecond / viaRaw.perSecond;
      rows.push([`${variant}: dstore bulk PUT (HTTP, validation, stamps, upsert)`, fmt(viaDstore.perSecond), fmt(viaDstore.seconds, 2), fmt(ratio, 2), perThousand(viaDstore.serverCpu, opts.items), perThousand(viaDstore.pgCpu, opts.items)]);
      rows.push([`${variant}: raw pg INSERT … json_to_recordset`, fmt(viaRaw.perSecond), fmt(viaRaw.seconds, 2), '1.00', '-', perThousand(viaRaw.pgCpu, opts.items)]);
      Object.assign(out, { [`${key}_dstore_per_s`]: viaDstore.perSecond, [`${key}_raw_per_s`]: viaRaw.perSecond, [`${key}_ratio`]: ratio });
    }
    log(`bulk ingest of ${fmt(opts.items)} kitchen-sink items into PostgreSQL, batches of ${fmt(BATCH)}, ${IN_FLIGHT} in flight (rows/s)`);
    table(log, ['path', 'rows/s', 'seconds', 'vs raw', 'dstore CPU ms/1k rows', 'PostgreSQL CPU ms/1k rows'], rows);
    log(`(${ROUNDS} alternating rounds each way (raw, dstore); ratio per round: ${roundRatios.join('; ')}; dstore from dist/; dstore's peak RSS ${fmt(peakRssMiB(server.child.pid) ?? NaN)} MiB)`);
    log(`(CPU from /proc: the dstore process, and the PostgreSQL backends of each path; this machine has ${availableParallelism()} CPUs, shared by the client, dstore and PostgreSQL)`);

    const project = projects[1]!;
    const load = { url: server.url, connections: 32, seconds, path: (id: string) => `/${project}/sink/${id}`, body: (id: string) => kitchenSinkItem(id) };
    await putLoad({ ...load, seconds: 2 }); // warm-up
    const single = await putLoad(load);
    log('');
    log(`single-item PUT of a kitchen-sink item (with geometry), 32 connections, ${seconds} s (autocannon; answered after PostgreSQL committed)`);
    table(log, ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx'], [['dstore (PostgreSQL only)', fmt(single.rps), single.p50, single.p99, single.errors + single.non2xx]]);
    Object.assign(out, { single_rps: single.rps, single_p50: single.p50, single_p99: single.p99, single_failed: single.errors + single.non2xx });
  } finally {
    if (server) {
      for (const p of projects) await send('DELETE', `${server.url}/${p}`).catch((e: Error) => log(`cleanup of ${p}: ${e.message}`));
      await server.stop();
    }
    if (pool) {
      await pool.query(`DROP SCHEMA IF EXISTS "${rawSchema}" CASCADE`).catch(() => {});
      await pool.end();
    }
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchPostgresql({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), log: console.log });
}
