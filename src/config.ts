import type { StoreName } from './stores/store.ts';
import { LOG_LEVELS, type LogLevel } from './observability/logging.ts';

/** Settings from the environment (SPEC §7). Any bad value stops start-up with one line naming it. */
export interface Config {
  role: 'all' | 'api' | 'worker';
  port: number;
  host: string;
  stores: StoreName[];
  levelPath: string;
  projectFilePath: string;
  queuePath: string;
  bodyLimit: number;
  writeTimeoutMs: number;
  /** Items per second per back-fill job; 0 is unlimited (SPEC §9). */
  backfillRate: number;
  /** TOMBSTONE_TTL_S: stamps of deletes older than this are pruned, and no write older than this is applied (SPEC §11). */
  tombstoneTtlS: number;
  /** How often the workers prune tombstones: min(TTL, 1 h); PRUNE_INTERVAL_MS overrides it (tests). */
  pruneIntervalMs: number;
  queueConnectionString?: string;
  /** AUTH=off opens every route to every client (a trusted network); on (the default) is protected mode or tokens (SPEC §10). */
  auth: 'on' | 'off';
  /** ADMIN_TOKEN: may do everything; set, every request needs a bearer token. */
  adminToken?: string;
  /** TLS_CERT and TLS_KEY: PEM files; both set, the API serves HTTPS. */
  tls?: { certPath: string; keyPath: string };
  /** pino level of the process's log (LOG_LEVEL, `info`); `silent` writes none. */
  logLevel: LogLevel;
  /** Prometheus metrics and GET /_metrics (METRICS=on|off, on). */
  metrics: boolean;
  /** Where a ROLE=worker process serves GET /_metrics (it has no HTTP API). */
  metricsPort?: number;
  /** Where projects, snapshots, tokens and jobs live (SPEC §11): CATALOG, postgresql when POSTGRESQL_HOST is set, else file. */
  catalog: 'file' | 'postgresql';
  postgresql?: { host: string; port: number; user?: string; password?: string; database: string };
  elasticsearch?: { url: string; username?: string; password?: string; apiKey?: string };
}

export class ConfigError extends Error {}

const STORE_NAMES: readonly StoreName[] = ['postgresql', 'elasticsearch', 'level'];
const ROLES = ['all', 'api', 'worker'] as const;

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name}=${raw} is outside ${min}..${max}`);
  return n;
}

function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const raw = env['LOG_LEVEL'];
  if (raw === undefined || raw === '') return 'info';
  const level = raw.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`LOG_LEVEL=${JSON.stringify(raw)} must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} must be on or off`);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env, roleArg?: string): Config {
  const role = (roleArg ?? env['ROLE'] ?? 'all') as Config['role'];
  if (!ROLES.includes(role)) throw new ConfigError(`ROLE=${JSON.stringify(role)} must be one of ${ROLES.join(', ')}`);

  let stores: StoreName[];
  if (env['STORES']) {
    const names = env['STORES'].split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.find((n) => !STORE_NAMES.includes(n as StoreName));
    if (unknown) throw new ConfigError(`STORES names unknown engine "${unknown}" (known: ${STORE_NAMES.join(', ')})`);
    stores = [...new Set(names as StoreName[])];
  } else {
    // embedded default: LevelDB, plus each server engine whose host is configured
    stores = [];
    if (env['POSTGRESQL_HOST']) stores.push('postgresql');
    if (env['ELASTICSEARCH_HOST']) stores.push('elasticsearch');
    stores.push('level');
  }
  if (!stores.length) throw new ConfigError('STORES is empty: name at least one of postgresql, elasticsearch, level');

  const config: Config = {
    role,
    port: integer(env, 'PORT', 2020, 0, 65535),
    host: env['HOST'] || '0.0.0.0',
    stores,
    levelPath: env['LEVEL_PATH'] || 'storage/level',
    projectFilePath: env['PROJECT_FILE_PATH'] || 'storage/blueprint',
    queuePath: env['QUEUE_PATH'] || 'storage/queue',
    bodyLimit: integer(env, 'BODY_LIMIT', 10 * 1024 * 1024, 1024, 2 ** 31 - 1),
    writeTimeoutMs: integer(env, 'WRITE_TIMEOUT_MS', 10_000, 0, 3_600_000),
    backfillRate: integer(env, 'BACKFILL_RATE', 0, 0, 10_000_000),
    tombstoneTtlS: integer(env, 'TOMBSTONE_TTL_S', 604_800, 1, 315_360_000),
    pruneIntervalMs: 0,
    ...accessSettings(env),
    logLevel: logLevel(env),
    metrics: onOff(env, 'METRICS', true),
    catalog: catalogKind(env),
  };
  if (env['METRICS_PORT']) config.metricsPort = integer(env, 'METRICS_PORT', 0, 1, 65535);

  config.pruneIntervalMs = integer(env, 'PRUNE_INTERVAL_MS', Math.min(config.tombstoneTtlS, 3600) * 1000, 10, 3_600_000);

  const queue = env['QUEUE_CONNECTIONSTRING'];
  if (queue) {
    if (!/^amqps?:\/\//.test(queue)) throw new ConfigError(`QUEUE_CONNECTIONSTRING must be an amqp:// or amqps:// URL`);
    config.queueConnectionString = queue;
  } else if (role !== 'all') {
    throw new ConfigError(`ROLE=${role} needs QUEUE_CONNECTIONSTRING: without RabbitMQ the API and its workers share one process`);
  }

  if (config.catalog === 'postgresql' && !env['POSTGRESQL_HOST']) throw new ConfigError('CATALOG=postgresql needs POSTGRESQL_HOST: the catalog lives in the schema dstore_catalog of POSTGRESQL_DATABASE');
  if (stores.includes('postgresql') || config.catalog === 'postgresql') {
    const host = env['POSTGRESQL_HOST'];
    if (!host) throw new ConfigError('POSTGRESQL_HOST is required when STORES includes postgresql');
    config.postgresql = {
      host,
      port: integer(env, 'POSTGRESQL_PORT', 5432, 1, 65535),
      user: env['POSTGRESQL_USER'] || undefined,
      password: env['POSTGRESQL_PASSWORD'] || undefined,
      database: env['POSTGRESQL_DATABASE'] || 'dstore',
    };
    if (!/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(config.postgresql.database)) throw new ConfigError(`POSTGRESQL_DATABASE=${JSON.stringify(config.postgresql.database)} is not a plain database name`);
  }
  if (stores.includes('elasticsearch')) {
    const url = env['ELASTICSEARCH_HOST'];
    if (!url) throw new ConfigError('ELASTICSEARCH_HOST is required when STORES includes elasticsearch');
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    } catch {
      throw new ConfigError(`ELASTICSEARCH_HOST=${JSON.stringify(url)} is not an http(s) URL`);
    }
    config.elasticsearch = {
      url,
      username: env['ELASTICSEARCH_USERNAME'] || undefined,
      password: env['ELASTICSEARCH_PASSWORD'] || undefined,
      apiKey: env['ELASTICSEARCH_API_KEY'] || undefined,
    };
  }
  return config;
}

