import type { ScannedItem, ScanRequest, Store, StoreName } from '../stores/store.ts';

/**
 * What verify and rebuild read (SPEC §12): an engine of this process, or one
 * worker's LevelDB copy scanned by that worker over RabbitMQ. Both scan one
 * version's items of one blueprint in id order, in pages.
 */
export interface ScanSource {
  /** `postgresql`, `elasticsearch`, `level`, or `level@<WORKER_ID>` for one worker's copy. */
  readonly name: string;
  readonly engine: StoreName;
  readonly worker?: string;
  scan(request: ScanRequest): Promise<ScannedItem[]>;
  count(request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'>): Promise<number>;
}

/** The LevelDB copies of the workers, read through RabbitMQ (writes/rabbitmq/copy-scan.ts implements it). */
export interface CopyReader {
  /** Every copy whose queue exists, and how many workers read it now (0: its worker is down). */
  copies(): Promise<Array<{ worker: string; consumers: number }>>;
  scanCopy(worker: string, request: ScanRequest): Promise<ScannedItem[]>;
  countCopy(worker: string, request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'>): Promise<number>;
}

export function storeSource(store: Store): ScanSource {
  return { name: store.name, engine: store.name, scan: (r) => store.scan(r), count: (r) => store.count(r) };
}

export function copySource(reader: CopyReader, worker: string): ScanSource {
  return { name: `level@${worker}`, engine: 'level', worker, scan: (r) => reader.scanCopy(worker, r), count: (r) => reader.countCopy(worker, r) };
}

/** One source's scan of one blueprint, a page at a time with the next page read ahead. */
export class PagedScan {
  private page: ScannedItem[] = [];
  private pos = 0;
  private next: Promise<ScannedItem[]> | null;

  constructor(
    private readonly read: (after: string | undefined) => Promise<ScannedItem[]>,
    after: string | undefined,
  ) {
    this.next = this.fetch(after);
  }

  private fetch(after: string | undefined): Promise<ScannedItem[]> {
    const p = this.read(after);
    p.catch(() => {}); // awaited by head(); a walk abandoned first must not leave it unhandled
    return p;
  }

  /** The next item, or null at the end. */
  async head(): Promise<ScannedItem | null> {
    if (this.pos < this.page.length) return this.page[this.pos]!;
    if (!this.next) return null;
    this.page = await this.next;
    this.pos = 0;
    // an empty page is the end: a short page is not, whatever an engine's paging does
    this.next = this.page.length ? this.fetch(this.page.at(-1)!.id) : null;
    return this.page[0] ?? null;
  }

  take(): void {
    this.pos++;
  }
}

/**
 * Merges scans in id order: each step yields the smallest id any scan holds
 * next, with what each scan holds for it (undefined where it has none). Memory
 * is two pages per scan, whatever the engines hold.
 */
export async function* mergeById(scans: readonly PagedScan[]): AsyncGenerator<{ id: string; held: Array<ScannedItem | undefined> }> {
  for (;;) {
    const heads = await Promise.all(scans.map((s) => s.head()));
    let min: string | null = null;
    for (const h of heads) if (h && (min === null || h.id < min)) min = h.id;
    if (min === null) return;
    const held = heads.map((h, i) => {
      if (!h || h.id !== min) return undefined;
      scans[i]!.take();
      return h;
    });
    yield { id: min, held };
  }
}
