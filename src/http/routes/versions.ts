import type { FastifyInstance } from 'fastify';
import { checkProjectName } from '../problems.ts';

/** Snapshots: POST answers once every enabled engine is migrated (SPEC §2). */
export async function versionRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, engines } = app.deps;

  app.post<{ Params: { project: string } }>('/:project/_version', async (req, reply) => {
    const { project } = req.params;
    checkProjectName(project);
    const snapshot = await catalog.createSnapshot(project, (s) => engines.migrate(s));
    return reply.status(201).send({ project_version: snapshot.version, versions: catalog.versions(project) });
  });

  app.get<{ Params: { project: string } }>('/:project/_version', async (req) => {
    const { project } = req.params;
    checkProjectName(project);
    return { project_version: catalog.latest(project), versions: catalog.versions(project) };
  });
}
