import type { EngineHealth, PruneHorizon, PruneResult, ScannedItem, ScanRequest, Snapshot, Store, Write } from '../store.ts';
import { ElasticsearchConnection, EngineUnavailableError, type ElasticsearchConfig } from './elasticsearch-http.ts';
import { DEFAULT_INDEX_SETTINGS, ElasticsearchMigrator, type IndexSettings } from './elasticsearch-migrator.ts';
import { ElasticsearchReader } from './elasticsearch-reader.ts';
import { ElasticsearchWriter, type WriterOptions } from './elasticsearch-writer.ts';

/** Knobs with defaults that suit the single-node test engines. */
export interface ElasticsearchOptions extends Partial<IndexSettings>, WriterOptions {}

/** `/_cluster/health` answers within this, or the engine counts as down. */
const HEALTH_TIMEOUT_MS = 1500;
const OPEN_TIMEOUT_MS = 5000;

interface RootInfo {
  version?: { number?: string; distribution?: string };
}

interface ClusterHealth {
  status?: 'green' | 'yellow' | 'red';
  unassigned_shards?: number;
}

/**
 * Elasticsearch 7.10+, 8, 9 and OpenSearch 1–3 over plain HTTP (SPEC §5): one
 * index per project version and blueprint, an alias per version and one for the
 * latest (moved by `activate`); items written with `_bulk` and their stamps as external versions.
 */
export class ElasticsearchStore implements Store {
  readonly name = 'elasticsearch' as const;
  private readonly es: ElasticsearchConnection;
  private readonly migrator: ElasticsearchMigrator;
  private readonly writer: ElasticsearchWriter;
  private readonly reader: ElasticsearchReader;
  /** e.g. `elasticsearch 7.10.2`, once the engine has answered. */
  engine: string | null = null;

  constructor(config: ElasticsearchConfig, options: ElasticsearchOptions = {}) {
    this.es = new ElasticsearchConnection(config);
    this.migrator = new ElasticsearchMigrator(this.es, {
      replicas: options.replicas ?? DEFAULT_INDEX_SETTINGS.replicas,
      gcDeletes: options.gcDeletes ?? DEFAULT_INDEX_SETTINGS.gcDeletes,
    });
    this.writer = new ElasticsearchWriter(this.es, { refresh: options.refresh });
    this.reader = new ElasticsearchReader(this.es);
  }

  /**
   * Checks the engine once: refused credentials or a version older than 7.10
   * stop start-up; an engine that is down does not (writes wait for it).
   */
  async open(): Promise<void> {
    let root: RootInfo | undefined;
    try {
      root = (await this.es.request<RootInfo>('GET', '/', { timeoutMs: OPEN_TIMEOUT_MS })).body;
    } catch (err) {
      if (err instanceof EngineUnavailableError && (err.status === 401 || err.status === 403)) {
        throw new Error(`${this.es.origin} refused the credentials: ${err.message}`);
      }
      if (err instanceof EngineUnavailableError) return;
      throw err;
    }
    const distribution = root?.version?.distribution ?? 'elasticsearch';
    const version = root?.version?.number ?? '?';
    const [major = 0, minor = 0] = version.split('.').map((n) => parseInt(n, 10));
    if (distribution === 'elasticsearch' && (major < 7 || (major === 7 && minor < 10))) {
      throw new Error(`${this.es.origin} runs Elasticsearch ${version}; dstore needs Elasticsearch 7.10 or later, or OpenSearch`);
    }
    this.engine = `${distribution} ${version}`;
  }

  async health(): Promise<EngineHealth> {
    try {
      const { body } = await this.es.request<ClusterHealth>('GET', '/_cluster/health', { timeoutMs: HEALTH_TIMEOUT_MS });
      if (body.status === 'green' || body.status === 'yellow') return { status: 'up' };
      return { status: 'down', reason: `cluster status ${body.status ?? 'unknown'}${body.unassigned_shards ? ` (${body.unassigned_shards} unassigned shards)` : ''}` };
    } catch (err) {
      return { status: 'down', reason: (err as Error).message };
    }
  }

  migrate(snapshot: Snapshot): Promise<void> {
    return this.migrator.migrate(snapshot);
  }

  abandon(project: string, version: number): Promise<void> {
    return this.migrator.abandon(project, version);
  }

  apply(writes: readonly Write[]): Promise<void> {
    return writes.length ? this.writer.apply(writes) : Promise.resolve();
  }

  dropProject(project: string, versions: readonly number[]): Promise<void> {
    return this.migrator.dropProject(project, versions);
  }

  scan(request: ScanRequest): Promise<ScannedItem[]> {
    return this.reader.scan(request);
  }

  count(request: Parameters<Store['count']>[0]): Promise<number> {
    return this.reader.count(request);
  }

  activate(snapshot: Snapshot): Promise<void> {
    return this.migrator.activate(snapshot);
  }

  retire(project: string, version: number): Promise<void> {
    return this.migrator.retire(project, version);
  }

  /** Elasticsearch prunes its own tombstones after `index.gc_deletes`: dstore keeps that equal to TOMBSTONE_TTL_S. */
  async prune(horizon: PruneHorizon): Promise<PruneResult> {
    await this.migrator.keepTombstones(`${horizon.ttlSeconds}s`);
    return { removed: 0, more: false };
  }

  close(): Promise<void> {
    return this.es.close();
  }
}
