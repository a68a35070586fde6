// Values no engine may choke on (SPEC §4, issue 15), against the real PostgreSQL, Elasticsearch and
// LevelDB, with the in-process queue and through RabbitMQ (ROLE=all): each hostile value, alone and
// inside a bulk PUT, is a 400 naming the field; nothing lands in any engine (read directly); the next
// ordinary write is applied in every engine within a second, boundary values exactly as sent.
// Needs POSTGRESQL_*, ELASTICSEARCH_HOST and QUEUE_CONNECTIONSTRING (the runner's rabbitmq suite has all three).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import amqp from 'amqplib';
import pg from 'pg';
import { startDstore, type TestDstore } from '../support/harness.ts';

const ENGINES = {
  STORES: 'postgresql,elasticsearch,level',
  POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  POSTGRESQL_PORT: process.env['POSTGRESQL_PORT'] || '5432',
  POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres',
  POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '',
  POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_test',
  ELASTICSEARCH_HOST: process.env['ELASTICSEARCH_HOST'] || '',
};
const AMQP = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `dstorehostile-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const run = promisify(execFile);

const BLUEPRINT = {
  columns: {
    s: { type: 'string' },
    t: { type: 'text' },
    tags: { type: 'string[]' },
    doc: { type: 'json' },
    docs: { type: 'json[]' },
    ratio: { type: 'float' },
    where: { type: 'point' },
  },
};

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

/** Field, raw JSON of its value (JSON.stringify cannot write 1e400), and what the 400 says about it. */
const HOSTILE: Array<[string, string, RegExp]> = [
  ['s', '"a\\u0000b"', /^contains U\+0000 at character 1/],
  ['t', '"\\ud800"', /^contains an unpaired UTF-16 surrogate U\+D800/],
  ['tags', '["ok", "x\\udfff"]', /^holds a string at \/1 that contains an unpaired UTF-16 surrogate/],
  ['doc', '{"a": "\\u0000"}', /^holds a string at \/a that contains U\+0000/],
  ['doc', '{"a": {"k\\u0000": 1}}', /^has an object key "k\\u0000" in the object at \/a/],
  ['docs', '[{"\\ud800": 1}]', /^has an object key "\\ud800" in the object at \/0/],
  ['doc', nested(33), /^is nested deeper than 32 levels/],
  ['doc', '{"n": 1e400}', /^holds a number at \/n beyond the range of a 64-bit float \(it parsed as Infinity\)/],
  ['doc', '-1e400', /^is a number beyond the range of a 64-bit float \(it parsed as -Infinity\)/],
  ['doc', '{"n": 9007199254740993}', /^holds a number at \/n that is an integer beyond ±9007199254740991/],
  ['docs', '[12345678901234567890]', /^holds a number at \/0 that is an integer beyond/],
  ['ratio', '1e400', /^is a number beyond/],
  ['where', '{"type": "Point", "coordinates": [1e400, 52]}', /^holds a number at \/coordinates\/0 beyond/],
  ['links', '["\\u0000"]', /^holds a string at \/0 that contains U\+0000/],
  ['c\u0000', '1', /^is a member name that contains U\+0000 at character 1/],
];

/** An item as text with one member written as raw JSON. */
function rawItem(id: string, field: string, json: string): string {
  return JSON.stringify({ id, project_version: 1, s: 'plain', [field]: '\u0001RAW' }).replace('"\\u0001RAW"', json);
}

async function pgQuery<T>(sql: string): Promise<T[]> {
  const client = new pg.Client({ host: ENGINES.POSTGRESQL_HOST, port: Number(ENGINES.POSTGRESQL_PORT), user: ENGINES.POSTGRESQL_USER, password: ENGINES.POSTGRESQL_PASSWORD || undefined, database: ENGINES.POSTGRESQL_DATABASE });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

async function es(method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${ENGINES.ELASTICSEARCH_HOST.replace(/\/+$/, '')}${path}`, { method });
  return { status: res.status, body: await res.json() };
}

/** What each engine holds for the project's only blueprint: PostgreSQL rows, Elasticsearch documents, LevelDB items. */
async function holdings(d: TestDstore, project: string): Promise<{ postgresql: number; elasticsearch: number; level: number }> {
  const [row] = await pgQuery<{ n: string }>(`SELECT count(*) AS n FROM "${project}_v1"."hostile"`);
  assert.equal((await es('POST', `/${project}_v1_hostile/_refresh`)).status, 200);
  const count = await es('GET', `/${project}_v1_hostile/_count`);
  assert.equal(count.status, 200, JSON.stringify(count.body));
  const level = (await d.levelKeys()).filter((k) => k.startsWith(`${project}/`));
  return { postgresql: Number(row!.n), elasticsearch: count.body.count, level: level.length };
}

/** Queues and exchanges this run made in RabbitMQ. */
async function deleteTopology(prefix: string): Promise<void> {
  const connection = await amqp.connect(AMQP);
  connection.on('error', () => {});
  try {
    const [queues, exchanges] = await Promise.all([run('rabbitmqctl', ['list_queues', 'name', '-q', '-s']), run('rabbitmqctl', ['list_exchanges', 'name', '-q', '-s'])]);
    const mine = (out: { stdout: string }) => out.stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(prefix));
    for (const q of mine(queues)) {
      const ch = await connection.createChannel();
      await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    }
    for (const e of mine(exchanges)) {
      const ch = await connection.createChannel();
      await ch.deleteExchange(e).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

after(async () => {
  delete process.env['QUEUE_PREFIX'];
  delete process.env['WORKER_ID'];
  await deleteTopology(RUN);
});

const CONFIGURATIONS: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'in-process queue', env: {} },
  { name: 'RabbitMQ, ROLE=all', env: { QUEUE_CONNECTIONSTRING: AMQP, ROLE: 'all' } },
];

