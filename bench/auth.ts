// Access control's price (SPEC §10): single-item PUT at 32 connections with a `write` token
// (ADMIN_TOKEN set: one SHA-256 and one map look-up per request) against the same server
// with AUTH=off, in one run, alternating rounds so that drift hits both alike.
import autocannon from 'autocannon';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../test/support/harness.ts';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.ts';
import { fmt, table, type LoadResult } from './support.ts';

async function call(method: string, url: string, token: string | undefined, body?: unknown): Promise<any> {
  const res = await fetch(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function load(url: string, token: string | undefined, seconds: number): Promise<LoadResult> {
  return autocannon({
    url,
    connections: 32,
    duration: seconds,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    requests: [{ method: 'PUT', setupRequest: (req) => { const id = randomUUID(); return { ...req, path: `/myblog/article/${id}`, body: JSON.stringify({ ...ARTICLE, id }) }; } }],
  }).then((r) => ({ requests: r.requests.total, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx }));
}

async function server(dir: string, name: string, env: Record<string, string>, admin: string | undefined): Promise<ServerProcess> {
  const s = await startServerProcess({ STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, name, 'level'), PROJECT_FILE_PATH: join(dir, name, 'blueprint'), QUEUE_PATH: join(dir, name, 'queue'), ...env });
  await call('PUT', `${s.url}/myblog/article/_blueprint`, admin, ARTICLE_BLUEPRINT);
  await call('POST', `${s.url}/myblog/_version`, admin);
  return s;
}

export async function benchAuth(opts: { seconds: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-auth-'));
  const adminToken = randomBytes(32).toString('hex');
  try {
    const guarded = await server(dir, 'tokens', { ADMIN_TOKEN: adminToken }, adminToken);
    const open = await server(dir, 'open', { AUTH: 'off' }, undefined);
    try {
      const writer = (await call('POST', `${guarded.url}/_token`, adminToken, { name: 'bench', projects: ['myblog'], scopes: ['write'] })).token as string;
      await load(guarded.url, writer, 2);
      await load(open.url, undefined, 2);
      const rounds = 2;
      const withToken: LoadResult[] = [];
      const without: LoadResult[] = [];
      for (let i = 0; i < rounds; i++) {
        withToken.push(await load(guarded.url, writer, opts.seconds));
        without.push(await load(open.url, undefined, opts.seconds));
      }
      const mean = (rs: LoadResult[], k: 'rps' | 'p50' | 'p99') => rs.reduce((s, r) => s + r[k], 0) / rs.length;
      const bad = (rs: LoadResult[]) => rs.reduce((s, r) => s + r.errors + r.non2xx, 0);
      log(`single-item PUT, 32 connections, ${rounds} alternating rounds of ${opts.seconds} s each (autocannon), LevelDB`);
      table(log, ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx'], [
        ['ADMIN_TOKEN set, a write token per request', fmt(mean(withToken, 'rps')), fmt(mean(withToken, 'p50'), 1), fmt(mean(withToken, 'p99'), 1), bad(withToken)],
        ['AUTH=off, no token', fmt(mean(without, 'rps')), fmt(mean(without, 'p50'), 1), fmt(mean(without, 'p99'), 1), bad(without)],
      ]);
      const ratio = mean(withToken, 'rps') / mean(without, 'rps');
      log(`ratio token/no auth: ${fmt(ratio, 3)}x throughput (goal >= 0.95x)`);
      return { token_rps: mean(withToken, 'rps'), open_rps: mean(without, 'rps'), ratio };
    } finally {
      await guarded.stop();
      await open.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchAuth({ seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log: console.log });
}
