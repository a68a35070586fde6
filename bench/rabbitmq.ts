// The write path over RabbitMQ against the in-process queue, end to end, in one run:
// single-item PUT at 32 connections, bulk ingest of N items, and bulk ingest with the
// API and 1, 2, 3 separate worker processes. Engines: LevelDB, plus whatever STORES /
// POSTGRESQL_HOST / ELASTICSEARCH_HOST configure. RabbitMQ at QUEUE_CONNECTIONSTRING
// (default amqp://guest:guest@127.0.0.1:5672). Every process is a real `dstore` (src/cli.ts).
//
// "answered" counts the HTTP answers (a default PUT answers once the shared engines and
// one LevelDB copy applied it); "every copy applied" waits, in addition, until every
// worker's LevelDB copy and every partition has applied everything: a sentinel batch is
// published behind the load to each queue with a reply address, and its replies say so.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { readConfig } from '../src/config.ts';
import { normalizeBlueprint } from '../src/schema/blueprint.ts';
import type { ItemPut, StoreName } from '../src/stores/store.ts';
import { decodeReply, encodeWrites } from '../src/writes/rabbitmq/message-codec.ts';
import { REPLY_TO } from '../src/writes/rabbitmq/publisher.ts';
import { partitionOf, topology } from '../src/writes/rabbitmq/topology.ts';
import { nextStamp } from '../src/writes/stamps.ts';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../test/support/harness.ts';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.ts';
import { bulkLoad, fmt, putLoad, table, uuidFor } from './support.ts';

const AMQP_URL = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';

