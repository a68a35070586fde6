import type { Blueprint, Blueprints } from '../schema/blueprint.ts';
import type { Snapshot } from '../stores/store.ts';

/**
 * Projects, their working copies and their immutable snapshots (SPEC §1, §9, §11), as the HTTP
 * layer, versioning and the jobs see them. Two implementations: file/ (one process per
 * PROJECT_FILE_PATH) and postgresql/ (any number of API processes on the schema dstore_catalog).
 * Reads answer from memory; changes resolve once they are stored (and, shared, announced).
 */
export interface Catalog {
  load(): Promise<void>;
  /** Stops listening for changes made by other processes; reads keep answering from memory. */
  close(): Promise<void>;

  listProjects(): string[];
  has(project: string): boolean;
  project(project: string): ProjectView;
  /** The live versions: announced and not retired. */
  versions(project: string): number[];
  retired(project: string): number[];
  /** Whether the snapshot exists (retired ones too: a write naming one is told so). */
  hasVersion(project: string, version: number): boolean;
  versionState(project: string, version: number): VersionState;
  /** The latest ready version: what "latest" readers see (SPEC §9). */
  latest(project: string): number | null;
  working(project: string): Blueprints;
  blueprint(project: string, name: string): Blueprint;
  snapshot(project: string, version: number): Snapshot;
  /** Every live version whose snapshot holds the blueprint, with its frozen definition. */
  versionsHolding(project: string, blueprint: string): Array<{ version: number; definition: Blueprint }>;
  /** Every snapshot of a project, retired ones too, by version. */
  snapshotsOf(project: string): ReadonlyMap<number, Snapshot>;

  /** Records a version's new state (backfilling → ready, or → retired). */
  setVersionState(project: string, version: number, state: VersionState): Promise<void>;
  putBlueprint(project: string, name: string, blueprint: Blueprint): Promise<Blueprint>;
  deleteBlueprint(project: string, name: string): Promise<void>;
  replaceWorking(project: string, blueprints: Blueprints): Promise<Blueprints>;
  /**
   * Replaces the working copy and runs `snapshot` (PUT /{project}, SPEC §11): when it fails before
   * a version was announced, the working copy is put back as it was (a project it created is removed),
   * unless another change replaced it meanwhile.
   */
  replaceWorkingAndSnapshot<T>(project: string, blueprints: Blueprints, snapshot: () => Promise<T>): Promise<T>;
  /**
   * Freezes the working copy as the next version, migrated once in every engine by `migrate` and
   * announced only after that succeeded; a second snapshot (or a drop) of the project while one
   * runs, in any process, is refused with CatalogError 'busy' (409).
   */
  createSnapshot(project: string, migrate: MigrateSnapshot, options?: SnapshotOptions): Promise<Snapshot>;
  /** Retires a version (recorded first, then dropped by `drop`, run again on a second call); the latest ready one is refused. */
  retireVersion(project: string, version: number, drop: (version: number) => Promise<void>): Promise<void>;
  /** Drops the project from every engine, then from the catalog, after every change of it queued before. */
  dropProject(project: string, drop: DropProject): Promise<void>;
  /** Resolves once every live API process has loaded the version, so each copies writes into it (SPEC §9, before a back-fill scans). */
  seenEverywhere(project: string, version: number): Promise<void>;
}

export interface ProjectView {
  name: string;
  createdAt: string;
  versions: number[];
  retired: number[];
  project_version: number | null;
  blueprints: Blueprints;
}

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

export function busy(project: string): CatalogError {
  return new CatalogError('busy', `a snapshot or drop of project "${project}" is already in progress`);
}
