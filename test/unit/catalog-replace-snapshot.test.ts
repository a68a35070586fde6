// Catalog.replaceWorkingAndSnapshot (PUT /{project}, SPEC §11): the working copy comes back when the snapshot fails.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCatalog as Catalog } from '../../src/catalog/file/file-catalog.ts';
import { normalizeBlueprint } from '../../src/schema/blueprint.ts';
import { ARTICLE_BLUEPRINT } from '../support/harness.ts';

let root: string;
beforeEach(async () => (root = await mkdtemp(join(tmpdir(), 'dstore-replace-'))));
afterEach(async () => rm(root, { recursive: true, force: true }));

const article = normalizeBlueprint('article', ARTICLE_BLUEPRINT);
const note = normalizeBlueprint('note', { columns: { body: { type: 'text' } } });
const migrated = async (): Promise<void> => {};
const engineDown = async (): Promise<never> => {
  throw new Error('postgresql unavailable (502)');
};

async function reloaded(): Promise<Catalog> {
  const c = new Catalog(root);
  await c.load();
  return c;
}

test('a failed snapshot puts the previous working copy back, in memory and on disk', async () => {
  const c = await reloaded();
  await c.replaceWorking('p', { article });
  await c.createSnapshot('p', migrated);
  await assert.rejects(c.replaceWorkingAndSnapshot('p', { note }, () => c.createSnapshot('p', engineDown)), /502/);
  assert.deepEqual(Object.keys(c.working('p')), ['article']);
  assert.deepEqual(c.versions('p'), [1]);
  assert.deepEqual(Object.keys((await reloaded()).working('p')), ['article']);
});

test('a failed snapshot of a project the PUT created removes the project', async () => {
  const c = await reloaded();
  await assert.rejects(c.replaceWorkingAndSnapshot('fresh', { note }, () => c.createSnapshot('fresh', engineDown)));
  assert.equal(c.has('fresh'), false);
  assert.equal((await reloaded()).has('fresh'), false);
});

test('a failure after the version was announced keeps the new working copy (it is that version)', async () => {
  const c = await reloaded();
  await assert.rejects(
    c.replaceWorkingAndSnapshot('p', { note }, async () => {
      await c.createSnapshot('p', migrated);
      throw new Error('the back-fill job could not start');
    }),
  );
  assert.deepEqual(c.versions('p'), [1]);
  assert.deepEqual(Object.keys(c.working('p')), ['note']);
});

test('a working copy changed by another request meanwhile is not overwritten', async () => {
  const c = await reloaded();
  await c.replaceWorking('p', { article });
  await assert.rejects(
    c.replaceWorkingAndSnapshot('p', { note }, async () => {
      await c.putBlueprint('p', 'other', normalizeBlueprint('other', { columns: { body: { type: 'text' } } }));
      throw new Error('refused');
    }),
  );
  assert.deepEqual(Object.keys(c.working('p')).sort(), ['note', 'other']);
});