async function json(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

export interface Setup {
  api: ServerProcess;
  workers: ServerProcess[];
  workerIds: string[];
  prefix: string | null;
  project: string;
  stop(): Promise<void>;
}

let runs = 0;

/**
 * One dstore installation for one measurement: the in-process queue (`workers: 'none'`),
 * RabbitMQ with API and worker in one process (`'all'`), or an API with `n` worker processes.
 */
async function setup(dir: string, mode: { queue: 'in-process' } | { queue: 'rabbitmq'; workers: 'all' | number }): Promise<Setup> {
  const n = ++runs;
  const project = `bench_rabbit_${n}`;
  const base = { PROJECT_FILE_PATH: join(dir, `blueprint-${n}`), QUEUE_PATH: join(dir, `queue-${n}`), LEVEL_PATH: join(dir, `level-${n}-api`) };
  let api: ServerProcess;
  const workers: ServerProcess[] = [];
  const workerIds: string[] = [];
  let prefix: string | null = null;
  if (mode.queue === 'in-process') {
    api = await startServerProcess({ ...base, QUEUE_CONNECTIONSTRING: '', ROLE: 'all' });
  } else {
    prefix = `dstorebench-${Date.now().toString(36)}-${n}`;
    const rabbit = { QUEUE_CONNECTIONSTRING: AMQP_URL, QUEUE_PREFIX: prefix };
    if (mode.workers === 'all') {
      workerIds.push(`bench-${n}-all`);
      api = await startServerProcess({ ...base, ...rabbit, ROLE: 'all', WORKER_ID: workerIds[0]! });
    } else {
      for (let w = 1; w <= mode.workers; w++) workerIds.push(`bench-${n}-w${w}`);
      workers.push(...(await Promise.all(workerIds.map((id, w) => startServerProcess({ ...base, ...rabbit, ROLE: 'worker', WORKER_ID: id, LEVEL_PATH: join(dir, `level-${n}-w${w + 1}`) }, ['worker'])))));
      api = await startServerProcess({ ...base, ...rabbit, ROLE: 'api', WORKER_ID: `bench-${n}-api` });
    }
  }
  await json('PUT', `${api.url}/${project}/article/_blueprint`, ARTICLE_BLUEPRINT);
  await json('POST', `${api.url}/${project}/_version`);
  return {
    api,
    workers,
    workerIds,
    prefix,
    project,
    async stop() {
      await json('DELETE', `${api.url}/${project}`).catch(() => {}); // leaves no tables or indices behind
      await api.stop();
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

/**
 * Resolves once every queue of the installation has applied everything published before:
 * a sentinel write goes behind the load into each LevelDB copy and each partition, and the
 * workers' replies to it arrive only after everything ahead of it in that queue was applied.
 */
export async function everyCopyApplied(s: Setup, stores: readonly StoreName[]): Promise<void> {
  if (!s.prefix) return;
  const t = topology(s.prefix, Number(process.env['QUEUE_PARTITIONS'] || 8));
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createConfirmChannel();
    const waiting = new Set<string>();
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    await ch.consume(
      REPLY_TO,
      (msg) => {
        const reply = msg && decodeReply(msg.content);
        if (!reply) return;
        for (const id of reply.done) waiting.delete(reply.store === 'level' ? `level ${reply.worker} ${id}` : `${reply.store} ${id}`);
        if (waiting.size === 0) done();
      },
      { noAck: true },
    );
    const definition = normalizeBlueprint('article', ARTICLE_BLUEPRINT);
    const sentinel = (id: string): ItemPut => ({ op: 'put', project: s.project, version: 1, blueprint: 'article', definition, id, stamp: nextStamp(), item: { ...ARTICLE, id } });
    const sends: Array<{ exchange: string; key: string; id: string; write: ItemPut }> = [];
    if (stores.includes('level')) {
      const id = randomUUID();
      for (const w of s.workerIds) waiting.add(`level ${w} ${id}`);
      sends.push({ exchange: t.levelExchange, key: '', id, write: sentinel(randomUUID()) });
    }
    const shared = stores.filter((name) => name !== 'level');
    if (shared.length) {
      for (let p = 0; p < t.partitions; p++) {
        let write = sentinel(randomUUID());
        while (partitionOf(write, t.partitions) !== p) write = sentinel(randomUUID());
        const id = randomUUID();
        for (const name of shared) waiting.add(`${name} ${id}`);
        sends.push({ exchange: t.writesExchange, key: String(p), id, write });
      }
    }
    for (const m of sends) ch.publish(m.exchange, m.key, encodeWrites([m.write]), { persistent: true, messageId: m.id, replyTo: REPLY_TO });
    await ch.waitForConfirms();
    await all;
  } finally {
    await conn.close().catch(() => {});
  }
}

export async function deleteTopology(prefix: string, workerIds: readonly string[]): Promise<void> {
  const t = topology(prefix, Number(process.env['QUEUE_PARTITIONS'] || 8));
  const conn = await amqp.connect(AMQP_URL);
  try {
    const queues = [t.deadLetterQueue, ...Array.from({ length: t.partitions }, (_, p) => t.partitionQueue(p)), ...workerIds.map((w) => t.levelQueue(w))];
    for (const q of queues) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    }
    for (const e of [t.writesExchange, t.levelExchange]) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(e).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

export async function benchRabbitmq(opts: { items: number; log: (line: string) => void; seconds?: number }): Promise<Record<string, number>> {
  const { log } = opts;
  const seconds = opts.seconds ?? Number(process.env['BENCH_SECONDS'] ?? 10);
  const stores = readConfig({ ...process.env, QUEUE_CONNECTIONSTRING: '' }, 'all').stores;
  const dir = await mkdtemp(join(tmpdir(), 'dstore-bench-rabbit-'));
  const out: Record<string, number> = {};
  const prefixes: Array<{ prefix: string; workerIds: string[] }> = [];
  // one installation at a time; its queues are removed afterwards
  async function withSetup<T>(mode: Parameters<typeof setup>[1], work: (s: Setup) => Promise<T>): Promise<T> {
    const s = await setup(dir, mode);
    if (s.prefix) prefixes.push({ prefix: s.prefix, workerIds: s.workerIds });
    try {
      return await work(s);
    } finally {
      await s.stop();
    }
  }
  log(`engines: ${stores.join(', ')}; RabbitMQ at ${AMQP_URL.replace(/\/\/[^@]*@/, '//')}; ${process.env['QUEUE_PARTITIONS'] || 8} partitions`);
  try {
    // single-item PUT, 32 connections
    const single = async (s: Setup, query = '') => {
      const load = { url: s.api.url, connections: 32, path: (id: string) => `/${s.project}/article/${id}${query}`, body: (id: string) => ({ ...ARTICLE, id }) };
      await putLoad({ ...load, seconds: 2 }); // warm-up
      return putLoad({ ...load, seconds });
    };
    const rows: Array<[string, Awaited<ReturnType<typeof putLoad>>]> = [];
    rows.push(['in-process queue, answers when applied', await withSetup({ queue: 'in-process' }, (s) => single(s))]);
    await withSetup({ queue: 'rabbitmq', workers: 'all' }, async (s) => {
      rows.push(['RabbitMQ, ROLE=all, answers when applied', await single(s)]);
      rows.push(['RabbitMQ, ROLE=all, ?async=true (202 once confirmed)', await single(s, '?async=true')]);
      await everyCopyApplied(s, stores);
    });
    rows.push(['RabbitMQ, ROLE=api + 1 worker process, answers when applied', await withSetup({ queue: 'rabbitmq', workers: 1 }, (s) => single(s))]);
    log(`single-item PUT, 32 connections, ${seconds} s each after 2 s of warm-up (autocannon)`);
    table(log, ['queue', 'req/s', 'p50 ms', 'p99 ms', 'errors+non-2xx'], rows.map(([name, r]) => [name, fmt(r.rps), r.p50, r.p99, r.errors + r.non2xx]));
    const [inProcess, rabbitAll, rabbitAsync, rabbitApi] = rows.map(([, r]) => r);
    Object.assign(out, {
      single_inprocess_rps: inProcess!.rps,
      single_inprocess_p99: inProcess!.p99,
      single_rabbit_all_rps: rabbitAll!.rps,
      single_rabbit_all_p50: rabbitAll!.p50,
      single_rabbit_all_p99: rabbitAll!.p99,
      single_rabbit_async_rps: rabbitAsync!.rps,
      single_rabbit_async_p99: rabbitAsync!.p99,
      single_rabbit_api_1worker_rps: rabbitApi!.rps,
      single_rabbit_api_1worker_p99: rabbitApi!.p99,
    });

    // bulk ingest: N items, batches of 1,000, 4 requests in flight
    const items = Array.from({ length: opts.items }, (_, i) => ({ ...ARTICLE, id: uuidFor(i), title_en: `title ${i}` }));
    const bulk = async (s: Setup) => {
      const started = process.hrtime.bigint();
      const answered = await bulkLoad({ items, batch: 1000, inFlight: 4, send: (batch) => json('PUT', `${s.api.url}/${s.project}/article`, batch) });
      await everyCopyApplied(s, stores);
      const all = Number(process.hrtime.bigint() - started) / 1e9;
      return { answered: answered.perSecond, everyCopy: opts.items / all, seconds: all };
    };
    const bulkRows: Array<[string, Awaited<ReturnType<typeof bulk>>]> = [];
    bulkRows.push(['in-process queue (ROLE=all)', await withSetup({ queue: 'in-process' }, bulk)]);
    bulkRows.push(['RabbitMQ, ROLE=all (API + worker in one process)', await withSetup({ queue: 'rabbitmq', workers: 'all' }, bulk)]);
    for (const n of [1, 2, 3]) bulkRows.push([`RabbitMQ, ROLE=api + ${n} worker process${n > 1 ? 'es' : ''}`, await withSetup({ queue: 'rabbitmq', workers: n }, bulk)]);
    log('');
    log(`bulk ingest of ${fmt(opts.items)} items, batches of 1,000, 4 requests in flight`);
    table(log, ['setup', 'items/s answered', 'items/s every copy applied', 'seconds (every copy)'], bulkRows.map(([name, r]) => [name, fmt(r.answered), fmt(r.everyCopy), fmt(r.seconds, 2)]));
    const w1 = bulkRows[2]![1];
    const w3 = bulkRows[4]![1];
    log(
      stores.some((s) => s !== 'level')
        ? `scaling 1 → 3 workers: ${fmt(w3.answered / w1.answered, 2)}x answered, ${fmt(w3.everyCopy / w1.everyCopy, 2)}x every copy applied (shared engines split the partitions; each worker also keeps a full LevelDB copy${stores.includes('level') ? '' : ' — not here'})`
        : `scaling 1 → 3 workers: ${fmt(w3.answered / w1.answered, 2)}x answered, ${fmt(w3.everyCopy / w1.everyCopy, 2)}x every copy applied (LevelDB only: every worker applies every write to its own copy, so more workers add copies, not throughput)`,
    );
    Object.assign(out, {
      bulk_inprocess_per_s: bulkRows[0]![1].answered,
      bulk_rabbit_all_per_s: bulkRows[1]![1].answered,
      bulk_rabbit_1worker_per_s: w1.answered,
      bulk_rabbit_2workers_per_s: bulkRows[3]![1].answered,
      bulk_rabbit_3workers_per_s: w3.answered,
      bulk_rabbit_1worker_every_copy_per_s: w1.everyCopy,
      bulk_rabbit_3workers_every_copy_per_s: w3.everyCopy,
      scaling_1_to_3_answered: w3.answered / w1.answered,
      scaling_1_to_3_every_copy: w3.everyCopy / w1.everyCopy,
    });
  } finally {
    for (const p of prefixes) await deleteTopology(p.prefix, p.workerIds).catch((e: Error) => log(`cleanup of ${p.prefix}: ${e.message}`));
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchRabbitmq({ items: Number(process.env['BENCH_ITEMS'] ?? 100_000), log: console.log });
  process.exit(0);
}
