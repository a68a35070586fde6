// Tombstones pruned (SPEC §11) against real PostgreSQL and LevelDB (and Elasticsearch's gc_deletes when ELASTICSEARCH_HOST is set):
// with TOMBSTONE_TTL_S=2 the stamps of deleted items go, the stamps of live items stay, and an old write replayed from the
// dead letters or from the journal is dead-lettered `older than TOMBSTONE_TTL_S` while the item stays deleted everywhere.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stampKey, itemKey } from '../../src/stores/level/keys.ts';
import type { ItemPut } from '../../src/stores/store.ts';
import { startDstore, type TestDstore } from '../support/harness.ts';

const ES = process.env['ELASTICSEARCH_HOST'] || '';
const PG = {
  POSTGRESQL_HOST: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  POSTGRESQL_PORT: process.env['POSTGRESQL_PORT'] || '5432',
  POSTGRESQL_USER: process.env['POSTGRESQL_USER'] || 'postgres',
  POSTGRESQL_PASSWORD: process.env['POSTGRESQL_PASSWORD'] || '',
  POSTGRESQL_DATABASE: process.env['POSTGRESQL_DATABASE'] || 'dstore_test',
};
const P = `prune_${randomUUID().slice(0, 8)}`;
const ALIVE = randomUUID();
const GONE = randomUUID();

let dir: string;
let sql: pg.Client;
let d: TestDstore | null = null;

function env(): Record<string, string> {
  return {
    ...PG,
    ...(ES ? { ELASTICSEARCH_HOST: ES } : {}),
    STORES: `postgresql,level${ES ? ',elasticsearch' : ''}`,
    TOMBSTONE_TTL_S: '2',
    PRUNE_INTERVAL_MS: '300',
    LEVEL_PATH: join(dir, 'level'),
    PROJECT_FILE_PATH: join(dir, 'blueprint'),
    QUEUE_PATH: join(dir, 'queue'),
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dstore-prune-'));
  sql = new pg.Client({ host: PG.POSTGRESQL_HOST, port: Number(PG.POSTGRESQL_PORT), user: PG.POSTGRESQL_USER, password: PG.POSTGRESQL_PASSWORD || undefined, database: PG.POSTGRESQL_DATABASE });
  d = await startDstore(env());
  await sql.connect();
});

