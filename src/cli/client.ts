import { Agent, request } from 'undici';
import type { JobRecord } from '../jobs/jobs.ts';

/** The error body every dstore answer of 4xx/5xx carries (SPEC §2). */
export interface ApiErrorBody {
  message: string;
  code: string;
  errors?: Record<string, string>;
}

/** dstore answered with an error status: its code, message and per-field errors. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${status} ${body.code}: ${body.message}`);
  }
}

/** dstore could not be reached at all (refused, unknown host, timeout). */
export class Unreachable extends Error {}

export interface HealthBody {
  status: 'up' | 'down';
  engines?: Record<string, { status: string; reason?: string; oldest_pending_ms?: number }>;
  queue?: { kind?: string; status: string; reason?: string; pending?: number; engines?: Record<string, { pending: number; oldestPendingMs: number; down?: string }> };
}

/** A job as GET /_jobs/{id} answers it: the server's record without its resume cursor (types only; the CLI still talks HTTP). */
export type JobBody = Omit<JobRecord, 'cursor'>;

export interface VersionCreated {
  project_version: number;
  versions: number[];
  backfill?: { job?: string; state: string; total: number; from?: string; source_version?: number };
}

export interface ProjectSummary {
  name: string;
  project_version: number | null;
  versions: number[];
  retired?: number[];
}

export interface DeadLetterBody {
  id: string;
  engine: string;
  reason: string;
  failedAt: string;
  op: string;
  project: string;
  blueprint: string;
  item_id: string;
}

export interface ClientOptions {
  /** Where dstore listens (DSTORE_URL), e.g. http://127.0.0.1:2020. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` (DSTORE_TOKEN). */
  token?: string;
  /** Per request; a bulk PUT of 1,000 items waits for every engine. */
  timeoutMs?: number;
}

/**
 * The CLI's one way to dstore: its HTTP API, nothing of the server's insides,
 * so the commands work against a remote dstore. Tests drive dstore through it too.
 */
export class DstoreClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new Unreachable(`DSTORE_URL=${JSON.stringify(options.url)} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Unreachable(`DSTORE_URL=${JSON.stringify(options.url)} must be an http:// or https:// URL`);
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token || undefined;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 16, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  /** One request; a JSON body is sent as JSON; resolves with the status and the parsed answer, throws ApiFailure for 4xx/5xx unless `accept` lists it. */
  async call<T = unknown>(method: string, path: string, body?: unknown, accept: readonly number[] = []): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await request(`${this.url}${path}`, { method: method as 'GET', headers, body: payload, dispatcher: this.agent });
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      const code = e.code ?? e.cause?.code;
      throw new Unreachable(`cannot reach dstore at ${this.url} (${code ? `${code}: ` : ''}${e.cause?.message ?? e.message}); is it running? (DSTORE_URL)`);
    }
    const text = await res.body.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.statusCode >= 400 && !accept.includes(res.statusCode)) {
      const errorBody = isErrorBody(parsed) ? parsed : { message: typeof parsed === 'string' ? parsed.slice(0, 200) : `HTTP ${res.statusCode}`, code: `HTTP_${res.statusCode}` };
      throw new ApiFailure(res.statusCode, errorBody, method, path);
    }
    return { status: res.statusCode, body: parsed as T };
  }

  async health(): Promise<{ status: number; body: HealthBody }> {
    return this.call<HealthBody>('GET', '/_health', undefined, [503]);
  }

  async projects(): Promise<ProjectSummary[]> {
    return (await this.call<{ projects: ProjectSummary[] }>('GET', '/_project')).body.projects;
  }

  /** The working copy; an unknown project has an empty one. */
  async working(project: string): Promise<Record<string, unknown>> {
    const res = await this.call<Record<string, unknown> | ApiErrorBody>('GET', `/${encodeURIComponent(project)}/_blueprint`, undefined, [404]);
    if (res.status === 404) {
      if ((res.body as ApiErrorBody).code === 'DSTORE_PROJECT_NOT_FOUND') return {};
      throw new ApiFailure(404, res.body as ApiErrorBody, 'GET', `/${project}/_blueprint`);
    }
    return res.body as Record<string, unknown>;
  }

  /** Latest ready version and the live ones; null latest for a project without snapshots (or none at all). */
  async versions(project: string): Promise<{ project_version: number | null; versions: number[]; retired?: number[] }> {
    const res = await this.call<{ project_version: number | null; versions: number[] } | ApiErrorBody>('GET', `/${encodeURIComponent(project)}/_version`, undefined, [404]);
    if (res.status === 404) return { project_version: null, versions: [] };
    return res.body as { project_version: number | null; versions: number[] };
  }

  async snapshotBlueprints(project: string, version: number): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('GET', `/${encodeURIComponent(project)}/_blueprint/${version}`)).body;
  }

  async putWorking(project: string, blueprints: unknown): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('PUT', `/${encodeURIComponent(project)}/_blueprint`, blueprints)).body;
  }

  async snapshot(project: string): Promise<VersionCreated> {
    return (await this.call<VersionCreated>('POST', `/${encodeURIComponent(project)}/_version`)).body;
  }

  async job(id: string): Promise<JobBody> {
    return (await this.call<JobBody>('GET', `/_jobs/${encodeURIComponent(id)}`)).body;
  }

  async jobs(project?: string): Promise<JobBody[]> {
    return (await this.call<{ jobs: JobBody[] }>('GET', `/_jobs${project ? `?project=${encodeURIComponent(project)}` : ''}`)).body.jobs;
  }

  async deadLetters(): Promise<DeadLetterBody[]> {
    return (await this.call<{ letters: DeadLetterBody[] }>('GET', '/_deadletter')).body.letters;
  }

  async replay(ids?: readonly string[]): Promise<number> {
    return (await this.call<{ replayed: number }>('POST', '/_deadletter/_replay', ids && ids.length ? { ids } : undefined)).body.replayed;
  }

  /** Bulk PUT of items already serialized as a JSON array (the import sends its lines as they are). */
  async putItems(project: string, blueprint: string, items: unknown[] | string): Promise<{ count: number; state: string }> {
    return (await this.call<{ count: number; state: string }>('PUT', `/${encodeURIComponent(project)}/${encodeURIComponent(blueprint)}`, items)).body;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ApiErrorBody).message === 'string' && typeof (v as ApiErrorBody).code === 'string';
}
