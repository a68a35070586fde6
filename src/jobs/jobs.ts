import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../catalog/json-files.ts';
import type { Problems } from '../schema/blueprint.ts';

/**
 * Long-running work (SPEC §8): back-fills, verifications, rebuilds. Each job is
 * a record kept with the catalog (one JSON file per job), saved at least once a
 * second while it runs, and resumed from its cursor at the next start after a
 * crash or a SIGTERM. A job runs at most once at a time in this process.
 */
export type JobKind = 'backfill' | 'verify' | 'rebuild';
export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRecord {
  id: string;
  kind: JobKind;
  project: string;
  version?: number;
  state: JobState;
  total: number;
  /** `total` was estimated, so `done` may end above or below it. */
  estimated?: boolean;
  done: number;
  skipped: number;
  items_per_s: number;
  started_at: string;
  finished_at?: string;
  error?: string;
  result?: unknown;
  /** The engine the job reads from. */
  from?: string;
  /** What the job is about, its own (a back-fill's source version, say). */
  params?: Record<string, unknown>;
  /** Where the job resumes: the job's own, opaque here. */
  cursor?: unknown;
}

export interface SkippedItem {
  id: string;
  blueprint: string;
  reason: string;
  errors?: Problems;
}

/** The most skipped items a job lists with their reasons (it counts them all). */
export const SKIPPED_LISTED = 100;
const SAVE_EVERY_MS = 1000;

/** What a running job may do to its own record. */
export interface JobContext {
  readonly job: Readonly<JobRecord>;
  /** Called once `total` is known, before the first item is handled. */
  setTotal(total: number, estimated?: boolean): void;
  setFrom(engine: string): void;
  /** Items handled since the last call, and the cursor to resume after them. */
  advance(handled: number, cursor: unknown): void;
  skip(item: SkippedItem): void;
  /** True once the process is stopping: the job returns and resumes at the next start. */
  stopping(): boolean;
}

/** Runs one job to its end; returns its result, or undefined when it stopped early (stopping()). */
export type JobRunner = (ctx: JobContext) => Promise<{ result?: unknown } | 'stopped'>;

interface Stored {
  job: JobRecord;
  skipped: SkippedItem[];
}

interface Running {
  stored: Stored;
  /** Resolves once the job knows its total (or ended). */
  counted: Promise<void>;
  finished: Promise<JobRecord>;
}

export class UnknownJobError extends Error {}

export class Jobs {
  private readonly jobs = new Map<string, Stored>();
  private readonly running = new Map<string, Running>();
  private readonly runners = new Map<JobKind, (job: JobRecord) => JobRunner>();
  private stopped = false;
  private readonly cancelled = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** How jobs of a kind run (and resume after a restart). */
  define(kind: JobKind, runner: (job: JobRecord) => JobRunner): void {
    this.runners.set(kind, runner);
  }

