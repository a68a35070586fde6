import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Blueprint, Blueprints } from '../../schema/blueprint.ts';
import { tableCollisions, BlueprintError } from '../../schema/blueprint.ts';
import type { Snapshot } from '../../stores/store.ts';
import { busy, CatalogError, type DropProject, type MigrateSnapshot, type ProjectRecord, type SnapshotOptions, type VersionState } from '../catalog.ts';
import { readJson, writeJsonAtomic } from '../json-files.ts';
import { LoadedCatalog, type ProjectState } from '../loaded-catalog.ts';

/**
 * The catalog as readable JSON under PROJECT_FILE_PATH:
 *   <project>/project.json         { name, versions: [1, 2, …] } (a version is announced once listed here)
 *   <project>/working.json         the working copy: { <blueprint>: blueprint }
 *   <project>/snapshots/<N>.json   snapshot N, immutable
 * One dstore API process owns a catalog directory (file/catalog-lock.ts enforces it).
 */
export class FileCatalog extends LoadedCatalog {
  private readonly busy = new Set<string>();
  /** The tail of each project's chain of working-copy changes. */
  private readonly changes = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {
    super();
  }

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

  async close(): Promise<void> {}

  /** Every project as loaded, for an import into another catalog. */
  loaded(): ReadonlyMap<string, Readonly<ProjectState>> {
    return this.projects;
  }

  /** One process per directory: every process that accepts writes is this one. */
  async seenEverywhere(): Promise<void> {}

  private dir(project: string): string {
    return join(this.root, project);
  }

  private snapshotPath(project: string, version: number): string {
    return join(this.dir(project), 'snapshots', `${version}.json`);
  }

  setVersionState(project: string, version: number, state: VersionState): Promise<void> {
    return this.serially(project, async () => {
      const s = this.state(project);
      if (!s.snapshots.has(version)) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
      const record = { ...s.record, states: { ...s.record.states, [version]: state } };
      await writeJsonAtomic(join(this.dir(project), 'project.json'), record);
      s.record = record;
    });
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
    if (this.busy.has(project)) throw busy(project);
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

  async dropProject(project: string, drop: DropProject): Promise<void> {
    const s = this.state(project);
    if (this.busy.has(project)) throw busy(project);
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
