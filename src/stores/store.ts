import type { Blueprint, Blueprints } from '../schema/blueprint.ts';
import type { Item } from '../schema/item.ts';

/**
 * A storage engine dstore projects items into. Each engine lives in its own
 * folder under stores/ with its migrator, serializer and writer.
 */
export interface Store {
  readonly name: StoreName;
  /** Connects; may create the engine's own prerequisites (database, extensions). */
  open(): Promise<void>;
  health(): Promise<EngineHealth>;
  /** Makes the engine ready for a snapshot, all or nothing. */
  migrate(snapshot: Snapshot): Promise<void>;
  /** Undoes `migrate` of a snapshot that was not announced (another engine failed). */
  abandon(project: string, version: number): Promise<void>;
  /**
   * Applies writes in order. A write whose stamp is not newer than the last
   * one applied to that item is skipped, so redelivery never goes back in time.
   * Throws StoreUnavailableError when the engine cannot be reached (retry later)
   * and WriteRejectedError when it refuses particular writes.
   */
  apply(writes: readonly Write[]): Promise<void>;
  /** Removes everything of a project: every version's tables, indices, keys. */
  dropProject(project: string, versions: readonly number[]): Promise<void>;
  /**
   * Reads one version's items of one blueprint in id order, starting after
   * `after` (exclusive; from the first id when absent), at most `limit` of
   * them, each in that version's shape (as a client would send it) with the
   * stamp of the write that put it there. The source of back-fills (SPEC §9)
   * and of verify and rebuild (SPEC §12).
   */
  scan(request: ScanRequest): Promise<ScannedItem[]>;
  /** How many items one version holds of one blueprint (what a scan of it would give), so a job knows its total first. */
  count(request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'>): Promise<number>;
  /** Points the "latest" readers at a version whose back-fill is done (SPEC §9: the ES alias `<project>`, the PostgreSQL view schema `<project>`). */
  activate(snapshot: Snapshot): Promise<void>;
  /** Drops one version of a project: its schema, indices, keys (SPEC §9 "Retiring"); harmless when already gone. */
  retire(project: string, version: number): Promise<void>;
  /**
   * One bounded step of pruning tombstones (SPEC §11): removes at most `horizon.limit` stamps of
   * deleted items older than `horizon.stamp` (Elasticsearch: sets `index.gc_deletes` instead);
   * `more` says another call would find more to look at. Never touches the stamps of live items.
   */
  prune(horizon: PruneHorizon): Promise<PruneResult>;
  close(): Promise<void>;
}

export interface PruneHorizon {
  /** Tombstones stamped below this are removed. */
  stamp: number;
  /** TOMBSTONE_TTL_S: how long an engine that keeps its own tombstones (Elasticsearch) keeps them. */
  ttlSeconds: number;
  /** Tombstones removed (or bookkeeping rows looked at) per call, at most. */
  limit: number;
}

export interface PruneResult {
  removed: number;
  more: boolean;
}

export type StoreName = 'level' | 'postgresql' | 'elasticsearch';

export interface ScanRequest {
  project: string;
  version: number;
  blueprint: string;
  /** The blueprint as frozen in that version. */
  definition: Blueprint;
  /** Lowercase UUID: the scan starts after it. */
  after?: string;
  limit: number;
}

export interface ScannedItem {
  id: string;
  stamp: number;
  item: Item;
}

export interface EngineHealth {
  status: 'up' | 'down';
  reason?: string;
}

/** An immutable, numbered copy of all blueprints of a project. */
export interface Snapshot {
  project: string;
  version: number;
  createdAt: string;
  blueprints: Blueprints;
}

/** Store (create or replace) one item of one project version. */
export interface ItemPut {
  op: 'put';
  project: string;
  version: number;
  blueprint: string;
  /** The blueprint as frozen in that version, so a worker on another machine needs no catalog. */
  definition: Blueprint;
  id: string;
  /** Orders writes of one item: higher is later (see writes/stamps.ts). */
  stamp: number;
  item: Item;
  /** The client asked to see it in search results before the answer (`?refresh=wait_for`). */
  refresh?: true;
  /**
   * A copy of an item its source held live when scanned (back-fill, rebuild), carrying the source's
   * stamp: exempt from the tombstone horizon, since only a delete newer than the scan could undo it.
   */
  copied?: true;
}

/** Delete one item from every version that holds its blueprint. */
export interface ItemDelete {
  op: 'delete';
  project: string;
  blueprint: string;
  id: string;
  stamp: number;
  targets: Array<{ version: number; definition: Blueprint }>;
  refresh?: true;
}

export type Write = ItemPut | ItemDelete;

/** The engine cannot be reached now; the same writes may succeed later. */
export class StoreUnavailableError extends Error {
  constructor(readonly store: StoreName, reason: string, options?: { cause?: unknown }) {
    super(`${store} unavailable: ${reason}`, options);
  }
}

/** The engine did not answer a request in time: down if its health probe fails too, otherwise the batch is suspect (writes/applier.ts). */
export class StoreTimeoutError extends StoreUnavailableError {}

/** The engine refused some writes for good; `reasons` maps the index of each refused write to the engine's reason. */
export class WriteRejectedError extends Error {
  constructor(readonly store: StoreName, readonly reasons: ReadonlyMap<number, string>) {
    super(`${store} rejected ${reasons.size} write(s): ${[...reasons.values()][0]}`);
  }
}

/** The identity of an item across versions: project, blueprint and id. */
export function itemKey(w: Write): string {
  return `${w.project}/${w.blueprint}/${w.id}`;
}
