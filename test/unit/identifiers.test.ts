// Names that become schema, table, index and key names (SPEC §2 "Identifiers").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blueprintNameProblem, columnNameProblem, isUuid, projectNameProblem, PROJECT_MAX_LENGTH } from '../../src/schema/identifiers.ts';

test('project names: lowercase ^[a-z][a-z0-9_]*$', () => {
  for (const ok of ['myblog', 'a', 'a1', 'my_blog_2', 'a_', 'a__b', 'pg', 'pgx', 'a_v', 'a_va', 'av1', 'a_v1x', 'version_vx']) assert.equal(projectNameProblem(ok), null, ok);
  for (const bad of ['', 'A', 'Myblog', '1blog', '_blog', 'my-blog', 'my blog', 'my.blog', 'x;drop', '"x"', '..', 'a/b', 'é', 'blog\n', 'blog\u0000']) {
    assert.match(projectNameProblem(bad) ?? '', /must match/, JSON.stringify(bad));
  }
});

test(`project names: at most ${PROJECT_MAX_LENGTH} characters, so <project>_v<N> fits PostgreSQL's 63`, () => {
  assert.equal(PROJECT_MAX_LENGTH, 48);
  assert.equal(projectNameProblem('a'.repeat(48)), null);
  assert.match(projectNameProblem('a'.repeat(49)) ?? '', /at most 48/);
  assert.match(projectNameProblem('a'.repeat(64)) ?? '', /must match|at most/);
});

test('project names: no _v<digits> segment (it would collide with a version suffix)', () => {
  for (const bad of ['a_v1', 'a_v12', 'a_v1_b', 'blog_v0', 'x_v123_y_z', 'a_b_v9']) assert.match(projectNameProblem(bad) ?? '', /_v<digits>/, bad);
});

test('project names: no pg_ prefix (reserved by PostgreSQL for schemas)', () => {
  assert.match(projectNameProblem('pg_blog') ?? '', /pg_/);
  assert.match(projectNameProblem('pg_') ?? '', /pg_/);
  assert.equal(projectNameProblem('blog_pg_x'), null);
});

test('project names: not public or information_schema (the project is also its schema of latest views)', () => {
  assert.match(projectNameProblem('public') ?? '', /every PostgreSQL database has/);
  assert.match(projectNameProblem('information_schema') ?? '', /every PostgreSQL database has/);
  assert.equal(projectNameProblem('publication'), null);
});

test('blueprint names: lowercase ^[a-z][a-z0-9_]{0,62}$', () => {
  for (const ok of ['article', 'a', 'a_v1', 'x'.repeat(63), 'pg_thing']) assert.equal(blueprintNameProblem(ok), null, ok);
  for (const bad of ['', 'Article', '1a', '_a', 'a-b', 'a;drop', '%22x%22', '"x"', '..', 'x'.repeat(64), 'a b', 'a/b']) {
    assert.match(blueprintNameProblem(bad) ?? '', /must match/, bad);
  }
});

test('column names: ^[a-zA-Z_][a-zA-Z0-9_]{0,62}$, not reserved, not _dstore*', () => {
  for (const ok of ['title', 'Title_EN', '_x', 'a'.repeat(63), 'constructor', 'ID']) assert.equal(columnNameProblem(ok), null, ok);
  for (const reserved of ['id', 'project_version', 'links']) assert.match(columnNameProblem(reserved) ?? '', /reserved/, reserved);
  assert.match(columnNameProblem('_dstore') ?? '', /_dstore/);
  assert.match(columnNameProblem('_dstore_stamp') ?? '', /_dstore/);
  for (const bad of ['', '1a', 'a-b', 'a b', 'a"b', "a'b", 'a;b', 'a'.repeat(64), 'title--', 'é']) assert.match(columnNameProblem(bad) ?? '', /must match/, bad);
});

test('UUIDs: 8-4-4-4-12 hex, either case, nothing around', () => {
  for (const ok of ['66276124-ebcd-45e1-8013-825346daa283', '66276124-EBCD-45E1-8013-825346DAA283', '00000000-0000-0000-0000-000000000000']) assert.equal(isUuid(ok), true, ok);
  for (const bad of ['', 'x', '66276124ebcd45e18013825346daa283', '66276124-ebcd-45e1-8013-825346daa28', '66276124-ebcd-45e1-8013-825346daa2833', '66276124-ebcd-45e1-8013-825346daa28g', ' 66276124-ebcd-45e1-8013-825346daa283', '66276124-ebcd-45e1-8013-825346daa283\n', '{66276124-ebcd-45e1-8013-825346daa283}', 42, null, undefined, ['66276124-ebcd-45e1-8013-825346daa283']]) {
    assert.equal(isUuid(bad), false, JSON.stringify(bad));
  }
});

test('Elasticsearch metadata field names cannot be columns', () => {
  for (const name of ['_id', '_source', '_routing', '_meta', '_index']) assert.match(columnNameProblem(name) ?? '', /metadata field/, name);
  assert.equal(columnNameProblem('_private'), null);
});
