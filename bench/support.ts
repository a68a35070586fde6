import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/server-process.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Single-item PUTs from `connections` concurrent connections for `seconds`, each with a fresh id. */
export async function putLoad(opts: { url: string; path: (id: string) => string; body: (id: string) => unknown; connections: number; seconds: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      {
        method: 'PUT',
        setupRequest: (req) => {
          const id = randomUUID();
          return { ...req, path: opts.path(id), body: JSON.stringify(opts.body(id)) };
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** Sends `items` in batches with at most `inFlight` requests at once; returns items per second. */
export async function bulkLoad(opts: { items: unknown[]; batch: number; inFlight: number; send: (batch: unknown[]) => Promise<void> }): Promise<{ seconds: number; perSecond: number }> {
  const started = process.hrtime.bigint();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < opts.items.length) {
      const from = next;
      next += opts.batch;
      await opts.send(opts.items.slice(from, from + opts.batch));
    }
  }
  await Promise.all(Array.from({ length: opts.inFlight }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, perSecond: opts.items.length / seconds };
}

export function uuidFor(i: number): string {
  const hex = i.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function table(log: (line: string) => void, header: string[], rows: Array<Array<string | number>>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: Array<string | number>) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ') + ' |';
  log(line(header));
  log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) log(line(r));
}

let built: Promise<void> | null = null;

/** Compiles src/ into dist/ once per bench run (`npm run build`), so dstore runs as the plain JavaScript `npm start` runs. */
export function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    // tsc still emits when another part of the tree does not typecheck; only a missing entry point stops the bench
    child.once('exit', () => (existsSync(join(root, 'dist/cli.js')) ? resolve() : reject(new Error(`npm run build produced no dist/cli.js:\n${out}`))));
  });
  return built;
}

export interface BenchProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * A plain-JavaScript server process (`node <script>`), ready once it prints `listening on`. Its
 * output goes to a file, as a deployed log would, so the load generator never spends CPU reading it.
 */
export async function startScript(args: string[], env: Record<string, string>): Promise<BenchProcess> {
  const port = env['PORT'] ?? String(await freePort());
  const logDir = mkdtempSync(join(tmpdir(), 'dstore-bench-log-'));
  const logFile = join(logDir, 'output.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, CATALOG: 'file', ...env, PORT: port }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const output = () => readFileSync(logFile, 'utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (!output().includes('listening on')) {
    if (gone) throw new Error(`${args.join(' ')} exited before listening:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`${args.join(' ')} did not start within 30 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** dstore from dist/ (`node bin/dstore.mjs`, as `npm start` runs it), built first if needed. */
export async function startCompiledDstore(env: Record<string, string>): Promise<BenchProcess> {
  await buildOnce();
  return startScript(['bin/dstore.mjs'], env);
}

/** Peak resident memory of a local process in MiB (VmHWM from /proc), or null when it cannot be read. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
  } catch {
    return null;
  }
}
