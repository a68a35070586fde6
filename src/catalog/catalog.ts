import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Blueprint, Blueprints } from '../schema/blueprint.ts';
import { tableCollisions, BlueprintError } from '../schema/blueprint.ts';
import type { Snapshot } from '../stores/store.ts';
import { readJson, writeJsonAtomic } from './json-files.ts';

/**
 * Projects, their working copies and their snapshots, kept as readable JSON
 * under PROJECT_FILE_PATH:
 *   <project>/project.json         { name, versions: [1, 2, …] } (a version is announced once listed here)
 *   <project>/working.json         the working copy: { <blueprint>: blueprint }
 *   <project>/snapshots/<N>.json   snapshot N, immutable
 * One dstore API process owns a catalog directory.
 */
export interface ProjectRecord {
  name: string;
  createdAt: string;
  /** Every announced snapshot, retired ones too (the catalog keeps them for history). */
  versions: number[];
  /** Lifecycle of each version (SPEC §9); a version absent here is ready (catalogs written before schema evolution). */
  states?: Record<string, VersionState>;
}

/** backfilling: written to, not yet "latest"; ready: complete; retired: dropped from the engines, kept here for history. */
export type VersionState = 'backfilling' | 'ready' | 'retired';

export interface SnapshotOptions {
  /** Refuses the snapshot before any engine is touched (SPEC §9 checks at snapshot time): throws. */
  check?: (previous: Snapshot | undefined, next: Snapshot) => void;
  /** The state the new version is announced in (default ready). */
  stateOf?: (next: Snapshot) => VersionState;
}

export class CatalogError extends Error {
  constructor(readonly kind: 'project-not-found' | 'blueprint-not-found' | 'version-not-found' | 'busy' | 'in-use' | 'empty', message: string) {
    super(message);
  }
}

/** Prepares every engine for a snapshot, all or nothing (see catalog/migration.ts). */
export type MigrateSnapshot = (snapshot: Snapshot) => Promise<void>;
export type DropProject = (project: string, versions: readonly number[]) => Promise<void>;

interface ProjectState {
  record: ProjectRecord;
  working: Blueprints;
  snapshots: Map<number, Snapshot>;
}

function stateIn(record: ProjectRecord, version: number): VersionState {
  return record.states?.[version] ?? 'ready';
}

export class Catalog {
  private readonly projects = new Map<string, ProjectState>();
  private readonly busy = new Set<string>();
  /** The tail of each project's chain of working-copy changes. */
  private readonly changes = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  /** Reads every project from disk; a version is only known once project.json lists it. */
  async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = (await readdir(this.root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const record = await readJson<ProjectRecord>(join(this.root, name, 'project.json'));
      if (!record) continue;
      const working = (await readJson<Blueprints>(join(this.root, name, 'working.json'))) ?? {};
      const snapshots = new Map<number, Snapshot>();
      for (const v of record.versions) {
        const snap = await readJson<Snapshot>(this.snapshotPath(name, v));
        if (!snap) throw new Error(`catalog ${this.root}: project ${name} lists version ${v} but ${this.snapshotPath(name, v)} is missing`);
        snapshots.set(v, snap);
      }
      this.projects.set(name, { record, working, snapshots });
    }
  }

  private dir(project: string): string {
    return join(this.root, project);
  }

  private snapshotPath(project: string, version: number): string {
    return join(this.dir(project), 'snapshots', `${version}.json`);
  }

  private state(project: string): ProjectState {
    const s = this.projects.get(project);
    if (!s) throw new CatalogError('project-not-found', `project "${project}" does not exist`);
    return s;
  }

  listProjects(): string[] {
    return [...this.projects.keys()].sort();
  }

  has(project: string): boolean {
    return this.projects.has(project);
  }

  project(project: string): { name: string; createdAt: string; versions: number[]; retired: number[]; project_version: number | null; blueprints: Blueprints } {
    const s = this.state(project);
    return { name: project, createdAt: s.record.createdAt, versions: this.versions(project), retired: this.retired(project), project_version: this.latest(project), blueprints: s.working };
  }

  /** The live versions: announced and not retired. */
  versions(project: string): number[] {
    const s = this.state(project);
    return s.record.versions.filter((v) => stateIn(s.record, v) !== 'retired');
  }

