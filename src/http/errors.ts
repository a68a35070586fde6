/** Every error the API answers with: code, status and message, declared once (SPEC §2). */

export interface ErrorBody {
  message: string;
  code: string;
  errors?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return this.errors ? { message: this.message, code: this.code, errors: this.errors } : { message: this.message, code: this.code };
  }
}

type Make<A extends unknown[]> = (...args: A) => ApiError;

/** Every code the catalog declares with its status: the documented error answers of /_openapi.json come from it. */
export const ERROR_CATALOG: Array<{ code: string; statusCode: number }> = [];

function define<A extends unknown[]>(code: string, statusCode: number, message: (...args: A) => string, errors?: (...args: A) => Record<string, string> | undefined): Make<A> {
  ERROR_CATALOG.push({ code, statusCode });
  return (...args: A) => new ApiError(code, statusCode, message(...args), errors?.(...args));
}

export const Errors = {
  bodyNotJson: define('DSTORE_BODY_NOT_JSON', 400, (detail: string) => `request body is not valid JSON: ${detail}`),
  bodyMissing: define('DSTORE_BODY_MISSING', 400, (what: string) => `request body is missing: expected ${what}`),
  bodyShape: define('DSTORE_BODY_SHAPE', 400, (what: string) => `request body must be ${what}`),
  bodyTooLarge: define('DSTORE_BODY_TOO_LARGE', 413, (limit: number) => `request body is larger than the limit of ${limit} bytes (BODY_LIMIT)`),
  bodyTooDeep: define('DSTORE_BODY_TOO_DEEP', 400, (limit: number, at: string) => `request body nests arrays and objects deeper than ${limit} levels (at ${at}); nothing dstore takes needs that many`),
  badName: define('DSTORE_BAD_NAME', 400, (what: string, name: string, problem: string) => `${what} name "${name}" ${problem}`, (what: string, _name: string, problem: string) => ({ [what]: problem })),
  blueprintInvalid: define('DSTORE_BLUEPRINT_INVALID', 400, (name: string, errors: Record<string, string>) => `blueprint "${name}" is invalid: ${summarize(errors)}`, (_n: string, errors: Record<string, string>) => errors),
  itemInvalid: define('DSTORE_ITEM_INVALID', 400, (errors: Record<string, string>) => `item is invalid: ${summarize(errors)}`, (errors: Record<string, string>) => errors),
  itemsInvalid: define('DSTORE_ITEMS_INVALID', 400, (count: number, errors: Record<string, string>) => `${count} of the items are invalid; nothing was stored`, (_c: number, errors: Record<string, string>) => errors),
  idMismatch: define('DSTORE_ID_MISMATCH', 400, (path: string, body: unknown) => `id in the path (${path}) differs from id in the body (${JSON.stringify(body)})`, () => ({ id: 'differs from the id in the path' })),
  idNotUuid: define('DSTORE_ID_NOT_UUID', 400, (id: string) => `id "${id}" is not a UUID`, () => ({ id: 'must be a UUID' })),
  versionMissing: define('DSTORE_VERSION_MISSING', 400, () => 'project_version is required: the number of an existing snapshot', () => ({ project_version: 'is required' })),
  versionUnknown: define('DSTORE_VERSION_UNKNOWN', 400, (project: string, version: unknown) => `project_version ${JSON.stringify(version)} is not a snapshot of project "${project}"`, () => ({ project_version: 'is not an existing snapshot' })),
  versionRetired: define('DSTORE_VERSION_RETIRED', 400, (project: string, version: number) => `version ${version} of "${project}" is retired`, () => ({ project_version: 'is retired' })),
  copyInvalid: define('DSTORE_COPY_INVALID', 400, (errors: Record<string, string>) => `item does not fit every live version (nothing was stored): ${summarize(errors)}`, (errors: Record<string, string>) => errors),
  jobNotFound: define('DSTORE_JOB_NOT_FOUND', 404, (id: string) => `there is no job ${JSON.stringify(id)}`),
  versionNotFound: define('DSTORE_VERSION_NOT_FOUND', 404, (project: string, version: string) => `project "${project}" has no snapshot ${version}`),
  projectNotFound: define('DSTORE_PROJECT_NOT_FOUND', 404, (project: string) => `project "${project}" does not exist`),
  blueprintNotFound: define('DSTORE_BLUEPRINT_NOT_FOUND', 404, (project: string, blueprint: string, version?: number) => version === undefined ? `project "${project}" has no blueprint "${blueprint}" in its working copy` : `blueprint "${blueprint}" is not in snapshot ${version} of project "${project}"`),
  noBlueprints: define('DSTORE_NO_BLUEPRINTS', 400, (project: string) => `project "${project}" has no blueprints to snapshot`),
  conflict: define('DSTORE_CONFLICT', 409, (what: string) => what),
  migrationFailed: define('DSTORE_MIGRATION_FAILED', 502, (engine: string, reason: string) => `snapshot not created: the ${engine} migration failed: ${reason}`),
  writeRefused: define('DSTORE_WRITE_REFUSED', 502, (refused: Array<{ store: string; id: string; reason: string }>) => `${refused[0]!.store} refused the write of ${refused[0]!.id}: ${refused[0]!.reason}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}; it is in the dead-letter list (GET /_deadletter), the other engines applied it`, (refused: Array<{ store: string; id: string; reason: string }>) => Object.fromEntries(refused.map((r) => [`${r.id}.${r.store}`, r.reason]))),
  writeNotDurable: define('DSTORE_WRITE_NOT_DURABLE', 503, (pending: readonly string[], reason: string) => `the write was not applied by ${pending.join(', ')} within WRITE_TIMEOUT_MS and cannot be put on disk to be applied later (${reason}); it stays queued in memory and is applied if the engine recovers before dstore restarts: send it again once GET /_health is up`),
  queueUnavailable: define('DSTORE_QUEUE_UNAVAILABLE', 503, (reason: string) => `writes cannot be accepted now: ${reason}; nothing was stored`),
  notFound: define('DSTORE_ROUTE_NOT_FOUND', 404, (method: string, url: string) => `no route for ${method} ${url}`),
  metricsOff: define('DSTORE_METRICS_OFF', 404, () => 'metrics are off in this process (METRICS=off): GET /_metrics serves nothing'),
  methodNotAllowed: define('DSTORE_METHOD_NOT_ALLOWED', 405, (method: string, url: string) => `${method} is not allowed on ${url}`),
  badQuery: define('DSTORE_BAD_QUERY', 400, (detail: string) => `bad query string: ${detail}`),
  // access control (SPEC §10); no message ever echoes a token
  unauthorized: define('DSTORE_UNAUTHORIZED', 401, (why: string) => `${why}: send Authorization: Bearer <token>, the ADMIN_TOKEN or a token made by POST /_token`, (why: string) => ({ authorization: why })),
  forbidden: define('DSTORE_FORBIDDEN', 403, (who: string, missing: Record<string, string>) => `${who} may not do this: ${Object.values(missing).join('; ')}`, (_who: string, missing: Record<string, string>) => missing),
  protectedMode: define('DSTORE_PROTECTED_MODE', 403, (address: string) => `dstore is in protected mode and answers only clients on the loopback interface, not ${address}: set ADMIN_TOKEN (at least 32 characters, e.g. \`openssl rand -hex 32\`) and send it as Authorization: Bearer <token>, or set AUTH=off on a trusted network`),
  accessUndeclared: define('DSTORE_ACCESS_UNDECLARED', 500, (method: string, url: string) => `${method} ${url} declares no access rule, so it is refused (a fault in dstore)`),
  tokenNotFound: define('DSTORE_TOKEN_NOT_FOUND', 404, (id: string) => `there is no token ${JSON.stringify(id)} among the tokens of your projects`),
  tokenRequestInvalid: define('DSTORE_TOKEN_REQUEST_INVALID', 400, (errors: Record<string, string>) => `token request is invalid: ${summarize(errors)}`, (errors: Record<string, string>) => errors),
  // verify and rebuild (SPEC §12)
  engineUnknown: define('DSTORE_ENGINE_UNKNOWN', 400, (field: string, engine: unknown) => `${field} ${JSON.stringify(engine)} is not an engine: use elasticsearch, postgresql or level`, (field: string) => ({ [field]: 'must be elasticsearch, postgresql or level' })),
  engineNotEnabled: define('DSTORE_ENGINE_NOT_ENABLED', 400, (field: string, engine: string, enabled: readonly string[]) => `${field} ${engine} is not enabled here (STORES=${enabled.join(',')})`, (field: string) => ({ [field]: 'is not enabled (STORES)' })),
  rebuildFromItself: define('DSTORE_REBUILD_FROM_ITSELF', 400, (engine: string) => `a rebuild of ${engine} cannot read from ${engine} itself: name another engine in "from"${engine === 'level' ? ', or a "worker" whose copy is rebuilt from another copy' : ''}`, () => ({ from: 'equals the engine being rebuilt' })),
  rebuildNoSource: define('DSTORE_REBUILD_NO_SOURCE', 400, (engine: string) => `no other engine is enabled to rebuild ${engine} from`, () => ({ from: 'no other engine is enabled' })),
  workerUnknown: define('DSTORE_WORKER_UNKNOWN', 400, (worker: string, why: string) => `worker ${JSON.stringify(worker)}: ${why}`, () => ({ worker: 'is not a worker keeping a LevelDB copy' })),
  workerNeeded: define('DSTORE_WORKER_NEEDED', 400, (workers: readonly string[]) => `several workers keep a LevelDB copy: name the one to rebuild in "worker" (${workers.join(', ')})`, () => ({ worker: 'is required when several workers keep a LevelDB copy' })),
  internal: define('DSTORE_INTERNAL', 500, () => 'internal error; the details are in the server log'),
} as const;

function summarize(errors: Record<string, string>): string {
  const entries = Object.entries(errors);
  const shown = entries.slice(0, 5).map(([k, v]) => `${k} ${v}`).join('; ');
  return entries.length > 5 ? `${shown}; and ${entries.length - 5} more` : shown;
}
