// Bad input is a 4xx, never a 5xx: every column of every type fed odd values, and odd bodies on every write route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDstore, KITCHEN_SINK_BLUEPRINT, kitchenSinkItem, type TestDstore } from '../support/harness.ts';

let d: TestDstore;
before(async () => {
  d = await startDstore({ STORES: 'level' });
  assert.equal((await d.request('PUT', '/odd', { sink: KITCHEN_SINK_BLUEPRINT })).status, 200);
});
after(() => d.stop());

const ODD: unknown[] = [null, true, 0, -1, 1.5, 'x', '', [], [null], {}, { type: 'Point' }, { type: 'Point', coordinates: 'a' }, [[1]], '2024-02-30', 'constructor', [[[[]]]], 'NaN', 9007199254740993, { a: { b: { c: [1, { d: null }] } } }];

test('odd values in every column (and in id, project_version, links) get 200 or a 4xx with a message, never a 5xx', async () => {
  const base = kitchenSinkItem('6f1e8d7f-2a10-4c1e-9a61-0b5c8a4e6a43');
  for (const key of [...Object.keys(base), '__proto__', 'constructor', 'toString']) {
    for (const value of ODD) {
      const r = await d.request('PUT', `/odd/sink/${base['id']}`, JSON.stringify({ ...base, [key]: value }));
      assert.ok(r.status < 500, `${key}=${JSON.stringify(value)} answered ${r.status} ${r.text}`);
      if (r.status >= 400) assert.ok(r.body?.message && r.body?.code, r.text);
    }
  }
});

test('odd bodies on the blueprint, project and bulk routes never get a 5xx', async () => {
  const blueprints = ['null', '"s"', '1', '[]', '{"columns":null}', '{"columns":{"a":null}}', '{"columns":{"a":{"type":"string","validation":null}}}', '{"columns":{"a":{"type":"string","validation":{"pattern":5}}}}', '{"columns":{"a":{"type":"integer","validation":{"minimum":"x"}}}}', '{"columns":{"a":{"type":"json","validation":{"type":"nope"}}}}', '{"columns":{"__proto__":{"type":"string"}}}', '{"postgresql":"x","columns":{}}', '{"postgresql":{"table":"A"},"columns":{}}'];
  for (const body of blueprints) {
    for (const url of ['/odd/other/_blueprint', '/odd/_blueprint', '/odd_two']) {
      const r = await d.request('PUT', url, body);
      assert.ok(r.status < 500, `PUT ${url} ${body} answered ${r.status} ${r.text}`);
      if (r.status >= 400) assert.ok(r.body?.message && r.body?.code, r.text);
    }
  }
  for (const body of ['null', '{}', '[1]', '[null]', '["x"]', '{"a":1}']) {
    for (const [method, url] of [['PUT', '/odd/sink'], ['DELETE', '/odd/sink'], ['POST', '/_deadletter/_replay']] as const) {
      const r = await d.request(method, url, body);
      assert.ok(r.status < 500, `${method} ${url} ${body} answered ${r.status} ${r.text}`);
    }
  }
});
