// dstore with only Elasticsearch enabled against a raw `_bulk`, in one run:
// bulk ingest of N kitchen-sink items through dstore's bulk PUT over HTTP
// (validation, stamps, serialization, one `_bulk` with external versions per
// batch) vs the same documents sent by hand as `_bulk` index actions into an
// equivalent index; same batch size, same concurrency, same HTTP client; dstore runs compiled (dist/).
//
//   ELASTICSEARCH_HOST=http://127.0.0.1:9211 npx tsx bench/elasticsearch.ts
//   npx tsx bench/elasticsearch.ts     (starts Elasticsearch 7.10 and OpenSearch 2.19 in turn, benches each, stops them)
//
// BENCH_ITEMS overrides N (100 000).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { columnType } from '../src/schema/column-types.ts';
import { KITCHEN_SINK_BLUEPRINT, kitchenSinkItem } from '../test/support/harness.ts';
import { bulkLoad, fmt, table, uuidFor, startCompiledDstore, type BenchProcess } from './support.ts';

const BATCH = 1000;
const IN_FLIGHT = 4;
const ROUNDS = 4;

type Columns = Record<string, { type: string }>;
const COLUMNS = KITCHEN_SINK_BLUEPRINT.columns as Columns;

function items(count: number, offset = 0): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, n) => {
    const i = n + offset;
    return { ...kitchenSinkItem(uuidFor(i)), c_string: `value ${i}`, c_integer: i, c_float: i / 4 };
  });
}

/** The raw baseline's mapping, written here from the column-type table (not by dstore's migrator). */
function rawMapping(): Record<string, unknown> {
  const properties: Record<string, unknown> = { id: { type: 'keyword' }, project_version: { type: 'integer' }, links: { type: 'keyword' } };
  for (const [name, c] of Object.entries(COLUMNS)) properties[name] = columnType(c.type).elasticsearch;
  return { dynamic: 'strict', properties };
}

/** The raw baseline's document: what an application would send by hand (points as lat/lon, not through dstore's serializer). */
function rawDocument(item: Record<string, unknown>): string {
  const doc: Record<string, unknown> = { ...item };
  const point = item['c_point'] as { coordinates: number[] };
  doc['c_point'] = { lat: point.coordinates[1], lon: point.coordinates[0] };
  doc['c_points'] = (item['c_points'] as { coordinates: number[][] }).coordinates.map(([lon, lat]) => ({ lat, lon }));
  return JSON.stringify(doc);
}

/** CPU seconds a local process has used (Linux /proc; clock ticks of 1/100 s), or null. */
function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Where the CPU of the 2-core test box goes: dstore's process, the engine's JVM (when local) and this client. */
function cpuMeter(pids: { dstore?: number; engine?: number }): () => () => { dstore: number | null; engine: number | null; client: number } {
  return () => {
    const d0 = cpuSeconds(pids.dstore);
    const e0 = cpuSeconds(pids.engine);
    const c0 = process.cpuUsage();
    return () => {
      const d1 = cpuSeconds(pids.dstore);
      const e1 = cpuSeconds(pids.engine);
      const c = process.cpuUsage(c0);
      return { dstore: d0 === null || d1 === null ? null : d1 - d0, engine: e0 === null || e1 === null ? null : e1 - e0, client: (c.user + c.system) / 1e6 };
    };
  };
}

