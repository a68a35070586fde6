import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../catalog/json-files.ts';
import type { Problems } from '../schema/blueprint.ts';

/**
 * Long-running work (SPEC §8): back-fills, verifications, rebuilds. Each job is
 * a record kept with the catalog (one JSON file per job), saved at least once a
 * second while it runs, and resumed from its cursor at the next start after a
 * crash or a SIGTERM. A job runs at most once at a time: in this process by
 * `running`, across processes by the lease its storage gives (JobStorage.claim).
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

/** A job as its storage keeps it. */
export interface StoredJob {
  job: JobRecord;
  skipped: SkippedItem[];
}
type Stored = StoredJob;

/**
 * Where jobs are kept (SPEC §8: with the catalog): one JSON file per job (file catalog) or rows of
 * dstore_catalog.jobs with a lease (PostgreSQL catalog), so a job runs in one process at a time.
 */
export interface JobStorage {
  loadAll(): Promise<StoredJob[]>;
  /** One job as stored now (undefined: gone). */
  read(id: string): Promise<StoredJob | undefined>;
  /** Stores a new job, leased to this process. */
  create(stored: StoredJob): Promise<void>;
  /** Stores its progress and renews the lease; false: another process holds the job now. */
  save(stored: StoredJob): Promise<boolean>;
  /** Takes the job's lease (free, expired, or ours already); the job as stored then, or undefined when another process holds it. */
  claim(id: string): Promise<StoredJob | undefined>;
  /** Gives the lease up, so another process may resume the job at once. */
  release(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Shared storages: called with a job's id when another process changed it. */
  onChange?(listener: (id: string) => void): void;
  /** Shared storages: how often to look for jobs whose owner died (lease expired). */
  readonly adoptEveryMs?: number;
}

/** `<PROJECT_FILE_PATH>/_jobs/<id>.json`; one process owns the directory, so every claim succeeds. */
export class FileJobStorage implements JobStorage {
  constructor(private readonly dir: string) {}

  async loadAll(): Promise<StoredJob[]> {
    let names: string[] = [];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const out: StoredJob[] = [];
    for (const name of names) {
      const stored = await readJson<StoredJob>(join(this.dir, name));
      if (stored?.job?.id) out.push(stored);
    }
    return out;
  }

  read(id: string): Promise<StoredJob | undefined> {
    return readJson<StoredJob>(this.path(id));
  }

  create(stored: StoredJob): Promise<void> {
    return writeJsonAtomic(this.path(stored.job.id), stored);
  }

  async save(stored: StoredJob): Promise<boolean> {
    await writeJsonAtomic(this.path(stored.job.id), stored);
    return true;
  }

  claim(id: string): Promise<StoredJob | undefined> {
    return this.read(id);
  }

  async release(): Promise<void> {}

  remove(id: string): Promise<void> {
    return rm(this.path(id), { force: true });
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}

interface Running {
  stored: Stored;
  /** Resolves once the job knows its total (or ended). */
  counted: Promise<void>;
  finished: Promise<JobRecord>;
}

export class UnknownJobError extends Error {}

function resumingLine(job: JobRecord): string {
  return `job ${job.id} (${job.kind} ${job.project}${job.version ? ` v${job.version}` : ''}): resuming after ${job.done} of ${job.total}`;
}

export class Jobs {
  private readonly jobs = new Map<string, Stored>();
  private readonly running = new Map<string, Running>();
  private readonly runners = new Map<JobKind, (job: JobRecord) => JobRunner>();
  private stopped = false;
  private readonly cancelled = new Set<string>();
  private readonly storage: JobStorage;
  private adopter: NodeJS.Timeout | undefined;

  /** A directory is the file storage. */
  constructor(
    storage: string | JobStorage,
    private readonly log: (msg: string) => void = () => {},
  ) {
    this.storage = typeof storage === 'string' ? new FileJobStorage(storage) : storage;
    // another process started or advanced a job: GET /_jobs here shows it as stored
    this.storage.onChange?.((id) => void this.refresh(id).catch(() => {}));
  }

  /** How jobs of a kind run (and resume after a restart). */
  define(kind: JobKind, runner: (job: JobRecord) => JobRunner): void {
    this.runners.set(kind, runner);
  }

  async load(): Promise<void> {
    for (const stored of await this.storage.loadAll()) this.jobs.set(stored.job.id, stored);
  }

