// Verify and rebuild (SPEC §12), in one run against the same engines and the same N items
// (LevelDB and PostgreSQL, plus the search engine when ELASTICSEARCH_HOST is set):
//  (a) the bulk PUT rate of the items into all those engines;
//  (b) verify (every engine scanned, merged, checksummed): goal >= 2x that rate;
//  (c) rebuild of PostgreSQL (schema dropped by hand) and of Elasticsearch (index deleted by
//      hand), each from another engine: goal >= 1.0x;
//  (d) the peak resident memory of the dstore process during verify (it is restarted first, so
//      the bulk load does not count): run with BENCH_ITEMS=100000 and =1000000, goal flat (±20 %).
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.ts';
import { bulkLoad, fmt, table, uuidFor } from './support.ts';

const BLUEPRINT = {
  postgresql: { table: 'articles' },
  columns: {
    title: { type: 'string', validation: { required: true } },
    intro: { type: 'text' },
    views: { type: 'integer' },
    score: { type: 'float' },
    date_created: { type: 'datetime', validation: { required: true } },
  },
};

async function json(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Samples the process's resident memory while `work` runs; resolves with the result and the peak in MiB. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let peak = 0;
  const sample = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    peak = Math.max(peak, kb);
  };
  const timer = setInterval(() => void sample(), 50);
  try {
    const result = await work();
    await sample();
    return { result, peakMiB: peak / 1024 };
  } finally {
    clearInterval(timer);
  }
}

export async function benchVerify(opts: { items: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-verify-'));
  const pgConfig = { host: process.env['POSTGRESQL_HOST'] || '127.0.0.1', user: process.env['POSTGRESQL_USER'] || 'postgres', password: process.env['POSTGRESQL_PASSWORD'] || '', database: process.env['POSTGRESQL_DATABASE'] || 'dstore_bench' };
  const pgEnv = { POSTGRESQL_HOST: pgConfig.host, POSTGRESQL_USER: pgConfig.user, POSTGRESQL_PASSWORD: pgConfig.password, POSTGRESQL_DATABASE: pgConfig.database };
  const search = (process.env['ELASTICSEARCH_HOST'] || '').replace(/\/$/, '');
  const stores = ['level', 'postgresql', search && 'elasticsearch'].filter(Boolean).join(',');
  const env = { ...pgEnv, STORES: stores, ELASTICSEARCH_HOST: search, QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue') };
  let server: ServerProcess = await startServerProcess(env);
  const p = `bench_vf_${Date.now().toString(36).replace(/\d/g, (d) => 'abcdefghij'[+d]!)}`;
  const db = new pg.Client(pgConfig);
  await db.connect();
  const out: Record<string, number> = {};
  try {
    await json('PUT', `${server.url}/${p}/article/_blueprint`, BLUEPRINT);
    await json('POST', `${server.url}/${p}/_version`);
    const items = Array.from({ length: opts.items }, (_, i) => ({ id: uuidFor(i), project_version: 1, title: `title ${i}`, intro: 'The intro of an article, a sentence or two long.', views: i, score: i / 7, date_created: '2014-01-17 03:50:12' }));
    const put = await bulkLoad({ items, batch: 1000, inFlight: 4, send: (batch) => json('PUT', `${server.url}/${p}/article`, batch) });

    await server.stop();
    server = await startServerProcess(env);
    const timed = async (what: () => Promise<any>) => {
      const t0 = process.hrtime.bigint();
      const job = await what();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (job.state !== 'done') throw new Error(`job did not finish: ${JSON.stringify(job)}`);
      return { job, seconds, perSecond: opts.items / seconds };
    };
    const { result: verify, peakMiB } = await peakRss(server.child.pid!, () => timed(() => json('POST', `${server.url}/${p}/_verify?wait=true`)));
    if (!verify.job.result.agree) throw new Error(`the engines disagree after the load: ${JSON.stringify(verify.job.result)}`);

    await db.query(`DROP SCHEMA "${p}_v1" CASCADE`);
    const rebuildPg = await timed(() => json('POST', `${server.url}/${p}/_rebuild?wait=true`, { engine: 'postgresql' }));
    const rows: Array<Array<string | number>> = [
      ['bulk PUT into every engine (batches of 1,000, 4 in flight)', fmt(put.perSecond), fmt(put.seconds, 2), ''],
      [`verify (${stores})`, fmt(verify.perSecond), fmt(verify.seconds, 2), `${fmt(verify.perSecond / put.perSecond, 2)}x (goal >= 2)`],
      [`rebuild postgresql from ${rebuildPg.job.from}`, fmt(rebuildPg.perSecond), fmt(rebuildPg.seconds, 2), `${fmt(rebuildPg.perSecond / put.perSecond, 2)}x (goal >= 1)`],
    ];
    Object.assign(out, { put_per_s: put.perSecond, verify_per_s: verify.perSecond, verify_ratio: verify.perSecond / put.perSecond, rebuild_postgresql_per_s: rebuildPg.perSecond, verify_peak_rss_mib: peakMiB });
    if (search) {
      await fetch(`${search}/${p}_v1_article`, { method: 'DELETE' });
      const rebuildEs = await timed(() => json('POST', `${server.url}/${p}/_rebuild?wait=true`, { engine: 'elasticsearch' }));
      rows.push([`rebuild elasticsearch from ${rebuildEs.job.from}`, fmt(rebuildEs.perSecond), fmt(rebuildEs.seconds, 2), `${fmt(rebuildEs.perSecond / put.perSecond, 2)}x (goal >= 1)`]);
      out['rebuild_elasticsearch_per_s'] = rebuildEs.perSecond;
    }
    log(`verify and rebuild of ${fmt(opts.items)} items, ${stores}, one process (in-process queue)`);
    table(log, ['path', 'items/s', 'seconds', 'against bulk PUT'], rows);
    log(`peak resident memory of dstore during verify: ${fmt(peakMiB, 1)} MiB (compare BENCH_ITEMS=100000 with =1000000: goal within 20 %)`);
  } finally {
    await json('DELETE', `${server.url}/${p}`).catch(() => {});
    await server.stop();
    await db.end();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchVerify({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), log: console.log });
}
