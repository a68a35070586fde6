import type { FastifyInstance } from 'fastify';
import { normalizeBlueprint, normalizeBlueprints } from '../../schema/blueprint.ts';
import { Errors } from '../errors.ts';
import { waitsForBackfill } from './versions.ts';
import { checkBlueprintName, checkProjectName, parseVersion } from '../problems.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

type ProjectParams = { project: string };
type BlueprintParams = { project: string; blueprint: string };

/** The working copy and frozen blueprints (SPEC §2, §3). */
export async function blueprintRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, engines, jobs, versioning } = app.deps;

  app.put<{ Params: BlueprintParams }>('/:project/:blueprint/_blueprint', { schema: RouteSchemas.putBlueprint, config: { access: { scope: 'schema', project: 'param' } } }, async (req) => {
    const { project, blueprint } = req.params;
    checkProjectName(project);
    checkBlueprintName(blueprint);
    if (req.body === undefined) throw Errors.bodyMissing('a blueprint: { "columns": { … } }');
    return catalog.putBlueprint(project, blueprint, normalizeBlueprint(blueprint, req.body));
  });

  app.get<{ Params: BlueprintParams }>('/:project/:blueprint/_blueprint', { schema: RouteSchemas.getBlueprint, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    checkProjectName(req.params.project);
    return catalog.blueprint(req.params.project, req.params.blueprint);
  });

  app.get<{ Params: BlueprintParams & { version: string } }>('/:project/:blueprint/_blueprint/:version', { schema: RouteSchemas.getFrozenBlueprint, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    const { project, blueprint } = req.params;
    checkProjectName(project);
    const version = parseVersion(project, req.params.version);
    const frozen = catalog.snapshot(project, version).blueprints;
    const def = Object.hasOwn(frozen, blueprint) ? frozen[blueprint] : undefined;
    if (!def) throw Errors.blueprintNotFound(project, blueprint, version);
    return def;
  });

  app.delete<{ Params: BlueprintParams }>('/:project/:blueprint/_blueprint', { schema: RouteSchemas.deleteBlueprint, config: { access: { scope: 'schema', project: 'param' } } }, async (req, reply) => {
    checkProjectName(req.params.project);
    await catalog.deleteBlueprint(req.params.project, req.params.blueprint);
    return reply.status(204).send();
  });

  app.put<{ Params: ProjectParams }>('/:project/_blueprint', { schema: RouteSchemas.putWorking, config: { access: { scope: 'schema', project: 'param' } } }, async (req) => {
    checkProjectName(req.params.project);
    if (req.body === undefined) throw Errors.bodyMissing('an object of blueprint name to blueprint');
    return catalog.replaceWorking(req.params.project, normalizeBlueprints(req.body));
  });

  app.get<{ Params: ProjectParams }>('/:project/_blueprint', { schema: RouteSchemas.getWorking, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    checkProjectName(req.params.project);
    return catalog.working(req.params.project);
  });

  app.get<{ Params: ProjectParams & { version: string } }>('/:project/_blueprint/:version', { schema: RouteSchemas.getSnapshot, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    const { project } = req.params;
    checkProjectName(project);
    return catalog.snapshot(project, parseVersion(project, req.params.version)).blueprints;
  });

  /** Replace the working copy and snapshot it, in one request. */
  app.put<{ Params: ProjectParams }>('/:project', { schema: RouteSchemas.putProject, config: { access: { scope: 'schema', project: 'param' } } }, async (req, reply) => {
    const { project } = req.params;
    checkProjectName(project);
    if (req.body === undefined) throw Errors.bodyMissing('an object of blueprint name to blueprint');
    const blueprints = normalizeBlueprints(req.body);
    // refuse before replacing: a 400 must not leave the working copy emptied (or an empty project created)
    if (!Object.keys(blueprints).length) throw Errors.noBlueprints(project);
    const wait = waitsForBackfill(req);
    // all or nothing (SPEC §11): a snapshot that fails leaves the working copy as it was
    const { snapshot, backfill } = await catalog.replaceWorkingAndSnapshot(project, blueprints, () => versioning.create(project, wait));
    return reply.status(200).send({ project_version: snapshot.version, versions: catalog.versions(project), blueprints: snapshot.blueprints, ...(backfill ? { backfill } : {}) });
  });

  app.get<{ Params: ProjectParams }>('/:project', { schema: RouteSchemas.getProject, config: { access: { scope: ['read', 'write', 'schema'], project: 'param' } } }, async (req) => {
    checkProjectName(req.params.project);
    return catalog.project(req.params.project);
  });

  app.delete<{ Params: ProjectParams }>('/:project', { schema: RouteSchemas.deleteProject, config: { access: { scope: 'admin', project: 'param' } } }, async (req, reply) => {
    checkProjectName(req.params.project);
    // its jobs stop first: none may write into the catalog of a project being removed
    const resume = await jobs.pause(req.params.project);
    try {
      await catalog.dropProject(req.params.project, (p, versions) => engines.drop(p, versions));
    } catch (err) {
      resume();
      throw err;
    }
    await jobs.forget(req.params.project);
    return reply.status(204).send();
  });

  app.get('/_project', { schema: RouteSchemas.listProjects, config: { access: { scope: 'any', project: 'each' } } }, async (req) => ({
    projects: catalog.listProjects().filter((name) => req.access.allows(name)).map((name) => ({ name, project_version: catalog.latest(name), versions: catalog.versions(name), retired: catalog.retired(name) })),
  }));
}
