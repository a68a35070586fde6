/**
 * Tells "PostgreSQL cannot be reached now, try again" (the queue waits and
 * retries) from "PostgreSQL refused this" (the write is dead-lettered).
 */

/** Socket-level failures, from node or from pg while connecting. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTDOWN', 'ENETDOWN']);

/** pg reports these without a code when the socket goes away or a pool cannot hand out a client. */
const NETWORK_MESSAGES = [/Query read timeout/i, /connection terminated/i, /timeout exceeded when trying to connect/i, /not queryable/i, /Connection ended/i, /Cannot use a pool after calling end/i];

/** SQLSTATEs that mean "later": connection (08), shutdown (57P01..57P03), cancel (57014), resources (53: disk full, "could not extend file"), system errors (58: I/O), transaction conflicts (40), auth (28: credentials are configuration, writes must wait, not be dropped). */
function transientSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('58') || code.startsWith('40') || code.startsWith('28') || code === '57P01' || code === '57P02' || code === '57P03' || code === '57014' || code === '3D000';
}

/**
 * The statement ran out of time: cancelled by the server's statement_timeout
 * (57014) or given up by the client on a silent server (pg's query_timeout).
 * Unavailable, but the queue probes health to tell a hung engine from a batch that hangs it.
 */
export function isTimeout(err: unknown): boolean {
  const e = err as PgLikeError | null;
  return sqlState(err) === '57014' || (typeof e?.message === 'string' && /Query read timeout/i.test(e.message));
}

interface PgLikeError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as PgLikeError | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isUnavailable(err: unknown): boolean {
  const e = err as PgLikeError | null;
  if (!e) return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state) return transientSqlState(state);
  if (Array.isArray(e.errors) && e.errors.length && e.errors.every(isUnavailable)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return NETWORK_MESSAGES.some((re) => re.test(message));
}

/** A relation or schema that is not there (project dropped, version abandoned): the write can never succeed. */
export function isMissingTarget(err: unknown): boolean {
  const state = sqlState(err);
  return state === '42P01' || state === '3F000';
}

/**
 * Narrower than isUnavailable: the server cannot be reached or is not accepting
 * connections yet. At start-up only this is tolerated; a refused login or a
 * missing database there is a configuration mistake and stops start-up.
 */
export function isUnreachable(err: unknown): boolean {
  const e = err as PgLikeError | null;
  if (!e) return false;
  const state = sqlState(err);
  if (state) return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || state === '53300';
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.length && e.errors.every(isUnreachable)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return NETWORK_MESSAGES.some((re) => re.test(message));
}

/** One line: node's AggregateError (localhost → ::1 and 127.0.0.1) has an empty message, so fall back to its parts. */
export function describe(err: unknown): string {
  const e = err as PgLikeError | null;
  if (!e) return String(err);
  if (typeof e.message === 'string' && e.message) {
    const state = sqlState(err);
    return state ? `${e.message} (SQLSTATE ${state})` : e.message;
  }
  if (Array.isArray(e.errors) && e.errors.length) return e.errors.map(describe).join('; ');
  if (typeof e.code === 'string') return e.code;
  return String(err);
}
