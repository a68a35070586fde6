// Start-up time to the first answered request: the installed Debian package (`/usr/bin/dstore`, compiled
// JavaScript and production dependencies under /usr/lib/dstore) against `npm start` from the repository
// (which compiles src/ first, then starts). Embedded configuration (catalog on disk + LevelDB), a fresh
// data directory per round. Builds the .deb (or takes BENCH_DEB), installs it with dpkg and purges it
// afterwards: needs root and a machine without a dstore package of its own.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/server-process.ts';
import { fmt } from './support.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`);
  return r.stdout;
}

/** Milliseconds from spawning `cmd` to the first answer of GET /_health; the process group is stopped after. */
async function timeToFirstAnswer(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${cmd} exited with ${child.exitCode} before answering:\n${out}`);
      if (performance.now() - started > 180_000) throw new Error(`${cmd} did not answer within 180 s:\n${out}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/_health`);
        await res.arrayBuffer();
        return performance.now() - started;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    // npm start runs sh and node under it: the whole group goes
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPackage(opts: { rounds: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  if (process.getuid?.() !== 0) throw new Error('the package benchmark installs the .deb with dpkg: run it as root');
  if (spawnSync('dpkg-query', ['-W', 'dstore']).status === 0) throw new Error('a dstore package is installed on this machine already: the benchmark installs and purges its own');
  const work = mkdtempSync(join(tmpdir(), 'dstore-bench-package-'));
  let installed = false;
  try {
    const deb = process.env['BENCH_DEB'] || sh(process.execPath, [join(root, 'tools/package/build-deb.mjs'), '--out', work]).trim().split('\n').at(-1)!;
    sh('dpkg', ['-i', deb]);
    installed = true;
    const data = (round: string) => {
      const dir = join(work, round);
      return { LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), STORES: 'level', LOG_LEVEL: 'warn' };
    };
    const installedMs: number[] = [];
    const npmStartMs: number[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      installedMs.push(await timeToFirstAnswer('/usr/bin/dstore', [], data(`deb-${i}`)));
      npmStartMs.push(await timeToFirstAnswer('npm', ['start', '--silent'], data(`npm-${i}`)));
      log(`round ${i + 1}: installed package ${fmt(installedMs[i]!)} ms, npm start ${fmt(npmStartMs[i]!)} ms`);
    }
    const r = { installed_ms: median(installedMs), npm_start_ms: median(npmStartMs) };
    log('');
    log(`| start-up to the first answered GET /_health (median of ${opts.rounds}) | ms |`);
    log('|---|---|');
    log(`| installed .deb: /usr/bin/dstore (compiled JS, production dependencies) | ${fmt(r.installed_ms)} |`);
    log(`| npm start from the repository (tsc -p tsconfig.build.json, then node bin/dstore.mjs) | ${fmt(r.npm_start_ms)} |`);
    log(`npm start / installed: ${fmt(r.npm_start_ms / r.installed_ms, 1)}x`);
    return r;
  } finally {
    if (installed) spawnSync('dpkg', ['--purge', 'dstore'], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}
