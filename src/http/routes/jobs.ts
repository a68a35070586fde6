import type { FastifyInstance } from 'fastify';
import { UnknownJobError } from '../../jobs/jobs.ts';
import { isUuid } from '../../schema/identifiers.ts';
import { Errors } from '../errors.ts';
import { checkProjectName } from '../problems.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

/** Long-running work and its progress (SPEC §8). */
export async function jobRoutes(app: FastifyInstance): Promise<void> {
  const { jobs } = app.deps;

  function known(id: string): string {
    if (!isUuid(id)) throw Errors.jobNotFound(id);
    return id.toLowerCase();
  }

  app.get('/_jobs', { schema: RouteSchemas.listJobs, config: { access: { scope: 'read', project: 'each' } } }, async (req) => {
    const project = (req.query as Record<string, string | undefined>)['project'];
    if (project !== undefined) checkProjectName(project);
    const list = jobs.list({ project }).filter((job) => req.access.allows(job.project));
    return { count: list.length, jobs: list.map(({ cursor: _cursor, ...job }) => job) };
  });

  app.get<{ Params: { id: string } }>('/_jobs/:id', { schema: RouteSchemas.getJob, config: { access: { scope: 'read', project: 'job' } } }, async (req) => {
    try {
      const { cursor: _cursor, ...job } = jobs.get(known(req.params.id));
      return job;
    } catch (err) {
      if (err instanceof UnknownJobError) throw Errors.jobNotFound(req.params.id);
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/_jobs/:id/skipped', { schema: RouteSchemas.skipped, config: { access: { scope: 'read', project: 'job' } } }, async (req) => {
    try {
      const id = known(req.params.id);
      const job = jobs.get(id);
      return { job: id, skipped: job.skipped, listed: jobs.skipped(id) };
    } catch (err) {
      if (err instanceof UnknownJobError) throw Errors.jobNotFound(req.params.id);
      throw err;
    }
  });
}
