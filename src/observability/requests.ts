import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../http/errors.ts';
import { UNMATCHED_ROUTE, type Metrics } from './metrics.ts';
import { RouteSchemas } from './route-schemas.ts';

/**
 * One JSON log line and one metric observation per answered request: method,
 * route pattern, status and duration. Neither reads the body or the headers, so
 * no item value and no token reaches a log line or a label.
 */
export function observeRequests(app: FastifyInstance, metrics: Metrics | undefined): void {
  const logging = ['info', 'debug', 'trace'].includes(app.log.level);
  if (!logging && !metrics) return;
  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
    const ms = reply.elapsedTime;
    metrics?.request(req.method, route, reply.statusCode, ms / 1000);
    if (logging) req.log.info({ method: req.method, route, url: req.url.split('?')[0], status: reply.statusCode, duration_ms: Math.round(ms * 1000) / 1000 }, 'request');
    done();
  });
}

/** `GET /_metrics`: the Prometheus text format (a 404 saying why with METRICS=off). */
export async function metricsRoutes(app: FastifyInstance, options: { metrics: Metrics | undefined }): Promise<void> {
  const { metrics } = options;
  // what a scraper reads holds no project's data: any valid caller may
  app.get('/_metrics', { schema: RouteSchemas.metrics, config: { access: { scope: 'any', project: 'none' } } }, async (_req, reply) => {
    if (!metrics) throw Errors.metricsOff();
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });
}
