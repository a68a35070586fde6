import type { FastifyInstance } from 'fastify';
import { openCatalog, type OpenedCatalog } from './catalog/open-catalog.ts';
import { dropAll, migrateAll } from './catalog/migration.ts';
import { ConfigError, readConfig, type Config } from './config.ts';
import type { EngineControl } from './http/engines.ts';
import { buildApi } from './http/server.ts';
import { accessFromConfig, readTls } from './auth/setup.ts';
import { Versioning } from './http/versioning.ts';
import { backfillRunner } from './jobs/backfill.ts';
import { rebuildRunner } from './jobs/rebuild.ts';
import type { CopyReader } from './jobs/sources.ts';
import { verifyRunner } from './jobs/verify.ts';
import type { RabbitQueue } from './writes/rabbitmq/rabbit-queue.ts';
import { Jobs } from './jobs/jobs.ts';
import { createStores } from './stores/registry.ts';
import type { EngineHealth, Store } from './stores/store.ts';
import { InProcessQueue } from './writes/in-process-queue.ts';
import { setTombstoneTtl } from './writes/applier.ts';
import { Pruner } from './writes/pruner.ts';
import type { WriteQueue } from './writes/queue.ts';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { createLogger, logLine } from './observability/logging.ts';
import { MeteredStore, Metrics } from './observability/metrics.ts';

/** Health checks answer within this, so a hung engine shows as down instead of hanging /_health. */
const HEALTH_TIMEOUT_MS = 2000;

