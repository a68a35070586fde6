// The catalog on disk (PROJECT_FILE_PATH): numbered immutable snapshots, atomic files, reload, crashes, conflicts.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogError } from '../../src/catalog/catalog.ts';
import { FileCatalog as Catalog } from '../../src/catalog/file/file-catalog.ts';
import { normalizeBlueprint, BlueprintError } from '../../src/schema/blueprint.ts';
import { toApiError } from '../../src/http/problems.ts';
import type { Snapshot } from '../../src/stores/store.ts';
import { ARTICLE_BLUEPRINT } from '../support/harness.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dstore-catalog-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const article = normalizeBlueprint('article', ARTICLE_BLUEPRINT);
const note = normalizeBlueprint('note', { columns: { body: { type: 'text' } } });
const migrated = async (_s: Snapshot): Promise<void> => {};

async function loaded(): Promise<Catalog> {
  const catalog = new Catalog(root);
  await catalog.load();
  return catalog;
}

async function json(...path: string[]): Promise<any> {
  return JSON.parse(await readFile(join(root, ...path), 'utf8'));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

function kindOf(err: unknown): string {
  assert.ok(err instanceof CatalogError, `expected a CatalogError, got ${String(err)}`);
  return err.kind;
}

test('snapshots are numbered 1, 2, 3 and announced in project.json', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  const versions: number[] = [];
  for (let i = 0; i < 3; i++) versions.push((await catalog.createSnapshot('myblog', migrated)).version);
  assert.deepEqual(versions, [1, 2, 3]);
  assert.deepEqual(catalog.versions('myblog'), [1, 2, 3]);
  assert.equal(catalog.latest('myblog'), 3);
  assert.deepEqual((await json('myblog', 'project.json')).versions, [1, 2, 3]);
  assert.deepEqual((await readdir(join(root, 'myblog', 'snapshots'))).sort(), ['1.json', '2.json', '3.json']);
  const two = await json('myblog', 'snapshots', '2.json');
  assert.equal(two.version, 2);
  assert.equal(two.project, 'myblog');
  assert.deepEqual(two.blueprints, { article });
  // no temp files left behind by the atomic writes
  const everything = [...(await readdir(join(root, 'myblog'))), ...(await readdir(join(root, 'myblog', 'snapshots')))];
  assert.deepEqual(everything.filter((f) => f.endsWith('.tmp')), []);
});

test('the migrate callback sees the snapshot before it is announced', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  let seen: Snapshot | undefined;
  await catalog.createSnapshot('myblog', async (s) => {
    seen = s;
    assert.deepEqual(catalog.versions('myblog'), [], 'announced before every engine was migrated');
    assert.equal(await exists(join(root, 'myblog', 'snapshots', '1.json')), false);
  });
  assert.equal(seen!.version, 1);
  assert.deepEqual(seen!.blueprints, { article });
});

test('a snapshot is immutable: editing the working copy changes neither it nor its file', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  const before = await json('myblog', 'snapshots', '1.json');

  await catalog.putBlueprint('myblog', 'note', note);
  await catalog.putBlueprint('myblog', 'article', normalizeBlueprint('article', { columns: { only: { type: 'integer' } } }));
  // even mutating the working copy object in place does not reach the snapshot
  (catalog.working('myblog')['note']!.columns as Record<string, unknown>)['sneaky'] = { type: 'string' };
  await catalog.deleteBlueprint('myblog', 'note');

  assert.deepEqual(catalog.snapshot('myblog', 1).blueprints, { article });
  assert.deepEqual(await json('myblog', 'snapshots', '1.json'), before);
  assert.deepEqual(Object.keys(catalog.working('myblog')), ['article']);
  assert.deepEqual(Object.keys(catalog.working('myblog')['article']!.columns), ['only']);

  await catalog.createSnapshot('myblog', migrated);
  assert.deepEqual(Object.keys(catalog.snapshot('myblog', 2).blueprints['article']!.columns), ['only']);
  assert.deepEqual(catalog.snapshot('myblog', 1).blueprints, { article });
});