  /** Resumes every job a crash or a stop interrupted (and, shared, keeps adopting those whose owner died). */
  resume(): void {
    for (const stored of this.jobs.values()) {
      if (stored.job.state !== 'queued' && stored.job.state !== 'running') continue;
      // a shared storage says so once the lease is ours (another process may hold the job)
      if (!this.storage.adoptEveryMs) this.log(resumingLine(stored.job));
      this.run(stored, !!this.storage.adoptEveryMs);
    }
    if (this.storage.adoptEveryMs && !this.adopter) {
      this.adopter = setInterval(() => void this.adopt().catch((e: Error) => this.log(`jobs: looking for jobs to resume failed: ${e.message}`)), this.storage.adoptEveryMs);
      this.adopter.unref();
    }
  }

  /** Runs the unfinished jobs that no live process holds. */
  private async adopt(): Promise<void> {
    if (this.stopped) return;
    for (const stored of await this.storage.loadAll()) {
      if (this.running.has(stored.job.id) || this.cancelled.has(stored.job.id)) continue;
      this.jobs.set(stored.job.id, stored);
      if (stored.job.state === 'queued' || stored.job.state === 'running') this.run(stored, true);
    }
  }

  /** Takes a job's record from the storage after another process changed it. */
  private async refresh(id: string): Promise<void> {
    if (this.running.has(id)) return;
    const stored = await this.storage.read(id);
    if (this.running.has(id)) return;
    if (stored) this.jobs.set(id, stored);
    else this.jobs.delete(id);
  }

  /** Creates a job and starts it; resolves once its total is known, so the caller can show it. */
  async start(kind: JobKind, project: string, fields: { version?: number; params?: Record<string, unknown> } = {}): Promise<JobRecord> {
    const job: JobRecord = { id: randomUUID(), kind, project, ...fields, state: 'queued', total: 0, done: 0, skipped: 0, items_per_s: 0, started_at: new Date().toISOString() };
    const stored: Stored = { job, skipped: [] };
    this.jobs.set(job.id, stored);
    await this.storage.create(stored);
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
      await this.storage.remove(id);
    }
  }

  /** Stops every running job at its next step and saves where it was; they resume at the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.adopter);
    await Promise.all([...this.running.values()].map((r) => r.finished.catch(() => {})));
  }

  /** Saves the job; when another process holds it now (our lease expired), this one stops running it. */
  private async save(stored: Stored): Promise<void> {
    if (!(await this.storage.save(stored))) {
      this.cancelled.add(stored.job.id);
      this.log(`job ${stored.job.id}: another process holds it now; stopping it here`);
    }
  }

  private run(stored: Stored, resuming = false): Running {
    const existing = this.running.get(stored.job.id);
    if (existing) return existing;
    const job = stored.job;
    let counted!: () => void;
    const countedP = new Promise<void>((resolve) => (counted = resolve));
    if (job.total > 0 || job.state === 'running') counted();
    let dirty = false;
    const runStart = Date.now();
    let doneAtStart = job.done;
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
    let claimed = false;
    const finished = (async (): Promise<JobRecord> => {
      const current = await this.storage.claim(job.id).catch((e: Error) => {
        this.log(`job ${job.id}: taking it failed: ${e.message}`);
        return undefined;
      });
      if (!current || (current.job.state !== 'queued' && current.job.state !== 'running')) {
        // another process runs it (or has finished it meanwhile): shown as stored, not run here
        if (current) {
          Object.assign(job, current.job);
          stored.skipped = current.skipped;
        }
        counted();
        this.running.delete(job.id);
        return { ...job };
      }
      claimed = true;
      // resumed where the storage says it stopped (another process may have advanced it)
      Object.assign(job, current.job);
      stored.skipped = current.skipped;
      doneAtStart = job.done;
      if (job.total > 0 || job.state === 'running') counted();
      if (resuming) this.log(resumingLine(job));
      job.state = 'running';
      await this.save(stored);
      // saved at least once a second while it runs: a crash loses at most a second of progress
      // (saved even unchanged: that renews the lease of a shared storage)
      const saver = setInterval(() => {
        if (!dirty && !this.storage.adoptEveryMs) return;
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
        if (claimed) await this.storage.release(job.id).catch(() => {});
        this.running.delete(job.id);
      }
      return { ...job };
    })();
    const running: Running = { stored, counted: countedP, finished };
    this.running.set(job.id, running);
    return running;
  }
}
