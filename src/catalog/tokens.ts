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

/** A change of the tokens, as a storage writes it. */
export type TokenChange = { kind: 'create'; record: TokenRecord } | { kind: 'revoke'; id: string } | { kind: 'touch'; used: Array<{ id: string; at: string }> };

/** Where tokens are kept: a file (file catalog) or the table dstore_catalog.tokens (PostgreSQL catalog). */
export interface TokenStorage {
  /** Named in error messages. */
  readonly where: string;
  load(): Promise<TokenRecord[]>;
  /** Stores one change; `all` is every token after it (a file rewrites them all). */
  persist(change: TokenChange, all: readonly TokenRecord[]): Promise<void>;
  /** Called when another process changed the tokens (shared storages only). */
  onChange?(listener: () => void): void;
}

interface TokensFile {
  tokens: TokenRecord[];
}

/** `<PROJECT_FILE_PATH>/_tokens.json` (a file, so the file catalog never mistakes it for a project). */
export class FileTokenStorage implements TokenStorage {
  constructor(private readonly path: string) {}

  get where(): string {
    return this.path;
  }

  async load(): Promise<TokenRecord[]> {
    return (await readJson<TokensFile>(this.path))?.tokens ?? [];
  }

  persist(_change: TokenChange, all: readonly TokenRecord[]): Promise<void> {
    return writeJsonAtomic(this.path, { tokens: [...all] } satisfies TokensFile);
  }
}

/** last_used_at reaches the storage at most this often: a request never waits for a write to record it. */
const TOUCH_FLUSH_MS = 10_000;

/** The tokens made by POST /_token, looked up by the SHA-256 of the secret. */
export class TokenStore {
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly lastUsed = new Map<string, number>();
  private writes: Promise<unknown> = Promise.resolve();
  private touched = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly storage: TokenStorage;
  private reloads: Promise<unknown> = Promise.resolve();

  /** A path is the file storage. */
  constructor(storage: string | TokenStorage) {
    this.storage = typeof storage === 'string' ? new FileTokenStorage(storage) : storage;
    // another process made or revoked a token: refused or admitted here too from the reload on
    this.storage.onChange?.(() => {
      this.reloads = this.reloads.then(() => this.load()).catch(() => {});
    });
  }

  async load(): Promise<void> {
    const records = await this.storage.load();
    const next = new Map<string, TokenRecord>();
    for (const record of records) {
      if (typeof record?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.sha256)) throw new Error(`${this.storage.where}: token ${JSON.stringify(record?.id)} has no SHA-256`);
      next.set(record.sha256, record);
    }
    this.byHash.clear();
    for (const [hash, record] of next) this.byHash.set(hash, record);
  }

  /** The token whose secret hashes to `digest`, compared in constant time once found. */
  find(digest: Buffer): TokenRecord | undefined {
    const record = this.byHash.get(digest.toString('hex'));
    if (!record || !timingSafeEqual(Buffer.from(record.sha256, 'hex'), digest)) return undefined;
    return record;
  }

  /** Notes a use of the token; written within TOUCH_FLUSH_MS. */
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

  /** Stores a new token by its digest; answers once it is stored. */
  async create(token: { name: string; projects: string[] | ['*']; scopes: Scope[] }, digest: Buffer): Promise<TokenView> {
    const record: TokenRecord = { id: randomUUID(), ...token, created_at: new Date().toISOString(), last_used_at: null, sha256: digest.toString('hex') };
    try {
      await this.change(() => this.byHash.set(record.sha256, record), { kind: 'create', record });
    } catch (err) {
      // not stored, and its secret is never shown: it must not work either
      this.byHash.delete(record.sha256);
      throw err;
    }
    return this.view(record);
  }

  /** Removes a token; refused from the moment this resolves (false: no such token). */
  async revoke(id: string): Promise<boolean> {
    const record = [...this.byHash.values()].find((r) => r.id === id);
    if (!record) return false;
    // refused at once, before the storage is written: a request racing the revocation is not let in
    this.byHash.delete(record.sha256);
    try {
      await this.change(() => this.lastUsed.delete(id), { kind: 'revoke', id });
    } catch (err) {
      // the storage still holds it: keep memory and storage telling the same story
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
    const used = [...this.lastUsed].filter(([id]) => [...this.byHash.values()].some((r) => r.id === id)).map(([id, at]) => ({ id, at: new Date(at).toISOString() }));
    return this.change(() => {}, { kind: 'touch', used });
  }

  /** Applies a change in memory and stores it, one write at a time. */
  private change(apply: () => unknown, change: TokenChange): Promise<void> {
    const next = this.writes.then(async () => {
      apply();
      for (const record of this.byHash.values()) {
        const used = this.lastUsed.get(record.id);
        if (used) record.last_used_at = new Date(used).toISOString();
      }
      await this.storage.persist(change, [...this.byHash.values()]);
    });
    this.writes = next.catch(() => {});
    return next;
  }
}