  async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const stored = await readJson<Stored>(join(this.dir, name));
      if (stored?.job?.id) this.jobs.set(stored.job.id, stored);
    }
  }

  /** Resumes every job a crash or a stop interrupted. */
  resume(): void {
    for (const stored of this.jobs.values()) {
      if (stored.job.state === 'queued' || stored.job.state === 'running') {
        this.log(`job ${stored.job.id} (${stored.job.kind} ${stored.job.project}${stored.job.version ? ` v${stored.job.version}` : ''}): resuming after ${stored.job.done} of ${stored.job.total}`);
        this.run(stored);
      }
    }
  }

  /** Creates a job and starts it; resolves once its total is known, so the caller can show it. */
  async start(kind: JobKind, project: string, fields: { version?: number; params?: Record<string, unknown> } = {}): Promise<JobRecord> {
    const job: JobRecord = { id: randomUUID(), kind, project, ...fields, state: 'queued', total: 0, done: 0, skipped: 0, items_per_s: 0, started_at: new Date().toISOString() };
    const stored: Stored = { job, skipped: [] };
    this.jobs.set(job.id, stored);
    await this.save(stored);
    const running = this.run(stored);
    await running.counted;
    return { ...job };
  }

  /** Resolves with the job's record once it has ended (done or failed), or at once if it has. */
  async finished(id: string): Promise<JobRecord> {
    const running = this.running.get(id);
    if (running) return running.finished;
    return this.get(id);
  }

  get(id: string): JobRecord {
    const stored = this.jobs.get(id);
    if (!stored) throw new UnknownJobError(`no job ${id}`);
    return { ...stored.job };
  }

  skipped(id: string): SkippedItem[] {
    const stored = this.jobs.get(id);
    if (!stored) throw new UnknownJobError(`no job ${id}`);
    return [...stored.skipped];
  }

  /** Newest first. */
  list(filter: { project?: string } = {}): JobRecord[] {
    return [...this.jobs.values()]
      .map((s) => s.job)
      .filter((j) => !filter.project || j.project === filter.project)
      .sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : 0))
      .map((j) => ({ ...j }));
  }

  /**
   * Stops the project's running jobs at their next step and waits for them (before the project
   * is dropped); resolves with a function that starts them again, should the drop not happen.
   */
  async pause(project: string): Promise<() => void> {
    const mine = [...this.running.entries()].filter(([, r]) => r.stored.job.project === project);
    for (const [id] of mine) this.cancelled.add(id);
    await Promise.all(mine.map(([, r]) => r.finished.catch(() => {})));
    return () => {
      for (const [id, running] of mine) {
        this.cancelled.delete(id);
        if (!this.stopped) this.run(running.stored);
      }
    };
  }

  /** Forgets the jobs of a dropped project. */
  async forget(project: string): Promise<void> {
    for (const [id, stored] of this.jobs) {
      if (stored.job.project !== project || this.running.has(id)) continue;
      this.jobs.delete(id);
      this.cancelled.delete(id);
      await rm(this.path(id), { force: true });
    }
  }

  /** Stops every running job at its next step and saves where it was; they resume at the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running.values()].map((r) => r.finished.catch(() => {})));
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private save(stored: Stored): Promise<void> {
    return writeJsonAtomic(this.path(stored.job.id), stored);
  }

  private run(stored: Stored): Running {
    const existing = this.running.get(stored.job.id);
    if (existing) return existing;
    const job = stored.job;
    let counted!: () => void;
    const countedP = new Promise<void>((resolve) => (counted = resolve));
    if (job.total > 0 || job.state === 'running') counted();
    let dirty = false;
    const runStart = Date.now();
    const doneAtStart = job.done;
    const ctx: JobContext = {
      job,
      setTotal: (total, estimated) => {
        job.total = total;
        if (estimated) job.estimated = true;
        else delete job.estimated;
        dirty = true;
        counted();
      },
      setFrom: (engine) => {
        job.from = engine;
        dirty = true;
      },
      advance: (handled, cursor) => {
        job.done += handled;
        job.cursor = cursor;
        const seconds = (Date.now() - runStart) / 1000;
        job.items_per_s = seconds > 0 ? Math.round((job.done - doneAtStart) / seconds) : 0;
        dirty = true;
      },
      skip: (item) => {
        job.skipped++;
        if (stored.skipped.length < SKIPPED_LISTED) stored.skipped.push(item);
        dirty = true;
      },
      stopping: () => this.stopped || this.cancelled.has(job.id),
    };
    const runner = this.runners.get(job.kind);
    const finished = (async (): Promise<JobRecord> => {
      job.state = 'running';
      await this.save(stored);
      // saved at least once a second while it runs: a crash loses at most a second of progress
      const saver = setInterval(() => {
        if (!dirty) return;
        dirty = false;
        this.save(stored).catch((e: Error) => this.log(`job ${job.id}: saving its progress failed: ${e.message}`));
      }, SAVE_EVERY_MS);
      saver.unref();
      try {
        if (!runner) throw new Error(`no runner for jobs of kind ${job.kind}`);
        const outcome = await runner({ ...job })(ctx);
        if (outcome !== 'stopped') {
          job.state = 'done';
          job.finished_at = new Date().toISOString();
          if (outcome.result !== undefined) job.result = outcome.result;
        }
      } catch (err) {
        job.state = 'failed';
        job.error = (err as Error).message;
        job.finished_at = new Date().toISOString();
        this.log(`job ${job.id} (${job.kind} ${job.project}) failed: ${job.error}`);
      } finally {
        clearInterval(saver);
        counted();
        await this.save(stored).catch((e: Error) => this.log(`job ${job.id}: saving failed: ${e.message}`));
        this.running.delete(job.id);
      }
      return { ...job };
    })();
    const running: Running = { stored, counted: countedP, finished };
    this.running.set(job.id, running);
    return running;
  }
}
