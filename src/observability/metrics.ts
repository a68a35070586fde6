import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineHealth, ScanRequest, Snapshot, Store, StoreName, Write } from '../stores/store.ts';
import { WriteRejectedError } from '../stores/store.ts';
import type { JobRecord } from '../jobs/jobs.ts';
import type { QueueHealth } from '../writes/queue.ts';

/** Where the gauges read their values at each scrape; each is optional (a worker has no jobs). */
export interface MetricSources {
  engines?: () => Promise<Record<string, EngineHealth>>;
  queue?: () => Promise<QueueHealth>;
  deadLetters?: () => Promise<number>;
  jobs?: () => readonly JobRecord[];
}

/** The label a request without a matching route gets: raw URLs never become label values. */
export const UNMATCHED_ROUTE = '<unmatched>';

/**
 * dstore's Prometheus metrics (SPEC §13), one registry per process. Label values
 * are route patterns, methods, status codes, engine names and job kinds/states:
 * a bounded set, never a URL or an id.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status_code'>;
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly writes: Counter<'engine' | 'outcome'>;
  private readonly migrations: Histogram<'engine'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'dstore_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status code', labelNames: ['method', 'route', 'status_code'], registers });
    this.duration = new Histogram({
      name: 'dstore_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its answer',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.writes = new Counter({ name: 'dstore_writes_total', help: 'Writes handed to an engine, by engine and outcome (applied, refused)', labelNames: ['engine', 'outcome'], registers });
    this.migrations = new Histogram({ name: 'dstore_migration_duration_seconds', help: 'Time one engine took to migrate to a snapshot', labelNames: ['engine'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300], registers });
  }

  /** Adds the gauges read at each scrape from the parts of the process (once they exist). */
  watch(sources: MetricSources): void {
    const registers = [this.registry];
    const { engines, queue, deadLetters, jobs } = sources;
    if (engines) {
      new Gauge({
        name: 'dstore_engine_up',
        help: 'Whether the engine answers its health probe (1) or not (0)',
        labelNames: ['engine'],
        registers,
        async collect() {
          this.reset();
          for (const [engine, health] of Object.entries(await engines())) this.set({ engine }, health.status === 'up' ? 1 : 0);
        },
      });
    }
    if (queue) {
      // one queue.health() per scrape feeds the three queue gauges
      let pendingScrape: Promise<QueueHealth> | null = null;
      const health = (): Promise<QueueHealth> => (pendingScrape ??= queue().finally(() => setImmediate(() => (pendingScrape = null))));
      new Gauge({
        name: 'dstore_queue_up',
        help: 'Whether the write queue accepts writes (1) or not (0)',
        registers,
        async collect() {
          this.set((await health()).status === 'up' ? 1 : 0);
        },
      });
      new Gauge({
        name: 'dstore_queue_pending_writes',
        help: 'Writes accepted and not yet applied, by engine',
        labelNames: ['engine'],
        registers,
        async collect() {
          this.reset();
          for (const [engine, lane] of Object.entries((await health()).engines ?? {})) if (lane) this.set({ engine }, lane.pending);
        },
      });
      new Gauge({
        name: 'dstore_queue_oldest_pending_seconds',
        help: 'Age of the oldest write an engine has not applied yet (queue lag); 0 when none waits',
        labelNames: ['engine'],
        registers,
        async collect() {
          this.reset();
          for (const [engine, lane] of Object.entries((await health()).engines ?? {})) if (lane) this.set({ engine }, lane.oldestPendingMs / 1000);
        },
      });
    }
    if (deadLetters) {
      new Gauge({
        name: 'dstore_dead_letters',
        help: 'Writes in the dead-letter list (GET /_deadletter)',
        registers,
        async collect() {
          this.set(await deadLetters());
        },
      });
    }
    if (jobs) {
      new Gauge({
        name: 'dstore_jobs',
        help: 'Jobs known, by kind and state',
        labelNames: ['kind', 'state'],
        registers,
        collect() {
          this.reset();
          const counts = new Map<string, { kind: string; state: string; n: number }>();
          for (const job of jobs()) {
            const key = `${job.kind}/${job.state}`;
            const entry = counts.get(key) ?? { kind: job.kind, state: job.state, n: 0 };
            entry.n++;
            counts.set(key, entry);
          }
          for (const { kind, state, n } of counts.values()) this.set({ kind, state }, n);
        },
      });
      const running = (kind: string) => jobs().filter((j) => j.kind === kind && j.state === 'running');
      const kinds = () => [...new Set(jobs().filter((j) => j.state === 'running').map((j) => j.kind))];
      new Gauge({
        name: 'dstore_job_items_done',
        help: 'Items handled so far by the running jobs, by kind',
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          for (const kind of kinds()) this.set({ kind }, running(kind).reduce((n, j) => n + j.done, 0));
        },
      });
      new Gauge({
        name: 'dstore_job_items_planned',
        help: 'Items the running jobs will handle in all (their totals), by kind',
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          for (const kind of kinds()) this.set({ kind }, running(kind).reduce((n, j) => n + j.total, 0));
        },
      });
    }
  }

  /** One answered request; `route` is the route pattern (or UNMATCHED_ROUTE). */
  request(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }

  written(engine: StoreName, outcome: 'applied' | 'refused', count: number): void {
    if (count > 0) this.writes.inc({ engine, outcome }, count);
  }

  migrated(engine: StoreName, seconds: number): void {
    this.migrations.observe({ engine }, seconds);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A store that counts what it applies and refuses and times its migrations; everything else passes through. */
export class MeteredStore implements Store {
  readonly name: StoreName;

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
  ) {
    this.name = store.name;
  }

  async apply(writes: readonly Write[]): Promise<void> {
    try {
      await this.store.apply(writes);
    } catch (err) {
      // the writes not named are tried again by the caller and counted then
      if (err instanceof WriteRejectedError) this.metrics.written(this.name, 'refused', err.reasons.size);
      throw err;
    }
    this.metrics.written(this.name, 'applied', writes.length);
  }

  async migrate(snapshot: Snapshot): Promise<void> {
    const started = process.hrtime.bigint();
    await this.store.migrate(snapshot);
    this.metrics.migrated(this.name, Number(process.hrtime.bigint() - started) / 1e9);
  }

  open(): Promise<void> {
    return this.store.open();
  }
  health(): Promise<EngineHealth> {
    return this.store.health();
  }
  abandon(project: string, version: number): Promise<void> {
    return this.store.abandon(project, version);
  }
  dropProject(project: string, versions: readonly number[]): Promise<void> {
    return this.store.dropProject(project, versions);
  }
  scan(request: ScanRequest) {
    return this.store.scan(request);
  }
  count(request: Pick<ScanRequest, 'project' | 'version' | 'blueprint' | 'definition'>): Promise<number> {
    return this.store.count(request);
  }
  activate(snapshot: Snapshot): Promise<void> {
    return this.store.activate(snapshot);
  }
  retire(project: string, version: number): Promise<void> {
    return this.store.retire(project, version);
  }
  prune(horizon: Parameters<Store['prune']>[0]): ReturnType<Store['prune']> {
    return this.store.prune(horizon);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}
