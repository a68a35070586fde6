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
  versions: number[];
}

export class CatalogError extends Error {
  constructor(readonly kind: 'project-not-found' | 'blueprint-not-found' | 'version-not-found' | 'busy' | 'empty', message: string) {
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

  project(project: string): { name: string; createdAt: string; versions: number[]; project_version: number | null; blueprints: Blueprints } {
    const s = this.state(project);
    return { name: project, createdAt: s.record.createdAt, versions: [...s.record.versions], project_version: this.latest(project), blueprints: s.working };
  }

  versions(project: string): number[] {
    return [...this.state(project).record.versions];
  }

  hasVersion(project: string, version: number): boolean {
    return this.state(project).snapshots.has(version);
  }

  latest(project: string): number | null {
    const v = this.state(project).record.versions;
    return v.length ? v[v.length - 1]! : null;
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

  /** Every announced version whose snapshot holds the blueprint, with its frozen definition. */
  versionsHolding(project: string, blueprint: string): Array<{ version: number; definition: Blueprint }> {
    const s = this.state(project);
    const out: Array<{ version: number; definition: Blueprint }> = [];
    for (const v of s.record.versions) {
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
   * Freezes the working copy as the next version. The version is announced
   * (written to project.json) only after `migrate` succeeded on every engine;
   * a second snapshot of the same project while one runs is refused.
   */
  async createSnapshot(project: string, migrate: MigrateSnapshot): Promise<Snapshot> {
    const s = this.state(project);
    if (this.busy.has(project)) throw new CatalogError('busy', `a snapshot or drop of project "${project}" is already in progress`);
    if (!Object.keys(s.working).length) throw new CatalogError('empty', `project "${project}" has no blueprints to snapshot`);
    this.busy.add(project);
    try {
      const last = s.record.versions.length ? s.record.versions[s.record.versions.length - 1]! : 0;
      const snapshot: Snapshot = { project, version: last + 1, createdAt: new Date().toISOString(), blueprints: structuredClone(s.working) };
      await migrate(snapshot);
      await writeJsonAtomic(this.snapshotPath(project, snapshot.version), snapshot);
      const record = { ...s.record, versions: [...s.record.versions, snapshot.version] };
      await writeJsonAtomic(join(this.dir(project), 'project.json'), record);
      s.record = record;
      s.snapshots.set(snapshot.version, snapshot);
      return snapshot;
    } finally {
      this.busy.delete(project);
    }
  }

  /** Drops the project from every engine, then from the catalog. */
  async dropProject(project: string, drop: DropProject): Promise<void> {
    const s = this.state(project);
    if (this.busy.has(project)) throw new CatalogError('busy', `a snapshot or drop of project "${project}" is already in progress`);
    this.busy.add(project);
    try {
      await drop(project, s.record.versions);
      await rm(this.dir(project), { recursive: true, force: true });
      this.projects.delete(project);
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
