import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import type { Item } from '../../schema/item.ts';
import type { EngineHealth, PruneHorizon, PruneResult, ScannedItem, ScanRequest, Snapshot, Store, Write } from '../store.ts';
import { StoreTimeoutError, StoreUnavailableError } from '../store.ts';
import { serializeItem } from './level-serializer.ts';
import { ALL_STAMPS_RANGE, blueprintRange, HIGHEST_STAMP_KEY, itemKey, projectRange, stampKey, stampKeyOf, stampRange, versionRange, versionStampRange } from './keys.ts';

/** A LevelDB batch that takes longer than this counts as unanswered (writes/applier.ts probes and decides). */
const BATCH_TIMEOUT_MS = 30_000;

/** Failures of the disk or the database, not of an item: "engine down", retried once the database is reopened. */
const STORAGE_FAILURE = /no space|ENOSPC|EIO\b|EROFS|EDQUOT|IO error|I\/O error|corrupt|not open|closed|read-only file system|LEVEL_(IO_ERROR|CORRUPTION|DATABASE_NOT_OPEN)/i;

type Batch = Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }>;

/** LevelDB: blueprintless, one database at LEVEL_PATH, items as JSON. */
export class LevelStore implements Store {
  readonly name = 'level' as const;
  private db: ClassicLevel<string, string> | null = null;
  /** The highest stamp ever applied to this database (kept in the database too). */
  private highest = -1;
  /** Where the next prune step goes on in the `!stamp/` keys (after this key); null to start over. */
  private pruneCursor: string | null = null;
  /** apply and prune take turns: a prune must not delete a stamp an apply rewrote between its read and its delete. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Why the last write failed for the disk's sake: LevelDB refuses every write after a failed log write until it is reopened. */
  private broken: string | null = null;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    const db = new ClassicLevel<string, string>(this.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    this.highest = parseInt((await db.get(HIGHEST_STAMP_KEY)) ?? '-1', 10);
    this.db = db;
  }

  private get open_(): ClassicLevel<string, string> {
    if (!this.db || this.db.status !== 'open') throw new StoreUnavailableError('level', `database at ${this.path} is not open`);
    return this.db;
  }

  async health(): Promise<EngineHealth> {
    if (this.broken) return { status: 'down', reason: this.broken };
    return this.db?.status === 'open' ? { status: 'up' } : { status: 'down', reason: `database at ${this.path} is ${this.db?.status ?? 'not opened'}` };
  }

  /** Blueprintless: nothing to prepare. */
  async migrate(_snapshot: Snapshot): Promise<void> {}

  async abandon(_project: string, _version: number): Promise<void> {}

  /** Reopens a database a storage failure left refusing writes; while that fails, the engine is down. */
  private async writable(): Promise<ClassicLevel<string, string>> {
    if (this.broken) {
      await this.db?.close().catch(() => {});
      try {
        await this.open();
      } catch (err) {
        throw new StoreUnavailableError('level', `${this.broken}; reopening ${this.path} failed: ${(err as Error).message}`, { cause: err });
      }
      this.broken = null;
    }
    return this.open_;
  }