/** The engine's process id if it runs on this machine (its `_nodes` answer names a pid that is a local java). */
async function localEnginePid(engine: ReturnType<typeof client>): Promise<number | undefined> {
  try {
    const nodes = (await engine.call('GET', '/_nodes/_local/process')).nodes as Record<string, { process?: { id?: number } }>;
    const pid = Object.values(nodes)[0]?.process?.id;
    return pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('java') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A tiny JSON client over an undici pool (the client dstore itself uses), so both sides pay the same. */
function client(url: string): { call: (method: string, path: string, body?: string, type?: string) => Promise<any>; close: () => Promise<void> } {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (u.username) headers['authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  const pool = new Pool(u.origin, { connections: IN_FLIGHT + 2 });
  const base = u.pathname.replace(/\/+$/, '');
  return {
    async call(method, path, body, type = 'application/json') {
      const res = await pool.request({ method: method as 'GET', path: `${base}${path}`, body, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': type }) } });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 500)}`);
      return text ? JSON.parse(text) : undefined;
    },
    close: () => pool.close(),
  };
}

export async function benchElasticsearch(opts: { items: number; url: string; label: string; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-es-'));
  const tag = randomBytes(3).toString('hex');
  const project = `bench_${tag}`;
  const dstoreIndex = `${project}_v1_sink`;
  const rawIndex = `bench_raw_${tag}`;
  const engine = client(opts.url);
  let server: BenchProcess | null = null;
  let api: ReturnType<typeof client> | null = null;
  try {
    server = await startCompiledDstore({
      STORES: 'elasticsearch',
      ELASTICSEARCH_HOST: opts.url,
      POSTGRESQL_HOST: '',
      QUEUE_CONNECTIONSTRING: '',
      LEVEL_PATH: join(dir, 'level'),
      PROJECT_FILE_PATH: join(dir, 'blueprint'),
      QUEUE_PATH: join(dir, 'queue'),
    });
    api = client(server.url);
    await api.call('PUT', `/${project}/sink/_blueprint`, JSON.stringify({ columns: COLUMNS }));
    await api.call('POST', `/${project}/_version`);
    await engine.call('PUT', `/${rawIndex}`, JSON.stringify({ settings: { index: { number_of_shards: 1, number_of_replicas: 0 } }, mappings: rawMapping() }));

    const viaDstore = (batch: unknown[]) => api!.call('PUT', `/${project}/sink`, JSON.stringify(batch));
    const viaRaw = async (batch: unknown[]) => {
      let body = '';
      for (const item of batch as Array<Record<string, unknown>>) body += `{"index":{"_index":"${rawIndex}","_id":"${item['id']}"}}\n${rawDocument(item)}\n`;
      const answer = await engine.call('POST', '/_bulk?filter_path=errors,items.*.error', body, 'application/x-ndjson');
      if (answer.errors) throw new Error(`raw _bulk refused documents: ${JSON.stringify(answer.items).slice(0, 500)}`);
    };

    const data = items(opts.items);
    const warm = items(Math.max(10 * BATCH, Math.round(opts.items / 10 / BATCH) * BATCH), opts.items);
    await bulkLoad({ items: warm, batch: BATCH, inFlight: IN_FLIGHT, send: viaRaw });
    await bulkLoad({ items: warm, batch: BATCH, inFlight: IN_FLIGHT, send: viaDstore });

    // interleaved rounds, alternating which goes first, so JIT warm-up and load from elsewhere hit both alike
    const per = Math.ceil(opts.items / ROUNDS);
    const meter = cpuMeter({ dstore: server.child.pid, engine: await localEnginePid(engine) });
    const spent = { raw: { seconds: 0, dstore: 0, engine: 0, client: 0 }, dstore: { seconds: 0, dstore: 0, engine: 0, client: 0 } };
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const slice = data.slice(r * per, (r + 1) * per);
      const order = r % 2 ? (['dstore', 'raw'] as const) : (['raw', 'dstore'] as const);
      const round = { raw: 0, dstore: 0 };
      for (const path of order) {
        const stop = meter();
        round[path] = (await bulkLoad({ items: slice, batch: BATCH, inFlight: IN_FLIGHT, send: path === 'raw' ? viaRaw : viaDstore })).seconds;
        const cpu = stop();
        spent[path].seconds += round[path];
        spent[path].dstore += cpu.dstore ?? NaN;
        spent[path].engine += cpu.engine ?? NaN;
        spent[path].client += cpu.client;
      }
      ratios.push(round.raw / round.dstore);
    }
    const raw = { seconds: spent.raw.seconds, perSecond: opts.items / spent.raw.seconds };
    const dstore = { seconds: spent.dstore.seconds, perSecond: opts.items / spent.dstore.seconds };
    const perThousand = (cpu: number) => (Number.isNaN(cpu) ? '?' : fmt((cpu / opts.items) * 1e6));

    await engine.call('POST', `/${dstoreIndex},${rawIndex}/_refresh`);
    const expected = opts.items + warm.length;
    const landed = (await engine.call('GET', `/${dstoreIndex}/_count`)).count;
    const landedRaw = (await engine.call('GET', `/${rawIndex}/_count`)).count;
    if (landed !== expected || landedRaw !== expected) throw new Error(`expected ${expected} documents, dstore's index has ${landed}, the raw one ${landedRaw}`);

    const ratio = dstore.perSecond / raw.perSecond;
    log(`bulk ingest of ${fmt(opts.items)} kitchen-sink items into ${opts.label}, batches of ${fmt(BATCH)}, ${IN_FLIGHT} in flight (docs/s)`);
    table(log, ['path', 'docs/s', 'seconds', 'vs raw', 'CPU ms/1000 docs: dstore', 'engine', 'client'], [
      ['dstore bulk PUT (HTTP, validation, stamps, _bulk with external versions)', fmt(dstore.perSecond), fmt(dstore.seconds, 2), fmt(ratio, 2), perThousand(spent.dstore.dstore), perThousand(spent.dstore.engine), perThousand(spent.dstore.client)],
      ['raw _bulk index actions, same documents', fmt(raw.perSecond), fmt(raw.seconds, 2), '1.00', '-', perThousand(spent.raw.engine), perThousand(spent.raw.client)],
    ]);
    // retries or refusals inside dstore would explain a slow round: show them
    const trouble = server.output().split('\n').filter((l) => /queue:|refused|unavailable/.test(l));
    for (const line of trouble.slice(0, 5)) log(`dstore: ${line}`);
    log(`(${ROUNDS} interleaved rounds of ${fmt(per)} items each way, after ${fmt(warm.length)} warm-up items each; ratio per round: ${ratios.map((x) => fmt(x, 2)).join(', ')})`);
    return {
      dstore_per_s: dstore.perSecond,
      raw_per_s: raw.perSecond,
      ratio,
      dstore_cpu_ms_per_1000: (spent.dstore.dstore / opts.items) * 1e6,
      engine_cpu_ms_per_1000_via_dstore: (spent.dstore.engine / opts.items) * 1e6,
      engine_cpu_ms_per_1000_raw: (spent.raw.engine / opts.items) * 1e6,
    };
  } finally {
    if (api) {
      await api.call('DELETE', `/${project}`).catch((e: Error) => log(`cleanup of ${project}: ${e.message}`));
      await api.close();
    }
    if (server) await server.stop();
    await engine.call('DELETE', `/${rawIndex}`).catch(() => {});
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface RunningEngine {
  url: string;
  version: string;
  distribution: string;
  stop(): Promise<void>;
}
type StartSearchEngine = (name: string, options: { log: (line: string) => void }) => Promise<RunningEngine>;

/** ELASTICSEARCH_HOST if set; otherwise each test engine in turn, started and stopped here. */
export async function benchElasticsearchAll(opts: { items: number; log: (line: string) => void }): Promise<Record<string, Record<string, number>>> {
  const host = process.env['ELASTICSEARCH_HOST'];
  if (host) return { [host]: await benchElasticsearch({ ...opts, url: host, label: host }) };
  const specifier = '../tools/engines/search-engines.mjs';
  const { startSearchEngine } = (await import(specifier)) as { startSearchEngine: StartSearchEngine };
  const results: Record<string, Record<string, number>> = {};
  for (const name of ['elasticsearch-7.10', 'opensearch-2.19']) {
    const engine = await startSearchEngine(name, { log: opts.log });
    try {
      const label = `${engine.distribution} ${engine.version}`;
      results[name] = await benchElasticsearch({ ...opts, url: engine.url, label });
    } finally {
      await engine.stop();
    }
    opts.log('');
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchElasticsearchAll({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), log: console.log });
  process.exit(0);
}
