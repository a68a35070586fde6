import type { Catalog } from '../catalog/catalog.ts';
import { contentChecksum } from '../schema/readback.ts';
import type { ScannedItem, Store } from '../stores/store.ts';
import type { WriteQueue } from '../writes/queue.ts';
import type { JobContext, JobRecord, JobRunner } from './jobs.ts';
import { copySource, mergeById, PagedScan, storeSource, type CopyReader, type ScanSource } from './sources.ts';

/**
 * Verify (SPEC §12): for every live version and blueprint, every engine's scan
 * and every worker's LevelDB copy, walked side by side in id order and
 * compared item by item — the ids, each item's stamp, and a checksum of its
 * content normalized through the column-type table (schema/readback.ts).
 * Where they disagree, the state most of them hold is taken as right (on a
 * tie: holding the item over not holding it, then the newer stamp), and each
 * other one is reported missing, extra or different for that id.
 */
export interface VerifyDeps {
  catalog: Catalog;
  queue: WriteQueue;
  /** The engines this process reads directly: the shared ones, and LevelDB when the queue is in-process. */
  stores: readonly Store[];
  /** The workers' LevelDB copies, under RabbitMQ. */
  copies: CopyReader | null;
}

/** The ids listed per kind of drift (all are counted). */
export const IDS_LISTED = 20;
const PAGE = 1000;

export interface IdList {
  total: number;
  ids: string[];
}

/** One engine's (or LevelDB copy's) view of one blueprint of one version. */
export interface Tally {
  count: number;
  missing: IdList;
  extra: IdList;
  different: IdList;
  /** Why this copy could not be read (its worker is down); it then counts as disagreeing. */
  error?: string;
}

export interface BlueprintReport {
  version: number;
  blueprint: string;
  agree: boolean;
  /** By source: `postgresql`, `elasticsearch`, `level`, or `level@<WORKER_ID>`. */
  engines: Record<string, Tally>;
}

export interface VerifyResult {
  agree: boolean;
  /** Ids that are missing, extra or different somewhere. */
  drift: number;
  blueprints: BlueprintReport[];
}

interface VerifyCursor {
  /** Reports of the blueprints already walked. */
  reports: BlueprintReport[];
  drift: number;
  /** The blueprint being walked, and how far; absent once every blueprint is. */
  at?: { version: number; blueprint: string; after?: string; tallies?: Record<string, Tally> };
}

function emptyTally(): Tally {
  return { count: 0, missing: { total: 0, ids: [] }, extra: { total: 0, ids: [] }, different: { total: 0, ids: [] } };
}

function note(list: IdList, id: string): void {
  list.total++;
  if (list.ids.length < IDS_LISTED) list.ids.push(id);
}

/** The versions and blueprints a job walks, in order: live versions ascending (or the one asked for), blueprints by name. */
export function walkOrder(catalog: Catalog, project: string, only?: number): Array<{ version: number; blueprint: string }> {
  const versions = only === undefined ? catalog.versions(project) : [only];
  return versions.flatMap((version) => Object.keys(catalog.snapshot(project, version).blueprints).sort().map((blueprint) => ({ version, blueprint })));
}

/** What the sources hold for one id, as comparable states: `null` for not holding it. */
export type Held = Array<{ stamp: number; sum: string } | null>;

/**
 * The state taken as right for one id: the one most sources hold; on a tie
 * holding the item beats not holding it (an engine loses data more often than
 * it invents it), then the newer stamp, then the earlier source.
 */
export function referenceState(held: Held): { stamp: number; sum: string } | null {
  const votes = new Map<string, { n: number; state: { stamp: number; sum: string } | null; first: number }>();
  held.forEach((h, i) => {
    const key = h ? `${h.stamp}:${h.sum}` : '';
    const v = votes.get(key);
    if (v) v.n++;
    else votes.set(key, { n: 1, state: h, first: i });
  });
  let best: { n: number; state: { stamp: number; sum: string } | null; first: number } | undefined;
  for (const v of votes.values()) {
    if (!best) best = v;
    else if (v.n !== best.n) best = v.n > best.n ? v : best;
    else if ((v.state === null) !== (best.state === null)) best = v.state ? v : best;
    else if (v.state && best.state && v.state.stamp !== best.state.stamp) best = v.state.stamp > best.state.stamp ? v : best;
    else best = v.first < best.first ? v : best;
  }
  return best?.state ?? null;
}

