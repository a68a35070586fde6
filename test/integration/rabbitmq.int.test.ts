// The write path over RabbitMQ, against the real broker (QUEUE_CONNECTIONSTRING, default
// amqp://guest:guest@127.0.0.1:5672) and real LevelDB copies. Worker processes are real
// processes (test/support/worker-process.ts). Fails, never skips, when RabbitMQ is not there.
// Every run uses its own QUEUE_PREFIX and deletes its queues and exchanges afterwards.
// Needs `rabbitmqctl` (run as root) to read queue depths and to drop connections.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import { ClassicLevel } from 'classic-level';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
import { itemKey as levelKey, projectRange, stampRange } from '../../src/stores/level/keys.ts';
import { LevelStore } from '../../src/stores/level/level-store.ts';
import { WriteRejectedError, type EngineHealth, type ItemPut, type Snapshot, type Store, type Write } from '../../src/stores/store.ts';
import { BarrierTimeoutError, RabbitQueue } from '../../src/writes/rabbitmq/rabbit-queue.ts';
import { nextStamp } from '../../src/writes/stamps.ts';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID, startDstore, type TestDstore } from '../support/harness.ts';
import { spawnWorker as spawnSharedWorker, type Worker } from '../support/workers.ts';

const URL_ = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `dstoretest-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const run = promisify(execFile);
const quiet = () => {};

let admin: ChannelModel;
let prefixes = 0;
const nextPrefix = () => `${RUN}-${++prefixes}`;

/** Starts an in-process dstore whose RabbitQueue reads these from the environment. */
async function dstoreWith(prefix: string, workerId: string, env: Record<string, string>): Promise<TestDstore> {
  process.env['QUEUE_PREFIX'] = prefix;
  process.env['WORKER_ID'] = workerId;
  return startDstore({ QUEUE_CONNECTIONSTRING: URL_, STORES: 'level', ...env });
}

/** The LevelDB the process's own worker keeps (the harness records each one it opens). */
function levelOf(d: TestDstore): LevelStore {
  assert.ok(d.running.app!.deps.queue instanceof RabbitQueue, 'the dstore runs on the RabbitMQ queue');
  assert.ok(d.level, 'this process keeps a LevelDB copy');
  return d.level;
}

async function readCopy(path: string, project: string): Promise<Map<string, string>> {
  const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    return new Map(await db.iterator(projectRange(project)).all());
  } finally {
    await db.close();
  }
}

/** Messages (ready + unacknowledged) per queue of a prefix. */
async function queueDepths(prefix: string): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', 'messages', '-q', '-s']);
  const depths = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name?.startsWith(`${prefix}.`) && count !== undefined) depths.set(name, Number(count));
  }
  return depths;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 200): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every work queue of the prefix is empty, acknowledged messages included (the dead-letter queue and the LevelDB copy registry aside). */
async function drained(prefix: string): Promise<void> {
  await waitFor(`the queues of ${prefix} to drain`, async () => [...(await queueDepths(prefix))].every(([name, n]) => n === 0 || name.endsWith('.deadletter') || name.endsWith('.copies')), 90_000, 300);
}

async function deleteTopology(prefix: string): Promise<void> {
  const [queues, exchanges] = await Promise.all([run('rabbitmqctl', ['list_queues', 'name', '-q', '-s']), run('rabbitmqctl', ['list_exchanges', 'name', '-q', '-s'])]);
  const mine = (out: { stdout: string }) => out.stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(prefix));
  for (const q of mine(queues)) {
    const ch = await admin.createChannel();
    await ch.deleteQueue(q).catch(() => {});
    await ch.close().catch(() => {});
  }
  for (const e of mine(exchanges)) {
    const ch = await admin.createChannel();
    await ch.deleteExchange(e).catch(() => {});
    await ch.close().catch(() => {});
  }
}

/** A real `dstore worker` process keeping its own LevelDB copy, on this test's queues. */
function spawnWorker(prefix: string, id: string, levelPath: string, extraEnv: Record<string, string> = {}): Promise<Worker> {
  return spawnSharedWorker({ QUEUE_CONNECTIONSTRING: URL_, STORES: 'level', QUEUE_PREFIX: prefix, ...extraEnv }, id, levelPath);
}

async function pool<T>(concurrency: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

const COUNTER_BLUEPRINT = { columns: { n: { type: 'integer' }, label: { type: 'string' } } };

/** PostgreSQL and Elasticsearch for the tests that check every engine (the runner provides both; missing ones fail the test). */
const ENGINES = {
  STORES: 'postgresql,elasticsearch,level',
  POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  POSTGRESQL_PORT: process.env['POSTGRESQL_PORT'] || '5432',
  POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres',
  POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '',
  POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_test',
  ELASTICSEARCH_HOST: process.env['ELASTICSEARCH_HOST'] || '',
};

/** Every row of a version's table in PostgreSQL: id → n. */
async function pgRows(project: string, table: string): Promise<Map<string, number>> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ host: ENGINES.POSTGRESQL_HOST, port: Number(ENGINES.POSTGRESQL_PORT), user: ENGINES.POSTGRESQL_USER, password: ENGINES.POSTGRESQL_PASSWORD || undefined, database: ENGINES.POSTGRESQL_DATABASE });
  await client.connect();
  try {
    const r = await client.query(`SELECT id::text AS id, n FROM "${project}_v1"."${table}"`);
    return new Map(r.rows.map((row: { id: string; n: number }) => [row.id, row.n]));
  } finally {
    await client.end();
  }
}

/** Every document of a version's index in Elasticsearch: id → n. */
async function esDocs(project: string, blueprint: string): Promise<Map<string, number>> {
  const index = `${project}_v1_${blueprint}`;
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${ENGINES.ELASTICSEARCH_HOST.replace(/\/+$/, '')}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
    return res.json() as Promise<any>;
  };
  await call(`/${index}/_refresh`);
  const docs = new Map<string, number>();
  let after: unknown[] | undefined;
  for (;;) {
    const page = await call(`/${index}/_search`, { size: 5000, sort: [{ id: 'asc' }], query: { match_all: {} }, ...(after ? { search_after: after } : {}) });
    for (const hit of page.hits.hits as Array<{ _id: string; _source: { n: number }; sort: unknown[] }>) docs.set(hit._id, hit._source.n);
    if (page.hits.hits.length < 5000) return docs;
    after = page.hits.hits[page.hits.hits.length - 1].sort;
  }
}

/** A project name of its own for this run (the engines outlive the test). */
const uniqueProject = (base: string) => `${base}_x${Date.now().toString(36)}`;

async function snapshot(d: TestDstore, project: string, blueprint: string, definition: unknown): Promise<void> {
  assert.equal((await d.request('PUT', `/${project}/${blueprint}/_blueprint`, definition)).status, 200);
  const v = await d.request('POST', `/${project}/_version`);
  assert.ok(v.status >= 200 && v.status < 300, `snapshot: ${v.text}`);
}

before(async () => {
  // no skip: without RabbitMQ this suite fails here, and every test with it
  admin = await amqp.connect(URL_);
  admin.on('error', () => {});
});

after(async () => {
  delete process.env['QUEUE_PREFIX'];
  delete process.env['WORKER_ID'];
  if (admin) {
    await deleteTopology(RUN);
    await admin.close().catch(() => {});
  }
});

describe('RabbitMQ write queue', () => {
  test('round trip: PUT answers 200 once LevelDB has it, async 202 lands shortly after, DELETE 204 removes it', async () => {
    const prefix = nextPrefix();
    const d = await dstoreWith(prefix, 'roundtrip', {});
    try {
      await snapshot(d, 'myblog', 'article', ARTICLE_BLUEPRINT);
      const level = levelOf(d);
      const key = levelKey('myblog', 1, 'article', ARTICLE_ID);
      const valueOf = async () => new Map(await level.entries()).get(key);

      const put = await d.request('PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE);
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.state, 'applied');
      assert.deepEqual(JSON.parse((await valueOf())!), ARTICLE);

      const changed = { ...ARTICLE, title_en: 'Changed asynchronously' };
      const accepted = await d.request('PUT', `/myblog/article/${ARTICLE_ID}?async=true`, changed);
      assert.equal(accepted.status, 202, accepted.text);
      assert.deepEqual(accepted.body.pending, ['level']);
      await waitFor('the async write in LevelDB', async () => JSON.parse((await valueOf()) ?? '{}').title_en === 'Changed asynchronously', 10_000, 50);

      const del = await d.request('DELETE', `/myblog/article/${ARTICLE_ID}`);
      assert.equal(del.status, 204, del.text);
      assert.equal(await valueOf(), undefined);

      // the writes went through the broker: this worker's durable LevelDB queue exists and is empty
      const ch = await admin.createChannel();
      assert.equal((await ch.checkQueue(`${prefix}.level.roundtrip`)).messageCount, 0);
      await ch.close();
      const health = await d.request('GET', '/_health');
      assert.equal(health.status, 200, health.text);
      assert.equal(health.body.queue.kind, 'rabbitmq');
      assert.equal(health.body.queue.status, 'up');
    } finally {
      await d.stop();
    }
  });

  test('ordering: 2,000 concurrent updates and deletes, 3 worker processes, PostgreSQL, Elasticsearch and every LevelDB copy end at the last accepted write of each item', async () => {
    assert.ok(ENGINES.ELASTICSEARCH_HOST, 'ELASTICSEARCH_HOST names the engine (the test runner starts one)');
    const prefix = nextPrefix();
    const project = uniqueProject('ordering');
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-order-'));
    const workers = await Promise.all([1, 2, 3].map((n) => spawnWorker(prefix, `order-${n}`, join(dir, `w${n}`), ENGINES)));
    const api = await dstoreWith(prefix, 'order-api', { ROLE: 'api', ...ENGINES });
    try {
      await snapshot(api, project, 'counter', COUNTER_BLUEPRINT);
      const ids = Array.from({ length: 50 }, () => randomUUID());
      const last = new Map<string, { n: number } | 'deleted'>();
      // writes of one item follow each other, the 50 items run side by side
      await Promise.all(
        ids.map(async (id, k) => {
          for (let n = 0; n < 40; n++) {
            if (n > 0 && (n * 7 + k) % 9 === 0) {
              const res = await api.request('DELETE', `/${project}/counter/${id}`);
              assert.ok(res.status === 204 || res.status === 202, res.text);
              last.set(id, 'deleted');
            } else {
              const res = await api.request('PUT', `/${project}/counter/${id}`, { id, project_version: 1, n, label: `item ${k} write ${n}` });
              assert.ok(res.status === 200 || res.status === 202, res.text);
              last.set(id, { n });
            }
          }
        }),
      );
      await drained(prefix);
      await Promise.all(workers.map((w) => w.stop()));
      const expectedRows = new Map([...last].filter(([, v]) => v !== 'deleted').map(([id, v]) => [id, (v as { n: number }).n]));
      assert.deepEqual(await pgRows(project, 'counter'), expectedRows, 'PostgreSQL holds exactly the last accepted write of each item');
      assert.deepEqual(await esDocs(project, 'counter'), expectedRows, 'Elasticsearch holds exactly the last accepted write of each item');
      for (const w of workers) {
        const copy = await readCopy(w.levelPath, project);
        for (const id of ids) {
          const value = copy.get(levelKey(project, 1, 'counter', id));
          const expected = last.get(id)!;
          if (expected === 'deleted') assert.equal(value, undefined, `${w.id}: ${id} was deleted last`);
          else assert.equal(value && JSON.parse(value).n, expected.n, `${w.id}: ${id} ends at write ${expected.n}`);
        }
        assert.equal(copy.size, [...last.values()].filter((v) => v !== 'deleted').length, `${w.id} holds no other item`);
      }
    } finally {
      await api.request('DELETE', `/${project}`).catch(() => {});
      await api.stop();
      await Promise.all(workers.map((w) => w.kill().catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('partitions: one worker applies a partition at a time, in order, and hands it over when it stops', async () => {
    // a shared engine (PostgreSQL, Elasticsearch) goes through the partition queues; this
    // stand-in records the order in which writes reach it and keeps no stamps of its own
    const prefix = nextPrefix();
    let clock = 0;
    const applied: Array<{ worker: string; id: string; stamp: number; at: number }> = [];
    const recorder = (worker: string): Store => ({
      name: 'postgresql',
      open: async () => {},
      health: async (): Promise<EngineHealth> => ({ status: 'up' }),
      migrate: async (_s: Snapshot) => {},
      abandon: async () => {},
      dropProject: async () => {},
      scan: async () => [],
      count: async () => 0,
      activate: async () => {},
      retire: async () => {},
      prune: async () => ({ removed: 0, more: false }),
      close: async () => {},
      apply: async (writes: readonly Write[]) => {
        await new Promise((r) => setTimeout(r, 2));
        for (const w of writes) applied.push({ worker, id: w.id, stamp: w.stamp, at: ++clock });
      },
    });
    const worker = (id: string) => new RabbitQueue({ url: URL_, stores: [recorder(id)], runWorkers: true, runApi: false, log: quiet, prefix, workerId: id, partitions: 8 });
    const a = worker('part-a');
    const b = worker('part-b');
    const api = new RabbitQueue({ url: URL_, stores: [recorder('api')], runWorkers: false, runApi: true, log: quiet, prefix, workerId: 'part-api', partitions: 8 });
    await Promise.all([a.start(), b.start(), api.start()]);
    const definition = normalizeBlueprint('counter', COUNTER_BLUEPRINT);
    const put = (id: string, n: number): ItemPut => ({ op: 'put', project: 'parts', version: 1, blueprint: 'counter', definition, id, stamp: nextStamp(), item: { id, project_version: 1, n } as ItemPut['item'] });
    const ids = Array.from({ length: 40 }, () => randomUUID());
    const lastStamp = new Map<string, number>();
    let stoppedA: Promise<void> | null = null;
    try {
      await new Promise((r) => setTimeout(r, 1600)); // both have subscribed to every partition
      let done = 0;
      await Promise.all(
        ids.map(async (id) => {
          for (let n = 0; n < 30; n++) {
            const write = put(id, n);
            // a bulk submit of its own every fifth write: several items, several partitions
            const batch = n % 5 === 0 ? [write, put(randomUUID(), 0)] : [write];
            const result = await api.submit(batch, { async: n % 2 === 0, timeoutMs: 10_000 });
            assert.ok(result.state === 'applied' || result.state === 'accepted');
            lastStamp.set(id, write.stamp);
            if (++done === 400) stoppedA = a.close(); // worker a leaves mid-stream
          }
        }),
      );
      await stoppedA;
      await drained(prefix);
      const byItem = new Map<string, typeof applied>();
      for (const e of applied) {
        if (!lastStamp.has(e.id)) continue;
        let list = byItem.get(e.id);
        if (!list) byItem.set(e.id, (list = []));
        list.push(e);
      }
      const workersSeen = new Set(applied.map((e) => e.worker));
      assert.deepEqual([...workersSeen].sort(), ['part-a', 'part-b'], 'both workers applied partitions');
      for (const [id, list] of byItem) {
        const backwards = list.findIndex((e, i) => i > 0 && e.stamp < list[i - 1]!.stamp);
        const trace = list.map((e) => `${e.worker}@${e.at}:+${e.stamp - list[0]!.stamp}`).join(' ');
        assert.equal(backwards, -1, `${id}: writes reached the engine in order (worker@sequence:stamp) ${trace}`);
        assert.equal(list.at(-1)!.stamp, lastStamp.get(id), `${id}: the last write reached the engine last`);
      }
      assert.equal(byItem.size, ids.length);
      const handedOver = [...byItem.values()].filter((list) => list[0]!.worker === 'part-a' && list.at(-1)!.worker === 'part-b');
      assert.ok(handedOver.length > 0, 'the partitions of worker a moved to worker b, mid-item');
    } finally {
      await Promise.all([a.close(), b.close(), api.close()]);
    }
  });

  test('crash: kill -9 of one of 3 workers during 10,000 writes loses nothing in PostgreSQL, Elasticsearch or any LevelDB copy', async () => {
    assert.ok(ENGINES.ELASTICSEARCH_HOST, 'ELASTICSEARCH_HOST names the engine (the test runner starts one)');
    const prefix = nextPrefix();
    const project = uniqueProject('crash');
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-crash-'));
    const path = (n: number) => join(dir, `w${n}`);
    const workers = await Promise.all([1, 2, 3].map((n) => spawnWorker(prefix, `crash-${n}`, path(n), ENGINES)));
    const api = await dstoreWith(prefix, 'crash-api', { ROLE: 'api', ...ENGINES });
    try {
      await snapshot(api, project, 'counter', COUNTER_BLUEPRINT);
      const items = Array.from({ length: 10_000 }, (_, n) => ({ id: randomUUID(), project_version: 1, n, label: `crash ${n}` }));
      const chunks = Array.from({ length: 200 }, (_, c) => items.slice(c * 50, c * 50 + 50));
      let sent = 0;
      let killed: Promise<void> | null = null;
      const confirmed: typeof items = [];
      await pool(
        8,
        chunks.map((chunk, c) => async () => {
          const res = await api.request('PUT', `/${project}/counter${c % 2 ? '?async=true' : ''}`, chunk);
          assert.ok(res.status === 200 || res.status === 202, res.text);
          confirmed.push(...chunk);
          if (++sent === 60) killed = workers[1]!.kill();
        }),
      );
      await killed;
      assert.equal(confirmed.length, items.length);
      workers[1] = await spawnWorker(prefix, 'crash-2', path(2), ENGINES);
      await drained(prefix);
      await Promise.all(workers.map((w) => w.stop()));
      const expected = new Map(items.map((item) => [item.id, item.n]));
      assert.deepEqual(await pgRows(project, 'counter'), expected, 'PostgreSQL holds every confirmed item, once');
      assert.deepEqual(await esDocs(project, 'counter'), expected, 'Elasticsearch holds every confirmed item, once');
      for (const w of workers) {
        const copy = await readCopy(w.levelPath, project);
        assert.equal(copy.size, items.length, `${w.id} holds every confirmed item, once`);
        for (const item of items) assert.deepEqual(JSON.parse(copy.get(levelKey(project, 1, 'counter', item.id)) ?? 'null'), item, `${w.id}: ${item.id}`);
      }
    } finally {
      await api.request('DELETE', `/${project}`).catch(() => {});
      await api.stop();
      await Promise.all(workers.map((w) => w.kill().catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('poison: a refused write lands in GET /_deadletter with its reason, and replays once the cause is fixed', async () => {
    const prefix = nextPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-poison-'));
    // the real LevelDB, behind a rule that refuses titles it cannot take (as an engine refuses a value that breaks its mapping)
    const level = new LevelStore(join(dir, 'level'));
    let refusing = true;
    const strict: Store = {
      name: 'level',
      open: () => level.open(),
      health: () => level.health(),
      migrate: (s) => level.migrate(s),
      abandon: (p, v) => level.abandon(p, v),
      dropProject: (p, v) => level.dropProject(p, v),
      scan: (r) => level.scan(r),
      count: (r) => level.count(r),
      activate: (s) => level.activate(s),
      retire: (p, v) => level.retire(p, v),
      prune: (h) => level.prune(h),
      close: () => level.close(),
      apply: async (writes) => {
        const reasons = new Map<number, string>();
        writes.forEach((w, i) => {
          if (refusing && w.op === 'put' && w.item['title_en'] === 'poison') reasons.set(i, 'title_en "poison" is refused by this engine');
        });
        if (reasons.size) throw new WriteRejectedError('level', reasons);
        return level.apply(writes);
      },
    };
    await strict.open();
    const worker = new RabbitQueue({ url: URL_, stores: [strict], runWorkers: true, runApi: false, log: quiet, prefix, workerId: 'poison' });
    await worker.start();
    const api = await dstoreWith(prefix, 'poison-api', { ROLE: 'api' });
    try {
      await snapshot(api, 'myblog', 'article', ARTICLE_BLUEPRINT);
      const has = async (id: string) => new Map(await level.entries()).has(levelKey('myblog', 1, 'article', id));
      const good = await api.request('PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE);
      assert.equal(good.status, 200, good.text);

      const poisonIds = [randomUUID(), randomUUID()];
      for (const id of poisonIds) {
        const res = await api.request('PUT', `/myblog/article/${id}`, { ...ARTICLE, id, title_en: 'poison' });
        assert.equal(res.status, 502, res.text);
        assert.equal(res.body.code, 'DSTORE_WRITE_REFUSED');
        assert.deepEqual(Object.keys(res.body.errors), [`${id}.level`], 'the answer names the item and the engine that refused it');
        assert.equal(await has(id), false);
      }
      const letters = await api.request('GET', '/_deadletter');
      assert.equal(letters.status, 200);
      assert.equal(letters.body.count, 2);
      const [first, second] = letters.body.letters as Array<{ id: string; engine: string; reason: string; item_id: string; op: string; item: { title_en: string } }>;
      assert.deepEqual(new Set([first!.item_id, second!.item_id]), new Set(poisonIds));
      assert.equal(first!.engine, 'level');
      assert.match(first!.reason, /poison/);
      assert.equal(first!.op, 'put');
      assert.equal(first!.item.title_en, 'poison');
      // listing hands every letter back
      assert.equal((await api.request('GET', '/_deadletter')).body.count, 2);

      refusing = false; // the cause is fixed
      const one = await api.request('POST', '/_deadletter/_replay', [first!.id]);
      assert.equal(one.status, 202, one.text);
      assert.equal(one.body.replayed, 1);
      await waitFor('the replayed write in LevelDB', () => has(first!.item_id), 10_000, 50);
      assert.equal(await has(second!.item_id), false);
      const left = await api.request('GET', '/_deadletter');
      assert.deepEqual(left.body.letters.map((l: { id: string }) => l.id), [second!.id]);

      const rest = await api.request('POST', '/_deadletter/_replay');
      assert.equal(rest.body.replayed, 1);
      await waitFor('the second replayed write in LevelDB', () => has(second!.item_id), 10_000, 50);
      assert.equal((await api.request('GET', '/_deadletter')).body.count, 0);
    } finally {
      await api.stop();
      await worker.close();
      await strict.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('connection dropped by the broker during writes: dstore reconnects, no confirmed write is lost', async (t) => {
    const prefix = nextPrefix();
    const d = await dstoreWith(prefix, 'drop', {});
    try {
      await snapshot(d, 'drops', 'counter', COUNTER_BLUEPRINT);
      const confirmed: string[] = [];
      let refused = 0;
      let droppedAt = 0;
      let confirmedAfterDrop = 0;
      let writing = true;
      const writers = Array.from({ length: 20 }, async () => {
        while (writing) {
          const id = randomUUID();
          const startedAt = Date.now();
          const res = await d.request('PUT', `/drops/counter/${id}${confirmed.length % 2 ? '?async=true' : ''}`, { id, project_version: 1, n: 1 });
          if (res.status === 200 || res.status === 202) {
            confirmed.push(id);
            if (droppedAt && startedAt > droppedAt) confirmedAfterDrop++;
          } else {
            assert.equal(res.status, 503, res.text);
            assert.equal(res.body.code, 'DSTORE_QUEUE_UNAVAILABLE');
            refused++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      });
      await waitFor('some writes before the drop', () => confirmed.length >= 200, 20_000, 20);
      const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '-q', '-s']);
      const pids = stdout.split('\n').filter((l) => l.includes(` ${prefix} `)).map((l) => l.split('\t')[0]!);
      assert.equal(pids.length, 2, `the API's and the worker's connection, named after ${prefix}`);
      for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'dstore test: dropped by the broker']);
      droppedAt = Date.now();
      await waitFor('writes confirmed again after the drop', () => confirmedAfterDrop >= 300, 30_000, 20);
      writing = false;
      await Promise.all(writers);
      t.diagnostic(`${confirmed.length} writes confirmed, ${refused} answered 503 while reconnecting`);

      const health = await d.request('GET', '/_health');
      assert.equal(health.body.queue.status, 'up', health.text);
      await drained(prefix);
      const level = levelOf(d);
      await waitFor('every confirmed write in LevelDB', async () => {
        const keys = new Map(await level.entries(projectRange('drops')));
        return confirmed.every((id) => keys.has(levelKey('drops', 1, 'counter', id)));
      }, 10_000, 100);
    } finally {
      await d.stop();
    }
  });

  test('RabbitMQ unreachable: start-up goes on, health says the queue is down, a PUT answers 503 and stores nothing', async () => {
    const prefix = nextPrefix();
    const started = Date.now();
    const d = await dstoreWith(prefix, 'unreachable', { QUEUE_CONNECTIONSTRING: 'amqp://guest:guest@127.0.0.1:5999' });
    let stopped = false;
    try {
      assert.ok(Date.now() - started < 5000, 'start-up does not wait for RabbitMQ');
      await snapshot(d, 'myblog', 'article', ARTICLE_BLUEPRINT);
      const t0 = Date.now();
      const put = await d.request('PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE);
      assert.ok(Date.now() - t0 < 1000, 'the 503 comes at once');
      assert.equal(put.status, 503, put.text);
      assert.equal(put.body.code, 'DSTORE_QUEUE_UNAVAILABLE');
      assert.match(put.body.message, /127\.0\.0\.1:5999/);
      assert.match(put.body.message, /nothing was stored/);
      const health = await d.request('GET', '/_health');
      assert.equal(health.status, 503);
      assert.equal(health.body.queue.status, 'down');
      assert.match(health.body.queue.reason, /5999/);
      assert.equal(health.body.engines.level.status, 'up');
      assert.equal((await levelOf(d).entries(projectRange('myblog'))).length, 0);
      const t1 = Date.now();
      await d.stop();
      stopped = true;
      assert.ok(Date.now() - t1 < 3000, 'stopping does not wait for the reconnect loop');
    } finally {
      if (!stopped) await d.stop();
    }
  });

  test('DELETE /{project} reaches every LevelDB copy, after the writes queued before it; the API keeps no copy of its own', async () => {
    const prefix = nextPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'dstore-drop-'));
    const workers = [await spawnWorker(prefix, 'drop-a', join(dir, 'a')), await spawnWorker(prefix, 'drop-b', join(dir, 'b'))];
    const api = await dstoreWith(prefix, 'drop-api', { ROLE: 'api', LEVEL_PATH: join(dir, 'api-level') });
    try {
      const health = await api.request('GET', '/_health');
      assert.equal(health.body.engines.level, undefined, 'an API-only process reports no LevelDB of its own');
      await snapshot(api, 'doomed', 'article', ARTICLE_BLUEPRINT);
      await snapshot(api, 'kept', 'article', ARTICLE_BLUEPRINT);
      const ids = Array.from({ length: 50 }, () => randomUUID());
      for (const project of ['doomed', 'kept']) {
        const res = await api.request('PUT', `/${project}/article`, ids.map((id) => ({ ...ARTICLE, id })));
        assert.equal(res.status, 200, res.text);
      }
      // more writes still in flight when the drop is published: they land before it, so nothing survives it
      const late = api.request('PUT', '/doomed/article?async=true', ids.map((id) => ({ ...ARTICLE, id, title_en: 'late' })));
      assert.equal((await late).status, 202);
      assert.equal((await api.request('DELETE', '/doomed')).status, 204);
      await drained(prefix);
      for (const w of workers) await w.stop();
      for (const w of workers) {
        assert.equal((await readCopy(w.levelPath, 'doomed')).size, 0, `copy ${w.id} still holds the dropped project`);
        assert.equal((await readCopy(w.levelPath, 'kept')).size, 50, `copy ${w.id} lost the other project`);
      }
      assert.equal(existsSync(join(dir, 'api-level')), false, 'the API process never opened a LevelDB');
    } finally {
      await api.stop();
      for (const w of workers) await w.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('barrier: resolves only once the writes accepted before it are in PostgreSQL and in every LevelDB copy (a locked table, a paused worker)', async () => {
    const prefix = nextPrefix();
    const project = uniqueProject('barrier');
    const env = { ...ENGINES, STORES: 'postgresql,level' };
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-barrier-'));
    // worker 2 keeps only a LevelDB copy (no partitions), so pausing it holds back nothing but that copy
    const workers = [await spawnWorker(prefix, 'barrier-1', join(dir, 'w1'), env), await spawnWorker(prefix, 'barrier-2', join(dir, 'w2'), { STORES: 'level' })];
    const api = await dstoreWith(prefix, 'barrier-api', { ROLE: 'api', ...env });
    const pg = new (await import('pg')).default.Client({ host: ENGINES.POSTGRESQL_HOST, port: Number(ENGINES.POSTGRESQL_PORT), user: ENGINES.POSTGRESQL_USER, password: ENGINES.POSTGRESQL_PASSWORD || undefined, database: ENGINES.POSTGRESQL_DATABASE });
    try {
      const queue = api.running.app!.deps.queue as RabbitQueue;
      await snapshot(api, project, 'counter', COUNTER_BLUEPRINT);
      const first = { id: randomUUID(), project_version: 1, n: -1, label: 'before' };
      assert.equal((await api.request('PUT', `/${project}/counter/${first.id}`, first)).status, 200);

      // PostgreSQL takes no write to the table, and worker 2's LevelDB copy stands still
      await pg.connect();
      await pg.query('BEGIN');
      await pg.query(`LOCK TABLE "${project}_v1"."counter" IN EXCLUSIVE MODE`);
      workers[1]!.child.kill('SIGSTOP');
      const items = Array.from({ length: 2000 }, (_, n) => ({ id: randomUUID(), project_version: 1, n, label: `barrier ${n}` }));
      for (let c = 0; c < 4; c++) {
        const res = await api.request('PUT', `/${project}/counter?async=true`, items.slice(c * 500, c * 500 + 500));
        assert.equal(res.status, 202, res.text);
      }
      let passed = false;
      const passing = queue.barrier().then(() => (passed = true));
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(passed, false, 'the barrier waits while PostgreSQL cannot apply the writes before it');
      assert.equal((await pgRows(project, 'counter')).size, 1, 'the writes are still in flight');
      await pg.query('COMMIT');
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(passed, false, 'the barrier waits while a LevelDB copy has not applied the writes before it');
      workers[1]!.child.kill('SIGCONT');
      await waitFor('the barrier', () => passed, 30_000, 20);
      await passing;

      // at once, with nothing more applied afterwards: every engine holds every write
      const rows = await pgRows(project, 'counter');
      await Promise.all(workers.map((w) => w.kill()));
      assert.deepEqual(rows, new Map([first, ...items].map((i) => [i.id, i.n])), 'PostgreSQL holds every write accepted before the barrier');
      for (const w of workers) {
        const copy = await readCopy(w.levelPath, project);
        assert.equal(copy.size, items.length + 1, `${w.id} holds every write accepted before the barrier`);
        for (const item of items) assert.deepEqual(JSON.parse(copy.get(levelKey(project, 1, 'counter', item.id)) ?? 'null'), item, `${w.id}: ${item.id}`);
      }
    } finally {
      await pg.end().catch(() => {});
      for (const w of workers) w.child.kill('SIGCONT');
      await api.request('DELETE', `/${project}`).catch(() => {});
      await api.stop();
      await Promise.all(workers.map((w) => w.kill().catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('barrier: in one process (ROLE=all) its own workers answer it, after the writes before it', async () => {
    const prefix = nextPrefix();
    const d = await dstoreWith(prefix, 'barrier-all', {});
    try {
      const queue = d.running.app!.deps.queue as RabbitQueue;
      await snapshot(d, 'myblog', 'article', ARTICLE_BLUEPRINT);
      const ids = Array.from({ length: 3000 }, () => randomUUID());
      const res = await d.request('PUT', '/myblog/article?async=true', ids.map((id) => ({ ...ARTICLE, id })));
      assert.equal(res.status, 202, res.text);
      await queue.barrier();
      const keys = new Map(await levelOf(d).entries(projectRange('myblog')));
      assert.equal(ids.filter((id) => !keys.has(levelKey('myblog', 1, 'article', id))).length, 0, 'every write before the barrier is in the LevelDB copy');
    } finally {
      await d.stop();
    }
  });

  test('barrier: a LevelDB worker that dies while it waits is not waited for; a partition nobody reads fails it after the timeout, naming the queue', async () => {
    const prefix = nextPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-barrier-dead-'));
    const workers = [await spawnWorker(prefix, 'dead-a', join(dir, 'a')), await spawnWorker(prefix, 'dead-b', join(dir, 'b'))];
    const api = await dstoreWith(prefix, 'dead-api', { ROLE: 'api' });
    try {
      const queue = api.running.app!.deps.queue as RabbitQueue;
      await snapshot(api, 'myblog', 'article', ARTICLE_BLUEPRINT);
      assert.equal((await api.request('PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
      await queue.barrier(); // both copies answer

      workers[1]!.child.kill('SIGSTOP');
      let passed = false;
      const passing = queue.barrier().then(() => (passed = true));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(passed, false, 'the barrier waits for the paused copy');
      await workers[1]!.kill();
      await waitFor('the barrier once the paused worker died', () => passed, 10_000, 50);
      await passing;
      const t0 = Date.now();
      await queue.barrier();
      assert.ok(Date.now() - t0 < 1000, 'a copy whose worker is down is not waited for');
    } finally {
      await api.stop();
      for (const w of workers) await w.kill();
      await rm(dir, { recursive: true, force: true });
    }

    // no worker reads the partitions: the barrier fails after its timeout, naming what is behind
    const shared: Store = {
      name: 'postgresql',
      open: async () => {},
      health: async (): Promise<EngineHealth> => ({ status: 'up' }),
      migrate: async () => {},
      abandon: async () => {},
      apply: async () => {},
      dropProject: async () => {},
      scan: async () => [],
      count: async () => 0,
      activate: async () => {},
      retire: async () => {},
      prune: async () => ({ removed: 0, more: false }),
      close: async () => {},
    };
    const lonely = new RabbitQueue({ url: URL_, stores: [shared], runWorkers: false, runApi: true, log: quiet, prefix: nextPrefix(), workerId: 'lonely', partitions: 2, barrierTimeoutMs: 1500 });
    await lonely.start();
    try {
      const t0 = Date.now();
      await assert.rejects(lonely.barrier(), (err: Error) => {
        assert.ok(err instanceof BarrierTimeoutError, err.message);
        assert.match(err.message, /within 1\.5 s/);
        assert.match(err.message, /\.partition\.0 \(postgresql; no worker reads it\)/);
        assert.match(err.message, /\.partition\.1 \(postgresql; no worker reads it\)/);
        return true;
      });
      assert.ok(Date.now() - t0 >= 1400, 'it waited for the timeout');
    } finally {
      await lonely.close();
    }
  });

  test('retireCopies: every LevelDB copy drops the retired version (items and stamps) after the writes queued before it; other versions stay', async () => {
    const prefix = nextPrefix();
    const project = uniqueProject('retire');
    const dir = await mkdtemp(join(tmpdir(), 'dstore-rabbit-retire-'));
    const workers = [await spawnWorker(prefix, 'retire-a', join(dir, 'a')), await spawnWorker(prefix, 'retire-b', join(dir, 'b'))];
    const api = await dstoreWith(prefix, 'retire-api', { ROLE: 'api' });
    try {
      const queue = api.running.app!.deps.queue as RabbitQueue;
      await snapshot(api, project, 'counter', COUNTER_BLUEPRINT);
      const v2 = await api.request('POST', `/${project}/_version`);
      assert.ok(v2.status >= 200 && v2.status < 300, v2.text);
      const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
      const old = ids(30);
      const kept = ids(30);
      assert.equal((await api.request('PUT', `/${project}/counter`, old.map((id, n) => ({ id, project_version: 1, n })))).status, 200);
      assert.equal((await api.request('PUT', `/${project}/counter`, kept.map((id, n) => ({ id, project_version: 2, n })))).status, 200);
      // still in flight when the retirement is published: applied before it, so retired with it
      const late = await api.request('PUT', `/${project}/counter?async=true`, ids(30).map((id, n) => ({ id, project_version: 1, n })));
      assert.equal(late.status, 202, late.text);
      await queue.retireCopies(project, 1);
      await drained(prefix);
      for (const w of workers) await w.stop();
      const v1 = `${project}/v${String(1).padStart(10, '0')}/`;
      const v1Stamps = `!stamp/${v1}`;
      for (const w of workers) {
        const db = new ClassicLevel<string, string>(w.levelPath, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
        await db.open();
        try {
          const items = await db.keys(projectRange(project)).all();
          const stamps = await db.keys(stampRange(project)).all();
          assert.deepEqual(items.filter((k) => k.startsWith(v1)), [], `${w.id} holds no item of the retired version`);
          assert.deepEqual(stamps.filter((k) => k.startsWith(v1Stamps)), [], `${w.id} holds no stamp of the retired version`);
          for (const id of kept) assert.ok(items.includes(levelKey(project, 2, 'counter', id)), `${w.id} keeps ${id} of version 2`);
          assert.ok(stamps.some((k) => k.startsWith(`!stamp/${project}/v${String(2).padStart(10, '0')}/`)), `${w.id} keeps the stamps of version 2`);
        } finally {
          await db.close();
        }
      }
    } finally {
      await api.stop();
      for (const w of workers) await w.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
