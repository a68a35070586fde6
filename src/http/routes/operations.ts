import type { FastifyInstance } from 'fastify';
import { isUuid } from '../../schema/identifiers.ts';
import { Errors } from '../errors.ts';

/** Health and the dead-letter queue (SPEC §2). */
export async function operationRoutes(app: FastifyInstance): Promise<void> {
  const { queue, engines } = app.deps;

  app.get('/_health', async (_req, reply) => {
    const [engineHealth, queueHealth] = await Promise.all([engines.health(), queue.health()]);
    const up = queueHealth.status === 'up' && Object.values(engineHealth).every((e) => e.status === 'up');
    return reply.status(up ? 200 : 503).send({ status: up ? 'up' : 'down', engines: engineHealth, queue: { kind: queue.kind, ...queueHealth } });
  });

  app.get('/_deadletter', async () => {
    const letters = await queue.deadLetters();
    return {
      count: letters.length,
      letters: letters.map((l) => ({ id: l.id, engine: l.store, reason: l.reason, failedAt: l.failedAt, op: l.write.op, project: l.write.project, blueprint: l.write.blueprint, item_id: l.write.id, item: l.write.op === 'put' ? l.write.item : undefined })),
    };
  });

  app.post('/_deadletter/_replay', async (req, reply) => {
    let ids: string[] | undefined;
    const body = req.body as unknown;
    if (body !== undefined && body !== null) {
      const list = Array.isArray(body) ? body : (body as { ids?: unknown }).ids;
      if (!Array.isArray(list) || !list.every(isUuid)) throw Errors.bodyShape('absent (replay all), or an array of dead-letter ids, or { "ids": [ … ] }');
      ids = list as string[];
    }
    const replayed = await queue.replay(ids);
    return reply.status(202).send({ replayed });
  });
}
