// The embedded default (catalog + LevelDB) against bare LevelDB, in one run:
// single-item PUT at 32 connections vs a bare node:http server doing one put per
// request, and bulk PUT of N items vs raw LevelDB batch() of the same items.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../test/support/harness.ts';
import { freePort, startServerProcess } from '../test/support/server-process.ts';
import { bulkLoad, fmt, putLoad, table, uuidFor } from './support.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

async function startBaseline(levelPath: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/baseline-level-server.ts'], { cwd: root, env: { ...process.env, PORT: String(port), LEVEL_PATH: levelPath }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM'))),
  };
}

async function json(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

export async function benchLevel(opts: { items: number; seconds: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-level-'));
  const out: Record<string, number> = {};
  try {
    // single-item PUT: dstore (real process) vs bare node:http + LevelDB put, same load, same run
    const dstore = await startServerProcess({ STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue') });
    await json('PUT', `${dstore.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
    await json('POST', `${dstore.url}/myblog/_version`);
    const load = { connections: 32, seconds: opts.seconds, path: (id: string) => `/myblog/article/${id}`, body: (id: string) => ({ ...ARTICLE, id }) };
    await putLoad({ ...load, url: dstore.url, seconds: 2 }); // warm-up
    const d = await putLoad({ ...load, url: dstore.url });
    await dstore.stop();
    const baseline = await startBaseline(join(dir, 'baseline'));
    await putLoad({ ...load, url: baseline.url, seconds: 2 });
    const b = await putLoad({ ...load, url: baseline.url });
    await baseline.stop();
    log(`single-item PUT, 32 connections, ${opts.seconds} s each (autocannon)`);
    table(log, ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx'], [
      ['dstore (embedded, LevelDB)', fmt(d.rps), d.p50, d.p99, d.errors + d.non2xx],
      ['bare node:http + one LevelDB put', fmt(b.rps), b.p50, b.p99, b.errors + b.non2xx],
    ]);
    log(`ratio dstore/baseline: ${fmt(d.rps / b.rps, 2)}x throughput`);
    Object.assign(out, { single_rps: d.rps, single_p50: d.p50, single_p99: d.p99, baseline_rps: b.rps, baseline_p99: b.p99, single_ratio: d.rps / b.rps });

    // bulk: N items in batches of 1,000, up to 4 requests in flight, vs raw batch() of the same items
    const items = Array.from({ length: opts.items }, (_, i) => ({ ...ARTICLE, id: uuidFor(i), title_en: `title ${i}` }));
    const bulkServer = await startServerProcess({ STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'bulk-level'), PROJECT_FILE_PATH: join(dir, 'bulk-blueprint'), QUEUE_PATH: join(dir, 'bulk-queue') });
    await json('PUT', `${bulkServer.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
    await json('POST', `${bulkServer.url}/myblog/_version`);
    const viaDstore = await bulkLoad({ items, batch: 1000, inFlight: 4, send: (batch) => json('PUT', `${bulkServer.url}/myblog/article`, batch) });
    await bulkServer.stop();
    const raw = new ClassicLevel<string, string>(join(dir, 'raw'), { valueEncoding: 'utf8' });
    await raw.open();
    const viaRaw = await bulkLoad({
      items,
      batch: 1000,
      inFlight: 4,
      send: (batch) => raw.batch((batch as Array<typeof ARTICLE>).map((item) => ({ type: 'put' as const, key: `myblog/v${String(item.project_version).padStart(10, '0')}/article/${item.id}`, value: JSON.stringify(item) }))),
    });
    await raw.close();
    log('');
    log(`bulk ingest of ${fmt(opts.items)} items, batches of 1,000, 4 in flight`);
    table(log, ['path', 'items/s', 'seconds'], [
      ['dstore bulk PUT (HTTP, validation, LevelDB)', fmt(viaDstore.perSecond), fmt(viaDstore.seconds, 2)],
      ['raw LevelDB batch() (serialization included)', fmt(viaRaw.perSecond), fmt(viaRaw.seconds, 2)],
    ]);
    log(`ratio dstore/raw: ${fmt(viaDstore.perSecond / viaRaw.perSecond, 2)}x`);
    Object.assign(out, { bulk_per_s: viaDstore.perSecond, raw_bulk_per_s: viaRaw.perSecond, bulk_ratio: viaDstore.perSecond / viaRaw.perSecond });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchLevel({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log: console.log });
}
