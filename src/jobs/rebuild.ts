import type { Catalog } from '../catalog/catalog.ts';
import { contentChecksum } from '../schema/readback.ts';
import { StoreUnavailableError, type ItemDelete, type ItemPut, type ScannedItem, type Store, type StoreName, type Write } from '../stores/store.ts';
import { QueueUnavailableError, type SubmitOptions, type WriteQueue } from '../writes/queue.ts';
import { nextStamp } from '../writes/stamps.ts';
import type { JobContext, JobRecord, JobRunner } from './jobs.ts';
import { copySource, mergeById, PagedScan, storeSource, type CopyReader, type ScanSource } from './sources.ts';
import { walkOrder } from './verify.ts';

/**
 * Rebuild (SPEC §12): one engine (or one worker's LevelDB copy) refilled from
 * another while clients keep writing. Its namespaces are made again where they
 * are missing (migrate), then, per live version and blueprint, the source and
 * the target are walked side by side in id order and every difference is
 * repaired through the queue, so the target's own stamp check decides:
 *
 * Pass 1 sends the target alone each item it lacks or holds older, with the
 * source's stamp (a newer write that lands first is never overwritten), and
 * deletes what the target holds and the source does not. Pass 2 walks again
 * once those are applied: what still differs is an item the target remembers
 * at a stamp that refused the copy (a row deleted by hand keeps its stamp), or
 * one changed behind dstore's back at the same stamp. Those get the source's
 * content at the repair stamp R = (stamp at the start) − 1, in every engine:
 * R is newer than every write accepted before the rebuild began (all of which
 * the source holds, after the barrier) and older than every write accepted
 * since, so a concurrent client write always wins over a repair.
 * Extras are deleted at R on the same grounds: a delete newer than what the
 * target holds from before the start, older than any write since.
 */
export interface RebuildDeps {
  catalog: Catalog;
  queue: WriteQueue;
  /** The engines this process reads directly (the shared ones; LevelDB too with the in-process queue). */
  stores: readonly Store[];
  copies: CopyReader | null;
  /** The worker id of this process's own LevelDB copy under RabbitMQ, read first when LevelDB is the source. */
  ownCopy: string | null;
}

export interface RebuildParams {
  engine: StoreName;
  from: StoreName;
  worker?: string;
  /** Stamped when the job was made: the repair stamp is one below it. */
  start_stamp: number;
}

interface RebuildCursor {
  version: number;
  blueprint: string;
  pass: 1 | 2;
  after?: string;
  /** Namespaces already checked (and made where missing). */
  prepared: true;
  counts: Pick<RebuildResult, 'copied' | 'repaired' | 'deleted'>;
}

export interface RebuildResult {
  engine: string;
  from: string;
  /** Items sent to the target with the source's stamp (pass 1). */
  copied: number;
  /** Items written everywhere at the repair stamp (pass 2 and same-stamp differences). */
  repaired: number;
  deleted: number;
}

const PAGE = 1000;
/** Batches handed to the queue before waiting for them to be applied: the refill never runs far ahead of the engines. */
const IN_FLIGHT = 4;
/** Writes stamped just before the rebuild's start stamp reach the queue within this; the barrier after it covers them. */
const STAMP_GRACE_MS = 1000;
const RETRY_MS = 1000;

/** The engine a rebuild reads from when the request names none: the first of PostgreSQL, LevelDB, Elasticsearch other than the target. */
export function defaultRebuildSource(enabled: readonly StoreName[], target: StoreName): StoreName | undefined {
  return (['postgresql', 'level', 'elasticsearch'] as const).find((e) => e !== target && enabled.includes(e));
}

export type Repair = { kind: 'none' } | { kind: 'copy' } | { kind: 'repair' } | { kind: 'delete' };