  retired(project: string): number[] {
    const s = this.state(project);
    return s.record.versions.filter((v) => stateIn(s.record, v) === 'retired');
  }

  /** Whether the snapshot exists (retired ones too: a write naming one is told so). */
  hasVersion(project: string, version: number): boolean {
    return this.state(project).snapshots.has(version);
  }

  versionState(project: string, version: number): VersionState {
    const s = this.state(project);
    if (!s.snapshots.has(version)) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
    return stateIn(s.record, version);
  }

  /** The latest ready version: what "latest" readers see (SPEC §9). */
  latest(project: string): number | null {
    const s = this.state(project);
    const ready = s.record.versions.filter((v) => stateIn(s.record, v) === 'ready');
    return ready.length ? ready[ready.length - 1]! : null;
  }

  /** Records a version's new state (backfilling → ready, or → retired). */
  setVersionState(project: string, version: number, state: VersionState): Promise<void> {
    return this.serially(project, async () => {
      const s = this.state(project);
      if (!s.snapshots.has(version)) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
      const record = { ...s.record, states: { ...s.record.states, [version]: state } };
      await writeJsonAtomic(join(this.dir(project), 'project.json'), record);
      s.record = record;
    });
  }

  working(project: string): Blueprints {
    return this.state(project).working;
  }

  blueprint(project: string, name: string): Blueprint {
    const working = this.state(project).working;
    // own names only: a blueprint called `constructor` must not find Object.prototype's
    const bp = Object.hasOwn(working, name) ? working[name] : undefined;
    if (!bp) throw new CatalogError('blueprint-not-found', `project "${project}" has no blueprint "${name}" in its working copy`);
    return bp;
  }

  snapshot(project: string, version: number): Snapshot {
    const snap = this.state(project).snapshots.get(version);
    if (!snap) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
    return snap;
  }

  /** Every live version whose snapshot holds the blueprint, with its frozen definition. */
  versionsHolding(project: string, blueprint: string): Array<{ version: number; definition: Blueprint }> {
    const s = this.state(project);
    const out: Array<{ version: number; definition: Blueprint }> = [];
    for (const v of s.record.versions) {
      if (stateIn(s.record, v) === 'retired') continue;
      const blueprints = s.snapshots.get(v)!.blueprints;
      const def = Object.hasOwn(blueprints, blueprint) ? blueprints[blueprint] : undefined;
      if (def) out.push({ version: v, definition: def });
    }
    return out;
  }

  /** Changes of one project's working copy run one after the other, so none is built on a state another is replacing. */
  private serially<T>(project: string, change: () => Promise<T>): Promise<T> {
    const result = (this.changes.get(project) ?? Promise.resolve()).then(change, change);
    const tail = result.catch(() => {});
    this.changes.set(project, tail);
    void tail.then(() => {
      if (this.changes.get(project) === tail) this.changes.delete(project);
    });
    return result;
  }

  putBlueprint(project: string, name: string, blueprint: Blueprint): Promise<Blueprint> {
    return this.serially(project, async () => {
      const s = await this.ensure(project);
      const next = { ...s.working, [name]: blueprint };
      const collisions = tableCollisions(next);
      if (Object.keys(collisions).length) throw new BlueprintError(name, collisions);
      await writeJsonAtomic(join(this.dir(project), 'working.json'), next);
      s.working = next;
      return blueprint;
    });
  }

  deleteBlueprint(project: string, name: string): Promise<void> {
    return this.serially(project, async () => {
      const s = this.state(project);
      if (!Object.hasOwn(s.working, name)) throw new CatalogError('blueprint-not-found', `project "${project}" has no blueprint "${name}" in its working copy`);
      const { [name]: _gone, ...rest } = s.working;
      await writeJsonAtomic(join(this.dir(project), 'working.json'), rest);
      s.working = rest;
    });
  }

  replaceWorking(project: string, blueprints: Blueprints): Promise<Blueprints> {
    return this.serially(project, async () => {
      const s = await this.ensure(project);
      await writeJsonAtomic(join(this.dir(project), 'working.json'), blueprints);
      s.working = blueprints;
      return blueprints;
    });
  }