test('two concurrent snapshots never share a number: the second is refused as busy (HTTP 409)', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const first = catalog.createSnapshot('myblog', () => gate);
  const second = catalog.createSnapshot('myblog', migrated);
  const err = await second.then(() => assert.fail('second snapshot was not refused'), (e: unknown) => e);
  assert.equal(kindOf(err), 'busy');
  assert.equal(toApiError(err, 1024).statusCode, 409);
  assert.equal(toApiError(err, 1024).code, 'DSTORE_CONFLICT');
  release();
  assert.equal((await first).version, 1);
  // once the first is done, the next one gets the next number
  assert.equal((await catalog.createSnapshot('myblog', migrated)).version, 2);

  // many at once: each number is given at most once, and the announced list has no gaps
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => catalog.createSnapshot('myblog', async () => new Promise((r) => setTimeout(r, 5)))));
  const numbers = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Snapshot>).value.version);
  assert.equal(new Set(numbers).size, numbers.length);
  for (const r of results) if (r.status === 'rejected') assert.equal(kindOf(r.reason), 'busy');
  assert.deepEqual(catalog.versions('myblog'), Array.from({ length: 2 + numbers.length }, (_, i) => i + 1));
});

test('snapshots of different projects do not block each other', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('one', 'article', article);
  await catalog.putBlueprint('two', 'article', article);
  const [a, b] = await Promise.all([catalog.createSnapshot('one', migrated), catalog.createSnapshot('two', migrated)]);
  assert.equal(a.version, 1);
  assert.equal(b.version, 1);
});

test('a reload (a new Catalog on the same directory) finds projects, working copies and snapshots', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  await catalog.putBlueprint('myblog', 'note', note);
  await catalog.createSnapshot('myblog', migrated);
  await catalog.deleteBlueprint('myblog', 'note');
  await catalog.replaceWorking('other', { note });

  const again = await loaded();
  assert.deepEqual(again.listProjects(), ['myblog', 'other']);
  assert.deepEqual(again.versions('myblog'), [1, 2]);
  assert.deepEqual(again.working('myblog'), { article });
  assert.deepEqual(again.snapshot('myblog', 1).blueprints, { article });
  assert.deepEqual(again.snapshot('myblog', 2).blueprints, { article, note });
  assert.deepEqual(again.versions('other'), []);
  assert.equal(again.latest('other'), null);
  assert.equal(again.project('myblog').createdAt, catalog.project('myblog').createdAt);
  // and numbering continues where it was
  assert.equal((await again.createSnapshot('myblog', migrated)).version, 3);
});

test('a crash in the middle of a write leaves the old state: leftover temp files and an unlisted snapshot are ignored', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  await catalog.createSnapshot('myblog', migrated);

  // what a crash can leave: temp files of unfinished atomic writes, half written ...
  const dir = join(root, 'myblog');
  await writeFile(join(dir, 'project.json.999.1.tmp'), '{"name":"myblog","versions":[1,2,3');
  await writeFile(join(dir, 'working.json.999.2.tmp'), '{"article":');
  await writeFile(join(dir, 'snapshots', '3.json.999.3.tmp'), '{"proj');
  // ... a snapshot file written whose version never reached project.json (crash between the two renames) ...
  await writeFile(join(dir, 'snapshots', '3.json'), JSON.stringify({ project: 'myblog', version: 3, createdAt: new Date().toISOString(), blueprints: { ghost: note } }));
  // ... and a project directory whose project.json was never written
  await mkdir(join(root, 'half'), { recursive: true });
  await writeFile(join(root, 'half', 'working.json'), '{}');
  await writeFile(join(root, 'stray.json.1.2.tmp'), '{');

  const again = await loaded();
  assert.deepEqual(again.listProjects(), ['myblog']);
  assert.deepEqual(again.versions('myblog'), [1, 2]);
  assert.deepEqual(again.working('myblog'), { article });
  assert.throws(() => again.snapshot('myblog', 3), (e) => kindOf(e) === 'version-not-found');
  // the next snapshot takes number 3 and replaces the unannounced file with the real one
  const three = await again.createSnapshot('myblog', migrated);
  assert.equal(three.version, 3);
  assert.deepEqual((await json('myblog', 'snapshots', '3.json')).blueprints, { article });
  assert.deepEqual((await loaded()).snapshot('myblog', 3).blueprints, { article });
});

test('a failing migration announces nothing, and a retry gets the same number', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  const tried: number[] = [];
  await assert.rejects(
    catalog.createSnapshot('myblog', async (s) => {
      tried.push(s.version);
      throw new Error('elasticsearch said no');
    }),
    /elasticsearch said no/,
  );
  assert.deepEqual(catalog.versions('myblog'), [1]);
  assert.deepEqual((await json('myblog', 'project.json')).versions, [1]);
  assert.equal(await exists(join(root, 'myblog', 'snapshots', '2.json')), false);
  assert.deepEqual((await loaded()).versions('myblog'), [1]);
  // not left busy either
  const retry = await catalog.createSnapshot('myblog', async (s) => void tried.push(s.version));
  assert.equal(retry.version, 2);
  assert.deepEqual(tried, [2, 2]);
  assert.deepEqual(catalog.versions('myblog'), [1, 2]);
});