after(async () => {
  await d?.request('DELETE', `/${P}`).catch(() => {});
  await d?.stop().catch(() => {});
  await sql.end();
  await rm(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const pgStamp = async (id: string) => (await sql.query<{ stamp: string; deleted: boolean }>(`SELECT stamp::text, deleted FROM "${P}_v1"."_dstore_stamps" WHERE id = $1`, [id])).rows[0];
const pgRow = async (id: string) => (await sql.query(`SELECT id FROM "${P}_v1"."things" WHERE id = $1`, [id])).rowCount;
const levelGet = async (key: string) => (await d!.level!.entries({ gte: key, lt: `${key}\u0000` }))[0]?.[1];
const letters = async () => ((await d!.request('GET', '/_deadletter')).body.letters as Array<{ id: string; engine: string; reason: string; item_id: string }>).filter((l) => l.item_id === GONE);

async function esSetting(): Promise<string | undefined> {
  const res = await fetch(`${ES.replace(/\/+$/, '')}/${P}_v1_thing/_settings/index.gc_deletes`);
  return ((await res.json()) as Record<string, { settings: { index: { gc_deletes?: string } } }>)[`${P}_v1_thing`]?.settings.index.gc_deletes;
}

test('deletes older than TOMBSTONE_TTL_S lose their stamps; a replayed dead letter and a journal entry that old are dead-lettered and the item stays deleted', async () => {
  assert.equal((await d!.request('PUT', `/${P}`, { thing: { postgresql: { table: 'things' }, columns: { title: { type: 'string' } } } })).status, 200);
  if (ES) assert.equal(await esSetting(), '2s', 'Elasticsearch keeps its tombstones for TOMBSTONE_TTL_S from index creation on');
  // PostgreSQL refuses the first write of GONE, so it waits in the dead letters with its (soon too old) stamp
  await sql.query(`ALTER TABLE "${P}_v1"."things" ADD CONSTRAINT no_poison CHECK (title <> 'poison')`);
  assert.equal((await d!.request('PUT', `/${P}/thing/${ALIVE}`, { id: ALIVE, project_version: 1, title: 'alive' })).status, 200);
  assert.equal((await d!.request('PUT', `/${P}/thing/${GONE}`, { id: GONE, project_version: 1, title: 'poison' })).status, 502);
  assert.equal((await d!.request('DELETE', `/${P}/thing/${GONE}`)).status, 204);
  assert.equal((await pgStamp(GONE))?.deleted, true, 'PostgreSQL holds the tombstone');
  assert.match((await levelGet(stampKey(P, 1, 'thing', GONE))) ?? '', /d$/, 'LevelDB holds the tombstone');
  const alivePg = (await pgStamp(ALIVE))!.stamp;
  const aliveLevel = await levelGet(stampKey(P, 1, 'thing', ALIVE));
  const [refused] = await letters();
  assert.equal(refused?.engine, 'postgresql');

  // past TTL (2 s) and the margin (2 s), the next prune round takes them
  await until('the tombstones to be pruned in PostgreSQL and LevelDB', async () => (await pgStamp(GONE)) === undefined && (await levelGet(stampKey(P, 1, 'thing', GONE))) === undefined);
  assert.equal((await pgStamp(ALIVE))?.stamp, alivePg, 'the live item keeps its PostgreSQL stamp');
  assert.equal(await levelGet(stampKey(P, 1, 'thing', ALIVE)), aliveLevel, 'the live item keeps its LevelDB stamp');
  if (ES) {
    const res = await fetch(`${ES.replace(/\/+$/, '')}/${P}_v1_thing/_settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ index: { gc_deletes: '1h' } }) });
    assert.equal(res.status, 200);
    await until('prune to set gc_deletes back to TOMBSTONE_TTL_S on an existing index', async () => (await esSetting()) === '2s');
  }

  // the cause is fixed and the letter replayed: its write is older than the horizon now, so it is dead-lettered again
  await sql.query(`ALTER TABLE "${P}_v1"."things" DROP CONSTRAINT no_poison`);
  assert.equal((await d!.request('POST', '/_deadletter/_replay', [refused!.id])).status, 202);
  await until('the replayed letter to be dead-lettered as too old', async () => (await letters()).some((l) => l.id !== refused!.id && l.reason.startsWith('older than TOMBSTONE_TTL_S')));
  assert.equal(await pgRow(GONE), 0, 'not back in PostgreSQL');
  assert.equal(await levelGet(itemKey(P, 1, 'thing', GONE)), undefined, 'not back in LevelDB');
  assert.equal(await pgRow(ALIVE), 1);

  // a journal entry as old, left by a crash, is re-applied at the next start: dead-lettered the same way
  const definition = (await d!.request('GET', `/${P}/thing/_blueprint/1`)).body;
  const old: ItemPut = { op: 'put', project: P, version: 1, blueprint: 'thing', definition, id: GONE, stamp: (Date.now() - 60_000) * 1000, item: { id: GONE, project_version: 1, title: 'from the journal' } };
  await d!.stop();
  d = null;
  await appendFile(join(dir, 'queue', 'journal.jsonl'), `${JSON.stringify({ seq: 1_000_000, writes: [old] })}\n`);
  const before = (await import('node:fs/promises')).readFile(join(dir, 'queue', 'journal.jsonl'), 'utf8');
  assert.match(await before, /from the journal/);
  d = await startDstore(env());
  await until('the journaled write to be dead-lettered as too old, in every engine', async () => (await letters()).filter((l) => l.reason.startsWith('older than TOMBSTONE_TTL_S')).length >= (ES ? 6 : 4));
  assert.equal(await pgRow(GONE), 0, 'still not in PostgreSQL');
  assert.equal(await levelGet(itemKey(P, 1, 'thing', GONE)), undefined, 'still not in LevelDB');
  assert.equal((await pgStamp(ALIVE))?.stamp, alivePg);
  assert.equal(await levelGet(stampKey(P, 1, 'thing', ALIVE)), aliveLevel);
});
