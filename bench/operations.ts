// Operations (SPEC §13), side by side in one run on the embedded default (catalog + LevelDB):
// - single-item PUT at 32 connections with metrics and request logging on (LOG_LEVEL=info into a
//   file, METRICS=on) vs both off (LOG_LEVEL=silent, METRICS=off); goal >= 0.9x;
// - `dstore import` of N NDJSON items (the CLI as its own process) vs the bulk PUT benchmark of the
//   same items (batches of 1,000, 4 in flight); goal >= 0.9x.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../test/support/harness.ts';
import { freePort } from '../test/support/server-process.ts';
import { bulkLoad, fmt, putLoad, table, uuidFor } from './support.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Server {
  url: string;
  stop(): Promise<void>;
}

/** A dstore process whose log goes to a file (as under systemd), ready once /_health answers. */
async function startServer(dir: string, name: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts'], {
    cwd: root,
    env: { ...process.env, STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', HOST: '127.0.0.1', PORT: String(port), LEVEL_PATH: join(dir, name, 'level'), PROJECT_FILE_PATH: join(dir, name, 'blueprint'), QUEUE_PATH: join(dir, name, 'queue'), ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/_health`).then((r) => r.ok, () => false)) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`dstore ${name} did not start (log: ${logFile})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function json(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function prepare(server: Server): Promise<void> {
  await json('PUT', `${server.url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
  await json('POST', `${server.url}/myblog/_version`);
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code) => resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
  });
}

export async function benchOperations(opts: { items: number; seconds: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-ops-'));
  const out: Record<string, number> = {};
  try {
    // 1. the cost of observing: the same server with metrics and a log line per request, and without
    const load = { connections: 32, seconds: opts.seconds, path: (id: string) => `/myblog/article/${id}`, body: (id: string) => ({ ...ARTICLE, id }) };
    const rows: Array<Array<string | number>> = [];
    const runs: Record<string, number[]> = { on: [], off: [] };
    const ENV = { off: { LOG_LEVEL: 'silent', METRICS: 'off' }, on: { LOG_LEVEL: 'info', METRICS: 'on' } } as const;
    // off, on, on, off: on a shared machine neither side always gets the quieter minutes
    for (const [round, name] of (['off', 'on', 'on', 'off'] as const).entries()) {
      const server = await startServer(dir, `single-${name}-${round}`, ENV[name]);
      await prepare(server);
      await putLoad({ ...load, url: server.url, seconds: 2 }); // warm-up
      const r = await putLoad({ ...load, url: server.url });
      await server.stop();
      const logBytes = statSync(join(dir, `single-${name}-${round}.log`)).size;
      runs[name]!.push(r.rps);
      rows.push([`${name === 'on' ? 'metrics on, LOG_LEVEL=info (a line per request, to a file)' : 'METRICS=off, LOG_LEVEL=silent'} (run ${round + 1})`, fmt(r.rps), r.p50, r.p99, r.errors + r.non2xx, fmt(logBytes / 1024 / 1024, 1)]);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rps = { on: mean(runs['on']!), off: mean(runs['off']!) };
    log(`single-item PUT, 32 connections, ${opts.seconds} s each (autocannon), embedded LevelDB`);
    table(log, ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx', 'log MiB'], rows);
    log(`ratio on/off (mean of two runs each): ${fmt(rps.on / rps.off, 2)}x throughput (goal >= 0.9x)`);
    Object.assign(out, { single_observed_rps: rps.on, single_silent_rps: rps.off, single_observed_ratio: rps.on / rps.off });

    // 2. the CLI's import against the bulk PUT it is built on, same items
    const items = Array.from({ length: opts.items }, (_, i) => ({ ...ARTICLE, id: uuidFor(i), title_en: `title ${i}` }));
    const file = join(dir, 'items.ndjson');
    await writeFile(file, `${items.map((item) => JSON.stringify(item)).join('\n')}\n`);
    const importServer = await startServer(dir, 'import', { LOG_LEVEL: 'warn' });
    await prepare(importServer);
    const imported = await runCli(['import', '-p', 'myblog', '-b', 'article', file, '--json'], { DSTORE_URL: importServer.url });
    await importServer.stop();
    if (imported.code !== 0) throw new Error(`dstore import failed: ${imported.stderr}`);
    const report = JSON.parse(imported.stdout) as { stored: number; seconds: number };
    if (report.stored !== opts.items) throw new Error(`dstore import stored ${report.stored} of ${opts.items}`);

    const bulkServer = await startServer(dir, 'bulk', { LOG_LEVEL: 'warn' });
    await prepare(bulkServer);
    const bulk = await bulkLoad({ items, batch: 1000, inFlight: 4, send: (batch) => json('PUT', `${bulkServer.url}/myblog/article`, batch) });
    await bulkServer.stop();

    const importRate = opts.items / report.seconds;
    const importWallRate = opts.items / imported.seconds;
    log('');
    log(`${fmt(opts.items)} items, batches of 1,000, 4 in flight`);
    table(log, ['path', 'items/s', 'seconds'], [
      ['dstore import (CLI process: reads the NDJSON file, bulk PUTs)', fmt(importRate), fmt(report.seconds, 2)],
      ['  the same, wall clock with the CLI start-up', fmt(importWallRate), fmt(imported.seconds, 2)],
      ['bulk PUT from the benchmark (items in memory)', fmt(bulk.perSecond), fmt(bulk.seconds, 2)],
    ]);
    log(`ratio import/bulk PUT: ${fmt(importRate / bulk.perSecond, 2)}x (wall clock: ${fmt(importWallRate / bulk.perSecond, 2)}x; goal >= 0.9x)`);
    Object.assign(out, { import_per_s: importRate, import_wall_per_s: importWallRate, bulk_per_s: bulk.perSecond, import_ratio: importRate / bulk.perSecond });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchOperations({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log: console.log });
}
