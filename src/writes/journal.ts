import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Write } from '../stores/store.ts';

/** The journal could not take an entry (disk full, I/O error): nothing of it counts as written. */
export class JournalWriteError extends Error {}

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
  /** Bytes of whole lines in the file: a failed write is cut back to this. */
  private size = 0;
  private torn = false;
  private failure: string | null = null;

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
      try {
        await handle.writeFile(pending.map((p) => JSON.stringify(p) + '\n').join(''));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(fresh, this.path);
    } catch (err) {
      await rm(fresh, { force: true }).catch(() => {});
      throw err;
    }
    this.file = await open(this.path, 'a');
    this.size = (await this.file.stat()).size;
    return pending;
  }

  /** Appends and fsyncs; resolves with the entry's number once it is on disk, rejects with JournalWriteError when it is not. */
  append(writes: Write[]): Promise<number> {
    let text: string;
    try {
      text = JSON.stringify({ seq: this.seq + 1, writes }) + '\n';
    } catch (err) {
      return Promise.reject(new JournalWriteError(`the writes cannot be serialized: ${(err as Error).message}`, { cause: err }));
    }
    const seq = ++this.seq;
    return this.write(text, true).then(() => seq);
  }

  /** Marks an entry applied everywhere; no fsync needed (losing it only means a harmless re-apply). */
  done(seq: number): Promise<void> {
    return this.write(JSON.stringify({ done: seq }) + '\n', false);
  }

  /** Why the last write failed, until one succeeds again: the queue reports it in /_health. */
  get failing(): string | null {
    return this.failure;
  }

  /** After a failure: tries a harmless empty line, so the journal counts as writable again once space is back. */
  async heal(): Promise<void> {
    if (this.failure) await this.write('\n', true).catch(() => {});
  }

  private write(text: string, sync: boolean): Promise<void> {
    const next = this.chain.then(async () => {
      if (!this.file) throw new JournalWriteError('the journal is closed');
      const file = this.file;
      try {
        // a line torn by an earlier failed write is cut off first, or the next line would be glued to it and unreadable
        if (this.torn) {
          await file.truncate(this.size);
          this.torn = false;
        }
        const bytes = Buffer.from(text, 'utf8');
        let written = 0;
        while (written < bytes.length) written += (await file.write(bytes, written, bytes.length - written)).bytesWritten;
        if (sync) await file.datasync();
        this.size += bytes.length;
        this.failure = null;
      } catch (err) {
        this.torn = true;
        await file.truncate(this.size).then(() => (this.torn = false), () => {});
        this.failure = `${this.path}: ${(err as Error).message}`;
        throw new JournalWriteError(this.failure, { cause: err });
      }
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
