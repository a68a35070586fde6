// GET /_openapi.json and /_docs (SPEC §13): the document passes a real OpenAPI validator, lists every
// route the server registered (so a route without a schema fails here), and real answers validate
// against the response schemas it declares.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID, startDstore, type TestDstore } from '../support/harness.ts';
import { ERROR_CATALOG } from '../../src/http/errors.ts';

const ADMIN_TOKEN = 'openapi-test-admin-token-0123456789abcdef';
let d: TestDstore;
let doc: any;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

before(async () => {
  d = await startDstore({ STORES: 'level', LOG_LEVEL: 'silent', ADMIN_TOKEN });
  const res = await d.request('GET', '/_openapi.json');
  assert.equal(res.status, 200, 'the document is open to anyone, no token needed');
  doc = res.body;
});

after(async () => {
  await d.stop();
});

// ajv-formats is CommonJS: its function sits on .default under ESM
const addFormats = ((addFormatsModule as unknown as { default?: (a: Ajv) => void }).default ?? addFormatsModule) as unknown as (a: Ajv) => void;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

test('the document passes a real OpenAPI 3 validator', async () => {
  assert.match(doc.openapi, /^3\./);
  const api = await SwaggerParser.validate(structuredClone(doc));
  assert.equal(api.info.title, 'dstore');
});

test('every route the server registered is documented, and every documented one is registered', () => {
  const registered = d.running.app!.accessRoutes
    .flatMap((r) => r.method.split(','))
    .filter((m) => m !== 'HEAD');
  assert.ok(registered.length > 20);
  const table = new Set(
    d.running.app!.accessRoutes
      .flatMap((r) => r.method.split(',').map((m) => `${m} ${r.url}`))
      .filter((k) => !k.startsWith('HEAD ') && !/ \/_docs(\/|$)/.test(k)),
  );
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(ops).filter((m) => METHODS.includes(m))) documented.add(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  for (const route of table) assert.ok(documented.has(route), `${route} is registered but not in /_openapi.json (give it a schema in src/observability/route-schemas.ts)`);
  for (const route of documented) assert.ok(table.has(route), `${route} is documented but not registered`);
  // the docs page itself is served, not documented
  assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/_docs')));
});

test('every operation names its parameters, its answers and the error bodies of the catalog', () => {
  const codes = new Set(ERROR_CATALOG.map((e) => e.code));
  for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<any>(ops)) {
      if (!METHODS.includes(method)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(op.summary, `${where} has no summary`);
      const inPath = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
      assert.deepEqual(inPath.sort(), [...pathParams].sort(), `${where} path parameters`);
      const statuses = Object.keys(op.responses);
      assert.ok(statuses.some((s) => /^2/.test(s)), `${where} declares no success answer`);
      for (const s of ['401', '403', '500']) assert.ok(statuses.includes(s), `${where} does not declare ${s}`);
      // /_health answers its own body with 503 when an engine is down
      for (const s of statuses.filter((x) => /^[45]/.test(x) && !(path === '/_health' && x === '503'))) {
        const schema = op.responses[s].content['application/json'].schema;
        assert.deepEqual(schema.required, ['message', 'code'], `${where} ${s}`);
        for (const code of schema.properties.code.enum ?? []) assert.ok(codes.has(code), `${where} ${s} names ${code}, not in the catalog`);
      }
    }
  }
  // the catalog feeds them: a 400 lists the item errors, a 404 the unknown project
  const put = doc.paths['/{project}/{blueprint}/{id}'].put;
  assert.ok(put.responses['400'].content['application/json'].schema.properties.code.enum.includes('DSTORE_ITEM_INVALID'));
  assert.ok(put.responses['404'].content['application/json'].schema.properties.code.enum.includes('DSTORE_PROJECT_NOT_FOUND'));
  assert.ok(put.requestBody, 'PUT of an item documents its body');
  assert.ok(doc.paths['/_metrics'].get.responses['200'].content['text/plain']);
});

