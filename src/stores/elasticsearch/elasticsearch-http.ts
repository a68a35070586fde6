import { Pool } from 'undici';
import { StoreTimeoutError, StoreUnavailableError } from '../store.ts';

/** Where the engine is and how to sign in (SPEC §7: ELASTICSEARCH_HOST may carry user:pass@). */
export interface ElasticsearchConfig {
  url: string;
  username?: string;
  password?: string;
  apiKey?: string;
}

export interface RequestOptions {
  /** JSON body; a string is sent as is (NDJSON for `_bulk`). */
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Statuses that are answers, not errors (e.g. 404 for "does it exist?"). */
  accept?: readonly number[];
  /** A caller's own deadline (probes): passing it means "down". Without it REQUEST_TIMEOUT_MS applies and ends in EngineTimeoutError. */
  timeoutMs?: number;
}

/** Every request without its own deadline gets this one, so a request the engine never answers cannot hold a lane forever. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface EngineResponse<T> {
  status: number;
  body: T;
}

/** The engine's own description of an error: `{ type, reason, caused_by }`, or a bare string. */
export interface EngineErrorBody {
  type?: string;
  reason?: string;
  caused_by?: EngineErrorBody;
}

/** The engine refused a request (4xx): its type and reason, as it said them. */
export class EngineRequestError extends Error {
  constructor(
    readonly request: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(`${request}: ${status} ${reason}`);
  }
}

/** The engine cannot be used now (unreachable, overloaded, credentials refused); `status` when it answered. */
export class EngineUnavailableError extends StoreUnavailableError {
  constructor(reason: string, readonly status?: number, options?: { cause?: unknown }) {
    super('elasticsearch', reason, options);
  }
}

/** A request the engine did not answer within REQUEST_TIMEOUT_MS: writes/applier.ts probes health to tell "down" from "this batch". */
export class EngineTimeoutError extends StoreTimeoutError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('elasticsearch', reason, options);
  }
}

/** `type: reason (caused by type: reason)`, from whatever shape the engine used. */
export function engineReason(error: unknown): string {
  if (typeof error === 'string') return error;
  if (!error || typeof error !== 'object') return 'no reason given';
  const e = error as EngineErrorBody;
  let text = `${e.type ?? 'error'}: ${e.reason ?? 'no reason given'}`;
  const cause = e.caused_by;
  if (cause && (cause.reason !== e.reason || cause.type !== e.type)) text += ` (caused by ${cause.type ?? 'error'}: ${cause.reason ?? '?'})`;
  return text;
}

/** Statuses that say "not now" rather than "not this": retried with backoff instead of refused for good. */
function isUnavailableStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 408 || status === 429 || status >= 500;
}

/**
 * Plain JSON-over-HTTP to one Elasticsearch/OpenSearch endpoint through a
 * keep-alive pool: only the REST API Elasticsearch 7.10+, 8, 9 and OpenSearch 1–3 share.
 */
export class ElasticsearchConnection {
  /** scheme://host:port, without credentials: safe for messages. */
  readonly origin: string;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private pool: Pool | null = null;

  constructor(config: ElasticsearchConfig, private readonly connections = 8) {
    const url = new URL(config.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.headers = { accept: 'application/json' };
    const username = config.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
    const password = config.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
    if (config.apiKey) this.headers['authorization'] = `ApiKey ${config.apiKey}`;
    else if (username !== undefined) this.headers['authorization'] = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  private get dispatcher(): Pool {
    this.pool ??= new Pool(this.origin, { connections: this.connections, pipelining: 1, keepAliveTimeout: 30_000, connectTimeout: 5_000 });
    return this.pool;
  }

  /**
   * Sends one request and parses the JSON answer. Throws EngineUnavailableError when
   * the engine cannot be reached or says "not now" (5xx, 429, 401/403), and
   * EngineRequestError with the engine's reason for any other status not in `accept`.
   */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<EngineResponse<T>> {
    const what = `${method} ${path}`;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const qs = query.toString();
    const headers = { ...this.headers };
    let body: string | undefined;
    if (typeof options.body === 'string') {
      body = options.body;
      headers['content-type'] = 'application/x-ndjson';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let res;
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    // one deadline for the whole exchange, headers and body alike
    const signal = AbortSignal.timeout(timeoutMs);
    const failed = (err: unknown): Error => {
      const problem = `${what} at ${this.origin}: ${connectionProblem(err, timeoutMs)}`;
      if (signal.aborted && options.timeoutMs === undefined) return new EngineTimeoutError(problem, { cause: err });
      return new EngineUnavailableError(problem, undefined, { cause: err });
    };
    try {
      res = await this.dispatcher.request({
        method: method as 'GET',
        path: `${this.basePath}${path}${qs ? `?${qs}` : ''}`,
        headers,
        body,
        signal,
      });
    } catch (err) {
      throw failed(err);
    }
    let parsed: unknown;
    try {
      if (method === 'HEAD') await res.body.dump();
      else {
        const text = await res.body.text();
        parsed = text ? JSON.parse(text) : undefined;
      }
    } catch (err) {
      if (signal.aborted) throw failed(err);
      if (res.statusCode < 300) throw new EngineUnavailableError(`${what} at ${this.origin}: unreadable answer: ${(err as Error).message}`, res.statusCode, { cause: err });
      parsed = undefined;
    }
    const status = res.statusCode;
    if (status < 300 || options.accept?.includes(status)) return { status, body: parsed as T };
    const reason = engineReason((parsed as { error?: unknown } | undefined)?.error ?? `HTTP ${status}`);
    if (isUnavailableStatus(status)) throw new EngineUnavailableError(`${what} at ${this.origin}: ${status} ${reason}`, status);
    throw new EngineRequestError(what, status, reason);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.close().catch(() => pool.destroy());
  }
}

function connectionProblem(err: unknown, timeoutMs?: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return [e.code ?? e.cause?.code, e.message].filter(Boolean).join(' ') || String(err);
}
