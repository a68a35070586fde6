import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../errors.ts';
import { checkProjectName, parseVersion } from '../problems.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

/** `?wait=backfill`: answer once the new version's back-fill is done. */
export function waitsForBackfill(req: FastifyRequest): boolean {
  const wait = (req.query as Record<string, string | undefined>)['wait'];
  if (wait === undefined) return false;
  if (wait === 'backfill') return true;
  throw Errors.badQuery(`wait must be backfill, not ${JSON.stringify(wait)}`);
}

/** Snapshots and their life (SPEC §2, §9): POST answers once every enabled engine is migrated. */
export async function versionRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, versioning } = app.deps;

  app.post<{ Params: { project: string } }>('/:project/_version', { schema: RouteSchemas.createVersion, config: { access: { scope: 'schema', project: 'param' } } }, async (req, reply) => {
    const { project } = req.params;
    checkProjectName(project);
    const wait = waitsForBackfill(req);
    const { snapshot, backfill } = await versioning.create(project, wait);
    return reply.status(201).send({ project_version: snapshot.version, versions: catalog.versions(project), ...(backfill ? { backfill } : {}) });
  });

  app.get<{ Params: { project: string } }>('/:project/_version', { schema: RouteSchemas.listVersions, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    const { project } = req.params;
    checkProjectName(project);
    return { project_version: catalog.latest(project), versions: catalog.versions(project), retired: catalog.retired(project) };
  });

  app.get<{ Params: { project: string; version: string } }>('/:project/_version/:version', { schema: RouteSchemas.getVersion, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    const { project } = req.params;
    checkProjectName(project);
    return versioning.describe(project, parseVersion(project, req.params.version));
  });

  app.delete<{ Params: { project: string; version: string } }>('/:project/_version/:version', { schema: RouteSchemas.retireVersion, config: { access: { scope: 'schema', project: 'param' } } }, async (req, reply) => {
    const { project } = req.params;
    checkProjectName(project);
    await versioning.retire(project, parseVersion(project, req.params.version));
    return reply.status(204).send();
  });
}
