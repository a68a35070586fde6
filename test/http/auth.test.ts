import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { accessControl, isLoopback, type AccessSettings } from '../../src/auth/access-control.ts';
import type { Scope } from '../../src/auth/scopes.ts';
import { TokenStore } from '../../src/catalog/tokens.ts';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID, startDstore, type TestDstore } from '../support/harness.ts';

const ADMIN_TOKEN = 'adm_' + randomBytes(24).toString('hex');
const EMBEDDED = { STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '' };
const SECOND_ID = '0f8b1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4';

type Need = readonly Scope[] | 'any';
interface Row {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The route pattern, as Fastify knows it: the matrix must name every registered route. */
  route: string;
  url: () => string;
  body?: () => unknown;
  need: Need;
  /** The route acts on myblog: an admin token of another project is refused with this status. */
  other?: 403 | 404;
  ok: number;
  /** Anonymous callers get the narrow view (GET /_health). */
  anonymous?: boolean;
  /** Puts back what a successful call changed, so the next token meets the same state. */
  reset?: () => Promise<void>;
}

const GETS: Need = ['read', 'write', 'schema'];

let d: TestDstore;
const tokens: Record<string, { id: string; token: string }> = {};
let jobId = '';
let victim = '';

async function as(token: string | undefined, method: string, url: string, body?: unknown) {
  const res = await d.running.app!.inject({
    method: method as 'GET',
    url,
    payload: body === undefined ? undefined : JSON.stringify(body),
    headers: token === undefined ? {} : { authorization: token.startsWith('Bearer') || token.startsWith('Basic') ? token : `Bearer ${token}` },
  });
  let parsed: any;
  try {
    parsed = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
}

async function admin(method: string, url: string, body?: unknown, expect?: number) {
  const res = await as(ADMIN_TOKEN, method, url, body);
  if (expect !== undefined) assert.equal(res.status, expect, `${method} ${url}: ${res.text}`);
  return res;
}

async function makeToken(name: string, projects: string[], scopes: Scope[], by = ADMIN_TOKEN) {
  const res = await as(by, 'POST', '/_token', { name, projects, scopes });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, token: res.body.token as string };
}

async function seedProject(project: string) {
  await admin('PUT', `/${project}`, { article: ARTICLE_BLUEPRINT }, 200);
  await admin('PUT', `/${project}/article/${ARTICLE_ID}`, ARTICLE, 200);
}

// snapshots wait for their back-fill: a drop racing a back-fill's last catalog write is not what this file tests
/** myblog with an item in snapshot 1 and a second snapshot: its back-fill is the job the matrix reads (a drop forgets jobs). */
async function seedMyblog() {
  await seedProject('myblog');
  await admin('POST', '/myblog/_version?wait=backfill', undefined, 201);
  jobId = (await admin('GET', '/_jobs?project=myblog', undefined, 200)).body.jobs[0].id;
}

