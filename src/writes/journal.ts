import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Write } from '../stores/store.ts';

type Line = { seq: number; writes: Write[] } | { done: number };

/**
 * The in-process queue's local log: writes answered 202 before every engine
 * applied them are appended and fsynced first, so a crash cannot lose them;
 * on start-up the entries without a `done` line are applied again (stamps make
 * that harmless for writes that had landed).
 */
export class Journal {
  private file: FileHandle | null = null;
  private seq = 0;
  private readonly path: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string) {
    this.path = join(dir, 'journal.jsonl');
  }

  /** Opens the log and returns the writes of entries that never completed. */
  async open(): Promise<Array<{ seq: number; writes: Write[] }>> {
    await mkdir(this.dir, { recursive: true });
    const unfinished = new Map<number, Write[]>();
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a line torn by a crash was never acknowledged
      }
      if ('done' in line) unfinished.delete(line.done);
      else unfinished.set(line.seq, line.writes);
    }
    // rewrite the log with only the unfinished entries, atomically, so they survive another crash before they are applied
    const pending = [...unfinished.values()].map((writes) => ({ seq: ++this.seq, writes }));
    const fresh = `${this.path}.${process.pid}.new`;
    const handle = await open(fresh, 'w');
    try {
      await handle.writeFile(pending.map((p) => JSON.stringify(p) + '\n').join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(fresh, this.path);
    this.file = await open(this.path, 'a');
    return pending;
  }

  /** Appends and fsyncs; resolves with the entry's number once it is on disk. */
  append(writes: Write[]): Promise<number> {
    const seq = ++this.seq;
    return this.write(JSON.stringify({ seq, writes }) + '\n', true).then(() => seq);
  }

  /** Marks an entry applied everywhere; no fsync needed (losing it only means a harmless re-apply). */
  done(seq: number): Promise<void> {
    return this.write(JSON.stringify({ done: seq }) + '\n', false);
  }

  private write(text: string, sync: boolean): Promise<void> {
    const next = this.chain.then(async () => {
      if (!this.file) throw new Error('journal is closed');
      await this.file.write(text);
      if (sync) await this.file.datasync();
    });
    this.chain = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.file?.close();
    this.file = null;
  }
}