for (const configuration of CONFIGURATIONS) {
  describe(`hostile values, PostgreSQL + Elasticsearch + LevelDB, ${configuration.name}`, () => {
    test('each is a 400 naming the field, alone and in a bulk PUT; nothing lands anywhere; then an ordinary write is applied within a second', async () => {
      assert.ok(ENGINES.ELASTICSEARCH_HOST, 'ELASTICSEARCH_HOST names the engine (the test runner starts one)');
      if (configuration.env['QUEUE_CONNECTIONSTRING']) {
        // RabbitQueue reads these from the environment
        process.env['QUEUE_PREFIX'] = RUN;
        process.env['WORKER_ID'] = 'hostile';
      }
      const d = await startDstore({ ...ENGINES, ...configuration.env });
      const project = `hostile_x${Date.now().toString(36)}`;
      try {
        assert.equal((await d.request('PUT', `/${project}/hostile/_blueprint`, BLUEPRINT)).status, 200);
        const version = await d.request('POST', `/${project}/_version`);
        assert.equal(version.status, 201, version.text);

        const id = randomUUID();
        const other = randomUUID();
        for (const [field, json, says] of HOSTILE) {
          const single = await d.request('PUT', `/${project}/hostile/${id}`, rawItem(id, field, json));
          assert.equal(single.status, 400, `${field}=${json}: ${single.text}`);
          assert.equal(single.body.code, 'DSTORE_ITEM_INVALID');
          assert.deepEqual(Object.keys(single.body.errors), [field], single.text);
          assert.match(single.body.errors[field], says, single.text);

          const bulk = await d.request('PUT', `/${project}/hostile`, `[${rawItem(other, 's', '"fine"')}, ${rawItem(id, field, json)}]`);
          assert.equal(bulk.status, 400, `bulk ${field}=${json}: ${bulk.text}`);
          assert.equal(bulk.body.code, 'DSTORE_ITEMS_INVALID');
          assert.deepEqual(Object.keys(bulk.body.errors), [`${id}.${field}`], bulk.text);
          assert.match(bulk.body.errors[`${id}.${field}`], says, bulk.text);
        }
        // 3,000 levels reached Elasticsearch's parser before, 10,000 broke JSON.stringify in every lane
        for (const levels of [3000, 10_000]) {
          const single = await d.request('PUT', `/${project}/hostile/${id}`, rawItem(id, 'doc', nested(levels)));
          assert.equal(single.status, 400, single.text);
          assert.equal(single.body.code, 'DSTORE_BODY_TOO_DEEP', single.text);
          const bulk = await d.request('PUT', `/${project}/hostile`, `[${rawItem(id, 'doc', nested(levels))}]`);
          assert.equal(bulk.body.code, 'DSTORE_BODY_TOO_DEEP', bulk.text);
        }

        assert.deepEqual(await holdings(d, project), { postgresql: 0, elasticsearch: 0, level: 0 }, 'no engine holds anything of the refused writes');
        const health = await d.request('GET', '/_health');
        assert.equal(health.status, 200, health.text);

        // the boundaries that are accepted: 32 levels, ±(2^53 − 1), a surrogate pair
        const ordinary = { id, project_version: 1, s: 'smile \ud83d\ude00', t: 'text', tags: ['a'], doc: { max: 9007199254740991, min: -9007199254740991, deep: JSON.parse(nested(31)) }, docs: [{ '\ud83d\ude00': 1.5 }], ratio: 0.5, where: { type: 'Point', coordinates: [4.9, 52.3] } };
        const started = Date.now();
        const put = await d.request('PUT', `/${project}/hostile/${id}`, ordinary);
        const took = Date.now() - started;
        assert.equal(put.status, 200, put.text);
        assert.equal(put.body.state, 'applied', put.text);
        assert.ok(took < 1000, `the ordinary write took ${took} ms`);

        assert.deepEqual(await holdings(d, project), { postgresql: 1, elasticsearch: 1, level: 1 });
        const [row] = await pgQuery<{ s: string; doc: string }>(`SELECT s, doc::text AS doc FROM "${project}_v1"."hostile" WHERE id = '${id}'`);
        assert.equal(row!.s, ordinary.s);
        assert.deepEqual(JSON.parse(row!.doc), ordinary.doc, 'PostgreSQL holds the json value exactly');
        assert.ok(row!.doc.includes('9007199254740991') && row!.doc.includes(nested(31)), row!.doc);
        const doc = await es('GET', `/${project}_v1_hostile/_doc/${id}`);
        assert.equal(doc.status, 200, JSON.stringify(doc.body));
        assert.equal(doc.body._source.s, ordinary.s);
        assert.deepEqual(doc.body._source.doc, ordinary.doc, 'Elasticsearch holds the json value exactly');
        assert.deepEqual(doc.body._source.docs, ordinary.docs);
        const [, stored] = (await d.level!.entries()).find(([k]) => k.startsWith(`${project}/`))!;
        assert.deepEqual(JSON.parse(stored), ordinary, 'LevelDB holds the item exactly as sent');
      } finally {
        await d.request('DELETE', `/${project}`).catch(() => {});
        await d.stop();
      }
    });
  });
}