/** What one id needs, given what source and target hold (stamp and checksum), the pass and the rebuild's start stamp. */
export function repairOf(pass: 1 | 2, source: { stamp: number; sum: string } | null, target: { stamp: number; sum: string } | null, startStamp: number): Repair {
  const R = startStamp - 1;
  if (!source && !target) return { kind: 'none' };
  if (!source) return target!.stamp < R ? { kind: 'delete' } : { kind: 'none' };
  if (!target) return pass === 1 ? { kind: 'copy' } : source.stamp < R ? { kind: 'repair' } : { kind: 'none' };
  if (source.stamp === target.stamp && source.sum === target.sum) return { kind: 'none' };
  // a write accepted after the start is on its way to the source: it is the last word
  if (target.stamp > source.stamp && target.stamp >= startStamp) return { kind: 'none' };
  if (source.stamp > target.stamp && pass === 1) return { kind: 'copy' };
  return Math.max(source.stamp, target.stamp) < R ? { kind: 'repair' } : { kind: 'none' };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Hands writes to the queue (durably queued, not waited for); while it cannot take them (503), waits and retries. */
async function submitPatiently(queue: WriteQueue, writes: Write[], options: SubmitOptions, ctx: JobContext): Promise<void> {
  if (!writes.length) return;
  for (;;) {
    try {
      await queue.submit(writes, options);
      return;
    } catch (err) {
      if (!(err instanceof QueueUnavailableError) || ctx.stopping()) throw err;
      await sleep(RETRY_MS);
    }
  }
}

async function barrierPatiently(queue: WriteQueue, ctx: JobContext): Promise<void> {
  for (;;) {
    try {
      await queue.barrier();
      return;
    } catch (err) {
      if (!(err instanceof QueueUnavailableError) || ctx.stopping()) throw err;
      await sleep(RETRY_MS);
    }
  }
}

export function rebuildRunner(deps: RebuildDeps): (job: JobRecord) => JobRunner {
  return (job) => async (ctx: JobContext) => {
    const { catalog, queue } = deps;
    const project = job.project;
    const params = job.params as unknown as RebuildParams;
    const order = walkOrder(catalog, project, job.version);
    const local = (name: StoreName): Store => {
      const store = deps.stores.find((s) => s.name === name);
      if (!store) throw new Error(`${name} is not enabled in this process`);
      return store;
    };
    const remoteLevel = deps.copies !== null;
    let source: ScanSource;
    if (params.from === 'level' && deps.copies) {
      const live = (await deps.copies.copies()).filter((c) => c.consumers > 0 && c.worker !== params.worker).map((c) => c.worker);
      const worker = deps.ownCopy && live.includes(deps.ownCopy) ? deps.ownCopy : live.sort()[0];
      if (!worker) throw new Error('no running worker keeps a LevelDB copy to rebuild from');
      source = copySource(deps.copies, worker);
    } else {
      source = storeSource(local(params.from));
    }
    const targetStore = params.engine === 'level' && remoteLevel ? null : local(params.engine);
    const target: ScanSource = targetStore ? storeSource(targetStore) : copySource(deps.copies!, params.worker!);
    const only: SubmitOptions['only'] = params.worker ? { store: params.engine, worker: params.worker } : { store: params.engine };
    ctx.setFrom(source.name);
    const startStamp = params.start_stamp;
    const R = startStamp - 1;
    let cursor = ctx.job.cursor as RebuildCursor | undefined;

    if (!cursor?.prepared) {
      if (targetStore) await prepare(targetStore, catalog, project, order);
      // writes stamped before the start are in the source before it is read (see the top comment)
      await sleep(Math.max(0, startStamp / 1000 + STAMP_GRACE_MS - Date.now()));
    }
    await barrierPatiently(queue, ctx);

    if (ctx.job.total === 0 && ctx.job.done === 0) {
      let total = 0;
      for (const { version, blueprint } of order) total += await source.count({ project, version, blueprint, definition: catalog.snapshot(project, version).blueprints[blueprint]! });
      ctx.setTotal(total);
    }

    const result: RebuildResult = { engine: target.name, from: source.name, copied: 0, repaired: 0, deleted: 0, ...cursor?.counts };
    const start = cursor ? Math.max(0, order.findIndex((o) => o.version === cursor!.version && o.blueprint === cursor!.blueprint)) : 0;
    for (let b = start; b < order.length; b++) {
      const { version, blueprint } = order[b]!;
      const definition = catalog.snapshot(project, version).blueprints[blueprint]!;
      for (const pass of [1, 2] as const) {
        const resumed = cursor && b === start && cursor.version === version && cursor.blueprint === blueprint ? cursor : undefined;
        if (resumed && pass < resumed.pass) continue;
        const after = resumed && resumed.pass === pass ? resumed.after : undefined;
        const read = (s: ScanSource) => new PagedScan((from) => s.scan({ project, version, blueprint, definition, after: from, limit: PAGE }), after);
        const scans = [read(source), read(target)];
        const targeted: Write[] = [];
        const everywhere: ItemPut[] = [];
        let handled = 0;
        let batches = 0;
        const flush = async (last: string | undefined) => {
          await submitPatiently(queue, targeted.splice(0), { async: true, timeoutMs: 0, only }, ctx);
          await submitPatiently(queue, everywhere.splice(0), { async: true, timeoutMs: 0 }, ctx);
          // the writes are durably queued: resuming after `last` loses none of them
          if (++batches % IN_FLIGHT === 0) await barrierPatiently(queue, ctx);
          const { copied, repaired, deleted } = result;
          ctx.advance(pass === 1 ? handled : 0, { version, blueprint, pass, after: last, prepared: true, counts: { copied, repaired, deleted } } satisfies RebuildCursor);
          handled = 0;
        };
        // the checksum only matters where both hold the item
        const state = (x: ScannedItem | undefined, both: boolean) => (x ? { stamp: x.stamp, sum: both ? contentChecksum(definition, x.item) : '' } : null);
        for await (const row of mergeById(scans)) {
          const [s, t] = row.held;
          if (s) handled++;
          const repair = repairOf(pass, state(s, !!t), state(t, !!s), startStamp);
          if (repair.kind === 'copy') {
            targeted.push({ op: 'put', project, version, blueprint, definition, id: row.id, stamp: s!.stamp, item: s!.item, copied: true });
            result.copied++;
          } else if (repair.kind === 'repair') {
            everywhere.push({ op: 'put', project, version, blueprint, definition, id: row.id, stamp: R, item: s!.item });
            result.repaired++;
          } else if (repair.kind === 'delete') {
            targeted.push({ op: 'delete', project, blueprint, id: row.id, stamp: R, targets: [{ version, definition }] } satisfies ItemDelete);
            result.deleted++;
          }
          if (handled >= PAGE || targeted.length + everywhere.length >= PAGE) {
            await flush(row.id);
            if (ctx.stopping()) return 'stopped';
          }
        }
        await flush(undefined);
        // pass 2 reads the target only once pass 1's writes are in it
        await barrierPatiently(queue, ctx);
        cursor = undefined;
      }
    }
    return { result };
  };
}

/** Makes the target's namespaces of every version walked where they are missing (an index or schema deleted by hand), then points "latest" again. */
async function prepare(store: Store, catalog: Catalog, project: string, order: ReadonlyArray<{ version: number; blueprint: string }>): Promise<void> {
  const versions = [...new Set(order.map((o) => o.version))];
  let made = false;
  for (const version of versions) {
    const snapshot = catalog.snapshot(project, version);
    let missing = false;
    for (const [blueprint, definition] of Object.entries(snapshot.blueprints)) {
      try {
        await store.count({ project, version, blueprint, definition });
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw err;
        missing = true;
      }
    }
    if (!missing) continue;
    await store.migrate(snapshot);
    made = true;
  }
  const latest = catalog.latest(project);
  if (made && latest !== null) await store.activate(catalog.snapshot(project, latest));
}
