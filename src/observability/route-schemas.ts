import { ERROR_CATALOG } from '../http/errors.ts';

/**
 * JSON Schemas of every route (SPEC §13): the one source of /_openapi.json and
 * /_docs. They describe; dstore's own code validates (its messages are the
 * contract), so the server compiles them into no validator and no serializer.
 */

type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string): Schema => ({ type: 'integer', description });
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({ type: 'object', properties, ...(required.length ? { required } : {}), ...extra });
const arr = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description ? { description } : {}) });

const NAME = '^[a-z][a-z0-9_]{0,62}$';
const P = {
  project: str('project name', { pattern: NAME }),
  blueprint: str('blueprint name', { pattern: NAME }),
  id: str('item id (a UUID)', { format: 'uuid' }),
  version: str('snapshot number (1, 2, …)', { pattern: '^[1-9][0-9]*$' }),
  job: str('job id (a UUID)', { format: 'uuid' }),
};
const params = (...names: Array<keyof typeof P>): Schema => obj(Object.fromEntries(names.map((n) => [n, P[n]])), names);

/** The error body every 4xx/5xx answer has, its codes taken from the catalog in src/http/errors.ts. */
function errorBody(status: number): Schema {
  const codes = [...new Set(ERROR_CATALOG.filter((e) => e.statusCode === status).map((e) => e.code))];
  return {
    description: `${codes.length ? codes.join(', ') : 'error'} (see the error catalog)`,
    ...obj({ message: str('what is wrong, and where'), code: str('the error code', codes.length ? { enum: codes } : {}), errors: { type: 'object', description: 'field → what is wrong with it', additionalProperties: { type: 'string' } } }, ['message', 'code']),
  };
}

/** Statuses every route can answer: a caller refused (SPEC §10) or a fault. */
const ALWAYS = [401, 403, 500];
function errors(...statuses: number[]): Record<number, Schema> {
  return Object.fromEntries([...new Set([...statuses, ...ALWAYS])].sort().map((s) => [s, errorBody(s)]));
}