async function timedHealth(store: Store): Promise<EngineHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<EngineHealth>((resolve) => (timer = setTimeout(() => resolve({ status: 'down', reason: `no answer within ${HEALTH_TIMEOUT_MS} ms` }), HEALTH_TIMEOUT_MS)));
  try {
    return await Promise.race([store.health().catch((e: Error) => ({ status: 'down' as const, reason: e.message })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function engineControl(stores: readonly Store[], queue: WriteQueue, log: (msg: string) => void = () => {}): EngineControl {
  const shared = stores.filter((s) => !queue.perWorker.includes(s.name));
  return {
    migrate: (snapshot) => migrateAll(stores, snapshot, log),
    drop: async (project, versions) => {
      await dropAll(shared, project, versions);
      await queue.dropCopies(project, versions);
    },
    activate: async (snapshot) => {
      for (const store of stores) await store.activate(snapshot);
    },
    retire: async (project, version) => {
      // writes accepted before the version was retired land first, so none recreates what is dropped
      await queue.barrier();
      for (const store of shared) await store.retire(project, version);
      await queue.retireCopies(project, version);
    },
    health: async () => Object.fromEntries(await Promise.all(stores.map(async (s) => [s.name, await timedHealth(s)] as const))),
  };
}

async function createQueue(config: Config, stores: Store[], runWorkers: boolean, log: (msg: string) => void): Promise<WriteQueue> {
  if (config.queueConnectionString) {
    const { RabbitQueue } = await import('./writes/rabbitmq/rabbit-queue.ts');
    return new RabbitQueue({ url: config.queueConnectionString, stores, runWorkers, runApi: config.role !== 'worker', log });
  }
  return new InProcessQueue(stores, config.queuePath, log);
}

export interface Running {
  config: Config;
  logger: Logger;
  app: FastifyInstance | null;
  stop(): Promise<void>;
}

/** Starts dstore as configured: the API, the workers, or both. */
export async function start(config: Config): Promise<Running> {
  const logger = createLogger(config.logLevel);
  const log = logLine(logger);
  const metrics = config.metrics ? new Metrics() : undefined;
  // no write older than TOMBSTONE_TTL_S is applied, journaled ones included (SPEC §11)
  setTombstoneTtl(config.tombstoneTtlS);
  // the file catalog's lock is taken first, so a second process on the directory is told so before anything else is opened
  let opened: OpenedCatalog | null = config.role !== 'worker' && config.catalog === 'file' ? await openCatalog(config, log) : null;
  const created = await createStores(config);
  const all = metrics ? created.map((store) => new MeteredStore(store, metrics)) : created;
  const queue = await createQueue(config, all, config.role !== 'api', log);
  // an API-only process keeps no copy of the per-worker engines (LevelDB): its workers do
  const stores = config.role === 'api' ? all.filter((s) => !queue.perWorker.includes(s.name)) : all;
  for (const store of stores) {
    try {
      await store.open();
    } catch (err) {
      const setting = store.name === 'level' ? `LEVEL_PATH=${config.levelPath}` : store.name.toUpperCase();
      throw new ConfigError(`cannot open ${store.name} (${setting}): ${(err as Error).message}`);
    }
  }
  await queue.start();
  // the processes that apply writes prune the tombstones of their engines (an API-only process applies none)
  const pruner = config.role === 'api' ? null : new Pruner(stores, { ttlSeconds: config.tombstoneTtlS, intervalMs: config.pruneIntervalMs, log });
  pruner?.start();

  let app: FastifyInstance | null = null;
  let runningJobs: Jobs | null = null;
  let metricsServer: Server | null = null;
  if (config.role !== 'worker') {
    opened ??= await openCatalog(config, log);
    const catalog = opened.catalog;
    const jobs = new Jobs(opened.jobs, log);
    try {
      await jobs.load();
    } catch (err) {
      throw new ConfigError(`cannot read the jobs of the catalog (${opened.where}): ${(err as Error).message}`);
    }
    const engines = engineControl(stores, queue, log);
    const versioning = new Versioning(catalog, engines, jobs, log);
    jobs.define('backfill', backfillRunner({ catalog, queue, sources: stores, writeTimeoutMs: config.writeTimeoutMs, rate: config.backfillRate, ready: (p, v) => versioning.ready(p, v) }));
    // verify and rebuild read the shared engines here, and each worker's LevelDB copy through RabbitMQ (copy-scan.ts)
    const rabbit = queue.kind === 'rabbitmq' && queue.perWorker.includes('level') ? (queue as RabbitQueue) : null;
    const copies: CopyReader | null = rabbit && { copies: () => rabbit.levelCopies(), scanCopy: (w, r) => rabbit.scanCopy(w, r), countCopy: (w, r) => rabbit.countCopy(w, r) };
    const direct = stores.filter((s) => !queue.perWorker.includes(s.name));
    jobs.define('verify', verifyRunner({ catalog, queue, stores: direct, copies }));
    jobs.define('rebuild', rebuildRunner({ catalog, queue, stores: direct, copies, ownCopy: rabbit?.ownCopy ?? null }));
    const maintenance = { engines: config.stores, copies: copies && (() => copies.copies()) };
    runningJobs = jobs;
    metrics?.watch({ engines: () => engines.health(), queue: () => queue.health(), deadLetters: async () => (await queue.deadLetters()).length, jobs: () => jobs.list({}) });
    const access = await accessFromConfig(config, (id) => jobs.list({}).find((j) => j.id === id)?.project, opened.tokens);
    const https = config.tls ? readTls(config.tls) : undefined;
    log(access.line);
    app = buildApi({ catalog, queue, engines, jobs, versioning, bodyLimit: config.bodyLimit, writeTimeoutMs: config.writeTimeoutMs, log, maintenance, logger, metrics, access: access.settings, https });
    try {
      await app.listen({ port: config.port, host: config.host });
    } catch (err) {
      throw new ConfigError(`cannot listen on PORT=${config.port}: ${(err as Error).message}`);
    }
    jobs.resume();
  } else if (metrics && config.metricsPort !== undefined) {
    // a worker has no HTTP API: its metrics get a port of their own
    metrics.watch({ engines: async () => Object.fromEntries(await Promise.all(stores.map(async (s) => [s.name, await timedHealth(s)] as const))), queue: () => queue.health(), deadLetters: async () => (await queue.deadLetters()).length });
    metricsServer = await serveMetrics(metrics, config.host, config.metricsPort);
  }
  log(`dstore ${config.role}: engines ${config.stores.join(', ')}; queue ${queue.kind}${opened ? `; catalog ${opened.where}` : ''}${app ? `; listening on ${config.host}:${config.port}${config.tls ? ' (https)' : ''}` : ''}${metricsServer ? `; metrics on ${config.host}:${config.metricsPort}` : ''}`);

  let stopping: Promise<void> | null = null;
  return {
    config,
    logger,
    app,
    stop: () =>
      (stopping ??= (async () => {
        // the HTTP server stops taking requests while the queue finishes or journals the writes in flight,
        // which also answers the requests still waiting for them
        const appClosed = app?.close();
        metricsServer?.close();
        // jobs stop at their next step and keep their cursor; they resume at the next start
        await runningJobs?.close();
        await pruner?.close();
        await queue.close();
        if (app && appClosed) {
          // connections kept alive after their answer would hold close() until their keep-alive timeout
          const sweep = setInterval(() => app!.server.closeIdleConnections(), 50);
          const late = setTimeout(() => app!.server.closeAllConnections(), 2000);
          await appClosed;
          clearInterval(sweep);
          clearTimeout(late);
        }
        await opened?.close().catch((e: Error) => log(`closing the catalog: ${e.message}`));
        const closing = Promise.all(stores.map((store) => store.close().catch((e: Error) => log(`closing ${store.name}: ${e.message}`))));
        await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      })()),
  };
}

/** GET /_metrics on a port of its own, for a process without the HTTP API. */
function serveMetrics(metrics: Metrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/_metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no route for ${req.method} ${req.url}; this worker serves GET /_metrics only`, code: 'DSTORE_ROUTE_NOT_FOUND' }));
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new ConfigError(`cannot listen on METRICS_PORT=${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

/** The `dstore` command: `dstore [all|api|worker]`. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let running: Running;
  try {
    const role = argv[0] === 'start' ? undefined : argv[0];
    running = await start(readConfig(process.env, role));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`dstore: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const log = logLine(running.logger);
  const shutdown = (signal: string) => {
    log(`${signal}: stopping (writes in flight are finished or handed back)`);
    const hard = setTimeout(() => {
      log('shutdown took longer than 9 s; exiting');
      process.exit(1);
    }, 9000);
    hard.unref();
    running.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log(`shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
