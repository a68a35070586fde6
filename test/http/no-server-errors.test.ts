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

/** Values no engine may choke on (SPEC §4), as raw JSON text: JSON.stringify cannot write 1e400. */
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const HOSTILE_JSON: string[] = [
  '"\\u0000"', '"a\\ud800"', '"\\udfff"', '["\\u0000"]', '{"k\\u0000": 1}', '{"\\ud800": "x"}', '{"a": {"b": ["\\ud83d"]}}',
  nested(32), nested(33), nested(3000), nested(10_000), `{"a": ${nested(40)}}`,
  '1e400', '-1e400', '[1e400]', '{"n": -1e400}', '9007199254740993', '-9007199254740993', '[12345678901234567890]', '{"n": 1e300}',
  '{"type": "Point", "coordinates": [1e400, 0]}', '{"type": "Point", "coordinates": ["\\u0000", 0]}',
];

/** The item with one member's value written as raw JSON text. */
function withRaw(base: Record<string, unknown>, key: string, json: string): string {
  return JSON.stringify({ ...base, [key]: '\u0001RAW' }).replace('"\\u0001RAW"', json);
}

test('hostile values in every column (and id, project_version, links, an unknown member) get 200 or a 4xx, never a 5xx; then a normal write is applied at once', async () => {
  const base = kitchenSinkItem('6f1e8d7f-2a10-4c1e-9a61-0b5c8a4e6a43');
  const url = `/odd/sink/${base['id']}`;
  for (const key of [...Object.keys(base), 'c_unknown', '__proto__']) {
    for (const json of HOSTILE_JSON) {
      for (const [method, path, body] of [['PUT', url, withRaw(base, key, json)], ['PUT', '/odd/sink', `[${withRaw(base, key, json)}]`]] as const) {
        const r = await d.request(method, path, body);
        assert.ok(r.status < 500, `${path} ${key}=${json.slice(0, 40)} answered ${r.status} ${r.text.slice(0, 300)}`);
        if (r.status >= 400) assert.ok(r.body?.message && r.body?.code, r.text.slice(0, 300));
      }
    }
  }
  for (const key of ['c\u0000', '\ud800', 'c_json\udc00']) {
    const r = await d.request('PUT', url, JSON.stringify({ ...base, [key]: 1 }));
    assert.equal(r.status, 400, `member ${JSON.stringify(key)}: ${r.text}`);
    assert.equal(typeof r.body.errors[key], 'string', r.text);
  }
  const started = Date.now();
  const ok = await d.request('PUT', url, base);
  assert.equal(ok.status, 200, ok.text);
  assert.ok(Date.now() - started < 1000, `the next write took ${Date.now() - started} ms`);
});

test('odd bodies on the blueprint, project and bulk routes never get a 5xx', async () => {
  const deepValidation = (levels: number) => `{"columns":{"a":{"type":"json","validation":${'{"properties":{"a":'.repeat(levels)}{}${'}}'.repeat(levels)}}}}`;
  const hostileBlueprints = [deepValidation(10), deepValidation(29), deepValidation(30), deepValidation(5000), `{"columns":{"a":{"type":"json","validation":{"enum":[${nested(60)}]}}}}`, `{"columns":{"a":{"type":"json","validation":{"const":${nested(10_000)}}}}}`, '{"columns":{"a":{"type":"string","validation":{"pattern":"(a)\\\\1"}}}}', '{"columns":{"a":{"type":"string","validation":{"pattern":"(?<=a)"}}}}', '{"columns":{"a":{"type":"string","validation":{"pattern":"^(a+)+$"}}}}', '{"columns":{"a\\u0000":{"type":"string"}}}', '{"columns":{"a":{"type":"string","validation":{"enum":["\\u0000", "\\ud800"]}}}}', '{"postgresql":{"table":"\\ud800"},"columns":{}}'];
  const blueprints = [...hostileBlueprints, 'null', '"s"', '1', '[]', '{"columns":null}', '{"columns":{"a":null}}', '{"columns":{"a":{"type":"string","validation":null}}}', '{"columns":{"a":{"type":"string","validation":{"pattern":5}}}}', '{"columns":{"a":{"type":"integer","validation":{"minimum":"x"}}}}', '{"columns":{"a":{"type":"json","validation":{"type":"nope"}}}}', '{"columns":{"__proto__":{"type":"string"}}}', '{"postgresql":"x","columns":{}}', '{"postgresql":{"table":"A"},"columns":{}}'];
  for (const body of blueprints) {
    for (const url of ['/odd/other/_blueprint', '/odd/_blueprint', '/odd_two']) {
      const r = await d.request('PUT', url, body);
      assert.ok(r.status < 500, `PUT ${url} ${body} answered ${r.status} ${r.text}`);
      if (r.status >= 400) assert.ok(r.body?.message && r.body?.code, r.text);
    }
  }
  for (const body of ['null', '{}', '[1]', '[null]', '["x"]', '{"a":1}', nested(10_000), '["\\u0000"]', '{"ids":["\\ud800"]}', '[1e400]']) {
    for (const [method, url] of [['PUT', '/odd/sink'], ['DELETE', '/odd/sink'], ['POST', '/_deadletter/_replay']] as const) {
      const r = await d.request(method, url, body);
      assert.ok(r.status < 500, `${method} ${url} ${body} answered ${r.status} ${r.text}`);
    }
  }
});