  /** Runs one database call with a timeout; a storage failure marks the database for reopening and is "engine down". */
  private async storage<T>(call: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new StoreTimeoutError('level', `${what} at ${this.path}: no answer within ${BATCH_TIMEOUT_MS} ms`)), BATCH_TIMEOUT_MS)));
    try {
      return await Promise.race([call, late]);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      const e = err as { code?: string; message?: string; cause?: { message?: string } };
      const text = `${e.code ?? ''} ${e.message ?? ''} ${e.cause?.message ?? ''}`;
      if (!STORAGE_FAILURE.test(text)) throw err;
      this.broken = `${what} at ${this.path} failed: ${[e.message, e.cause?.message].filter(Boolean).join(': ')}`;
      throw new StoreUnavailableError('level', this.broken, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  apply(writes: readonly Write[]): Promise<void> {
    return this.inTurn(() => this.applyNow(writes));
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.turn.then(work, work);
    this.turn = result.catch(() => {});
    return result;
  }

  private async applyNow(writes: readonly Write[]): Promise<void> {
    const db = await this.writable();
    // Stamps are kept per item and version: a put names one version, a delete every version that holds the blueprint.
    // A write stamped above every stamp this database ever applied is newer than its item's last write by
    // definition; only the others (replays, writes from a slower clock) need the item's stamp read.
    const stamps = new Map<string, number>();
    const doubtful = new Set<string>();
    for (const w of writes) {
      if (w.stamp > this.highest) continue;
      if (w.op === 'put') doubtful.add(stampKey(w.project, w.version, w.blueprint, w.id));
      else for (const t of w.targets) doubtful.add(stampKey(w.project, t.version, w.blueprint, w.id));
    }
    if (doubtful.size) {
      const keys = [...doubtful];
      const current = await this.storage(db.getMany(keys), 'reading stamps');
      keys.forEach((k, i) => stamps.set(k, current[i] === undefined ? -1 : parseInt(current[i]!, 10)));
    }
    const batch: Batch = [];
    let highest = this.highest;
    // each key built once; a write's stamp key is its item key under the bookkeeping prefix
    const add = (w: Write, version: number): void => {
      const key = itemKey(w.project, version, w.blueprint, w.id);
      const sk = stampKeyOf(key);
      if (w.stamp <= (stamps.get(sk) ?? -1)) return;
      stamps.set(sk, w.stamp);
      if (w.op === 'put') {
        batch.push({ type: 'put', key, value: serializeItem(w.item) });
        batch.push({ type: 'put', key: sk, value: String(w.stamp) });
      } else {
        batch.push({ type: 'del', key });
        batch.push({ type: 'put', key: sk, value: `${w.stamp}d` });
      }
    };
    for (const w of writes) {
      if (w.op === 'put') add(w, w.version);
      else for (const t of w.targets) add(w, t.version);
      if (w.stamp > highest) highest = w.stamp;
    }
    if (!batch.length) return;
    if (highest > this.highest) batch.push({ type: 'put', key: HIGHEST_STAMP_KEY, value: String(highest) });
    await this.storage(db.batch(batch), `a batch of ${batch.length} operations`);
    this.highest = Math.max(this.highest, highest);
  }

  async dropProject(project: string, _versions: readonly number[]): Promise<void> {
    const db = this.open_;
    await db.clear(projectRange(project));
    await db.clear(stampRange(project));
  }

  /**
   * The blueprint's key range in key order (ids are lowercase UUIDs, so key order is id order),
   * each item with the stamp kept beside it. Deleted items have no item key, only a tombstone
   * stamp, so they are never scanned. Null columns (and null links) are left out, as in the other engines.
   */
  async scan(request: ScanRequest): Promise<ScannedItem[]> {
    const db = this.open_;
    const { project, version, blueprint } = request;
    const range = blueprintRange(project, version, blueprint);
    const bounds = request.after ? { gt: itemKey(project, version, blueprint, request.after), lt: range.lt } : range;
    // items and stamps from one snapshot: a write landing between the two reads would pair old content with its new stamp
    const snapshot = db.snapshot();
    let entries: Array<[string, string]>;
    let stamps: Array<string | undefined>;
    try {
      entries = await db.iterator({ ...bounds, limit: request.limit, snapshot }).all();
      if (!entries.length) return [];
      stamps = await db.getMany(entries.map(([key]) => stampKey(project, version, blueprint, key.slice(range.gte.length))), { snapshot });
    } finally {
      await snapshot.close();
    }
    const ids = entries.map(([key]) => key.slice(range.gte.length));
    return entries.map(([, value], i) => {
      const id = ids[i]!;
      const stamp = stamps[i];
      // every put writes its stamp in the same batch; a missing one can only come from outside dstore
      if (stamp === undefined) throw new Error(`LevelDB holds ${itemKey(project, version, blueprint, id)} without its stamp`);
      return { id, stamp: parseInt(stamp, 10), item: scannedItem(JSON.parse(value) as Item, id, version) };
    });
  }

  /** Counts the blueprint's item keys (keys only: no value is read). */
  async count(request: Parameters<Store['count']>[0]): Promise<number> {
    let n = 0;
    for await (const _key of this.open_.keys(blueprintRange(request.project, request.version, request.blueprint))) n++;
    return n;
  }

  /** LevelDB has no "latest" pointer: readers name the version in the key. */
  async activate(_snapshot: Snapshot): Promise<void> {}

  /** Clears the version's items and stamps; other versions' keys sort before or after and stay. */
  async retire(project: string, version: number): Promise<void> {
    const db = this.open_;
    await db.clear(versionRange(project, version));
    await db.clear(versionStampRange(project, version));
  }

  /**
   * Looks at up to `limit` stamp keys after the cursor and deletes those of deletes (`<stamp>d`) below
   * the horizon. A write racing with it is newer than the horizon (writes/applier.ts), so it wins
   * whether it reads the tombstone or finds none.
   */
  prune(horizon: PruneHorizon): Promise<PruneResult> {
    return this.inTurn(() => this.pruneNow(horizon));
  }

  private async pruneNow(horizon: PruneHorizon): Promise<PruneResult> {
    const db = this.open_;
    const range = this.pruneCursor ? { gt: this.pruneCursor, lt: ALL_STAMPS_RANGE.lt } : ALL_STAMPS_RANGE;
    const entries = await this.storage(db.iterator({ ...range, limit: horizon.limit }).all(), 'reading stamps to prune');
    const batch: Batch = [];
    for (const [key, value] of entries) {
      if (value.endsWith('d') && parseInt(value, 10) < horizon.stamp) batch.push({ type: 'del', key });
    }
    if (batch.length) await this.storage(db.batch(batch), `pruning ${batch.length} tombstones`);
    const more = entries.length === horizon.limit;
    this.pruneCursor = more ? entries[entries.length - 1]![0] : null;
    return { removed: batch.length, more };
  }

  async close(): Promise<void> {
    if (this.db && this.db.status === 'open') await this.db.close();
  }

  /** For tests and tools: every key and value of a range. */
  async entries(range: { gte?: string; lt?: string } = {}): Promise<Array<[string, string]>> {
    return this.open_.iterator(range).all();
  }
}

/** The item as a client would send it for that version: its id and version, no null fields. */
function scannedItem(stored: Item, id: string, version: number): Item {
  const item: Item = { id, project_version: version };
  for (const [key, value] of Object.entries(stored)) {
    if (key !== 'id' && key !== 'project_version' && value !== null && value !== undefined) item[key] = value;
  }
  return item;
}
