// PUT /{project} is all or nothing (SPEC §11): a snapshot that fails leaves the working copy as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';

let d: TestDstore;

before(async () => {
  d = await startDstore({ STORES: 'level' });
});

after(async () => {
  await d.stop();
});

test('a PUT /{project} whose snapshot is refused (400) leaves the working copy and the versions as they were', async () => {
  const v1 = { columns: { n: { type: 'integer' } } };
  assert.equal((await d.request('PUT', '/put_atomic', { thing: v1 })).status, 200);
  // integer → point has no conversion: the snapshot check refuses it
  const refused = await d.request('PUT', '/put_atomic', { thing: { columns: { n: { type: 'point' } } }, extra: { columns: { s: { type: 'string' } } } });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /cannot be converted from integer to point/);
  const working = await d.request('GET', '/put_atomic/_blueprint');
  assert.deepEqual(Object.keys(working.body), ['thing']);
  assert.equal(working.body.thing.columns.n.type, 'integer');
  assert.deepEqual((await d.request('GET', '/put_atomic')).body.versions, [1]);
});

test('a PUT /{project} that creates a project and fails leaves no project behind', async () => {
  // two blueprints on one PostgreSQL table: refused before any snapshot
  const refused = await d.request('PUT', '/put_atomic_new', { a: { postgresql: { table: 't' }, columns: {} }, b: { postgresql: { table: 't' }, columns: {} } });
  assert.equal(refused.status, 400, refused.text);
  assert.equal((await d.request('GET', '/put_atomic_new')).status, 404);
  assert.ok(!(await d.request('GET', '/_project')).body.projects.some((p: { name: string }) => p.name === 'put_atomic_new'));
});

test('a second PUT /{project} of an existing project with a valid body still replaces and snapshots', async () => {
  const ok = await d.request('PUT', '/put_atomic', { thing: { columns: { n: { type: 'integer' }, m: { type: 'string' } } }, article: ARTICLE_BLUEPRINT });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.project_version, 2);
  assert.deepEqual(Object.keys((await d.request('GET', '/put_atomic/_blueprint')).body).sort(), ['article', 'thing']);
});