const ROWS: Row[] = [
  { method: 'PUT', route: '/:project/:blueprint/_blueprint', url: () => '/myblog/article/_blueprint', body: () => ARTICLE_BLUEPRINT, need: ['schema'], other: 403, ok: 200 },
  { method: 'GET', route: '/:project/:blueprint/_blueprint', url: () => '/myblog/article/_blueprint', need: GETS, other: 403, ok: 200 },
  { method: 'GET', route: '/:project/:blueprint/_blueprint/:version', url: () => '/myblog/article/_blueprint/1', need: GETS, other: 403, ok: 200 },
  { method: 'DELETE', route: '/:project/:blueprint/_blueprint', url: () => '/myblog/article/_blueprint', need: ['schema'], other: 403, ok: 204, reset: () => admin('PUT', '/myblog/article/_blueprint', ARTICLE_BLUEPRINT, 200).then(() => {}) },
  { method: 'PUT', route: '/:project/_blueprint', url: () => '/myblog/_blueprint', body: () => ({ article: ARTICLE_BLUEPRINT }), need: ['schema'], other: 403, ok: 200 },
  { method: 'GET', route: '/:project/_blueprint', url: () => '/myblog/_blueprint', need: GETS, other: 403, ok: 200 },
  { method: 'GET', route: '/:project/_blueprint/:version', url: () => '/myblog/_blueprint/1', need: GETS, other: 403, ok: 200 },
  { method: 'PUT', route: '/:project', url: () => '/myblog?wait=backfill', body: () => ({ article: ARTICLE_BLUEPRINT }), need: ['schema'], other: 403, ok: 200 },
  { method: 'GET', route: '/:project', url: () => '/myblog', need: GETS, other: 403, ok: 200 },
  { method: 'DELETE', route: '/:project', url: () => '/myblog', need: ['admin'], other: 403, ok: 204, reset: () => seedMyblog() },
  { method: 'GET', route: '/_project', url: () => '/_project', need: 'any', ok: 200 },
  { method: 'POST', route: '/:project/_version', url: () => '/myblog/_version?wait=backfill', need: ['schema'], other: 403, ok: 201 },
  { method: 'GET', route: '/:project/_version', url: () => '/myblog/_version', need: GETS, other: 403, ok: 200 },
  { method: 'GET', route: '/:project/_version/:version', url: () => '/myblog/_version/1', need: GETS, other: 403, ok: 200 },
  // an unknown version: past the check, the route's own 404 (retiring a real one would change what later rows meet)
  { method: 'DELETE', route: '/:project/_version/:version', url: () => '/myblog/_version/999', need: ['schema'], other: 403, ok: 404 },
  { method: 'GET', route: '/_jobs', url: () => '/_jobs', need: ['read'], ok: 200 },
  { method: 'GET', route: '/_jobs/:id', url: () => `/_jobs/${jobId}`, need: ['read'], other: 403, ok: 200 },
  { method: 'GET', route: '/_jobs/:id/skipped', url: () => `/_jobs/${jobId}/skipped`, need: ['read'], other: 403, ok: 200 },
  { method: 'PUT', route: '/:project/:blueprint/:id', url: () => `/myblog/article/${SECOND_ID}`, body: () => ({ ...ARTICLE, id: SECOND_ID }), need: ['write'], other: 403, ok: 200 },
  { method: 'DELETE', route: '/:project/:blueprint/:id', url: () => `/myblog/article/${SECOND_ID}`, need: ['write'], other: 403, ok: 204 },
  { method: 'PUT', route: '/:project/:blueprint', url: () => '/myblog/article', body: () => [{ ...ARTICLE, id: SECOND_ID }], need: ['write'], other: 403, ok: 200 },
  { method: 'DELETE', route: '/:project/:blueprint', url: () => '/myblog/article', body: () => [SECOND_ID], need: ['write'], other: 403, ok: 204 },
  { method: 'GET', route: '/_health', url: () => '/_health', need: ['read'], ok: 200, anonymous: true },
  // a verify of myblog, answered when done, and a rebuild refused for its body after the check (it would rewrite an engine)
  { method: 'POST', route: '/:project/_verify', url: () => '/myblog/_verify?wait=true', need: ['schema'], other: 403, ok: 200 },
  { method: 'POST', route: '/:project/_rebuild', url: () => '/myblog/_rebuild', body: () => ({ engine: 'postgresql' }), need: ['admin'], other: 403, ok: 400 },
  { method: 'GET', route: '/_metrics', url: () => '/_metrics', need: 'any', ok: 200 },
  { method: 'GET', route: '/_deadletter', url: () => '/_deadletter', need: ['read'], ok: 200 },
  { method: 'POST', route: '/_deadletter/_replay', url: () => '/_deadletter/_replay', need: ['admin'], ok: 202 },
  { method: 'POST', route: '/_token', url: () => '/_token', body: () => ({ name: 'matrix', projects: ['myblog'], scopes: ['read'] }), need: ['admin'], other: 403, ok: 201 },
  { method: 'GET', route: '/_token', url: () => '/_token', need: ['admin'], ok: 200 },
  {
    method: 'DELETE', route: '/_token/:id', url: () => `/_token/${victim}`, need: ['admin'], other: 404, ok: 204,
    reset: async () => {
      victim = (await makeToken('victim', ['myblog'], ['read'])).id;
    },
  },
];

/** Every token of the matrix: its scopes, and whether it is for myblog. */
const HOLDERS: Array<{ name: string; scopes: Scope[]; mine: boolean }> = [
  { name: 'read', scopes: ['read'], mine: true },
  { name: 'write', scopes: ['write'], mine: true },
  { name: 'schema', scopes: ['schema'], mine: true },
  { name: 'admin', scopes: ['admin'], mine: true },
  { name: 'other-admin', scopes: ['admin'], mine: false },
  { name: 'star-admin', scopes: ['admin'], mine: true },
  { name: 'ADMIN_TOKEN', scopes: ['admin'], mine: true },
];

