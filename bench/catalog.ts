// Snapshot creation with the PostgreSQL catalog against the file catalog (SPEC §11), same run, same engine
// (PostgreSQL, so both migrate the same schemas): N snapshots of a one-blueprint project, one after the other.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess } from '../test/support/server-process.ts';
import { fmt, table } from './support.ts';

export async function benchCatalog(opts: { snapshots?: number; log: (line: string) => void }): Promise<void> {
  const n = opts.snapshots ?? Number(process.env['BENCH_SNAPSHOTS'] ?? 30);
  const pgEnv = { POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1', POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres', POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '', POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_bench' };
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-catalog-'));
  const rows: Array<Array<string | number>> = [];
  try {
    for (const catalog of ['file', 'postgresql'] as const) {
      const project = `benchcat${catalog === 'file' ? 'f' : 'p'}${Date.now() % 100000}`;
      const server = await startServerProcess({ ...pgEnv, CATALOG: catalog, STORES: 'postgresql', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', AUTH: 'off', LOG_LEVEL: 'info', PROJECT_FILE_PATH: join(dir, catalog, 'blueprint'), QUEUE_PATH: join(dir, catalog, 'queue'), LEVEL_PATH: join(dir, catalog, 'level') });
      try {
        const call = (method: string, path: string, body?: unknown) => fetch(server.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        await call('PUT', `/${project}/article/_blueprint`, { columns: { title: { type: 'string' }, views: { type: 'integer' } } });
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          const res = await call('POST', `/${project}/_version?wait=backfill`);
          if (res.status !== 201) throw new Error(`snapshot ${i + 1} with the ${catalog} catalog: ${res.status} ${await res.text()}`);
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        const mean = times.reduce((a, b) => a + b, 0) / times.length;
        rows.push([catalog, n, fmt(mean, 1), fmt(times[Math.floor(times.length / 2)]!, 1), fmt(times[Math.floor(times.length * 0.95)]!, 1)]);
        await call('DELETE', `/${project}`);
      } finally {
        await server.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  opts.log(`snapshot creation (POST /{project}/_version?wait=backfill, one blueprint, PostgreSQL engine), ${n} in a row`);
  table(opts.log, ['catalog', 'snapshots', 'mean ms', 'median ms', 'p95 ms'], rows);
}
