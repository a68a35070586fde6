import type pg from 'pg';
import type { TokenChange, TokenRecord, TokenStorage } from '../tokens.ts';
import { CatalogChannel } from './catalog-channel.ts';

/** Tokens in dstore_catalog.tokens (SHA-256 only); a creation or revocation is announced, so every process admits or refuses it within 1 s. */
export class PostgresqlTokenStorage implements TokenStorage {
  readonly where = 'dstore_catalog.tokens';
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query<TokenRecord>('SELECT id, name, projects, scopes, created_at, last_used_at, sha256 FROM dstore_catalog.tokens ORDER BY created_at, id');
    return rows;
  }

  async persist(change: TokenChange): Promise<void> {
    if (change.kind === 'touch') {
      if (!change.used.length) return;
      // a use recorded by another process later than ours stays
      await this.pool.query(
        `UPDATE dstore_catalog.tokens t SET last_used_at = u.at FROM unnest($1::text[], $2::text[]) AS u(id, at)
         WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
        [change.used.map((u) => u.id), change.used.map((u) => u.at)],
      );
      return;
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (change.kind === 'create') {
        const r = change.record;
        await client.query('INSERT INTO dstore_catalog.tokens (id, name, projects, scopes, created_at, last_used_at, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)', [r.id, r.name, JSON.stringify(r.projects), JSON.stringify(r.scopes), r.created_at, r.last_used_at, r.sha256]);
      } else {
        await client.query('DELETE FROM dstore_catalog.tokens WHERE id = $1', [change.id]);
      }
      await CatalogChannel.notify(client, { t: 1 });
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The channel heard of a change (or reconnected). */
  changed(): void {
    for (const listener of this.listeners) listener();
  }
}