/** The status a holder gets; `narrow` is the anonymous view of a route that has one. */
function expected(row: Row, holder: { scopes: Scope[]; mine: boolean }): number | 'narrow' {
  const granted = row.need === 'any' || holder.scopes.includes('admin') || row.need.some((s) => holder.scopes.includes(s));
  if (!granted) return row.anonymous ? 'narrow' : 403;
  if (!holder.mine && row.other) return row.other;
  return row.ok;
}

function secretOf(name: string): string {
  return name === 'ADMIN_TOKEN' ? ADMIN_TOKEN : tokens[name]!.token;
}

/** Everything a refused request could have changed: every LevelDB entry and every catalog file but the tokens' last use. */
async function state(): Promise<{ level: Array<[string, string]>; files: Record<string, string>; tokenIds: string[] }> {
  const root = d.config.projectFilePath;
  const files: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name !== '_tokens.json') files[relative(root, path)] = await readFile(path, 'utf8');
    }
  }
  await walk(root);
  const stored = JSON.parse(await readFile(join(root, '_tokens.json'), 'utf8')) as { tokens: Array<{ id: string }> };
  return { level: (await d.level!.entries()) as Array<[string, string]>, files, tokenIds: stored.tokens.map((t) => t.id).sort() };
}

describe('access control with ADMIN_TOKEN: the matrix over every route', () => {
  before(async () => {
    d = await startDstore({ ...EMBEDDED, ADMIN_TOKEN });
    await seedMyblog();
    await seedProject('other');
    for (const h of HOLDERS) {
      if (h.name === 'ADMIN_TOKEN') continue;
      const projects = h.name === 'star-admin' ? ['*'] : h.mine ? ['myblog'] : ['other'];
      tokens[h.name] = await makeToken(h.name, projects, h.scopes);
    }
    tokens['revoked'] = await makeToken('revoked', ['myblog'], ['admin']);
    await admin('DELETE', `/_token/${tokens['revoked']!.id}`, undefined, 204);
    victim = (await makeToken('victim', ['myblog'], ['read'])).id;
  });
  after(async () => d?.stop());

  test('the matrix names every route the API registers, and every one declares its access', async () => {
    // the routes as the running server registered them, seen by accessControl's onRoute hook
    const routes = d.running.app!.accessRoutes;
    // the API description (/_openapi.json, /_docs and its assets) is open to anyone: test/http/openapi.test.ts covers it
    const own = routes.filter((r) => r.method !== 'HEAD' && r.url !== '/_openapi.json' && !r.url.startsWith('/_docs'));
    assert.ok(own.length >= ROWS.length);
    for (const route of routes) assert.ok(route.access, `${route.method} ${route.url} declares no config.access`);
    const inMatrix = new Set(ROWS.map((r) => `${r.method} ${r.route}`));
    for (const route of own) assert.ok(inMatrix.has(`${route.method} ${route.url}`), `${route.method} ${route.url} is not in the matrix`);
    const registered = new Set(own.map((r) => `${r.method} ${r.url}`));
    for (const row of ROWS) assert.ok(registered.has(`${row.method} ${row.route}`), `${row.method} ${row.route} is in the matrix but not registered`);
  });

  test('no token, a malformed one, an unknown one, a revoked one: 401 with WWW-Authenticate on every route, and nothing changed', async () => {
    const beforeState = await state();
    const callers: Array<[string, string | undefined]> = [
      ['no token', undefined],
      ['Basic credentials', 'Basic YWRtaW46YWRtaW4='],
      ['an empty bearer', 'Bearer '],
      ['a bearer with a space inside', `Bearer ${ADMIN_TOKEN.slice(0, 10)} ${ADMIN_TOKEN.slice(10)}`],
      ['an unknown token', `dst_${randomBytes(32).toString('base64url')}`],
      ['the ADMIN_TOKEN cut short', ADMIN_TOKEN.slice(0, -1)],
      ['a revoked token', tokens['revoked']!.token],
    ];
    for (const row of ROWS) {
      for (const [what, token] of callers) {
        const res = await as(token, row.method, row.url(), row.body?.());
        if (row.anonymous && token === undefined) {
          assert.equal(res.status, 200, `${row.method} ${row.route} with ${what}`);
          assert.deepEqual(Object.keys(res.body), ['status'], 'without a token /_health says only up or down');
          continue;
        }
        assert.equal(res.status, 401, `${row.method} ${row.route} with ${what}: ${res.text}`);
        assert.equal(res.body.code, 'DSTORE_UNAUTHORIZED');
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="dstore"');
        if (token) assert.ok(!res.text.includes(token.replace(/^(Bearer|Basic) /, '').trim() || '\u0000'), 'the message never echoes the token');
      }
    }
    assert.deepEqual(await state(), beforeState, 'refused requests changed LevelDB or the catalog');
  });

  test('a token without the scope or of another project: 403 naming what is missing, and nothing changed', async () => {
    const beforeState = await state();
    for (const row of ROWS) {
      for (const holder of HOLDERS) {
        const want = expected(row, holder);
        if (want === row.ok) continue;
        const res = await as(secretOf(holder.name), row.method, row.url(), row.body?.());
        assert.equal(res.status, want === 'narrow' ? 200 : want, `${row.method} ${row.route} with the ${holder.name} token: ${res.text}`);
        if (want === 403) {
          assert.equal(res.body.code, 'DSTORE_FORBIDDEN');
          assert.ok(res.body.errors?.scope || res.body.errors?.project || res.body.errors?.projects, `${row.method} ${row.route} with the ${holder.name} token: ${res.text}`);
          if (!holder.mine) assert.match(res.text, /myblog/);
          else assert.match(res.body.errors.scope, /needs/);
        }
        if (want === 'narrow') assert.deepEqual(Object.keys(res.body), ['status'], 'a token without read sees only up or down');
        assert.ok(!res.text.includes(secretOf(holder.name)), `${row.method} ${row.route} with the ${holder.name} token echoes it: ${res.text}`);
      }
    }
    assert.deepEqual(await state(), beforeState, 'refused requests changed LevelDB or the catalog');
  });

  test('a token of each scope, an admin token and ADMIN_TOKEN: the routes their scope grants answer as without access control', async () => {
    for (const row of ROWS) {
      for (const holder of HOLDERS) {
        if (expected(row, holder) !== row.ok) continue;
        const res = await as(secretOf(holder.name), row.method, row.url(), row.body?.());
        assert.equal(res.status, row.ok, `${row.method} ${row.route} with the ${holder.name} token: ${res.text}`);
        if (row.anonymous) assert.ok(res.body.engines && res.body.queue, 'a read token sees the health detail');
        await row.reset?.();
      }
    }
  });

  test('a write token stores and deletes items of its project, and that lands in LevelDB', async () => {
    const id = randomUUID();
    const res = await as(tokens['write']!.token, 'PUT', `/myblog/article/${id}`, { ...ARTICLE, id });
    assert.equal(res.status, 200, res.text);
    assert.ok((await d.levelKeys()).some((k) => k.includes(id)));
    assert.equal((await as(tokens['write']!.token, 'DELETE', `/myblog/article/${id}`)).status, 204);
    assert.ok(!(await d.levelKeys()).some((k) => k.includes(id) && !k.startsWith('!')));
    const refused = await as(tokens['write']!.token, 'PUT', `/other/article/${id}`, { ...ARTICLE, id });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /project "other"/);
    assert.ok(!(await d.levelKeys()).some((k) => k.includes(id) && k.startsWith('other')));
  });

  test('a project that does not exist is a 403 for a token without it, so names cannot be probed', async () => {
    const res = await as(tokens['read']!.token, 'GET', '/nosuchproject/_version');
    assert.equal(res.status, 403);
    assert.equal(res.body.errors.project, 'the token is not for project "nosuchproject"');
    assert.equal((await admin('GET', '/nosuchproject/_version')).status, 404);
  });

  test('GET /_project and GET /_jobs list only the token\'s projects', async () => {
    const names = async (token: string) => (await as(token, 'GET', '/_project')).body.projects.map((p: { name: string }) => p.name).sort();
    assert.deepEqual(await names(tokens['write']!.token), ['myblog']);
    assert.deepEqual(await names(tokens['other-admin']!.token), ['other']);
    assert.deepEqual(await names(ADMIN_TOKEN), ['myblog', 'other']);
    const jobs = (await as(tokens['other-admin']!.token, 'GET', '/_jobs')).body.jobs as Array<{ project: string }>;
    assert.ok(jobs.every((j) => j.project === 'other'));
    assert.ok((await as(tokens['read']!.token, 'GET', '/_jobs')).body.jobs.some((j: { id: string }) => j.id === jobId));
    assert.equal((await as(tokens['read']!.token, 'GET', '/_jobs?project=other')).status, 403);
    assert.equal((await as(tokens['read']!.token, 'GET', `/_jobs/${randomUUID()}`)).status, 403, 'an unknown job is refused like another project\'s');
    assert.equal((await admin('GET', `/_jobs/${randomUUID()}`)).status, 404);
  });
});