test('real answers validate against the response schemas the document declares', async () => {
  const api: any = await SwaggerParser.dereference(structuredClone(doc));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  let checked = 0;
  const check = async (method: string, url: string, route: string, body?: unknown, headers: Record<string, string> = auth) => {
    const res = await d.request(method, url, body, headers);
    const op = api.paths[route][method.toLowerCase()];
    const declared = op.responses[String(res.status)];
    assert.ok(declared, `${method} ${url} answered ${res.status}, which ${route} does not declare: ${res.text}`);
    const schema = declared.content?.['application/json']?.schema;
    if (res.status === 204) assert.equal(res.text, '');
    else if (schema) assert.ok(ajv.validate(schema, res.body), `${method} ${url} → ${res.status} does not fit its schema: ${ajv.errorsText()}\n${res.text.slice(0, 500)}`);
    checked++;
    return res;
  };
  await check('PUT', '/myblog/article/_blueprint', '/{project}/{blueprint}/_blueprint', ARTICLE_BLUEPRINT);
  await check('GET', '/myblog/article/_blueprint', '/{project}/{blueprint}/_blueprint');
  await check('GET', '/myblog/_blueprint', '/{project}/_blueprint');
  await check('POST', '/myblog/_version', '/{project}/_version');
  await check('GET', '/myblog/_blueprint/1', '/{project}/_blueprint/{version}');
  await check('GET', '/myblog/article/_blueprint/1', '/{project}/{blueprint}/_blueprint/{version}');
  await check('PUT', `/myblog/article/${ARTICLE_ID}`, '/{project}/{blueprint}/{id}', ARTICLE);
  await check('PUT', `/myblog/article/${ARTICLE_ID}?async=true`, '/{project}/{blueprint}/{id}', ARTICLE);
  await check('PUT', '/myblog/article', '/{project}/{blueprint}', [{ ...ARTICLE, id: '0b5c8a4e-6a43-4c1e-9a61-6f1e8d7f2a10' }]);
  await check('GET', '/myblog', '/{project}');
  await check('GET', '/_project', '/_project');
  await check('GET', '/myblog/_version', '/{project}/_version');
  await check('PUT', '/myblog/article/_blueprint', '/{project}/{blueprint}/_blueprint', { ...ARTICLE_BLUEPRINT, columns: { ...ARTICLE_BLUEPRINT.columns, summary: { type: 'text' } } });
  const v2 = await check('POST', '/myblog/_version?wait=backfill', '/{project}/_version');
  await check('GET', '/myblog/_version/2', '/{project}/_version/{version}');
  const jobs = await check('GET', '/_jobs', '/_jobs');
  assert.equal(jobs.body.jobs[0].id, v2.body.backfill.job);
  await check('GET', `/_jobs/${v2.body.backfill.job}`, '/_jobs/{id}');
  await check('GET', `/_jobs/${v2.body.backfill.job}/skipped`, '/_jobs/{id}/skipped');
  await check('GET', '/_health', '/_health');
  await check('GET', '/_deadletter', '/_deadletter');
  await check('POST', '/_deadletter/_replay', '/_deadletter/_replay');
  const token = await check('POST', '/_token', '/_token', { name: 'docs', projects: ['myblog'], scopes: ['read'] });
  await check('GET', '/_token', '/_token');
  await check('DELETE', `/_token/${token.body.id}`, '/_token/{id}');
  await check('DELETE', `/myblog/article/${ARTICLE_ID}`, '/{project}/{blueprint}/{id}');
  // error answers fit the documented error body
  await check('PUT', `/myblog/article/${ARTICLE_ID}`, '/{project}/{blueprint}/{id}', { ...ARTICLE, title_en: 5 });
  await check('GET', '/nothere/_blueprint', '/{project}/_blueprint');
  await check('GET', '/_jobs/00000000-0000-4000-8000-000000000000', '/_jobs/{id}');
  await check('GET', '/myblog', '/{project}', undefined, {});
  await check('GET', '/_token', '/_token', undefined, { authorization: 'Bearer not-a-token' });
  await check('DELETE', '/myblog/_version/2', '/{project}/_version/{version}');
  await check('DELETE', '/myblog', '/{project}');
  assert.ok(checked >= 30);
});

test('the schemas change no answer: Fastify validates and serializes nothing from them', async () => {
  // a body the schema would refuse (columns missing) still gets dstore's own message
  const res = await d.request('PUT', '/other/article/_blueprint', { postgresql: 5 }, auth);
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'DSTORE_BLUEPRINT_INVALID');
  // a field the response schema does not name is still sent
  await d.request('PUT', '/other/article/_blueprint', ARTICLE_BLUEPRINT, auth);
  const got = await d.request('GET', '/other/article/_blueprint', undefined, auth);
  assert.deepEqual(Object.keys(got.body.columns), Object.keys(ARTICLE_BLUEPRINT.columns));
});

test('/_docs serves the browsable page without a token, even with ADMIN_TOKEN set', async () => {
  let page = await d.running.app!.inject({ method: 'GET', url: '/_docs' });
  for (let hops = 0; page.statusCode === 302 && hops < 3; hops++) page = await d.running.app!.inject({ method: 'GET', url: new URL(String(page.headers['location']), 'http://x/_docs/').pathname });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /swagger-ui/i);
  const spec = await d.running.app!.inject({ method: 'GET', url: '/_docs/json' });
  assert.equal(spec.statusCode, 200);
  assert.equal(JSON.parse(spec.body).info.title, 'dstore');
  const metrics = await d.request('GET', '/_metrics');
  assert.equal(metrics.status, 401, 'metrics still need a token');
});
