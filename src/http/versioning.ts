import type { Catalog } from '../catalog/catalog.ts';
import { evolutionProblems } from '../evolution/steps.ts';
import { backfillSourceVersion } from '../jobs/backfill.ts';
import type { JobRecord, Jobs } from '../jobs/jobs.ts';
import { BlueprintError } from '../schema/blueprint.ts';
import type { Snapshot } from '../stores/store.ts';
import type { EngineControl } from './engines.ts';

/** What a new version answers with about its back-fill (SPEC §9). */
export interface BackfillSummary {
  job?: string;
  state: JobRecord['state'];
  total: number;
  from?: string;
  source_version?: number;
}

const ACTIVATE_RETRY_MS = 1000;

/**
 * The life of a version (SPEC §9): snapshot (checked against the previous one,
 * every engine migrated), back-filled from the latest ready version, ready
 * (the "latest" pointers move to it), retired.
 */
export class Versioning {
  constructor(
    private readonly catalog: Catalog,
    private readonly engines: EngineControl,
    private readonly jobs: Jobs,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Creates the next snapshot; starts its back-fill when an earlier ready version shares a blueprint with it. */
  async create(project: string, wait: boolean): Promise<{ snapshot: Snapshot; backfill?: BackfillSummary }> {
    let source: number | undefined;
    const snapshot = await this.catalog.createSnapshot(project, (s) => this.engines.migrate(s), {
      check: (previous, next) => {
        const problems = evolutionProblems(previous?.blueprints, next.blueprints);
        if (Object.keys(problems).length) throw new BlueprintError('*', problems);
      },
      stateOf: (next) => {
        source = backfillSourceVersion(this.catalog, next);
        return source === undefined ? 'ready' : 'backfilling';
      },
    });
    if (source === undefined) {
      await this.activate(snapshot);
      return { snapshot };
    }
    let job = await this.jobs.start('backfill', project, { version: snapshot.version, params: { source_version: source } });
    // nothing to copy: answered as done, so a client need not poll for it
    if (wait || job.total === 0) job = await this.jobs.finished(job.id);
    return { snapshot, backfill: summary(job) };
  }

  /** The back-fill of a version is done: it becomes ready, and "latest" moves to it unless a newer version already is latest. */
  async ready(project: string, version: number): Promise<void> {
    if (this.catalog.versionState(project, version) !== 'backfilling') return;
    const latest = this.catalog.latest(project);
    if (latest === null || version > latest) await this.activate(this.catalog.snapshot(project, version));
    await this.catalog.setVersionState(project, version, 'ready');
  }

  /** Moves the engines' "latest" pointers; an engine that is down is waited for (the version must not stay hidden). */
  private async activate(snapshot: Snapshot): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.engines.activate(snapshot);
        return;
      } catch (err) {
        if (attempt === 1 || attempt % 30 === 0) this.log(`version ${snapshot.project} v${snapshot.version}: moving "latest" failed (${(err as Error).message}); retrying`);
        if (attempt >= 300) throw err;
        await new Promise((resolve) => setTimeout(resolve, ACTIVATE_RETRY_MS));
      }
    }
  }

  async retire(project: string, version: number): Promise<void> {
    await this.catalog.retireVersion(project, version, (v) => this.engines.retire(project, v));
  }

  /** What GET /{project}/_version/{N} answers. */
  describe(project: string, version: number): Record<string, unknown> {
    const snapshot = this.catalog.snapshot(project, version);
    const state = this.catalog.versionState(project, version);
    const job = this.jobs.list({ project }).find((j) => j.kind === 'backfill' && j.version === version);
    return { project_version: version, state, created_at: snapshot.createdAt, ...(job ? { backfill: job } : {}) };
  }
}

export function summary(job: JobRecord): BackfillSummary {
  return { job: job.id, state: job.state, total: job.total, from: job.from, source_version: job.params?.['source_version'] as number | undefined };
}