describe('tokens: made, listed, revoked', () => {
  before(async () => {
    d = await startDstore({ ...EMBEDDED, ADMIN_TOKEN });
    await seedProject('myblog');
  });
  after(async () => d?.stop());

  test('a token name no engine or catalog could keep (U+0000, a lone surrogate) is a 400 naming it; no token is made', async () => {
    const before = (await admin('GET', '/_token', undefined, 200)).body;
    for (const name of ['ci\u0000', '\ud800']) {
      const res = await admin('POST', '/_token', { name, projects: ['myblog'], scopes: ['read'] }, 400);
      assert.match(res.body.errors.name, /U\+0000|surrogate/);
    }
    assert.deepEqual((await admin('GET', '/_token', undefined, 200)).body, before);
  });

  test('POST /_token answers the secret once; the catalog keeps only its SHA-256; GET /_token never shows it', async () => {
    const res = await admin('POST', '/_token', { name: 'ci', projects: ['myblog'], scopes: ['write', 'read'] }, 201);
    assert.deepEqual(Object.keys(res.body).sort(), ['created_at', 'id', 'last_used_at', 'name', 'projects', 'scopes', 'token']);
    assert.match(res.body.token, /^dst_[A-Za-z0-9_-]{43}$/, '256 random bits');
    const file = await readFile(join(d.config.projectFilePath, '_tokens.json'), 'utf8');
    assert.ok(!file.includes(res.body.token) && !file.includes(res.body.token.slice(4)), 'the secret is not on disk');
    assert.ok(file.includes(createHash('sha256').update(res.body.token).digest('hex')));
    assert.equal((await as(res.body.token, 'GET', '/myblog/_version')).status, 200);
    const listed = (await admin('GET', '/_token', undefined, 200)).body;
    const mine = listed.tokens.find((t: { id: string }) => t.id === res.body.id);
    assert.equal(mine.name, 'ci');
    assert.ok(mine.last_used_at, 'last use is listed');
    assert.ok(!('token' in mine) && !('sha256' in mine));
    assert.ok(!JSON.stringify(listed).includes(res.body.token));
  });

  test('a revoked token is refused at once', async () => {
    const t = await makeToken('short-lived', ['myblog'], ['write']);
    assert.equal((await as(t.token, 'PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
    assert.equal((await admin('DELETE', `/_token/${t.id}`)).status, 204);
    const res = await as(t.token, 'PUT', `/myblog/article/${ARTICLE_ID}`, ARTICLE);
    assert.equal(res.status, 401);
    assert.equal(res.body.message.includes(t.token), false);
    assert.equal((await admin('DELETE', `/_token/${t.id}`)).status, 404);
  });

  test('tokens survive a restart by their hash', async () => {
    const t = await makeToken('kept', ['myblog'], ['read']);
    const store = new TokenStore(join(d.config.projectFilePath, '_tokens.json'));
    await store.load();
    assert.equal(store.find(createHash('sha256').update(t.token).digest())?.id, t.id);
    assert.equal(store.find(createHash('sha256').update(t.token + 'x').digest()), undefined);
  });

  test('an admin token makes tokens only for its own projects, and never for ["*"]', async () => {
    const scoped = await makeToken('blog-admin', ['myblog'], ['admin']);
    await makeToken('by-blog-admin', ['myblog'], ['write'], scoped.token);
    const elsewhere = await as(scoped.token, 'POST', '/_token', { name: 'x', projects: ['myblog', 'other'], scopes: ['read'] });
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.body.errors.projects, 'the token is not for project "other"');
    const star = await as(scoped.token, 'POST', '/_token', { name: 'x', projects: ['*'], scopes: ['read'] });
    assert.equal(star.status, 403);
    assert.match(star.body.message, /\["\*"\]/);
    const starAdmin = await makeToken('root', ['*'], ['admin']);
    await makeToken('any', ['*'], ['read'], starAdmin.token);
    const seen = (await as(scoped.token, 'GET', '/_token')).body.tokens as Array<{ projects: string[] }>;
    assert.ok(seen.length > 0 && seen.every((t) => t.projects.every((p) => p === 'myblog')), 'a project admin lists only its projects\' tokens');
    const rootToken = seen.length && (await admin('GET', '/_token')).body.tokens.find((t: { name: string }) => t.name === 'root');
    assert.equal((await as(scoped.token, 'DELETE', `/_token/${rootToken.id}`)).status, 404, 'nor revokes another\'s');
    const write = await makeToken('writer', ['myblog'], ['write']);
    assert.equal((await as(write.token, 'POST', '/_token', { name: 'x', projects: ['myblog'], scopes: ['write'] })).status, 403);
  });

  test('a bad token request is a 400 naming each field', async () => {
    const res = await admin('POST', '/_token', { name: '', projects: ['Bad-Name', 3], scopes: ['root'], extra: 1 }, 400);
    assert.equal(res.body.code, 'DSTORE_TOKEN_REQUEST_INVALID');
    assert.deepEqual(Object.keys(res.body.errors).sort(), ['extra', 'name', 'projects[0]', 'projects[1]', 'scopes[0]']);
    assert.equal((await admin('POST', '/_token', { name: 'x', projects: ['*', 'myblog'], scopes: ['read'] }, 400)).body.errors.projects, '"*" means every project and stands alone: ["*"]');
    assert.equal((await admin('POST', '/_token', undefined, 400)).body.code, 'DSTORE_BODY_SHAPE');
  });
});

describe('protected mode and AUTH=off', () => {
  test('without ADMIN_TOKEN only loopback clients are answered; others get 403 saying how to set a token', async () => {
    const p = await startDstore(EMBEDDED);
    try {
      const app = p.running.app!;
      for (const remoteAddress of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
        assert.equal((await app.inject({ method: 'GET', url: '/_project', remoteAddress })).statusCode, 200, remoteAddress);
      }
      const put = await app.inject({ method: 'PUT', url: '/myblog/article/_blueprint', payload: JSON.stringify(ARTICLE_BLUEPRINT), remoteAddress: '10.200.0.2' });
      assert.equal(put.statusCode, 403);
      const body = put.json();
      assert.equal(body.code, 'DSTORE_PROTECTED_MODE');
      assert.match(body.message, /ADMIN_TOKEN/);
      assert.match(body.message, /10\.200\.0\.2/);
      assert.equal((await app.inject({ method: 'GET', url: '/_health', remoteAddress: '192.168.1.5' })).statusCode, 403);
      assert.equal((await app.inject({ method: 'GET', url: '/myblog', remoteAddress: '::ffff:10.0.0.1' })).statusCode, 403);
      assert.deepEqual(await p.levelKeys(), []);
      assert.equal((await p.request('GET', '/_project')).body.projects.length, 0, 'the refused PUT made no project');
    } finally {
      await p.stop();
    }
  });

  test('AUTH=off answers every client', async () => {
    const p = await startDstore({ ...EMBEDDED, AUTH: 'off' });
    try {
      const res = await p.running.app!.inject({ method: 'PUT', url: '/myblog/article/_blueprint', payload: JSON.stringify(ARTICLE_BLUEPRINT), remoteAddress: '10.200.0.2' });
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await p.stop();
    }
  });

  test('loopback addresses', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1') && isLoopback('127.255.0.1'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::ffff:10.0.0.1') && !isLoopback('1127.0.0.1') && !isLoopback(undefined) && !isLoopback('fe80::1'));
  });
});

describe('a route without an access rule', () => {
  test('is refused, whatever the caller (fail closed)', async () => {
    for (const mode of ['off', 'protected', 'tokens'] as const) {
      const app = Fastify();
      const settings: AccessSettings = { mode, adminToken: mode === 'tokens' ? ADMIN_TOKEN : undefined, tokens: new TokenStore('/nonexistent/_tokens.json'), jobProject: () => undefined };
      accessControl(app, settings);
      let ran = false;
      app.get('/forgotten', async () => ((ran = true), 'open'));
      app.get('/declared', { config: { access: { scope: 'read', project: 'none' } } }, async () => 'fine');
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const res = await app.inject({ method: 'GET', url: '/forgotten', headers });
      assert.equal(res.statusCode, 500, mode);
      assert.equal(res.json().code, 'DSTORE_ACCESS_UNDECLARED');
      assert.equal(ran, false);
      assert.equal((await app.inject({ method: 'GET', url: '/declared', headers })).statusCode, 200, mode);
      await app.close();
    }
  });
});
