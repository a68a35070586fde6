// GET /_metrics (SPEC §13): the Prometheus text format, read with a real parser; after a known
// sequence of requests and writes every counter shows exactly that many.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';
import { histogramCount, parsePrometheus, sampleValue } from '../support/prometheus.ts';

let d: TestDstore;

before(async () => {
  d = await startDstore({ STORES: 'level', LOG_LEVEL: 'silent' });
});

after(async () => {
  await d.stop();
});

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`);

test('after a known sequence the request, write and migration counters are exact, labelled by route pattern and engine only', async () => {
  assert.equal((await d.request('PUT', '/myblog/article/_blueprint', ARTICLE_BLUEPRINT)).status, 200);
  assert.equal((await d.request('POST', '/myblog/_version')).status, 201);
  for (const id of ids(3, '00000001')) assert.equal((await d.request('PUT', `/myblog/article/${id}`, { ...ARTICLE, id })).status, 200);
  const bulk = ids(5, '00000002').map((id) => ({ ...ARTICLE, id }));
  assert.equal((await d.request('PUT', '/myblog/article', bulk)).status, 200);
  assert.equal((await d.request('DELETE', `/myblog/article/${ids(1, '00000001')[0]}`)).status, 204);
  // refused before any engine: counted as a request, not as a write
  assert.equal((await d.request('PUT', `/myblog/article/${ids(1, '00000003')[0]}`, { ...ARTICLE, id: ids(1, '00000003')[0], title_en: 5 })).status, 400);
  assert.equal((await d.request('GET', '/no/such/route/at/all')).status, 404);

  const res = await d.running.app!.inject({ method: 'GET', url: '/_metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  const m = parsePrometheus(res.body);

  const requests = (method: string, route: string, status: number) => sampleValue(m, 'dstore_http_requests_total', { method, route, status_code: String(status) });
  assert.equal(m.get('dstore_http_requests_total')?.type, 'COUNTER');
  assert.equal(requests('PUT', '/:project/:blueprint/_blueprint', 200), 1);
  assert.equal(requests('POST', '/:project/_version', 201), 1);
  assert.equal(requests('PUT', '/:project/:blueprint/:id', 200), 3);
  assert.equal(requests('PUT', '/:project/:blueprint', 200), 1);
  assert.equal(requests('DELETE', '/:project/:blueprint/:id', 204), 1);
  assert.equal(requests('PUT', '/:project/:blueprint/:id', 400), 1);
  assert.equal(requests('GET', '<unmatched>', 404), 1);
  // the scrape itself is counted once it is answered, so not in its own text
  assert.equal(requests('GET', '/_metrics', 200), undefined);
  const total = m.get('dstore_http_requests_total')!.metrics.reduce((n, s) => n + Number(s.value), 0);
  assert.equal(total, 9);

  assert.equal(m.get('dstore_http_request_duration_seconds')?.type, 'HISTOGRAM');
  assert.equal(histogramCount(res.body, 'dstore_http_request_duration_seconds', { method: 'PUT', route: '/:project/:blueprint/:id', status_code: '200' }), 3);
  assert.equal(histogramCount(res.body, 'dstore_http_request_duration_seconds', { method: 'GET', route: '<unmatched>', status_code: '404' }), 1);

  // 3 single PUTs + 5 in bulk + 1 delete reached LevelDB
  assert.equal(sampleValue(m, 'dstore_writes_total', { engine: 'level', outcome: 'applied' }), 9);
  assert.equal(sampleValue(m, 'dstore_writes_total', { engine: 'level', outcome: 'refused' }), undefined);
  assert.equal(histogramCount(res.body, 'dstore_migration_duration_seconds', { engine: 'level' }), 1);
  assert.equal(sampleValue(m, 'dstore_engine_up', { engine: 'level' }), 1);
  assert.equal(sampleValue(m, 'dstore_queue_up'), 1);
  assert.equal(sampleValue(m, 'dstore_queue_pending_writes', { engine: 'level' }), 0);
  assert.equal(sampleValue(m, 'dstore_queue_oldest_pending_seconds', { engine: 'level' }), 0);
  assert.equal(sampleValue(m, 'dstore_dead_letters'), 0);
  // the process's own metrics are there too
  assert.ok(m.has('process_cpu_seconds_total'));
  assert.ok(m.has('nodejs_eventloop_lag_seconds'));

  // bounded cardinality: no raw URL or id is ever a label value
  for (const family of m.values()) {
    for (const sample of family.metrics) {
      for (const value of Object.values(sample.labels ?? {})) {
        assert.doesNotMatch(value, /[0-9a-f]{8}-[0-9a-f]{4}-/, `${family.name} has an id as a label value`);
        assert.doesNotMatch(value, /myblog|\/no\/such/, `${family.name} has a raw URL as a label value`);
      }
    }
  }
  // the second scrape sees the first
  const again = parsePrometheus((await d.running.app!.inject({ method: 'GET', url: '/_metrics' })).body);
  assert.equal(sampleValue(again, 'dstore_http_requests_total', { method: 'GET', route: '/_metrics', status_code: '200' }), 1);
});

test('a running back-fill job shows in dstore_jobs and its progress gauges', async () => {
  assert.equal((await d.request('PUT', '/myblog/article/_blueprint', { ...ARTICLE_BLUEPRINT, columns: { ...ARTICLE_BLUEPRINT.columns, extra: { type: 'string' } } })).status, 200);
  assert.equal((await d.request('POST', '/myblog/_version?wait=backfill')).status, 201);
  const text = (await d.running.app!.inject({ method: 'GET', url: '/_metrics' })).body;
  const m = parsePrometheus(text);
  assert.equal(sampleValue(m, 'dstore_jobs', { kind: 'backfill', state: 'done' }), 1);
  assert.equal(histogramCount(text, 'dstore_migration_duration_seconds', { engine: 'level' }), 2);
  // the back-fill's copies are writes too: 7 items left after the delete
  assert.equal(sampleValue(m, 'dstore_writes_total', { engine: 'level', outcome: 'applied' }), 9 + 7);
});

test('METRICS=off: /_metrics is a 404 that says so, and nothing is counted', async () => {
  const off = await startDstore({ STORES: 'level', LOG_LEVEL: 'silent', METRICS: 'off' });
  try {
    const res = await off.request('GET', '/_metrics');
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'DSTORE_METRICS_OFF');
    assert.match(res.body.message, /METRICS=off/);
  } finally {
    await off.stop();
  }
});