test('errors: unknown project, unknown blueprint, unknown version, nothing to snapshot', async () => {
  const catalog = await loaded();
  assert.throws(() => catalog.working('nope'), (e) => kindOf(e) === 'project-not-found');
  await assert.rejects(catalog.createSnapshot('nope', migrated), (e) => kindOf(e) === 'project-not-found');
  await catalog.replaceWorking('empty', {});
  await assert.rejects(catalog.createSnapshot('empty', migrated), (e) => kindOf(e) === 'empty');
  assert.equal(toApiError(await catalog.createSnapshot('empty', migrated).catch((e: unknown) => e), 1024).statusCode, 400);
  await catalog.putBlueprint('myblog', 'article', article);
  assert.throws(() => catalog.blueprint('myblog', 'note'), (e) => kindOf(e) === 'blueprint-not-found');
  // names of Object.prototype members are not blueprints
  assert.throws(() => catalog.blueprint('myblog', 'constructor'), (e) => kindOf(e) === 'blueprint-not-found');
  await assert.rejects(catalog.deleteBlueprint('myblog', 'constructor'), (e) => kindOf(e) === 'blueprint-not-found');
  assert.throws(() => catalog.snapshot('myblog', 1), (e) => kindOf(e) === 'version-not-found');
  await catalog.createSnapshot('myblog', migrated);
  assert.deepEqual(catalog.versionsHolding('myblog', 'constructor'), []);
  assert.deepEqual(catalog.versionsHolding('myblog', 'article').map((v) => v.version), [1]);
});

test('a table collision within a project is refused and changes nothing', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article); // table "articles"
  const clash = normalizeBlueprint('post', { postgresql: { table: 'articles' }, columns: {} });
  await assert.rejects(catalog.putBlueprint('myblog', 'post', clash), (e) => e instanceof BlueprintError && /articles/.test(JSON.stringify(e.problems)));
  assert.deepEqual(Object.keys(catalog.working('myblog')), ['article']);
  assert.deepEqual(Object.keys(await json('myblog', 'working.json')), ['article']);
  // another project may use the same table name
  await catalog.putBlueprint('other', 'post', clash);
});

test('concurrent changes of one working copy are all kept', async () => {
  const catalog = await loaded();
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  await Promise.all(names.map((n) => catalog.putBlueprint('fresh', n, normalizeBlueprint(n, { columns: { x: { type: 'string' } } }))));
  assert.deepEqual(Object.keys(catalog.working('fresh')).sort(), names);
  assert.deepEqual(Object.keys(await json('fresh', 'working.json')).sort(), names);
  await Promise.all(['a', 'b', 'c'].map((n) => catalog.deleteBlueprint('fresh', n)));
  assert.deepEqual(Object.keys((await loaded()).working('fresh')).sort(), ['d', 'e', 'f', 'g', 'h']);
});

test('dropping a project removes its directory and its name; numbering starts again at 1', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.putBlueprint('myblog_two', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  await catalog.createSnapshot('myblog', migrated);
  const dropped: Array<[string, readonly number[]]> = [];
  await catalog.dropProject('myblog', async (p, v) => void dropped.push([p, [...v]]));
  assert.deepEqual(dropped, [['myblog', [1, 2]]]);
  assert.equal(await exists(join(root, 'myblog')), false);
  assert.equal(await exists(join(root, 'myblog_two', 'project.json')), true);
  assert.deepEqual(catalog.listProjects(), ['myblog_two']);
  assert.deepEqual((await loaded()).listProjects(), ['myblog_two']);
  await catalog.putBlueprint('myblog', 'article', article);
  assert.equal((await catalog.createSnapshot('myblog', migrated)).version, 1);
});

test('a failing drop keeps the project', async () => {
  const catalog = await loaded();
  await catalog.putBlueprint('myblog', 'article', article);
  await catalog.createSnapshot('myblog', migrated);
  await assert.rejects(catalog.dropProject('myblog', async () => Promise.reject(new Error('engine down'))), /engine down/);
  assert.deepEqual(catalog.versions('myblog'), [1]);
  assert.equal(await exists(join(root, 'myblog', 'project.json')), true);
});