const column = obj({ type: str('a column type of SPEC §4 (string, text, integer, point, uuid[] …)'), validation: { type: 'object', description: 'required, minimum, maximum, pattern …' }, renamed_from: str('the column of the previous snapshot this one is fed from') }, ['type'], { additionalProperties: true });
const blueprint = obj(
  { postgresql: obj({ table: str('PostgreSQL table name') }, [], { additionalProperties: true }), elasticsearch: obj({ type: str('Elasticsearch type name') }, [], { additionalProperties: true }), columns: { type: 'object', additionalProperties: column } },
  ['columns'],
  { description: 'a blueprint (normalized: defaults filled in)', additionalProperties: true },
);
const blueprints = { type: 'object', description: 'blueprint name → blueprint', additionalProperties: blueprint };
const versionsBody = obj({ project_version: { type: 'integer', nullable: true, description: 'latest ready snapshot' }, versions: arr({ type: 'integer' }, 'live versions'), retired: arr({ type: 'integer' }) }, ['project_version', 'versions']);
const backfill = obj({ job: str('job id'), state: str('queued, running, done, failed'), total: { type: 'integer' }, from: str('engine read'), source_version: { type: 'integer' } }, ['state', 'total'], { additionalProperties: true });
const job = obj(
  {
    id: str('job id'),
    kind: str('backfill, verify, rebuild'),
    project: P.project,
    version: { type: 'integer' },
    state: str('queued, running, done, failed', { enum: ['queued', 'running', 'done', 'failed'] }),
    total: int('items to handle (known before the first)'),
    estimated: { type: 'boolean' },
    done: int('items handled'),
    skipped: int('items that do not fit'),
    items_per_s: { type: 'number' },
    started_at: str('ISO time'),
    finished_at: str('ISO time'),
    error: str('why it failed'),
    from: str('engine read'),
    result: { description: "the job's outcome (verify: differences found)" },
  },
  ['id', 'kind', 'project', 'state', 'total', 'done', 'skipped', 'started_at'],
  { additionalProperties: true },
);
const itemAnswer = obj({ id: P.id, project_version: { type: 'integer' }, state: str('applied (every engine has it) or accepted (durably queued)', { enum: ['applied', 'accepted'] }), pending: arr({ type: 'string' }, 'engines that had not applied it yet (202)') }, ['id', 'state']);
const bulkAnswer = obj({ count: { type: 'integer' }, state: str('applied or accepted', { enum: ['applied', 'accepted'] }), pending: arr({ type: 'string' }) }, ['count', 'state']);
const engineHealth = obj({ status: str('up, down or stuck', { enum: ['up', 'down', 'stuck'] }), reason: str('why not up'), oldest_pending_ms: { type: 'integer' } }, ['status']);
const health = obj(
  { status: str('up when every engine and the queue are', { enum: ['up', 'down'] }), engines: { type: 'object', additionalProperties: engineHealth }, queue: obj({ kind: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' }, pending: { type: 'integer' } }, ['status'], { additionalProperties: true }) },
  ['status'],
  { description: 'without a token in token mode only { status }' },
);
const token = obj({ id: str('token id'), name: { type: 'string' }, projects: arr({ type: 'string' }), scopes: arr({ type: 'string', enum: ['read', 'write', 'schema', 'admin'] }), created_at: { type: 'string' }, last_used_at: { type: 'string', nullable: true } }, ['id', 'name', 'projects', 'scopes']);
const noContent = { 204: { description: 'done; no body', type: 'null' } };
const asyncQuery = obj({ async: str('true: answer 202 once durably queued', { enum: ['true', 'false', ''] }), refresh: str('wait_for: answer once search shows it', { enum: ['wait_for', 'true', 'false', ''] }) });
const waitQuery = obj({ wait: str('backfill: answer once the back-fill is done', { enum: ['backfill'] }) });
const item = obj({ id: P.id, project_version: int('the snapshot it is written for'), links: arr(P.id) }, ['id', 'project_version'], { description: "one item: its id, its snapshot and the blueprint's columns", additionalProperties: true });

const tag = (name: string) => ({ tags: [name] });

export const RouteSchemas = {
  putBlueprint: { ...tag('blueprints'), summary: 'create or replace one blueprint in the working copy', params: params('project', 'blueprint'), body: blueprint, response: { 200: blueprint, ...errors(400, 413) } },
  getBlueprint: { ...tag('blueprints'), summary: 'one blueprint of the working copy', params: params('project', 'blueprint'), response: { 200: blueprint, ...errors(400, 404) } },
  getFrozenBlueprint: { ...tag('blueprints'), summary: 'one blueprint as frozen in a snapshot', params: params('project', 'blueprint', 'version'), response: { 200: blueprint, ...errors(400, 404) } },
  deleteBlueprint: { ...tag('blueprints'), summary: 'remove a blueprint from the working copy', params: params('project', 'blueprint'), response: { ...noContent, ...errors(400, 404) } },
  putWorking: { ...tag('blueprints'), summary: 'replace the whole working copy', params: params('project'), body: blueprints, response: { 200: blueprints, ...errors(400, 413) } },
  getWorking: { ...tag('blueprints'), summary: 'the working copy', params: params('project'), response: { 200: blueprints, ...errors(400, 404) } },
  getSnapshot: { ...tag('blueprints'), summary: 'every blueprint of a snapshot', params: params('project', 'version'), response: { 200: blueprints, ...errors(400, 404) } },
  putProject: {
    ...tag('projects'),
    summary: 'replace the working copy and snapshot it, all or nothing',
    params: params('project'),
    querystring: waitQuery,
    body: blueprints,
    response: { 200: obj({ project_version: { type: 'integer' }, versions: arr({ type: 'integer' }), blueprints, backfill }, ['project_version', 'versions', 'blueprints']), ...errors(400, 409, 413, 502) },
  },
  getProject: {
    ...tag('projects'),
    summary: 'a project: working copy and versions',
    params: params('project'),
    response: { 200: obj({ name: { type: 'string' }, createdAt: { type: 'string' }, versions: arr({ type: 'integer' }), retired: arr({ type: 'integer' }), project_version: { type: 'integer', nullable: true }, blueprints }, ['name', 'versions', 'blueprints']), ...errors(400, 404) },
  },
  deleteProject: { ...tag('projects'), summary: 'drop a project from every engine and the catalog', params: params('project'), response: { ...noContent, ...errors(400, 404, 409) } },
  listProjects: { ...tag('projects'), summary: 'every project', response: { 200: obj({ projects: arr(obj({ name: { type: 'string' }, project_version: { type: 'integer', nullable: true }, versions: arr({ type: 'integer' }), retired: arr({ type: 'integer' }) }, ['name', 'versions'])) }, ['projects']), ...errors() } },
  createVersion: { ...tag('versions'), summary: 'the next snapshot; answers once every engine is migrated', params: params('project'), querystring: waitQuery, response: { 201: obj({ project_version: { type: 'integer' }, versions: arr({ type: 'integer' }), backfill }, ['project_version', 'versions']), ...errors(400, 404, 409, 502) } },
  listVersions: { ...tag('versions'), summary: 'latest ready version, live and retired ones', params: params('project'), response: { 200: versionsBody, ...errors(400, 404) } },
  getVersion: { ...tag('versions'), summary: "one version's state and back-fill", params: params('project', 'version'), response: { 200: obj({ project_version: { type: 'integer' }, state: str('backfilling, ready, retired'), created_at: { type: 'string' }, backfill: job }, ['project_version', 'state']), ...errors(400, 404) } },
  retireVersion: { ...tag('versions'), summary: 'retire a version: dropped from every engine', params: params('project', 'version'), response: { ...noContent, ...errors(400, 404, 409) } },
  putItem: { ...tag('items'), summary: 'store one item', params: params('project', 'blueprint', 'id'), querystring: asyncQuery, body: item, response: { 200: itemAnswer, 202: itemAnswer, ...errors(400, 404, 413, 502, 503) } },
  deleteItem: { ...tag('items'), summary: 'delete one item from every engine and version', params: params('project', 'blueprint', 'id'), querystring: asyncQuery, response: { ...noContent, 202: obj({ id: P.id, state: { type: 'string' }, pending: arr({ type: 'string' }) }, ['state']), ...errors(400, 404, 502, 503) } },
  putItems: { ...tag('items'), summary: 'store many items: all validated first', params: params('project', 'blueprint'), querystring: asyncQuery, body: arr(item), response: { 200: bulkAnswer, 202: bulkAnswer, ...errors(400, 404, 413, 502, 503) } },
  deleteItems: { ...tag('items'), summary: 'delete many items by id', params: params('project', 'blueprint'), querystring: asyncQuery, body: arr(P.id), response: { ...noContent, 202: bulkAnswer, ...errors(400, 404, 413, 502, 503) } },
  health: { ...tag('operations'), summary: 'each engine and the queue: up or down, with the reason', response: { 200: health, 503: { ...health, description: 'an engine or the queue is down' }, ...errors() } },
  deadLetters: {
    ...tag('operations'),
    summary: 'writes that ended in the dead-letter queue',
    response: { 200: obj({ count: { type: 'integer' }, letters: arr(obj({ id: { type: 'string' }, engine: { type: 'string' }, reason: { type: 'string' }, failedAt: { type: 'string' }, op: { type: 'string' }, project: { type: 'string' }, blueprint: { type: 'string' }, item_id: { type: 'string' }, item: { type: 'object' } }, ['id', 'engine', 'reason'])) }, ['count', 'letters']), ...errors() },
  },
  replay: { ...tag('operations'), summary: 'put dead letters back on the queue: all, or those named', body: { description: 'absent (all), an array of ids, or { "ids": [...] }', oneOf: [arr({ type: 'string' }), obj({ ids: arr({ type: 'string' }) })] }, response: { 202: obj({ replayed: { type: 'integer' } }, ['replayed']), ...errors(400, 503) } },
  listJobs: { ...tag('jobs'), summary: 'back-fills, verifications, rebuilds; newest first', querystring: obj({ project: P.project }), response: { 200: obj({ count: { type: 'integer' }, jobs: arr(job) }, ['count', 'jobs']), ...errors(400) } },
  getJob: { ...tag('jobs'), summary: "one job's progress", params: obj({ id: P.job }, ['id']), response: { 200: job, ...errors(404) } },
  skipped: { ...tag('jobs'), summary: 'the first 100 items a job could not carry, with reasons', params: obj({ id: P.job }, ['id']), response: { 200: obj({ job: { type: 'string' }, skipped: { type: 'integer' }, listed: arr(obj({ id: { type: 'string' }, blueprint: { type: 'string' }, reason: { type: 'string' }, errors: { type: 'object' } }, ['id', 'reason'])) }, ['skipped', 'listed']), ...errors(404) } },
  verify: { ...tag('jobs'), summary: 'start a verification of every engine (a job)', params: params('project'), querystring: obj({ wait: { type: 'string' } }), body: obj({ version: { type: 'integer' } }), response: { 200: job, 202: job, ...errors(400, 404, 409) } },
  rebuild: {
    ...tag('jobs'),
    summary: 'start a rebuild of one engine from another (a job)',
    params: params('project'),
    querystring: obj({ wait: { type: 'string' } }),
    body: obj({ engine: str('the engine to rebuild', { enum: ['elasticsearch', 'postgresql', 'level'] }), from: str('the engine read'), worker: str('WORKER_ID of a LevelDB copy'), version: { type: 'integer' } }, ['engine']),
    response: { 200: job, 202: job, ...errors(400, 404, 409) },
  },
  createToken: { ...tag('tokens'), summary: 'make a token (its secret is shown once)', body: obj({ name: { type: 'string' }, projects: arr({ type: 'string' }), scopes: arr({ type: 'string', enum: ['read', 'write', 'schema', 'admin'] }) }, ['name', 'projects', 'scopes']), response: { 201: { ...token, properties: { ...(token['properties'] as Schema), token: str('the secret: shown only now') }, required: [...(token['required'] as string[]), 'token'] }, ...errors(400, 413) } },
  listTokens: { ...tag('tokens'), summary: 'every token (never their secrets)', response: { 200: obj({ count: { type: 'integer' }, tokens: arr(token) }, ['tokens']), ...errors() } },
  revokeToken: { ...tag('tokens'), summary: 'revoke a token', params: obj({ id: str('token id') }, ['id']), response: { ...noContent, ...errors(404) } },
  metrics: { ...tag('operations'), summary: 'Prometheus metrics (text format)', response: { 200: { description: 'the Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(404) } },
  openapi: { ...tag('operations'), summary: 'this OpenAPI 3 document', response: { 200: { description: 'the OpenAPI document', type: 'object', additionalProperties: true }, ...errors() } },
} as const;
