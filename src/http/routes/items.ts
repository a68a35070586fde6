import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Problems } from '../../schema/blueprint.ts';
import { isUuid } from '../../schema/identifiers.ts';
import { itemProblems, type Item } from '../../schema/item.ts';
import type { ItemDelete, ItemPut, Write } from '../../stores/store.ts';
import { nextStamp } from '../../writes/stamps.ts';
import { copyItem } from '../../evolution/copy.ts';
import type { SubmitResult } from '../../writes/queue.ts';
import { ApiError, Errors } from '../errors.ts';
import { checkBlueprintName, checkProjectName } from '../problems.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

type BlueprintParams = { project: string; blueprint: string };
type ItemParams = BlueprintParams & { id: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks an item against the snapshot it names and turns it into writes: one
 * for that version and a copy for every other live version holding the
 * blueprint (SPEC §9), all with one stamp; throws the error a single PUT
 * answers with (a copy that does not fit names its version and field).
 */
function prepareItem(catalog: Catalog, project: string, blueprint: string, body: unknown, pathId?: string): ItemPut[] {
  if (!isObject(body)) throw Errors.bodyShape('a JSON object (the item)');
  if (pathId !== undefined && body['id'] !== undefined && body['id'] !== null) {
    if (typeof body['id'] !== 'string' || body['id'].toLowerCase() !== pathId.toLowerCase()) throw Errors.idMismatch(pathId, body['id']);
  }
  const version = body['project_version'];
  if (version === undefined || version === null) throw Errors.versionMissing();
  if (!Number.isInteger(version) || !catalog.hasVersion(project, version as number)) throw Errors.versionUnknown(project, version);
  if (catalog.versionState(project, version as number) === 'retired') throw Errors.versionRetired(project, version as number);
  const frozen = catalog.snapshot(project, version as number).blueprints;
  const definition = Object.hasOwn(frozen, blueprint) ? frozen[blueprint] : undefined;
  if (!definition) throw Errors.blueprintNotFound(project, blueprint, version as number);
  const problems = itemProblems(definition, body);
  if (Object.keys(problems).length) throw Errors.itemInvalid(problems);
  const sent = body['id'] as string;
  const id = sent.toLowerCase();
  const item = (id === sent ? body : { ...body, id }) as Item;
  const stamp = nextStamp();
  const writes: ItemPut[] = [{ op: 'put', project, version: version as number, blueprint, definition, id, stamp, item }];
  const copyProblems: Problems = {};
  const snapshots = (v: number) => catalog.snapshot(project, v).blueprints;
  for (const target of catalog.versionsHolding(project, blueprint)) {
    if (target.version === version) continue;
    const copy = copyItem(snapshots, blueprint, item, version as number, target.version);
    if (copy.ok) writes.push({ op: 'put', project, version: target.version, blueprint, definition: target.definition, id, stamp, item: copy.item });
    else if ('problems' in copy) for (const [field, what] of Object.entries(copy.problems)) copyProblems[`v${target.version}.${field}`] = what;
  }
  if (Object.keys(copyProblems).length) throw Errors.copyInvalid(copyProblems);
  return writes;
}

function wantsAsync(req: FastifyRequest): boolean {
  const q = (req.query as Record<string, string | undefined>)['async'];
  if (q !== undefined && q !== 'true' && q !== 'false' && q !== '') throw Errors.badQuery(`async must be true or false, not ${JSON.stringify(q)}`);
  if (q === 'true' || q === '') return true;
  return /\brespond-async\b/i.test(String(req.headers['prefer'] ?? ''));
}

/** `?refresh=wait_for`: the answer waits until the search engines show the write in search results. */
function wantsRefresh(req: FastifyRequest): boolean {
  const q = (req.query as Record<string, string | undefined>)['refresh'];
  if (q === undefined || q === 'false') return false;
  if (q === 'wait_for' || q === 'true' || q === '') return true;
  throw Errors.badQuery(`refresh must be wait_for (or true / false), not ${JSON.stringify(q)}`);
}

function checkTarget(catalog: Catalog, project: string, blueprint: string): void {
  checkProjectName(project);
  checkBlueprintName(blueprint);
  if (!catalog.has(project)) throw Errors.projectNotFound(project);
  const known = Object.hasOwn(catalog.working(project), blueprint) || catalog.versionsHolding(project, blueprint).length > 0;
  if (!known) throw Errors.blueprintNotFound(project, blueprint);
}

/** Item writes: validated against their snapshot, then handed to the queue (SPEC §2, §6). */
export async function itemRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, queue, writeTimeoutMs } = app.deps;

  async function submit(req: FastifyRequest, reply: FastifyReply, writes: Write[], applied: number, body: Record<string, unknown>) {
    if (!writes.length) return reply.status(applied).send(applied === 204 ? undefined : { ...body, state: 'applied' });
    if (wantsRefresh(req)) for (const w of writes) w.refresh = true;
    const result: SubmitResult = await queue.submit(writes, { async: wantsAsync(req), timeoutMs: writeTimeoutMs });
    if (result.state === 'applied') return reply.status(applied).send(applied === 204 ? undefined : { ...body, state: 'applied' });
    if (result.state === 'refused') throw Errors.writeRefused(result.refused);
    return reply.status(202).send({ ...body, state: 'accepted', pending: result.pending });
  }

  app.put<{ Params: ItemParams }>('/:project/:blueprint/:id', { schema: RouteSchemas.putItem, config: { access: { scope: 'write', project: 'param' } } }, async (req, reply) => {
    const { project, blueprint, id } = req.params;
    checkTarget(catalog, project, blueprint);
    if (!isUuid(id)) throw Errors.idNotUuid(id);
    if (req.body === undefined) throw Errors.bodyMissing('an item: { "id": …, "project_version": N, … }');
    const writes = prepareItem(catalog, project, blueprint, req.body, id);
    return submit(req, reply, writes, 200, { id: writes[0]!.id, project_version: writes[0]!.version });
  });

  app.delete<{ Params: ItemParams }>('/:project/:blueprint/:id', { schema: RouteSchemas.deleteItem, config: { access: { scope: 'write', project: 'param' } } }, async (req, reply) => {
    const { project, blueprint, id } = req.params;
    checkTarget(catalog, project, blueprint);
    if (!isUuid(id)) throw Errors.idNotUuid(id);
    return submit(req, reply, deletes(catalog, project, blueprint, [id]), 204, { id: id.toLowerCase() });
  });

  app.put<{ Params: BlueprintParams }>('/:project/:blueprint', { schema: RouteSchemas.putItems, config: { access: { scope: 'write', project: 'param' } } }, async (req, reply) => {
    const { project, blueprint } = req.params;
    checkTarget(catalog, project, blueprint);
    if (!Array.isArray(req.body)) throw Errors.bodyShape('a JSON array of items');
    const writes: ItemPut[] = [];
    const problems: Problems = {};
    let invalid = 0;
    req.body.forEach((body: unknown, i: number) => {
      const label = isObject(body) && typeof body['id'] === 'string' && body['id'] ? body['id'] : `[${i}]`;
      try {
        writes.push(...prepareItem(catalog, project, blueprint, body));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        invalid++;
        if (err.errors) for (const [field, what] of Object.entries(err.errors)) problems[`${label}.${field}`] = what;
        else problems[label] = err.message;
      }
    });
    if (invalid) throw Errors.itemsInvalid(invalid, problems);
    return submit(req, reply, writes, 200, { count: req.body.length });
  });

  app.delete<{ Params: BlueprintParams }>('/:project/:blueprint', { schema: RouteSchemas.deleteItems, config: { access: { scope: 'write', project: 'param' } } }, async (req, reply) => {
    const { project, blueprint } = req.params;
    checkTarget(catalog, project, blueprint);
    if (!Array.isArray(req.body)) throw Errors.bodyShape('a JSON array of item ids');
    const problems: Problems = {};
    req.body.forEach((id: unknown, i: number) => {
      if (!isUuid(id)) problems[`[${i}]`] = `${JSON.stringify(id)} is not a UUID`;
    });
    if (Object.keys(problems).length) throw Errors.itemsInvalid(Object.keys(problems).length, problems);
    return submit(req, reply, deletes(catalog, project, blueprint, req.body as string[]), 204, { count: req.body.length });
  });
}

/** A delete reaches every version whose snapshot holds the blueprint. */
function deletes(catalog: Catalog, project: string, blueprint: string, ids: string[]): ItemDelete[] {
  const targets = catalog.versionsHolding(project, blueprint);
  if (!targets.length) return [];
  return ids.map((id) => ({ op: 'delete', project, blueprint, id: id.toLowerCase(), stamp: nextStamp(), targets }));
}
