import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import type { EngineHealth, Snapshot, Store, Write } from '../store.ts';
import { StoreUnavailableError } from '../store.ts';
import { serializeItem } from './level-serializer.ts';
import { itemKey, projectRange, stampKey, stampRange } from './keys.ts';

type Batch = Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }>;

/** LevelDB: blueprintless, one database at LEVEL_PATH, items as JSON. */
export class LevelStore implements Store {
  readonly name = 'level' as const;
  private db: ClassicLevel<string, string> | null = null;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    const db = new ClassicLevel<string, string>(this.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    this.db = db;
  }

  private get open_(): ClassicLevel<string, string> {
    if (!this.db || this.db.status !== 'open') throw new StoreUnavailableError('level', `database at ${this.path} is not open`);
    return this.db;
  }

  async health(): Promise<EngineHealth> {
    return this.db?.status === 'open' ? { status: 'up' } : { status: 'down', reason: `database at ${this.path} is ${this.db?.status ?? 'not opened'}` };
  }

  /** Blueprintless: nothing to prepare. */
  async migrate(_snapshot: Snapshot): Promise<void> {}

  async abandon(_project: string, _version: number): Promise<void> {}

  async apply(writes: readonly Write[]): Promise<void> {
    const db = this.open_;
    const stampKeys = [...new Set(writes.map((w) => stampKey(w.project, w.blueprint, w.id)))];
    const current = await db.getMany(stampKeys);
    const stamps = new Map<string, number>();
    stampKeys.forEach((k, i) => stamps.set(k, current[i] === undefined ? -1 : parseInt(current[i]!, 10)));
    const batch: Batch = [];
    for (const w of writes) {
      const sk = stampKey(w.project, w.blueprint, w.id);
      if (w.stamp <= stamps.get(sk)!) continue;
      stamps.set(sk, w.stamp);
      if (w.op === 'put') {
        batch.push({ type: 'put', key: itemKey(w.project, w.version, w.blueprint, w.id), value: serializeItem(w.item) });
        batch.push({ type: 'put', key: sk, value: String(w.stamp) });
      } else {
        for (const t of w.targets) batch.push({ type: 'del', key: itemKey(w.project, t.version, w.blueprint, w.id) });
        batch.push({ type: 'put', key: sk, value: `${w.stamp}d` });
      }
    }
    if (batch.length) await db.batch(batch);
  }

  async dropProject(project: string, _versions: readonly number[]): Promise<void> {
    const db = this.open_;
    await db.clear(projectRange(project));
    await db.clear(stampRange(project));
  }

  async close(): Promise<void> {
    if (this.db && this.db.status === 'open') await this.db.close();
  }

  /** For tests and tools: every key and value of a range. */
  async entries(range: { gte?: string; lt?: string } = {}): Promise<Array<[string, string]>> {
    return this.open_.iterator(range).all();
  }
}
