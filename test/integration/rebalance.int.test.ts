// Workers share the partitions whenever they start and stop (SPEC §11), on the RabbitMQ that runs here (3.x, where a single
// active consumer otherwise stays with the first subscriber): 1 worker, then 3, then 2, while 5,000 writes flow; at each step
// `rabbitmqctl list_consumers` shows each live worker active on its share within 30 s, and in the end PostgreSQL and every
// LevelDB copy hold the last accepted write of each item.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';
import { ClassicLevel } from 'classic-level';
import pg from 'pg';
import { itemKey as levelKey, projectRange } from '../../src/stores/level/keys.ts';
import { workQueueArguments } from '../../src/writes/rabbitmq/topology.ts';
import { startDstore, type TestDstore } from '../support/harness.ts';
import { spawnWorker as spawnSharedWorker, type Worker } from '../support/workers.ts';

const URL_ = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const PREFIX = `dstoretest-rebalance-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const PROJECT = `rebalance_${randomUUID().slice(0, 8)}`;
const PARTITIONS = 8;
const run = promisify(execFile);
const ENGINES = {
  STORES: 'postgresql,level',
  POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  POSTGRESQL_PORT: process.env['POSTGRESQL_PORT'] || '5432',
  POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres',
  POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '',
  POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_test',
};

function spawnWorker(id: string, levelPath: string): Promise<Worker> {
  return spawnSharedWorker({ ...ENGINES, QUEUE_CONNECTIONSTRING: URL_, QUEUE_PREFIX: PREFIX, QUEUE_PARTITIONS: String(PARTITIONS), LOG_LEVEL: 'info' }, id, levelPath);
}

/** Per worker id: the partitions of this test it is the active consumer of; fails if a partition has two. */
async function activePartitions(): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', ['list_consumers', '-q', '-s', 'queue_name', 'consumer_tag', 'active', 'activity_status']);
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [queue, tag, active] = line.trim().split('\t');
    if (!queue?.startsWith(`${PREFIX}.partition.`) || active !== 'true') continue;
    assert.ok(!seen.has(queue), `${queue} has one active consumer`);
    seen.add(queue);
    const worker = tag!.split(' ')[1]!;
    counts.set(worker, (counts.get(worker) ?? 0) + 1);
  }
  return counts;
}

/** Waits (at most 30 s, SPEC §11) until exactly these workers are active on every partition, each on floor or ceil of P/W. */
async function shared(workers: string[]): Promise<{ ms: number; counts: Map<string, number> }> {
  const started = Date.now();
  const fair = (n: number) => n === Math.floor(PARTITIONS / workers.length) || n === Math.ceil(PARTITIONS / workers.length);
  let counts = new Map<string, number>();
  while (Date.now() - started < 30_000) {
    counts = await activePartitions();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    if (total === PARTITIONS && counts.size === workers.length && workers.every((w) => fair(counts.get(w) ?? 0))) return { ms: Date.now() - started, counts };
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`within 30 s ${workers.join(', ')} were not each active on their share of ${PARTITIONS} partitions: ${JSON.stringify([...counts])}`);
}

async function queueDepths(): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', 'messages', '-q', '-s']);
  const depths = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name?.startsWith(`${PREFIX}.`) && count !== undefined) depths.set(name, Number(count));
  }
  return depths;
}

async function drained(): Promise<void> {
  const until = Date.now() + 120_000;
  while (![...(await queueDepths())].every(([name, n]) => n === 0 || name.endsWith('.deadletter') || name.endsWith('.copies'))) {
    if (Date.now() > until) assert.fail(`the queues of ${PREFIX} did not drain: ${JSON.stringify([...(await queueDepths())])}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function readCopy(path: string): Promise<Map<string, string>> {
  const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    return new Map(await db.iterator(projectRange(PROJECT)).all());
  } finally {
    await db.close();
  }
}

let admin: ChannelModel;
let api: TestDstore;
let dir: string;

before(async () => {
  admin = await amqp.connect(URL_);
  dir = await mkdtemp(join(tmpdir(), 'dstore-rebalance-'));
});

after(async () => {
  await api?.request('DELETE', `/${PROJECT}`).catch(() => {});
  await api?.stop().catch(() => {});
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', '-q', '-s']);
  for (const q of stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(PREFIX))) {
    const ch = await admin.createChannel();
    await ch.deleteQueue(q).catch(() => {});
    await ch.close().catch(() => {});
  }
  await admin.close();
  await rm(dir, { recursive: true, force: true });
});

