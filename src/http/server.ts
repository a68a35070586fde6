import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.ts';
import { metricsRoutes, observeRequests } from '../observability/requests.ts';
import { openApi } from '../observability/openapi.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Jobs } from '../jobs/jobs.ts';
import type { Versioning } from './versioning.ts';
import { jobRoutes } from './routes/jobs.ts';
import { maintenanceRoutes, type Maintenance } from './routes/maintenance.ts';
import type { WriteQueue } from '../writes/queue.ts';
import type { EngineControl } from './engines.ts';
import { Errors } from './errors.ts';
import { MAX_BODY_DEPTH, tooDeepAt } from '../schema/limits.ts';
import { blueprintRoutes } from './routes/blueprints.ts';
import { versionRoutes } from './routes/versions.ts';
import { itemRoutes } from './routes/items.ts';
import { operationRoutes } from './routes/operations.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { accessControl, type AccessSettings } from '../auth/access-control.ts';
import { toApiError } from './problems.ts';

export interface ApiDeps {
  catalog: Catalog;
  queue: WriteQueue;
  engines: EngineControl;
  jobs: Jobs;
  versioning: Versioning;
  bodyLimit: number;
  writeTimeoutMs: number;
  log?: (msg: string) => void;
  /** Who may do what (SPEC §10): protected mode, tokens, or AUTH=off. */
  access: AccessSettings;
  /** PEM certificate and key: serve HTTPS (TLS_CERT, TLS_KEY). */
  https?: { cert: Buffer; key: Buffer };
  /** Verify and rebuild (SPEC §12): their routes exist when this is given. */
  maintenance?: Maintenance;
  /** The process's pino logger: one line per request (none when absent, as in tests driven by inject()). */
  logger?: Logger;
  /** Prometheus metrics (METRICS=on): GET /_metrics and the request counters. */
  metrics?: Metrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: ApiDeps;
  }
}

/** Builds the HTTP API; `inject()` drives it in tests without a port. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    bodyLimit: deps.bodyLimit,
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Fastify's own two lines per request give way to observeRequests' one
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  app.decorate('deps', deps);
  // before every route: each one declares config.access and this hook alone checks it
  accessControl(app, deps.access);

  // The seed's curl commands send JSON as application/x-www-form-urlencoded: every body is JSON, whatever its Content-Type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return done(Errors.bodyNotJson((err as Error).message));
    }
    // Before any route touches it: every recursive walk (ajv, JSON.stringify, the engines' parsers) stays within this.
    const tooDeep = tooDeepAt(parsed, MAX_BODY_DEPTH);
    if (tooDeep !== null) return done(Errors.bodyTooDeep(MAX_BODY_DEPTH, tooDeep));
    done(null, parsed);
  });

  app.setErrorHandler((err, req, reply) => {
    const api = toApiError(err, deps.bodyLimit);
    if (api.code === 'DSTORE_INTERNAL') {
      if (deps.logger) req.log.error({ err }, `${req.method} ${req.routeOptions.url ?? req.url} failed`);
      else deps.log?.(`${req.method} ${req.url} failed: ${(err as Error).stack ?? String(err)}`);
    }
    void reply.status(api.statusCode).send(api.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = Errors.notFound(req.method, req.url);
    void reply.status(e.statusCode).send(e.toBody());
  });

  observeRequests(app, deps.metrics);
  // first of the plugins: it documents every route registered after it
  openApi(app);
  void app.register(metricsRoutes, { metrics: deps.metrics });
  void app.register(blueprintRoutes);
  void app.register(versionRoutes);
  void app.register(itemRoutes);
  void app.register(operationRoutes);
  void app.register(jobRoutes);
  void app.register(maintenanceRoutes);
  void app.register(tokenRoutes);
  return app;
}

