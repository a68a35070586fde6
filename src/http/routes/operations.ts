import type { FastifyInstance } from 'fastify';
import { isUuid } from '../../schema/identifiers.ts';
import type { EngineHealth, StoreName } from '../../stores/store.ts';
import type { LaneHealth } from '../../writes/queue.ts';
import { Errors } from '../errors.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

interface EngineStatus {
  status: 'up' | 'down' | 'stuck';
  reason?: string;
  oldest_pending_ms?: number;
}

/**
 * What /_health says of one engine: its own probe, corrected by what the queue
 * sees. An engine whose oldest pending write is older than twice WRITE_TIMEOUT_MS
 * is "stuck" (SPEC §6), and one the queue cannot write to (disk full) is down
 * even when it answers a probe.
 */
function engineStatus(health: EngineHealth, lane: LaneHealth | undefined, writeTimeoutMs: number): EngineStatus {
  if (lane && lane.pending > 0 && lane.oldestPendingMs > 2 * writeTimeoutMs) {
    const why = lane.down ?? (health.status === 'up' ? 'the engine answers probes but has not applied it' : health.reason);
    return { status: 'stuck', oldest_pending_ms: lane.oldestPendingMs, reason: `its oldest pending write waits for ${lane.oldestPendingMs} ms (over twice WRITE_TIMEOUT_MS=${writeTimeoutMs}): ${why}` };
  }
  if (health.status === 'up' && lane?.down) return { status: 'down', reason: lane.down };
  return health;
}

/** Health and the dead-letter queue (SPEC §2). */
export async function operationRoutes(app: FastifyInstance): Promise<void> {
  const { queue, engines, writeTimeoutMs } = app.deps;

  app.get('/_health', { schema: RouteSchemas.health, config: { access: { scope: 'read', project: 'none', anonymous: true } } }, async (req, reply) => {
    const [engineHealth, { engines: lanes, ...queueHealth }] = await Promise.all([engines.health(), queue.health()]);
    const shown: Record<string, EngineStatus> = {};
    for (const [name, health] of Object.entries(engineHealth)) shown[name] = engineStatus(health, lanes?.[name as StoreName], writeTimeoutMs);
    const up = queueHealth.status === 'up' && Object.values(shown).every((e) => e.status === 'up');
    // without a token (or without read) only the verdict: engine reasons name hosts and paths
    if (!req.access.granted) return reply.status(up ? 200 : 503).send({ status: up ? 'up' : 'down' });
    return reply.status(up ? 200 : 503).send({ status: up ? 'up' : 'down', engines: shown, queue: { kind: queue.kind, ...queueHealth } });
  });

  app.get('/_deadletter', { schema: RouteSchemas.deadLetters, config: { access: { scope: 'read', project: 'each' } } }, async (req) => {
    const letters = (await queue.deadLetters()).filter((l) => req.access.allows(l.write.project));
    return {
      count: letters.length,
      letters: letters.map((l) => ({ id: l.id, engine: l.store, reason: l.reason, failedAt: l.failedAt, op: l.write.op, project: l.write.project, blueprint: l.write.blueprint, item_id: l.write.id, item: l.write.op === 'put' ? l.write.item : undefined })),
    };
  });

  app.post('/_deadletter/_replay', { schema: RouteSchemas.replay, config: { access: { scope: 'admin', project: 'each' } } }, async (req, reply) => {
    let ids: string[] | undefined;
    const body = req.body as unknown;
    if (body !== undefined && body !== null) {
      const list = Array.isArray(body) ? body : (body as { ids?: unknown }).ids;
      if (!Array.isArray(list) || !list.every(isUuid)) throw Errors.bodyShape('absent (replay all), or an array of dead-letter ids, or { "ids": [ … ] }');
      ids = list as string[];
    }
    // a token replays only its projects' letters; one of ['*'] (or ADMIN_TOKEN) replays all, or those named, as before
    if (req.access.principal!.projects !== '*') {
      const own = (await queue.deadLetters()).filter((l) => req.access.allows(l.write.project) && (ids === undefined || ids.includes(l.id))).map((l) => l.id);
      if (!own.length) return reply.status(202).send({ replayed: 0 });
      ids = own;
    }
    const replayed = await queue.replay(ids);
    return reply.status(202).send({ replayed });
  });
}
