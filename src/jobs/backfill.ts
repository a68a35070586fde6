import type { Catalog } from '../catalog/catalog.ts';
import { copyItem } from '../evolution/copy.ts';
import type { ItemPut, Snapshot, Store } from '../stores/store.ts';
import type { Problems } from '../schema/blueprint.ts';
import { QueueUnavailableError, type WriteQueue } from '../writes/queue.ts';
import type { JobContext, JobRecord, JobRunner, SkippedItem } from './jobs.ts';

/**
 * The back-fill of a new version (SPEC §9): every item of every blueprint that
 * the source version and the new one both hold, copied along the snapshots
 * with the item's own stamp and handed to the queue as ordinary writes, so a
 * write that already landed in the new version is never overwritten by an
 * older back-filled value, and every worker's LevelDB copy is filled too.
 */
export interface BackfillDeps {
  catalog: Catalog;
  queue: WriteQueue;
  /** The engines this process can read, in the order SPEC §9 prefers a source: PostgreSQL, LevelDB, Elasticsearch. */
  sources: readonly Store[];
  writeTimeoutMs: number;
  /** Items per second per job; 0 is unlimited (BACKFILL_RATE). */
  rate: number;
  /** Called once the version holds everything: it becomes ready and "latest" may move to it. */
  ready(project: string, version: number): Promise<void>;
}

export interface BackfillCursor {
  /** The blueprint being copied (blueprints go in name order). */
  blueprint: string;
  /** The last id whose copy was accepted. */
  after?: string;
}

const PAGE = 1000;
const IN_FLIGHT = 4;
const RETRY_MS = 1000;

/** Hands a page to the queue; while the queue cannot take writes (503), waits and retries rather than failing the job. */
async function submitPatiently(queue: WriteQueue, writes: ItemPut[], timeoutMs: number, ctx: JobContext): Promise<void> {
  for (;;) {
    try {
      await queue.submit(writes, { async: false, timeoutMs });
      return;
    } catch (err) {
      if (!(err instanceof QueueUnavailableError) || ctx.stopping()) throw err;
      await sleep(RETRY_MS);
    }
  }
}
const SOURCE_ORDER = ['postgresql', 'level', 'elasticsearch'];

export function backfillSource(sources: readonly Store[]): Store | undefined {
  return [...sources].sort((a, b) => SOURCE_ORDER.indexOf(a.name) - SOURCE_ORDER.indexOf(b.name))[0];
}

/** The blueprints a back-fill copies from one snapshot into another, in name order. */
export function sharedBlueprints(from: Snapshot, to: Snapshot): string[] {
  return Object.keys(to.blueprints).filter((b) => Object.hasOwn(from.blueprints, b)).sort();
}

/**
 * The version a new one is filled from: the latest *ready* live version before
 * it that shares a blueprint with it (one still back-filling is incomplete; the
 * writes it receives reach the new version as copies anyway).
 */
