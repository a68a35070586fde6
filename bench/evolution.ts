// Schema evolution (SPEC §9), in one run against the same engines (LevelDB and PostgreSQL,
// plus the search engine when ELASTICSEARCH_HOST is set), the same items:
//  (a) bulk ingest of N items with one live version, then with two live versions
//      (every write also copied into the other): goal >= 0.6x;
//  (b) the back-fill of those N items into a new version against the bulk PUT rate
//      of the same items into the same engines: goal >= 1.0x (no HTTP, no parsing).
// Runs alternate (one version, two versions, one, two) so a noisy neighbour hits both sides.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bulkLoad, fmt, startCompiledDstore, table, uuidFor } from './support.ts';

const V1 = {
  postgresql: { table: 'articles' },
  columns: {
    title: { type: 'string', validation: { required: true } },
    intro: { type: 'text' },
    views: { type: 'integer' },
    score: { type: 'integer' },
    date_created: { type: 'datetime', validation: { required: true } },
  },
};
const V2 = {
  postgresql: { table: 'articles' },
  columns: {
    headline: { type: 'string', renamed_from: 'title', validation: { required: true } },
    intro: { type: 'text' },
    views: { type: 'integer' },
    score: { type: 'float' },
    date_created: { type: 'datetime', validation: { required: true } },
    category: { type: 'string', default: 'general' },
  },
};

async function json(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export async function benchEvolution(opts: { items: number; log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-evolution-'));
  const pgEnv = { POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1', POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres', POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '', POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_bench' };
  const search = process.env['ELASTICSEARCH_HOST'] || '';
  const stores = ['level', 'postgresql', search && 'elasticsearch'].filter(Boolean).join(',');
  const server = await startCompiledDstore({ ...pgEnv, STORES: stores, ELASTICSEARCH_HOST: search, QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue') });
  const stamp = Date.now().toString(36).replace(/\d/g, (d) => 'abcdefghij'[+d]!);
  const projects: string[] = [];
  const out: Record<string, number> = {};
  try {
    const items = Array.from({ length: opts.items }, (_, i) => ({ id: uuidFor(i), project_version: 1, title: `title ${i}`, intro: 'The intro of an article, a sentence or two long.', views: i, score: i % 100, date_created: '2014-01-17 03:50:12' }));
    const ingest = async (versions: 1 | 2, round: number): Promise<{ perSecond: number; project: string }> => {
      const p = `bench_ev_${stamp}_${versions === 1 ? 'one' : 'two'}_${'abcdefghij'[round]}`;
      projects.push(p);
      await json('PUT', `${server.url}/${p}/article/_blueprint`, V1);
      await json('POST', `${server.url}/${p}/_version`);
      if (versions === 2) {
        await json('PUT', `${server.url}/${p}/article/_blueprint`, V2);
        await json('POST', `${server.url}/${p}/_version?wait=backfill`);
      }
      const r = await bulkLoad({ items, batch: 1000, inFlight: 4, send: (batch) => json('PUT', `${server.url}/${p}/article`, batch) });
      return { perSecond: r.perSecond, project: p };
    };
    const one: number[] = [];
    const two: number[] = [];
    let filled = '';
    for (let round = 0; round < 2; round++) {
      const a = await ingest(1, round);
      one.push(a.perSecond);
      if (round === 0) filled = a.project;
      two.push((await ingest(2, round)).perSecond);
    }
    const best = (xs: number[]) => Math.max(...xs);
    log(`(a) bulk ingest of ${fmt(opts.items)} items (batches of 1,000, 4 in flight) into ${stores}, rounds alternated`);
    table(log, ['live versions', 'items/s (best of 2)', 'rounds'], [
      ['1', fmt(best(one)), one.map((x) => fmt(x)).join(', ')],
      ['2 (each write also copied into the other)', fmt(best(two)), two.map((x) => fmt(x)).join(', ')],
    ]);
    log(`ratio two/one: ${fmt(best(two) / best(one), 2)}x (goal >= 0.6)`);

    // (b) back-fill the first one-version project into a new version, against the bulk PUT of the same items
    await json('PUT', `${server.url}/${filled}/article/_blueprint`, V2);
    const t0 = process.hrtime.bigint();
    const created = await json('POST', `${server.url}/${filled}/_version?wait=backfill`);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (created.backfill?.state !== 'done' || created.backfill.total !== opts.items) throw new Error(`back-fill did not finish: ${JSON.stringify(created.backfill)}`);
    const backfill = opts.items / seconds;
    const job = await json('GET', `${server.url}/_jobs/${created.backfill.job}`);
    log('');
    log(`(b) back-fill of those ${fmt(opts.items)} items into a new version (source ${job.from})`);
    table(log, ['path', 'items/s', 'seconds'], [
      ['back-fill (scan, copy, every engine)', fmt(backfill), fmt(seconds, 2)],
      ['bulk PUT of the same items, one version (best of a)', fmt(best(one)), fmt(opts.items / best(one), 2)],
    ]);
    log(`ratio back-fill/bulk PUT: ${fmt(backfill / best(one), 2)}x (goal >= 1.0)`);
    Object.assign(out, { one_version_per_s: best(one), two_versions_per_s: best(two), two_one_ratio: best(two) / best(one), backfill_per_s: backfill, backfill_ratio: backfill / best(one) });
  } finally {
    for (const p of projects) await json('DELETE', `${server.url}/${p}`).catch(() => {});
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchEvolution({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), log: console.log });
}
