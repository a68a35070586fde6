import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../catalog/json-files.ts';
import type { StoreName, Write } from '../stores/store.ts';
import type { DeadLetter } from './queue.ts';

/** Dead letters of the in-process queue, kept as one readable JSON file beside its journal. */
export class DeadLetterFile {
  private letters: DeadLetter[] = [];
  private readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.path = join(dir, 'deadletter.json');
  }

  async load(): Promise<void> {
    this.letters = (await readJson<DeadLetter[]>(this.path)) ?? [];
  }

  list(): DeadLetter[] {
    return [...this.letters];
  }

  add(write: Write, store: StoreName, reason: string): Promise<void> {
    this.letters.push({ id: randomUUID(), store, reason, failedAt: new Date().toISOString(), write });
    return this.save();
  }

  /** Removes and returns the letters named (all when no ids are given). */
  async take(ids?: readonly string[]): Promise<DeadLetter[]> {
    const wanted = ids ? new Set(ids) : null;
    const taken = this.letters.filter((l) => !wanted || wanted.has(l.id));
    this.letters = this.letters.filter((l) => wanted && !wanted.has(l.id));
    await this.save();
    return taken;
  }

  private save(): Promise<void> {
    const snapshot = [...this.letters];
    this.chain = this.chain.then(() => writeJsonAtomic(this.path, snapshot));
    return this.chain;
  }
}