  /**
   * Replaces the working copy and runs `snapshot` (PUT /{project}, SPEC §11): when it fails before
   * a version was announced, the working copy is put back as it was (a project it created is removed),
   * unless another change replaced it meanwhile.
   */
  async replaceWorkingAndSnapshot<T>(project: string, blueprints: Blueprints, snapshot: () => Promise<T>): Promise<T> {
    const before = this.projects.get(project);
    const previous = before?.working;
    const versions = before?.record.versions.length ?? 0;
    await this.replaceWorking(project, blueprints);
    try {
      return await snapshot();
    } catch (err) {
      await this.serially(project, async () => {
        const s = this.projects.get(project);
        if (!s || s.working !== blueprints || s.record.versions.length !== versions) return;
        if (previous !== undefined) {
          await writeJsonAtomic(join(this.dir(project), 'working.json'), previous);
          s.working = previous;
        } else if (!this.busy.has(project)) {
          await rm(this.dir(project), { recursive: true, force: true });
          this.projects.delete(project);
        }
      });
      throw err;
    }
  }

  /**
   * Freezes the working copy as the next version. The version is announced
   * (written to project.json) only after `migrate` succeeded on every engine;
   * a second snapshot of the same project while one runs is refused.
   */
  async createSnapshot(project: string, migrate: MigrateSnapshot, options: SnapshotOptions = {}): Promise<Snapshot> {
    const s = this.state(project);
    if (this.busy.has(project)) throw new CatalogError('busy', `a snapshot or drop of project "${project}" is already in progress`);
    if (!Object.keys(s.working).length) throw new CatalogError('empty', `project "${project}" has no blueprints to snapshot`);
    this.busy.add(project);
    try {
      const last = s.record.versions.length ? s.record.versions[s.record.versions.length - 1]! : 0;
      const snapshot: Snapshot = { project, version: last + 1, createdAt: new Date().toISOString(), blueprints: structuredClone(s.working) };
      options.check?.(last ? s.snapshots.get(last) : undefined, snapshot);
      await migrate(snapshot);
      await writeJsonAtomic(this.snapshotPath(project, snapshot.version), snapshot);
      const state = options.stateOf?.(snapshot) ?? 'ready';
      const record = { ...s.record, versions: [...s.record.versions, snapshot.version], states: { ...s.record.states, [snapshot.version]: state } };
      await writeJsonAtomic(join(this.dir(project), 'project.json'), record);
      s.record = record;
      s.snapshots.set(snapshot.version, snapshot);
      return snapshot;
    } finally {
      this.busy.delete(project);
    }
  }

  /**
   * Retires a version: recorded first, so no write lands in it any more, then
   * dropped from the engines by `drop` (run again on a second call, so a drop
   * that failed half-way is finished by retrying). The latest ready version
   * cannot be retired: readers of "latest" point at it.
   */
  async retireVersion(project: string, version: number, drop: (version: number) => Promise<void>): Promise<void> {
    const state = this.versionState(project, version);
    if (state !== 'retired') {
      if (this.latest(project) === version) throw new CatalogError('in-use', `version ${version} of "${project}" is its latest ready version: snapshot and back-fill a newer one before retiring it`);
      await this.setVersionState(project, version, 'retired');
    }
    await drop(version);
  }

  /** Drops the project from every engine, then from the catalog. */
  async dropProject(project: string, drop: DropProject): Promise<void> {
    const s = this.state(project);
    if (this.busy.has(project)) throw new CatalogError('busy', `a snapshot or drop of project "${project}" is already in progress`);
    this.busy.add(project);
    try {
      await drop(project, s.record.versions);
      // after every change of the project queued before it, so none writes into a removed directory
      await this.serially(project, async () => {
        await rm(this.dir(project), { recursive: true, force: true });
        this.projects.delete(project);
      });
    } finally {
      this.busy.delete(project);
    }
  }

  /** Every snapshot of a project, retired ones too, by version (the walk of a copy passes through them all). */
  snapshotsOf(project: string): ReadonlyMap<number, Snapshot> {
    return this.state(project).snapshots;
  }

  private async ensure(project: string): Promise<ProjectState> {
    const existing = this.projects.get(project);
    if (existing) return existing;
    const state: ProjectState = { record: { name: project, createdAt: new Date().toISOString(), versions: [] }, working: {}, snapshots: new Map() };
    await writeJsonAtomic(join(this.dir(project), 'working.json'), {});
    await writeJsonAtomic(join(this.dir(project), 'project.json'), state.record);
    this.projects.set(project, state);
    return state;
  }
}
