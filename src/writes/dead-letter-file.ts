import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../catalog/json-files.ts';
import type { StoreName, Write } from '../stores/store.ts';
import type { DeadLetter } from './queue.ts';

/** A letter whose item could not be kept as JSON: its identity and reason are, and replay leaves it alone. */
type KeptLetter = DeadLetter & { unreplayable?: true };

function serializable(value: unknown): string | null {
  try {
    JSON.stringify(value);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Dead letters of the in-process queue, kept as one readable JSON file beside
 * its journal. A letter counts only once it is on disk: when the file cannot be
 * written (disk full) add() throws and the letter is not kept, so the queue
 * keeps the write and tries again later.
 */
export class DeadLetterFile {
  private letters: KeptLetter[] = [];
  private readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.path = join(dir, 'deadletter.json');
  }

  async load(): Promise<void> {
    this.letters = (await readJson<KeptLetter[]>(this.path)) ?? [];
  }

  list(): DeadLetter[] {
    return [...this.letters];
  }

  async add(write: Write, store: StoreName, reason: string): Promise<void> {
    let letter: KeptLetter = { id: randomUUID(), store, reason, failedAt: new Date().toISOString(), write };
    const unkept = serializable(letter);
    if (unkept !== null) {
      // one letter that cannot be serialized must not make the whole file unwritable
      const stripped: Write = write.op === 'put' ? { ...write, definition: write.definition, item: { id: write.id, project_version: write.version } } : { ...write };
      letter = { ...letter, write: stripped, reason: `${reason} (the item itself cannot be kept: ${unkept})`, unreplayable: true };
    }
    this.letters.push(letter);
    try {
      await this.save();
    } catch (err) {
      this.letters = this.letters.filter((l) => l !== letter);
      throw err;
    }
  }

  /** The letters named (all when no ids are given) that can be put back on the queue. */
  peek(ids?: readonly string[]): DeadLetter[] {
    const wanted = ids ? new Set(ids) : null;
    return this.letters.filter((l) => (!wanted || wanted.has(l.id)) && !l.unreplayable);
  }

  /** Removes these letters (after they are safely queued again); on a failed save they stay. */
  async remove(letters: readonly DeadLetter[]): Promise<void> {
    const gone = new Set(letters.map((l) => l.id));
    const removed = this.letters.filter((l) => gone.has(l.id));
    this.letters = this.letters.filter((l) => !gone.has(l.id));
    try {
      await this.save();
    } catch (err) {
      this.letters = [...removed, ...this.letters];
      throw err;
    }
  }

  /** Saves the list as it is when its turn comes; a failed save does not block the next ones. */
  private save(): Promise<void> {
    const next = this.chain.then(() => writeJsonAtomic(this.path, this.letters));
    this.chain = next.catch(() => {});
    return next;
  }
}
