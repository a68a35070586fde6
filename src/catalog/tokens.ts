import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Scope } from '../auth/scopes.ts';
import { readJson, writeJsonAtomic } from './json-files.ts';

/** A token as the catalog keeps it: its SHA-256, never the secret. */
export interface TokenRecord {
  id: string;
  name: string;
  projects: string[] | ['*'];
  scopes: Scope[];
  created_at: string;
  last_used_at: string | null;
  sha256: string;
}

/** What GET /_token shows of a token. */
export type TokenView = Omit<TokenRecord, 'sha256'>;

interface TokensFile {
  tokens: TokenRecord[];
}

/** last_used_at reaches the file at most this often: a request never waits for a disk write to record it. */
const TOUCH_FLUSH_MS = 10_000;

/**
 * The tokens made by POST /_token, in `<PROJECT_FILE_PATH>/_tokens.json` (a file, so
 * Catalog.load never mistakes it for a project), looked up by the SHA-256 of the secret.
 */
export class TokenStore {
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly lastUsed = new Map<string, number>();
  private writes: Promise<unknown> = Promise.resolve();
  private touched = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    const file = await readJson<TokensFile>(this.path);
    this.byHash.clear();
    for (const record of file?.tokens ?? []) {
      if (typeof record?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.sha256)) throw new Error(`${this.path}: token ${JSON.stringify(record?.id)} has no SHA-256`);
      this.byHash.set(record.sha256, record);
    }
  }

  /** The token whose secret hashes to `digest`, compared in constant time once found. */
  find(digest: Buffer): TokenRecord | undefined {
    const record = this.byHash.get(digest.toString('hex'));
    if (!record || !timingSafeEqual(Buffer.from(record.sha256, 'hex'), digest)) return undefined;
    return record;
  }

  /** Notes a use of the token; written to the file within TOUCH_FLUSH_MS. */
  touch(id: string): void {
    this.lastUsed.set(id, Date.now());
    if (this.touched) return;
    this.touched = true;
    this.timer = setTimeout(() => void this.flush().catch(() => {}), TOUCH_FLUSH_MS);
    this.timer.unref();
  }

  list(): TokenView[] {
    return [...this.byHash.values()].map((r) => this.view(r)).sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  get(id: string): TokenView | undefined {
    const record = [...this.byHash.values()].find((r) => r.id === id);
    return record && this.view(record);
  }

  /** Stores a new token by its digest; answers once it is on disk. */
  async create(token: { name: string; projects: string[] | ['*']; scopes: Scope[] }, digest: Buffer): Promise<TokenView> {
    const record: TokenRecord = { id: randomUUID(), ...token, created_at: new Date().toISOString(), last_used_at: null, sha256: digest.toString('hex') };
    try {
      await this.change(() => this.byHash.set(record.sha256, record));
    } catch (err) {
      // not on disk, and its secret is never shown: it must not work either
      this.byHash.delete(record.sha256);
      throw err;
    }
    return this.view(record);
  }

  /** Removes a token; refused from the moment this resolves (false: no such token). */
  async revoke(id: string): Promise<boolean> {
    const record = [...this.byHash.values()].find((r) => r.id === id);
    if (!record) return false;
    // refused at once, before the file is written: a request racing the revocation is not let in
    this.byHash.delete(record.sha256);
    try {
      await this.change(() => this.lastUsed.delete(id));
    } catch (err) {
      // the file still holds it: keep memory and disk telling the same story
      this.byHash.set(record.sha256, record);
      throw err;
    }
    return true;
  }

  /** Writes what last_used_at is still only in memory. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    if (this.touched) await this.flush();
  }

  private view(record: TokenRecord): TokenView {
    const { sha256: _hash, ...view } = record;
    const used = this.lastUsed.get(record.id);
    return { ...view, last_used_at: used ? new Date(used).toISOString() : record.last_used_at };
  }

  private flush(): Promise<void> {
    this.touched = false;
    return this.change(() => {});
  }

  /** Applies a change in memory and writes the whole file, one write at a time. */
  private change(apply: () => unknown): Promise<void> {
    const next = this.writes.then(async () => {
      apply();
      for (const record of this.byHash.values()) {
        const used = this.lastUsed.get(record.id);
        if (used) record.last_used_at = new Date(used).toISOString();
      }
      await writeJsonAtomic(this.path, { tokens: [...this.byHash.values()] } satisfies TokensFile);
    });
    this.writes = next.catch(() => {});
    return next;
  }
}
