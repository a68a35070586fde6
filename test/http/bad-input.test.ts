// Bad input, table-driven: each kind gets its 4xx, a JSON error body (message, code, errors naming the field),
// no stack trace, and leaves LevelDB and the catalog exactly as they were.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID, KITCHEN_SINK_BLUEPRINT, kitchenSinkItem, startDstore, type TestDstore } from '../support/harness.ts';
import { COLUMN_TYPE_NAMES } from '../../src/schema/column-types.ts';

let d: TestDstore;
let small: TestDstore;

const ID = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const ID2 = '0b5c8a4e-6a43-4c1e-9a61-6f1e8d7f2a10';
const ID3 = '9b2e4c1a-3d5f-4a6b-8c7d-0e1f2a3b4c5d';
const square = [[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4], [4.8, 52.3]];

before(async () => {
  d = await startDstore({ STORES: 'level' });
  small = await startDstore({ STORES: 'level', BODY_LIMIT: '2048' });
  // shop v1: sink and article; the working copy also has `later`, which no version holds
  for (const target of [d, small]) {
    assert.equal((await target.request('PUT', '/shop', { sink: KITCHEN_SINK_BLUEPRINT, article: ARTICLE_BLUEPRINT })).status, 200);
    assert.equal((await target.request('PUT', '/shop/later/_blueprint', { columns: { x: { type: 'string' } } })).status, 200);
    assert.equal((await target.request('PUT', `/shop/sink/${ID}`, kitchenSinkItem(ID))).status, 200);
    assert.equal((await target.request('PUT', `/shop/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
    assert.equal((await target.request('DELETE', `/shop/article/${ID3}`)).status, 204);
  }
});

after(async () => {
  await d?.stop();
  await small?.stop();
});

/** A request over the real socket, for paths a URL parser would tidy up (`..`). */
function raw(target: TestDstore, method: string, path: string, body?: string): Promise<{ status: number; body: any; text: string }> {
  const { port } = target.running.app!.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode!, text, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

interface Case {
  kind: string;
  method: string;
  url: string;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** Fields `errors` must name (exactly these keys when `exact`). */
  errors?: string[];
  exact?: boolean;
  /** Send over a real socket, byte for byte. */
  raw?: boolean;
  /** The dstore with BODY_LIMIT=2048. */
  small?: boolean;
  message?: RegExp;
  /** What `errors` says about the first field of `errors`. */
  errorText?: RegExp;
}

const item = (extra: Record<string, unknown>) => ({ ...kitchenSinkItem(ID2), ...extra });
const putSink = (extra: Record<string, unknown>, id = ID2) => ({ method: 'PUT', url: `/shop/sink/${id}`, body: item(extra) });
const invalidItem = (kind: string, extra: Record<string, unknown>, field: string): Case => ({ kind, ...putSink(extra), status: 400, code: 'DSTORE_ITEM_INVALID', errors: [field], exact: true });
/** An item body as text with one member's value written as raw JSON (`1e400` cannot pass through JSON.stringify). */
const rawItem = (field: string, json: string, id = ID2) => JSON.stringify({ ...item({ id }), [field]: '\u0001RAW' }).replace('"\\u0001RAW"', json);
const hostile = (kind: string, field: string, json: string, errorText: RegExp): Case => ({ kind: `hostile: ${kind}`, method: 'PUT', url: `/shop/sink/${ID2}`, body: rawItem(field, json), status: 400, code: 'DSTORE_ITEM_INVALID', errors: [field], exact: true, errorText });
const hostileInBulk = (kind: string, field: string, json: string, errorText: RegExp): Case => ({ kind: `hostile in a bulk PUT: ${kind}`, method: 'PUT', url: '/shop/sink', body: `[${JSON.stringify(item({}))}, ${rawItem(field, json, ID3)}]`, status: 400, code: 'DSTORE_ITEMS_INVALID', errors: [`${ID3}.${field}`], exact: true, errorText });
const nestedText = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

/** Values no engine may choke on (SPEC §4): field, raw JSON, what the answer says. */
const HOSTILE: Array<[string, string, string, RegExp]> = [
  ['U+0000 in a string', 'c_string', '"a\\u0000b"', /^contains U\+0000 at character 1/],
  ['U+0000 in a text', 'c_text', '"\\u0000"', /^contains U\+0000/],
  ['a lone surrogate in a text', 'c_text', '"x\\ud800"', /^contains an unpaired UTF-16 surrogate U\+D800 at character 1/],
  ['a lone surrogate in a string[]', 'c_strings', '["ok", "\\udc00"]', /^holds a string at \/1 that contains an unpaired/],
  ['U+0000 in a json string', 'c_json', '{"a": ["\\u0000"]}', /^holds a string at \/a\/0 that contains U\+0000/],
  ['a lone surrogate in a json string', 'c_json', '{"a": "\\ud800"}', /^holds a string at \/a that contains an unpaired/],
  ['U+0000 in a json key', 'c_json', '{"a": {"k\\u0000": 1}}', /^has an object key "k\\u0000" in the object at \/a/],
  ['a lone surrogate in a json[] key', 'c_jsons', '[{"\\ud800": 1}]', /^has an object key/],
  ['json nested 33 levels', 'c_json', nestedText(33), /^is nested deeper than 32 levels/],
  ['json[] nested 33 levels', 'c_jsons', nestedText(33), /^is nested deeper than 32 levels/],
  ['1e400 in json', 'c_json', '{"n": 1e400}', /^holds a number at \/n beyond the range of a 64-bit float/],
  ['-1e400 in json', 'c_json', '-1e400', /^is a number beyond the range of a 64-bit float \(it parsed as -Infinity\)/],
  ['-1e400 in a float', 'c_float', '-1e400', /^is a number beyond/],
  ['1e400 in a point', 'c_point', '{"type": "Point", "coordinates": [1e400, 0]}', /^holds a number at \/coordinates\/0/],
  ['2^53 + 1 in json', 'c_json', '{"n": 9007199254740993}', /^holds a number at \/n that is an integer beyond ±9007199254740991/],
  ['12345678901234567890 in json[]', 'c_jsons', '[12345678901234567890]', /^holds a number at \/0 that is an integer beyond/],
  ['U+0000 in links', 'links', '["\\u0000"]', /^holds a string at \/0 that contains U\+0000/],
  ['U+0000 in an item member name', 'c_\u0000x', '1', /^is a member name that contains U\+0000 at character 2/],
];
const HOSTILE_CASES: Case[] = HOSTILE.flatMap(([kind, field, json, errorText]) => [hostile(kind, field, json, errorText), hostileInBulk(kind, field, json, errorText)]);

const badName = (kind: string, url: string, what: 'project' | 'blueprint', body: unknown = item({}), rawSend = false): Case => ({ kind, method: 'PUT', url, body, status: 400, code: 'DSTORE_BAD_NAME', errors: [what], exact: true, raw: rawSend });

const CASES: Case[] = [
  // bodies
  { kind: 'body not JSON', method: 'PUT', url: `/shop/sink/${ID2}`, body: '{"id": "x", ', status: 400, code: 'DSTORE_BODY_NOT_JSON' },
  { kind: 'body not JSON, sent as application/json', method: 'PUT', url: `/shop/sink/${ID2}`, body: "{'id': 1}", headers: { 'content-type': 'application/json' }, status: 400, code: 'DSTORE_BODY_NOT_JSON' },
  { kind: 'the seed blueprint without its braces', method: 'PUT', url: '/shop/article/_blueprint', body: '"postgresql": "table": "articles"', status: 400, code: 'DSTORE_BODY_NOT_JSON' },
  { kind: 'empty body for an item', method: 'PUT', url: `/shop/sink/${ID2}`, body: '', status: 400, code: 'DSTORE_BODY_MISSING' },
  { kind: 'no body for a blueprint', method: 'PUT', url: '/shop/other/_blueprint', status: 400, code: 'DSTORE_BODY_MISSING' },
  { kind: 'no body for PUT /{project}', method: 'PUT', url: '/shop', status: 400, code: 'DSTORE_BODY_MISSING' },
  { kind: 'JSON array where an item is expected', method: 'PUT', url: `/shop/sink/${ID2}`, body: [item({})], status: 400, code: 'DSTORE_BODY_SHAPE' },
  { kind: 'JSON string where an item is expected', method: 'PUT', url: `/shop/sink/${ID2}`, body: '"hello"', status: 400, code: 'DSTORE_BODY_SHAPE' },
  { kind: 'JSON null where an item is expected', method: 'PUT', url: `/shop/sink/${ID2}`, body: 'null', status: 400, code: 'DSTORE_BODY_SHAPE' },
  { kind: 'JSON array where a blueprint is expected', method: 'PUT', url: '/shop/other/_blueprint', body: [ARTICLE_BLUEPRINT], status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['blueprint'] },
  { kind: 'object where the bulk PUT expects an array', method: 'PUT', url: '/shop/sink', body: item({}), status: 400, code: 'DSTORE_BODY_SHAPE' },
  { kind: 'object where the bulk DELETE expects an array', method: 'DELETE', url: '/shop/sink', body: { ids: [ID] }, status: 400, code: 'DSTORE_BODY_SHAPE' },
  { kind: 'no body for the bulk DELETE', method: 'DELETE', url: '/shop/sink', status: 400, code: 'DSTORE_BODY_SHAPE' },

  // a wrong value for a column type
  invalidItem('string for integer', { c_integer: '42' }, 'c_integer'),
  invalidItem('1.5 for integer', { c_integer: 1.5 }, 'c_integer'),
  invalidItem('integer out of range (2^31)', { c_integer: 2147483648 }, 'c_integer'),
  invalidItem('integer[] element out of range', { c_integers: [1, -2147483649] }, 'c_integers'),
  invalidItem('string for boolean', { c_boolean: 'true' }, 'c_boolean'),
  invalidItem('number for string', { c_string: 42 }, 'c_string'),
  invalidItem('not-a-UUID for uuid', { c_uuid: 'not-a-uuid' }, 'c_uuid'),
  invalidItem('uuid[] element not a UUID', { c_uuids: [ID, 'nope'] }, 'c_uuids'),
  invalidItem('string[] element of the wrong type', { c_strings: ['red', 7] }, 'c_strings'),
  invalidItem('string for float', { c_float: '1.5' }, 'c_float'),
  invalidItem('scalar for an array column', { c_booleans: true }, 'c_booleans'),
  invalidItem('impossible date 2023-02-29', { c_date: '2023-02-29' }, 'c_date'),
  invalidItem('impossible date in date[]', { c_dates: ['2024-01-01', '2023-04-31'] }, 'c_dates'),
  invalidItem('datetime with month 13', { c_datetime: '2014-13-01 00:00:00' }, 'c_datetime'),
  invalidItem('ISO datetime without offset', { c_datetime: '2014-01-17T03:50:12' }, 'c_datetime'),
  invalidItem('datetime 24:00:00', { c_datetime: '2014-01-17 24:00:00' }, 'c_datetime'),
  invalidItem('GeoJSON longitude 181', { c_point: { type: 'Point', coordinates: [181, 52] } }, 'c_point'),
  invalidItem('GeoJSON latitude -91', { c_points: { type: 'MultiPoint', coordinates: [[4, 52], [4, -91]] } }, 'c_points'),
  invalidItem('unclosed polygon ring', { c_polygon: { type: 'Polygon', coordinates: [square.slice(0, 4)] } }, 'c_polygon'),
  invalidItem('LineString with one position', { c_line: { type: 'LineString', coordinates: [[4.9, 52.3]] } }, 'c_line'),
  invalidItem('wrong GeoJSON type', { c_point: { type: 'Polygon', coordinates: [square] } }, 'c_point'),
  invalidItem('array of Points for a point[] (MultiPoint) column', { c_points: [{ type: 'Point', coordinates: [4, 52] }] }, 'c_points'),
  invalidItem('WKT instead of GeoJSON', { c_polygons: 'MULTIPOLYGON(((0 0,1 0,1 1,0 0)))' }, 'c_polygons'),
  invalidItem('object for json[]', { c_jsons: { a: 1 } }, 'c_jsons'),

  // the item's envelope
  invalidItem('unknown column', { c_unknown: 1 }, 'c_unknown'),
  invalidItem('a column named like an Object.prototype member', { constructor: 'x' }, 'constructor'),
  { kind: 'unknown project_version', ...putSink({ project_version: 99 }), status: 400, code: 'DSTORE_VERSION_UNKNOWN', errors: ['project_version'], exact: true },
  { kind: 'missing project_version', ...putSink({ project_version: undefined }), status: 400, code: 'DSTORE_VERSION_MISSING', errors: ['project_version'], exact: true },
  { kind: 'project_version as a string', ...putSink({ project_version: '1' }), status: 400, code: 'DSTORE_VERSION_UNKNOWN', errors: ['project_version'], exact: true },
  { kind: 'project_version 0', ...putSink({ project_version: 0 }), status: 400, code: 'DSTORE_VERSION_UNKNOWN', errors: ['project_version'], exact: true },
  { kind: 'blueprint absent from the named version', method: 'PUT', url: `/shop/later/${ID2}`, body: { id: ID2, project_version: 1, x: 'y' }, status: 404, code: 'DSTORE_BLUEPRINT_NOT_FOUND' },
  { kind: 'path id and body id differ', ...putSink({ id: ID3 }), status: 400, code: 'DSTORE_ID_MISMATCH', errors: ['id'], exact: true },
  { kind: 'path id not a UUID', method: 'PUT', url: '/shop/sink/not-a-uuid', body: item({ id: 'not-a-uuid' }), status: 400, code: 'DSTORE_ID_NOT_UUID', errors: ['id'], exact: true },
  { kind: 'path id not a UUID (DELETE)', method: 'DELETE', url: '/shop/sink/12345', status: 400, code: 'DSTORE_ID_NOT_UUID', errors: ['id'] },
  { kind: 'body id missing', ...putSink({ id: undefined }), status: 400, code: 'DSTORE_ITEM_INVALID', errors: ['id'], exact: true },
  invalidItem('links not UUIDs', { links: [ID, 'not-a-uuid'] }, 'links'),
  invalidItem('links not an array', { links: ID }, 'links'),
  {
    kind: 'many failing fields, all listed',
    ...putSink({ c_uuid: 'x', c_integer: 1.5, c_date: '2023-02-29', c_point: { type: 'Point', coordinates: [181, 0] }, links: ['x'], c_extra: true }),
    status: 400,
    code: 'DSTORE_ITEM_INVALID',
    errors: ['c_uuid', 'c_integer', 'c_date', 'c_point', 'links', 'c_extra'],
    exact: true,
  },

  // names in paths
  badName('project x;drop', `/x;drop/sink/${ID2}`, 'project'),
  badName('project %22x%22', `/%22x%22/sink/${ID2}`, 'project'),
  badName('project A (upper case)', `/A/sink/${ID2}`, 'project'),
  badName('project a-b', `/a-b/sink/${ID2}`, 'project'),
  badName('project ..', `/../sink/${ID2}`, 'project', JSON.stringify(item({})), true),
  badName('blueprint ..', '/shop/../_blueprint', 'blueprint', JSON.stringify(ARTICLE_BLUEPRINT), true),
  badName('project of 64 characters', `/${'a'.repeat(64)}/sink/${ID2}`, 'project'),
  badName('project of 49 characters', `/${'a'.repeat(49)}/article/_blueprint`, 'project', ARTICLE_BLUEPRINT),
  badName('project with a _v<digits> segment', '/shop_v1/article/_blueprint', 'project', ARTICLE_BLUEPRINT),
  badName('project starting with pg_', '/pg_shop', 'project', { article: ARTICLE_BLUEPRINT }),
  badName('blueprint of 64 characters', `/shop/${'b'.repeat(64)}/_blueprint`, 'blueprint', ARTICLE_BLUEPRINT),
  badName('blueprint %22x%22', '/shop/%22x%22/_blueprint', 'blueprint', ARTICLE_BLUEPRINT),
  badName('blueprint with SQL in it', `/shop/x%3Bdrop%20table%20articles/${ID2}`, 'blueprint'),
  badName('project with a slash encoded', `/a%2Fb/sink/${ID2}`, 'project'),
  { kind: 'blueprint named like an Object.prototype member', method: 'PUT', url: `/shop/constructor/${ID2}`, body: item({}), status: 404, code: 'DSTORE_BLUEPRINT_NOT_FOUND' },

  // blueprints
  { kind: 'blueprint with an unknown type', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { size: { type: 'bigint' } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.size.type'], exact: true, message: new RegExp(`size.*${COLUMN_TYPE_NAMES.slice(0, 5).map((t) => t.replace(/[[\]]/g, '\\$&')).join(', ')}`) },
  { kind: 'blueprint with a reserved column', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { id: { type: 'uuid' } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.id'], exact: true },
  { kind: 'blueprint with a keyword that does not fit the type', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { n: { type: 'integer', validation: { minLength: 2 } } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.n.validation.minLength'], exact: true },
  { kind: 'blueprint with a bad regex', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { s: { type: 'string', validation: { pattern: '([a-z' } } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.s.validation'], exact: true },
  { kind: 'blueprint with an injection-shaped table', method: 'PUT', url: '/shop/other/_blueprint', body: { postgresql: { table: 'x"; DROP TABLE articles; --' }, columns: {} }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['postgresql.table'], exact: true },
  { kind: 'blueprint taking the table of another blueprint', method: 'PUT', url: '/shop/other/_blueprint', body: { postgresql: { table: 'articles' }, columns: {} }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['other.postgresql.table'] },
  { kind: 'working copy with a table collision', method: 'PUT', url: '/shop/_blueprint', body: { a: { postgresql: { table: 't' }, columns: {} }, b: { postgresql: { table: 't' }, columns: {} } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['b.postgresql.table'], exact: true },
  { kind: 'PUT /{project} with an invalid blueprint', method: 'PUT', url: '/shop', body: { sink: KITCHEN_SINK_BLUEPRINT, bad: { columns: { x: { type: 'nope' } } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['bad.columns.x.type'], exact: true },
  { kind: 'PUT /{project} with no blueprints', method: 'PUT', url: '/shop', body: {}, status: 400, code: 'DSTORE_NO_BLUEPRINTS' },
  { kind: 'PUT /{project} with no blueprints, new project', method: 'PUT', url: '/newshop', body: {}, status: 400, code: 'DSTORE_NO_BLUEPRINTS' },

  // size
  { kind: 'body over BODY_LIMIT', small: true, ...putSink({ c_text: 'x'.repeat(4096) }), status: 413, code: 'DSTORE_BODY_TOO_LARGE' },
  { kind: 'bulk body over BODY_LIMIT', small: true, method: 'PUT', url: '/shop/sink', body: [item({}), item({ id: ID3 })], status: 413, code: 'DSTORE_BODY_TOO_LARGE' },

  // bulk
  {
    kind: 'bulk PUT with some invalid items',
    method: 'PUT',
    url: '/shop/sink',
    body: [item({}), item({ id: ID3, c_integer: 1.5, c_date: '2023-02-29' }), kitchenSinkItem('5d3c1a2b-0000-4000-8000-000000000001'), 'not an item', item({ id: 'not-a-uuid' })],
    status: 400,
    code: 'DSTORE_ITEMS_INVALID',
    errors: [`${ID3}.c_integer`, `${ID3}.c_date`, '[3]', 'not-a-uuid.id'],
    exact: true,
  },
  { kind: 'bulk PUT naming an unknown version', method: 'PUT', url: '/shop/sink', body: [item({}), item({ id: ID3, project_version: 7 })], status: 400, code: 'DSTORE_ITEMS_INVALID', errors: [`${ID3}.project_version`], exact: true },
  { kind: 'bulk DELETE with a non-UUID', method: 'DELETE', url: '/shop/sink', body: [ID, 'not-a-uuid', 7], status: 400, code: 'DSTORE_ITEMS_INVALID', errors: ['[1]', '[2]'], exact: true },

  // values no engine may choke on, and bodies no parser should walk
  ...HOSTILE_CASES,
  { kind: 'json nested 10,000 levels (a 20 KB body)', method: 'PUT', url: `/shop/sink/${ID2}`, body: rawItem('c_json', nestedText(10_000)), status: 400, code: 'DSTORE_BODY_TOO_DEEP', message: /deeper than 64 levels \(at \/c_json\/0\/0\/0\/0\/…\)/ },
  { kind: 'json nested 10,000 levels in a bulk PUT', method: 'PUT', url: '/shop/sink', body: `[${rawItem('c_json', nestedText(10_000))}]`, status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'a body nested 65 levels', method: 'PUT', url: `/shop/sink/${ID2}`, body: rawItem('c_json', nestedText(64)), status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'blueprint with a validation nested 10,000 levels', method: 'PUT', url: '/shop/other/_blueprint', body: `{"columns": {"j": {"type": "json", "validation": {"enum": [${nestedText(10_000)}]}}}}`, status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'blueprint with properties nested 3,000 levels', method: 'PUT', url: '/shop/other/_blueprint', body: `{"columns": {"j": {"type": "json", "validation": ${'{"properties": {"a": '.repeat(3000)}{}${'}}'.repeat(3000)}}}}`, status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'working copy nested 10,000 levels', method: 'PUT', url: '/shop', body: `{"sink": ${nestedText(10_000)}}`, status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'dead-letter replay nested 10,000 levels', method: 'POST', url: '/_deadletter/_replay', body: nestedText(10_000), status: 400, code: 'DSTORE_BODY_TOO_DEEP' },
  { kind: 'blueprint pattern with a backreference', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { s: { type: 'string', validation: { pattern: '^(a)\\1$' } } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.s.validation'], exact: true, message: /linear time.*no backreferences or lookaround/ },
  { kind: 'blueprint pattern with a lookahead', method: 'PUT', url: '/shop/other/_blueprint', body: { columns: { s: { type: 'string', validation: { pattern: '^(?=x)' } } } }, status: 400, code: 'DSTORE_BLUEPRINT_INVALID', errors: ['columns.s.validation'], exact: true },

  // routes, query, unknown things
  { kind: 'unknown route', method: 'GET', url: `/shop/sink/${ID}/more`, status: 404, code: 'DSTORE_ROUTE_NOT_FOUND' },
  { kind: 'unknown method', method: 'PATCH', url: '/shop', body: {}, status: 404, code: 'DSTORE_ROUTE_NOT_FOUND' },
  { kind: '?async=maybe', method: 'PUT', url: `/shop/sink/${ID2}?async=maybe`, body: item({}), status: 400, code: 'DSTORE_BAD_QUERY' },
  { kind: '?async=maybe on a DELETE', method: 'DELETE', url: `/shop/sink/${ID}?async=maybe`, status: 400, code: 'DSTORE_BAD_QUERY' },
  { kind: 'unknown project', method: 'PUT', url: `/nowhere/sink/${ID2}`, body: item({}), status: 404, code: 'DSTORE_PROJECT_NOT_FOUND' },
  { kind: 'unknown blueprint', method: 'PUT', url: `/shop/nothing/${ID2}`, body: item({}), status: 404, code: 'DSTORE_BLUEPRINT_NOT_FOUND' },
  { kind: 'unknown project (bulk DELETE)', method: 'DELETE', url: '/nowhere/sink', body: [ID], status: 404, code: 'DSTORE_PROJECT_NOT_FOUND' },
  { kind: 'version that is not a number', method: 'GET', url: '/shop/_blueprint/latest', status: 404, code: 'DSTORE_VERSION_NOT_FOUND' },
  { kind: 'version that does not exist', method: 'GET', url: '/shop/sink/_blueprint/7', status: 404, code: 'DSTORE_VERSION_NOT_FOUND' },
  { kind: 'snapshot of an unknown project', method: 'POST', url: '/nowhere/_version', status: 404, code: 'DSTORE_PROJECT_NOT_FOUND' },
  { kind: 'replay naming non-UUID ids', method: 'POST', url: '/_deadletter/_replay', body: ['x'], status: 400, code: 'DSTORE_BODY_SHAPE' },
];

/** Everything an accepted request could have changed: every LevelDB entry and the catalog as the API shows it. */
async function state(target: TestDstore): Promise<unknown> {
  const projects = (await target.request('GET', '/_project')).body;
  const shop = (await target.request('GET', '/shop')).body;
  return { level: await target.level!.entries(), projects, shop };
}

test('the cases cover at least 30 kinds of bad input', () => {
  assert.ok(CASES.length >= 30, String(CASES.length));
  assert.equal(new Set(CASES.map((c) => c.kind)).size, CASES.length, 'kinds are unique');
});

test('the setup stored what the cases compare against', async () => {
  const keys = await d.levelKeys();
  assert.ok(keys.includes(`shop/v0000000001/sink/${ID}`));
  assert.ok(keys.includes(`shop/v0000000001/article/${ARTICLE_ID}`));
});

for (const c of CASES) {
  test(`${c.kind}: ${c.method} ${c.url.length > 60 ? c.url.slice(0, 60) + '…' : c.url} → ${c.status}`, async () => {
    const target = c.small ? small : d;
    const before = await state(target);
    const res = c.raw
      ? await raw(target, c.method, c.url, c.body === undefined ? undefined : String(c.body))
      : await target.request(c.method, c.url, c.body, c.headers);

    assert.equal(res.status, c.status, res.text);
    assert.ok(res.body && typeof res.body === 'object' && !Array.isArray(res.body), `not a JSON object: ${res.text}`);
    assert.equal(typeof res.body.message, 'string');
    assert.ok(res.body.message.length > 0);
    assert.equal(res.body.code, c.code, res.text);
    assert.deepEqual(Object.keys(res.body).filter((k) => !['message', 'code', 'errors'].includes(k)), [], res.text);
    // no stack trace, no source paths
    assert.doesNotMatch(res.text, /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\/work\//, res.text);
    if (c.errors) {
      assert.equal(typeof res.body.errors, 'object', res.text);
      for (const field of c.errors) assert.equal(typeof res.body.errors[field], 'string', `errors.${field} missing: ${res.text}`);
      if (c.exact) assert.deepEqual(Object.keys(res.body.errors).sort(), [...c.errors].sort(), res.text);
    }
    if (c.message) assert.match(res.body.message, c.message);
    if (c.errorText) assert.match(res.body.errors[c.errors![0]!], c.errorText, res.text);

    assert.deepEqual(await state(target), before, 'a refused request changed LevelDB or the catalog');
  });
}

test('the boundaries that are accepted land in LevelDB exactly as sent: 32 levels, ±(2^53 − 1), a surrogate pair', async () => {
  const body = JSON.stringify({ ...item({ c_string: 'smile \ud83d\ude00', c_jsons: [{ '\ud83d\ude00': -9007199254740991 }] }), c_json: '\u0001RAW' }).replace('"\\u0001RAW"', `{"max": 9007199254740991, "deep": ${nestedText(31)}}`);
  const res = await d.request('PUT', `/shop/sink/${ID2}`, body);
  assert.equal(res.status, 200, res.text);
  const stored = JSON.parse(new Map(await d.level!.entries()).get(`shop/v0000000001/sink/${ID2}`)!);
  assert.equal(stored.c_string, 'smile \ud83d\ude00');
  assert.deepEqual(stored.c_jsons, [{ '\ud83d\ude00': -9007199254740991 }]);
  assert.equal(stored.c_json.max, 9007199254740991);
  assert.equal(JSON.stringify(stored.c_json.deep), nestedText(31));
});

test('a catastrophic pattern cannot block the server: the item and a parallel GET /_health both answer in < 100 ms (real socket)', async () => {
  const id = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
  assert.equal((await d.request('PUT', '/redos', { slow: { columns: { s: { type: 'string', validation: { pattern: '^(a+)+$' } } } } })).status, 200);
  const warm = await raw(d, 'PUT', `/redos/slow/${id}`, JSON.stringify({ id, project_version: 1, s: 'aaaa' }));
  assert.equal(warm.status, 200, warm.text);
  const timed = async (send: () => ReturnType<typeof raw>) => {
    const started = performance.now();
    const res = await send();
    return { res, ms: performance.now() - started };
  };
  for (const evil of [`${'a'.repeat(28)}!`, `${'a'.repeat(5000)}!`]) {
    const [put, health] = await Promise.all([
      timed(() => raw(d, 'PUT', `/redos/slow/${id}`, JSON.stringify({ id, project_version: 1, s: evil }))),
      timed(() => raw(d, 'GET', '/_health')),
    ]);
    assert.equal(put.res.status, 400, put.res.text);
    assert.match(put.res.body.errors.s, /must match pattern/);
    assert.equal(health.res.status, 200, health.res.text);
    assert.ok(put.ms < 100, `the item took ${put.ms.toFixed(1)} ms`);
    assert.ok(health.ms < 100, `GET /_health took ${health.ms.toFixed(1)} ms`);
  }
});

test('after all of it, the valid writes still work (nothing was left half-done)', async () => {
  const started = Date.now();
  const res = await d.request('PUT', `/shop/sink/${ID2}`, item({}));
  assert.equal(res.status, 200, res.text);
  assert.ok(Date.now() - started < 1000, `the next write took ${Date.now() - started} ms`);
  assert.ok((await d.levelKeys()).includes(`shop/v0000000001/sink/${ID2}`));
  const big = await small.request('PUT', `/shop/article/${ARTICLE_ID}`, ARTICLE);
  assert.equal(big.status, 200, big.text);
  assert.equal((await d.request('GET', '/_health')).status, 200);
});