function catalogKind(env: NodeJS.ProcessEnv): Config['catalog'] {
  const raw = env['CATALOG'];
  if (raw === undefined || raw === '') return env['POSTGRESQL_HOST'] ? 'postgresql' : 'file';
  const kind = raw.trim().toLowerCase();
  if (kind !== 'file' && kind !== 'postgresql') throw new ConfigError(`CATALOG=${JSON.stringify(raw)} must be file or postgresql`);
  return kind;
}

const ADMIN_TOKEN_MIN = 32;

function accessSettings(env: NodeJS.ProcessEnv): Pick<Config, 'auth' | 'adminToken' | 'tls'> {
  const rawAuth = env['AUTH'];
  const auth = rawAuth === undefined || rawAuth === '' ? 'on' : rawAuth.trim().toLowerCase();
  if (auth !== 'on' && auth !== 'off') throw new ConfigError(`AUTH=${JSON.stringify(rawAuth)} must be on or off`);
  const out: Pick<Config, 'auth' | 'adminToken' | 'tls'> = { auth };
  const token = env['ADMIN_TOKEN'];
  if (token !== undefined && token !== '') {
    // the value itself is never repeated: a message may end up in a log
    if (token.length < ADMIN_TOKEN_MIN) throw new ConfigError(`ADMIN_TOKEN is ${token.length} characters long; it must be at least ${ADMIN_TOKEN_MIN} (e.g. openssl rand -hex 32)`);
    if (!/^[\x21-\x7e]+$/.test(token)) throw new ConfigError('ADMIN_TOKEN must be visible ASCII characters without spaces (it travels in an Authorization header)');
    if (auth === 'off') throw new ConfigError('AUTH=off and ADMIN_TOKEN contradict each other: AUTH=off answers every client without a token; unset one of them');
    out.adminToken = token;
  }
  const cert = env['TLS_CERT'] || undefined;
  const key = env['TLS_KEY'] || undefined;
  if (cert && !key) throw new ConfigError('TLS_CERT is set but TLS_KEY is not: HTTPS needs both PEM files');
  if (key && !cert) throw new ConfigError('TLS_KEY is set but TLS_CERT is not: HTTPS needs both PEM files');
  if (cert && key) out.tls = { certPath: cert, keyPath: key };
  return out;
}
