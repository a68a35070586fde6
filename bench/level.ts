// The embedded default (catalog + LevelDB) against bare LevelDB, in one run:
// single-item PUT at 32 connections vs a bare node:http server doing one put per
// request, and bulk PUT of N items vs raw LevelDB batch() of the same items.
// Fair by construction: dstore runs compiled (dist/, as `npm start` does), the bare
// server is plain JavaScript, each in a process of its own, and the runs alternate
// (baseline, dstore, baseline, dstore) so load from elsewhere and JIT warm-up hit both alike.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../test/support/harness.ts';
import { bulkLoad, fmt, peakRssMiB, putLoad, startCompiledDstore, startScript, table, uuidFor, type LoadResult } from './support.ts';

const ROUNDS = 2;

async function json(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** The mean of each round's throughput and the worst p50/p99 of the rounds. */
function combined(runs: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0);
  return { requests: sum((r) => r.requests), rps: sum((r) => r.rps) / runs.length, p50: Math.max(...runs.map((r) => r.p50)), p99: Math.max(...runs.map((r) => r.p99)), errors: sum((r) => r.errors), non2xx: sum((r) => r.non2xx) };
}

function dstoreEnv(dir: string, name: string): Record<string, string> {
  return { STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, `${name}-level`), PROJECT_FILE_PATH: join(dir, `${name}-blueprint`), QUEUE_PATH: join(dir, `${name}-queue`) };
}

export async function benchLevel(opts: { items: number; seconds: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-level-'));
  const out: Record<string, number> = {};
  try {
    // single-item PUT: dstore (compiled, own process) vs bare node:http + LevelDB put (.mjs, own process), same load, alternating
    const dstore = await startCompiledDstore(dstoreEnv(dir, 'single'));
    const baseline = await startScript(['bench/baseline-level-server.mjs'], { LEVEL_PATH: join(dir, 'baseline') });
    const dRuns: LoadResult[] = [];
    const bRuns: LoadResult[] = [];
    try {
      await json('PUT', `${dstore.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
      await json('POST', `${dstore.url}/myblog/_version`);
      const load = { connections: 32, seconds: opts.seconds, path: (id: string) => `/myblog/article/${id}`, body: (id: string) => ({ ...ARTICLE, id }) };
      await putLoad({ ...load, url: baseline.url, seconds: 2 }); // warm-up
      await putLoad({ ...load, url: dstore.url, seconds: 2 });
      for (let r = 0; r < ROUNDS; r++) {
        bRuns.push(await putLoad({ ...load, url: baseline.url }));
        dRuns.push(await putLoad({ ...load, url: dstore.url }));
      }
    } finally {
      await dstore.stop();
      await baseline.stop();
    }
    const d = combined(dRuns);
    const b = combined(bRuns);
    log(`single-item PUT, 32 connections, ${ROUNDS} rounds of ${opts.seconds} s each way, alternating (autocannon; dstore from dist/, the bare server plain .mjs, each its own process)`);
    table(log, ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx', 'req/s per round', 'p99 per round'], [
      ['dstore (embedded, LevelDB)', fmt(d.rps), d.p50, d.p99, d.errors + d.non2xx, dRuns.map((r) => fmt(r.rps)).join(', '), dRuns.map((r) => r.p99).join(', ')],
      ['bare node:http + one LevelDB put', fmt(b.rps), b.p50, b.p99, b.errors + b.non2xx, bRuns.map((r) => fmt(r.rps)).join(', '), bRuns.map((r) => r.p99).join(', ')],
    ]);
    log(`ratio dstore/baseline: ${fmt(d.rps / b.rps, 2)}x throughput, p99 ${d.p99} ms vs ${b.p99} ms`);
    Object.assign(out, { single_rps: d.rps, single_p50: d.p50, single_p99: d.p99, baseline_rps: b.rps, baseline_p99: b.p99, single_ratio: d.rps / b.rps });

    // bulk: N items in batches of 1,000, up to 4 requests in flight, vs raw batch() of the same items, in alternating halves
    const items = Array.from({ length: opts.items }, (_, i) => ({ ...ARTICLE, id: uuidFor(i), title_en: `title ${i}` }));
    const bulkServer = await startCompiledDstore(dstoreEnv(dir, 'bulk'));
    const raw = new ClassicLevel<string, string>(join(dir, 'raw'), { valueEncoding: 'utf8' });
    await raw.open();
    const spent = { dstore: 0, raw: 0 };
    const ratios: number[] = [];
    let peak: number | null = null;
    try {
      await json('PUT', `${bulkServer.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
      await json('POST', `${bulkServer.url}/myblog/_version`);
      const viaDstore = (batch: unknown[]) => json('PUT', `${bulkServer.url}/myblog/article`, batch);
      const viaRaw = (batch: unknown[]) => raw.batch((batch as Array<typeof ARTICLE>).map((item) => ({ type: 'put' as const, key: `myblog/v${String(item.project_version).padStart(10, '0')}/article/${item.id}`, value: JSON.stringify(item) })));
      const per = Math.ceil(opts.items / ROUNDS);
      for (let r = 0; r < ROUNDS; r++) {
        const slice = items.slice(r * per, (r + 1) * per);
        const rawRound = (await bulkLoad({ items: slice, batch: 1000, inFlight: 4, send: viaRaw })).seconds;
        const dstoreRound = (await bulkLoad({ items: slice, batch: 1000, inFlight: 4, send: viaDstore })).seconds;
        spent.raw += rawRound;
        spent.dstore += dstoreRound;
        ratios.push(rawRound / dstoreRound);
      }
      peak = peakRssMiB(bulkServer.child.pid);
    } finally {
      await bulkServer.stop();
      await raw.close();
    }
    const viaDstore = { seconds: spent.dstore, perSecond: opts.items / spent.dstore };
    const viaRaw = { seconds: spent.raw, perSecond: opts.items / spent.raw };
    log('');
    log(`bulk ingest of ${fmt(opts.items)} items, batches of 1,000, 4 in flight, ${ROUNDS} alternating rounds (raw, dstore) of ${fmt(Math.ceil(opts.items / ROUNDS))}`);
    table(log, ['path', 'items/s', 'seconds'], [
      ['dstore bulk PUT (HTTP, validation, LevelDB)', fmt(viaDstore.perSecond), fmt(viaDstore.seconds, 2)],
      ['raw LevelDB batch() (serialization included)', fmt(viaRaw.perSecond), fmt(viaRaw.seconds, 2)],
    ]);
    log(`ratio dstore/raw: ${fmt(viaDstore.perSecond / viaRaw.perSecond, 2)}x (per round: ${ratios.map((x) => fmt(x, 2)).join(', ')}); dstore's peak RSS ${peak === null ? 'n/a' : `${fmt(peak)} MiB`}`);
    Object.assign(out, { bulk_per_s: viaDstore.perSecond, raw_bulk_per_s: viaRaw.perSecond, bulk_ratio: viaDstore.perSecond / viaRaw.perSecond, ...(peak === null ? {} : { bulk_peak_rss_mib: peak }) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchLevel({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log: console.log });
}
