import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Single-item PUTs from `connections` concurrent connections for `seconds`, each with a fresh id. */
export async function putLoad(opts: { url: string; path: (id: string) => string; body: (id: string) => unknown; connections: number; seconds: number }): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      {
        method: 'PUT',
        setupRequest: (req) => {
          const id = randomUUID();
          return { ...req, path: opts.path(id), body: JSON.stringify(opts.body(id)) };
        },
      },
    ],
  });
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** Sends `items` in batches with at most `inFlight` requests at once; returns items per second. */
export async function bulkLoad(opts: { items: unknown[]; batch: number; inFlight: number; send: (batch: unknown[]) => Promise<void> }): Promise<{ seconds: number; perSecond: number }> {
  const started = process.hrtime.bigint();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < opts.items.length) {
      const from = next;
      next += opts.batch;
      await opts.send(opts.items.slice(from, from + opts.batch));
    }
  }
  await Promise.all(Array.from({ length: opts.inFlight }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, perSecond: opts.items.length / seconds };
}

export function uuidFor(i: number): string {
  const hex = i.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function table(log: (line: string) => void, header: string[], rows: Array<Array<string | number>>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: Array<string | number>) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ') + ' |';
  log(line(header));
  log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) log(line(r));
}
