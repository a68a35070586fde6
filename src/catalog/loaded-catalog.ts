import type { Blueprint, Blueprints } from '../schema/blueprint.ts';
import type { Snapshot } from '../stores/store.ts';
import { CatalogError, type Catalog, type DropProject, type MigrateSnapshot, type ProjectRecord, type ProjectView, type SnapshotOptions, type VersionState } from './catalog.ts';

/** One project as a catalog holds it in memory. */
export interface ProjectState {
  record: ProjectRecord;
  working: Blueprints;
  snapshots: Map<number, Snapshot>;
}

export function stateIn(record: ProjectRecord, version: number): VersionState {
  return record.states?.[version] ?? 'ready';
}

/** The reads every catalog answers from memory, whatever stores it; implementations keep `projects` current. */
export abstract class LoadedCatalog implements Catalog {
  protected readonly projects = new Map<string, ProjectState>();

  abstract load(): Promise<void>;
  abstract close(): Promise<void>;
  abstract setVersionState(project: string, version: number, state: VersionState): Promise<void>;
  abstract putBlueprint(project: string, name: string, blueprint: Blueprint): Promise<Blueprint>;
  abstract deleteBlueprint(project: string, name: string): Promise<void>;
  abstract replaceWorking(project: string, blueprints: Blueprints): Promise<Blueprints>;
  abstract replaceWorkingAndSnapshot<T>(project: string, blueprints: Blueprints, snapshot: () => Promise<T>): Promise<T>;
  abstract createSnapshot(project: string, migrate: MigrateSnapshot, options?: SnapshotOptions): Promise<Snapshot>;
  abstract dropProject(project: string, drop: DropProject): Promise<void>;
  abstract seenEverywhere(project: string, version: number): Promise<void>;

  protected state(project: string): ProjectState {
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

  project(project: string): ProjectView {
    const s = this.state(project);
    return { name: project, createdAt: s.record.createdAt, versions: this.versions(project), retired: this.retired(project), project_version: this.latest(project), blueprints: s.working };
  }

  versions(project: string): number[] {
    const s = this.state(project);
    return s.record.versions.filter((v) => stateIn(s.record, v) !== 'retired');
  }

  retired(project: string): number[] {
    const s = this.state(project);
    return s.record.versions.filter((v) => stateIn(s.record, v) === 'retired');
  }

  hasVersion(project: string, version: number): boolean {
    return this.state(project).snapshots.has(version);
  }

  versionState(project: string, version: number): VersionState {
    const s = this.state(project);
    if (!s.snapshots.has(version)) throw new CatalogError('version-not-found', `project "${project}" has no snapshot ${version}`);
    return stateIn(s.record, version);
  }

  latest(project: string): number | null {
    const s = this.state(project);
    const ready = s.record.versions.filter((v) => stateIn(s.record, v) === 'ready');
    return ready.length ? ready[ready.length - 1]! : null;
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

  snapshotsOf(project: string): ReadonlyMap<number, Snapshot> {
    return this.state(project).snapshots;
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
}