export function backfillSourceVersion(catalog: Catalog, target: Snapshot): number | undefined {
  const live = catalog.versions(target.project).filter((v) => v < target.version && catalog.versionState(target.project, v) === 'ready');
  for (const v of live.reverse()) if (sharedBlueprints(catalog.snapshot(target.project, v), target).length) return v;
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function backfillRunner(deps: BackfillDeps): (job: JobRecord) => JobRunner {
  return (job) => async (ctx: JobContext) => {
    const { catalog, queue } = deps;
    const project = job.project;
    const target = job.version!;
    const sourceVersion = job.params?.['source_version'] as number;
    const source = backfillSource(deps.sources);
    if (!source) throw new Error('no engine in this process can be read for a back-fill');
    ctx.setFrom(source.name);
    const blueprints = sharedBlueprints(catalog.snapshot(project, sourceVersion), catalog.snapshot(project, target));
    const snapshots = (v: number) => catalog.snapshot(project, v).blueprints;
    const definitionOf = (blueprint: string) => catalog.snapshot(project, target).blueprints[blueprint]!;

    // every API process copies writes into the new version (SPEC §9, §11), then every write accepted before is in the source
    await catalog.seenEverywhere(project, target);
    // every write accepted before the new version was announced is in the source first: none can fall between scan and copies
    await queue.barrier();

    if (ctx.job.total === 0 && ctx.job.done === 0) {
      let total = 0;
      for (const blueprint of blueprints) total += await source.count({ project, version: sourceVersion, blueprint, definition: catalog.snapshot(project, sourceVersion).blueprints[blueprint]! });
      ctx.setTotal(total);
    }

    let cursor = (ctx.job.cursor as BackfillCursor | undefined) ?? (blueprints.length ? { blueprint: blueprints[0]! } : undefined);
    const started = Date.now();
    let copied = 0;
    for (let b = cursor ? blueprints.indexOf(cursor.blueprint) : blueprints.length; b >= 0 && b < blueprints.length; b++) {
      const blueprint = blueprints[b]!;
      const definition = catalog.snapshot(project, sourceVersion).blueprints[blueprint]!;
      let after = cursor?.blueprint === blueprint ? cursor.after : undefined;
      // the next page is read while the current one is in the engines
      const read = (from: string | undefined) => {
        const p = source.scan({ project, version: sourceVersion, blueprint, definition, after: from, limit: pageSize(deps.rate) });
        p.catch(() => {}); // awaited below; a job that stops first must not leave it unhandled
        return p;
      };
      let page = read(after);
      // up to IN_FLIGHT pages are in the engines at once; progress and the cursor follow the oldest, in order
      const inFlight: Array<{ applied: Promise<unknown>; handled: number; skipped: SkippedItem[]; cursor: BackfillCursor }> = [];
      const settleOldest = async () => {
        const page = inFlight.shift()!;
        await page.applied;
        for (const item of page.skipped) ctx.skip(item);
        ctx.advance(page.handled, page.cursor);
      };
      for (;;) {
        if (ctx.stopping()) {
          while (inFlight.length) await settleOldest();
          return 'stopped';
        }
        if (catalog.versionState(project, target) === 'retired') throw new Error(`version ${target} was retired during its back-fill`);
        const items = await page;
        if (!items.length) break;
        after = items[items.length - 1]!.id;
        page = read(after);
        const writes: ItemPut[] = [];
        const skipped: SkippedItem[] = [];
        for (const scanned of items) {
          const copy = copyItem(snapshots, blueprint, scanned.item, sourceVersion, target);
          if (copy.ok) {
            writes.push({ op: 'put', project, version: target, blueprint, definition: definitionOf(blueprint), id: scanned.id, stamp: scanned.stamp, item: copy.item, copied: true });
          } else if ('problems' in copy) {
            const errors: Problems = {};
            for (const [field, what] of Object.entries(copy.problems)) errors[`v${target}.${field}`] = what;
            skipped.push({ id: scanned.id, blueprint, reason: `does not fit version ${target}: ${Object.entries(errors).map(([f, what]) => `${f} ${what}`).join('; ')}`, errors });
          } else {
            skipped.push({ id: scanned.id, blueprint, reason: `a snapshot between ${sourceVersion} and ${target} lacks blueprint "${blueprint}"` });
          }
        }
        const applied = writes.length ? submitPatiently(queue, writes, deps.writeTimeoutMs, ctx) : Promise.resolve();
        applied.catch(() => {}); // awaited in order by settleOldest
        inFlight.push({ applied, handled: items.length, skipped, cursor: { blueprint, after } });
        if (inFlight.length >= IN_FLIGHT) await settleOldest();
        copied += items.length;
        if (deps.rate > 0) {
          const due = started + (copied / deps.rate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
      }
      while (inFlight.length) await settleOldest();
      cursor = blueprints[b + 1] ? { blueprint: blueprints[b + 1]! } : undefined;
    }
    await deps.ready(project, target);
    return { result: { source_version: sourceVersion, blueprints } };
  };
}

function pageSize(rate: number): number {
  return rate > 0 ? Math.max(1, Math.min(PAGE, Math.ceil(rate / 4))) : PAGE;
}