test('1 worker, then 3, then 2 while 5,000 writes flow: each live worker active on its share within 30 s; every engine and copy ends at the last accepted write', async () => {
  // every worker's LevelDB queue exists before the first write, so each copy receives all of them (README: adding a copy)
  const ch = await admin.createChannel();
  const args = workQueueArguments(String(admin.connection.serverProperties.version ?? ''));
  await ch.assertExchange(`${PREFIX}.level`, 'fanout', { durable: true });
  for (const id of ['rb-1', 'rb-2', 'rb-3']) {
    await ch.assertQueue(`${PREFIX}.level.${id}`, { durable: true, arguments: args });
    await ch.bindQueue(`${PREFIX}.level.${id}`, `${PREFIX}.level`, '');
  }
  await ch.close();

  process.env['QUEUE_PREFIX'] = PREFIX;
  process.env['QUEUE_PARTITIONS'] = String(PARTITIONS);
  process.env['WORKER_ID'] = 'rb-api';
  api = await startDstore({ ...ENGINES, QUEUE_CONNECTIONSTRING: URL_, ROLE: 'api' });
  const path = (id: string) => join(dir, id);
  const workers = new Map<string, Worker>();
  workers.set('rb-1', await spawnWorker('rb-1', path('rb-1')));
  assert.equal((await api.request('PUT', `/${PROJECT}`, { counter: { columns: { n: { type: 'integer' }, label: { type: 'string' } } } })).status, 200);

  const ids = Array.from({ length: 500 }, () => randomUUID());
  const last = new Map<string, number>();
  let sent = 0;
  let stop = false;
  const writer = (async () => {
    let round = 0;
    while (sent < 5000 || !stop) {
      const chunk = Array.from({ length: 25 }, (_, i) => ids[(round * 25 + i) % ids.length]!).map((id) => ({ id, project_version: 1, n: round, label: `r${round}` }));
      const res = await api.request('PUT', `/${PROJECT}/counter${round % 2 ? '?async=true' : ''}`, chunk);
      assert.ok(res.status === 200 || res.status === 202, res.text);
      for (const item of chunk) last.set(item.id, item.n);
      sent += chunk.length;
      round++;
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  try {
    const steps: string[] = [];
    const one = await shared(['rb-1']);
    steps.push(`1 worker: ${one.ms} ms ${JSON.stringify([...one.counts])}`);
    workers.set('rb-2', await spawnWorker('rb-2', path('rb-2')));
    workers.set('rb-3', await spawnWorker('rb-3', path('rb-3')));
    const three = await shared(['rb-1', 'rb-2', 'rb-3']);
    steps.push(`3 workers: ${three.ms} ms ${JSON.stringify([...three.counts])}`);
    assert.ok(sent < 5000, `writes were still flowing when the third worker took its share (${sent} sent)`);
    await workers.get('rb-2')!.stop();
    workers.delete('rb-2');
    const two = await shared(['rb-1', 'rb-3']);
    steps.push(`2 workers: ${two.ms} ms ${JSON.stringify([...two.counts])}`);
    console.log(`rebalance: ${steps.join('; ')}; ${sent} writes sent by then`);
    stop = true;
    await writer;
  } finally {
    stop = true;
    await writer.catch(() => {});
  }
  assert.ok(sent >= 5000);
  // the stopped worker comes back to apply what its queue collected meanwhile
  workers.set('rb-2', await spawnWorker('rb-2', path('rb-2')));
  await drained();
  for (const w of workers.values()) await w.stop();

  const client = new pg.Client({ host: ENGINES.POSTGRESQL_HOST, port: Number(ENGINES.POSTGRESQL_PORT), user: ENGINES.POSTGRESQL_USER, password: ENGINES.POSTGRESQL_PASSWORD || undefined, database: ENGINES.POSTGRESQL_DATABASE });
  await client.connect();
  try {
    const rows = await client.query<{ id: string; n: number }>(`SELECT id::text AS id, n FROM "${PROJECT}_v1"."counter"`);
    assert.deepEqual(new Map(rows.rows.map((r) => [r.id, r.n])), last, 'PostgreSQL holds the last accepted write of each item');
  } finally {
    await client.end();
  }
  for (const id of ['rb-1', 'rb-2', 'rb-3']) {
    const copy = await readCopy(path(id));
    assert.equal(copy.size, ids.length, `${id}: one item per id`);
    for (const [itemId, n] of last) assert.equal(JSON.parse(copy.get(levelKey(PROJECT, 1, 'counter', itemId)) ?? 'null')?.n, n, `${id}: ${itemId} at its last accepted write`);
  }
});
