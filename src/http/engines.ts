import type { EngineHealth, Snapshot } from '../stores/store.ts';

/** What the API may ask of the engines besides writes (which only go through the queue). */
export interface EngineControl {
  /** Prepares every enabled engine for a snapshot, all or nothing. */
  migrate(snapshot: Snapshot): Promise<void>;
  drop(project: string, versions: readonly number[]): Promise<void>;
  /** Points every engine's "latest" at a version whose back-fill is done. */
  activate(snapshot: Snapshot): Promise<void>;
  /** Drops one retired version from every engine and every worker's copy, after the writes queued before. */
  retire(project: string, version: number): Promise<void>;
  health(): Promise<Record<string, EngineHealth>>;
}