/** Tallies one id into each source's report; true when they do not all agree. */
export function judge(id: string, held: Held, tallies: readonly Tally[]): boolean {
  const ref = referenceState(held);
  let drift = false;
  held.forEach((h, i) => {
    const tally = tallies[i]!;
    if (h) tally.count++;
    if (!h && !ref) return;
    if (h && ref && h.stamp === ref.stamp && h.sum === ref.sum) return;
    drift = true;
    if (!h) note(tally.missing, id);
    else if (!ref) note(tally.extra, id);
    else note(tally.different, id);
  });
  return drift;
}

async function sourcesOf(deps: VerifyDeps): Promise<{ sources: ScanSource[]; unreachable: Record<string, string> }> {
  const sources = deps.stores.map(storeSource);
  const unreachable: Record<string, string> = {};
  if (deps.copies) {
    for (const copy of (await deps.copies.copies()).sort((a, b) => (a.worker < b.worker ? -1 : 1))) {
      if (copy.consumers > 0) sources.push(copySource(deps.copies, copy.worker));
      else unreachable[`level@${copy.worker}`] = `no worker reads its queue now: start worker ${copy.worker}, or delete its queue if it is retired`;
    }
  }
  return { sources, unreachable };
}

export function verifyRunner(deps: VerifyDeps): (job: JobRecord) => JobRunner {
  return (job) => async (ctx: JobContext) => {
    const { catalog } = deps;
    const project = job.project;
    const order = walkOrder(catalog, project, job.version);
    const { sources, unreachable } = await sourcesOf(deps);
    ctx.setFrom(sources.map((s) => s.name).join(', '));
    // every write accepted before the verify is in every engine: what differs then is drift, not a write on its way
    await deps.queue.barrier();

    if (ctx.job.total === 0 && ctx.job.done === 0) {
      let total = 0;
      let estimated = false;
      for (const { version, blueprint } of order) {
        const definition = catalog.snapshot(project, version).blueprints[blueprint]!;
        const counts = await Promise.all(sources.map((s) => s.count({ project, version, blueprint, definition }).catch(() => 0)));
        total += Math.max(0, ...counts);
        if (new Set(counts).size > 1) estimated = true;
      }
      ctx.setTotal(total, estimated);
    }

    const saved = ctx.job.cursor as VerifyCursor | undefined;
    const reports: BlueprintReport[] = saved?.reports ?? [];
    let drift = saved?.drift ?? 0;
    const at = saved?.at;
    const start = !saved ? 0 : at ? Math.max(0, order.findIndex((o) => o.version === at.version && o.blueprint === at.blueprint)) : order.length;
    for (let b = start; b < order.length; b++) {
      const { version, blueprint } = order[b]!;
      const definition = catalog.snapshot(project, version).blueprints[blueprint]!;
      const resumed = at && b === start && at.version === version && at.blueprint === blueprint ? at : undefined;
      const tallies = sources.map((s) => resumed?.tallies?.[s.name] ?? emptyTally());
      const scans = sources.map((s) => new PagedScan((after) => s.scan({ project, version, blueprint, definition, after, limit: PAGE }), resumed?.after));
      let handled = 0;
      const cursor = (after: string): VerifyCursor => ({ reports, drift, at: { version, blueprint, after, tallies: Object.fromEntries(sources.map((s, i) => [s.name, tallies[i]!])) } });
      const sum = (s: ScannedItem | undefined) => (s ? { stamp: s.stamp, sum: contentChecksum(definition, s.item) } : null);
      for await (const row of mergeById(scans)) {
        if (judge(row.id, row.held.map(sum), tallies)) drift++;
        if (++handled === PAGE) {
          ctx.advance(handled, cursor(row.id));
          handled = 0;
          if (ctx.stopping()) return 'stopped';
        }
      }
      const engines: Record<string, Tally> = Object.fromEntries(sources.map((s, i) => [s.name, tallies[i]!]));
      for (const [name, error] of Object.entries(unreachable)) engines[name] = { ...emptyTally(), error };
      const agree = Object.values(engines).every((t) => !t.error && !t.missing.total && !t.extra.total && !t.different.total);
      reports.push({ version, blueprint, agree, engines });
      const next = order[b + 1];
      ctx.advance(handled, { reports, drift, ...(next ? { at: { version: next.version, blueprint: next.blueprint } } : {}) } satisfies VerifyCursor);
    }
    if (ctx.job.done !== ctx.job.total) ctx.setTotal(ctx.job.done);
    const result: VerifyResult = { agree: reports.every((r) => r.agree), drift, blueprints: reports };
    return { result };
  };
}
