import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JobRecord } from '../../jobs/jobs.ts';
import { defaultRebuildSource, type RebuildParams } from '../../jobs/rebuild.ts';
import type { StoreName } from '../../stores/store.ts';
import { nextStamp } from '../../writes/stamps.ts';
import { Errors } from '../errors.ts';
import { checkProjectName } from '../problems.ts';
import { RouteSchemas } from '../../observability/route-schemas.ts';

/** What verify and rebuild need to know of this installation to check a request before any job is made. */
export interface Maintenance {
  /** STORES: the engines dstore writes to. */
  engines: readonly StoreName[];
  /** The workers keeping a LevelDB copy, with how many processes read each copy's queue now; null with the in-process queue (one LevelDB). */
  copies: (() => Promise<Array<{ worker: string; consumers: number }>>) | null;
}

const ENGINES: readonly StoreName[] = ['elasticsearch', 'postgresql', 'level'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `?wait` (or `?wait=true`): answer once the job has ended, with its result. */
function waits(req: FastifyRequest): boolean {
  const wait = (req.query as Record<string, string | undefined>)['wait'];
  if (wait === undefined || wait === 'false') return false;
  if (wait === '' || wait === 'true') return true;
  throw Errors.badQuery(`wait must be true or false, not ${JSON.stringify(wait)}`);
}

function shown({ cursor: _cursor, ...job }: JobRecord): Omit<JobRecord, 'cursor'> {
  return job;
}

/** Verify and rebuild (SPEC §12): both make a job and answer 202 with it (200 with the finished job under `?wait`). */
export async function maintenanceRoutes(app: FastifyInstance): Promise<void> {
  const { catalog, jobs, maintenance } = app.deps;
  if (!maintenance) return;

  const project = (req: FastifyRequest<{ Params: { project: string } }>): string => {
    checkProjectName(req.params.project);
    if (!catalog.has(req.params.project)) throw Errors.projectNotFound(req.params.project);
    return req.params.project;
  };

  const version = (name: string, body: Record<string, unknown>): number | undefined => {
    const v = body['version'];
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || !catalog.versions(name).includes(v as number)) throw Errors.versionUnknown(name, v);
    return v as number;
  };

  const engine = (field: 'engine' | 'from', raw: unknown): StoreName => {
    if (typeof raw !== 'string' || !ENGINES.includes(raw as StoreName)) throw Errors.engineUnknown(field, raw);
    if (!maintenance.engines.includes(raw as StoreName)) throw Errors.engineNotEnabled(field, raw, maintenance.engines);
    return raw as StoreName;
  };

  const answer = async (reply: FastifyReply, job: JobRecord, wait: boolean) => {
    if (!wait) return reply.status(202).send(shown(job));
    return reply.status(200).send(shown(await jobs.finished(job.id)));
  };


  app.post<{ Params: { project: string } }>('/:project/_verify', { schema: RouteSchemas.verify, config: { access: { scope: 'schema', project: 'param' } } }, async (req, reply) => {
    const name = project(req);
    const wait = waits(req);
    const body = req.body ?? {};
    if (!isObject(body)) throw Errors.bodyShape('absent, or { "version"?: N }');
    const v = version(name, body);
    const job = await jobs.start('verify', name, v === undefined ? {} : { version: v });
    return answer(reply, job, wait);
  });

  app.post<{ Params: { project: string } }>('/:project/_rebuild', { schema: RouteSchemas.rebuild, config: { access: { scope: 'admin', project: 'param' } } }, async (req, reply) => {
    const name = project(req);
    const wait = waits(req);
    const body = req.body;
    if (!isObject(body)) throw Errors.bodyShape('{ "engine": "elasticsearch" | "postgresql" | "level", "from"?: engine, "worker"?: WORKER_ID, "version"?: N }');
    const target = engine('engine', body['engine']);
    const worker = body['worker'];
    if (worker !== undefined && typeof worker !== 'string') throw Errors.workerUnknown(String(worker), 'must be a WORKER_ID string');
    if (worker !== undefined && target !== 'level') throw Errors.workerUnknown(worker, `only LevelDB copies belong to a worker; ${target} is shared by every worker`);
    let copyOf: string | undefined;
    if (target === 'level') {
      if (maintenance.copies) {
        const live = await maintenance.copies();
        if (worker !== undefined) {
          const copy = live.find((c) => c.worker === worker);
          if (!copy) throw Errors.workerUnknown(worker, `no worker of that id keeps a LevelDB copy (known: ${live.map((c) => c.worker).join(', ') || 'none'})`);
          if (!copy.consumers) throw Errors.workerUnknown(worker, 'its LevelDB copy exists but the worker is not running: start it first');
          copyOf = worker;
        } else {
          const running = live.filter((c) => c.consumers > 0);
          if (running.length !== 1) throw Errors.workerNeeded(running.map((c) => c.worker));
          copyOf = running[0]!.worker;
        }
      } else if (worker !== undefined) {
        throw Errors.workerUnknown(worker, 'there are no workers here: without QUEUE_CONNECTIONSTRING this process keeps the one LevelDB');
      }
    }
    let from: StoreName;
    if (body['from'] !== undefined) {
      from = engine('from', body['from']);
      // one worker's LevelDB copy may be rebuilt from another worker's copy
      if (from === target && !(target === 'level' && copyOf)) throw Errors.rebuildFromItself(target);
    } else {
      const found = defaultRebuildSource(maintenance.engines, target);
      if (!found) throw Errors.rebuildNoSource(target);
      from = found;
    }
    const v = version(name, body);
    const running = jobs.list({ project: name }).find((j) => j.kind === 'rebuild' && (j.state === 'running' || j.state === 'queued') && j.params?.['engine'] === target && j.params?.['worker'] === copyOf);
    if (running) throw Errors.conflict(`a rebuild of ${target}${copyOf ? ` (worker ${copyOf})` : ''} for "${name}" is already running: job ${running.id}`);
    const params: RebuildParams = { engine: target, from, ...(copyOf ? { worker: copyOf } : {}), start_stamp: nextStamp() };
    const job = await jobs.start('rebuild', name, { ...(v === undefined ? {} : { version: v }), params: params as unknown as Record<string, unknown> });
    return answer(reply, job, wait);
  });
}
