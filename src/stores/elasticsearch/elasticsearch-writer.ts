import type { Write } from '../store.ts';
import { WriteRejectedError } from '../store.ts';
import { EngineUnavailableError, engineReason, type ElasticsearchConnection } from './elasticsearch-http.ts';
import { indexName, joinedNames } from './elasticsearch-names.ts';
import { deleteAction, indexAction, serializeDocument } from './elasticsearch-serializer.ts';

export interface WriterOptions {
  /** `wait_for`: each batch answers once its writes are visible to search (slower); default: realtime GET only. */
  refresh?: 'wait_for';
}

/** One line pair of the bulk request and the write it belongs to. */
interface BulkOp {
  write: number;
  index: string;
  op: 'index' | 'delete';
  lines: string;
}

interface BulkItemResult {
  status: number;
  error?: unknown;
}

/** Largest `_bulk` body sent at once, in characters (a fifth of the engines' default 100 MB limit). */
const MAX_BULK_CHARS = 20 * 1024 * 1024;

interface BulkAnswer {
  errors: boolean;
  items?: Array<Record<string, BulkItemResult>>;
}

/**
 * Applies a batch of writes with one `_bulk` request. Every operation carries the
 * write's stamp as an external version, so the engine itself keeps the newest:
 * a late older write answers 409 and is skipped, a delete leaves a tombstone.
 */
export class ElasticsearchWriter {
  constructor(
    private readonly es: ElasticsearchConnection,
    private readonly options: WriterOptions = {},
  ) {}

  async apply(writes: readonly Write[]): Promise<void> {
    const rejected = new Map<number, string>();
    const ops: BulkOp[] = [];
    writes.forEach((w, i) => {
      if (!Number.isSafeInteger(w.stamp) || w.stamp < 0) {
        rejected.set(i, `stamp ${w.stamp} is not a valid external version`);
        return;
      }
      if (w.op === 'put') {
        const index = indexName(w.project, w.version, w.blueprint);
        ops.push({ write: i, index, op: 'index', lines: `${indexAction(index, w.id, w.stamp)}\n${serializeDocument(w.definition, w.item)}\n` });
      } else {
        for (const t of w.targets) {
          const index = indexName(w.project, t.version, w.blueprint);
          ops.push({ write: i, index, op: 'delete', lines: `${deleteAction(index, w.id, w.stamp)}\n` });
        }
      }
    });

    // _bulk would create a missing index with dynamic mappings (deletes too, for their tombstone)
    const missing = await this.missingIndices(new Set(ops.map((o) => o.index)));
    const sent = missing.size ? ops.filter((o) => !missing.has(o.index)) : ops;
    if (missing.size) {
      for (const o of ops) {
        // deleting from an index that is gone has nothing left to do
        if (o.op === 'index' && missing.has(o.index) && !rejected.has(o.write)) rejected.set(o.write, `index ${o.index} does not exist (project dropped or version abandoned?)`);
      }
    }

    let unavailable: string | null = null;
    const refresh = this.options.refresh ?? (writes.some((w) => w.refresh) ? 'wait_for' : undefined);
    for (const part of bySize(sent)) {
      for (const { op, result } of await this.bulk(part, refresh)) {
        const verdict = classify(op, result);
        if (verdict === 'retry') unavailable ??= `${op.op} in ${op.index}: ${result.status} ${engineReason(result.error)}`;
        else if (verdict === 'refused' && !rejected.has(op.write)) rejected.set(op.write, `${op.op} in ${op.index}: ${engineReason(result.error)}`);
      }
    }
    if (rejected.size) throw new WriteRejectedError('elasticsearch', rejected);
    if (unavailable) throw new EngineUnavailableError(`some writes were refused for now: ${unavailable}`);
  }

  /** One `_bulk` request; returns the operations that did not simply succeed, with their results. */
  private async bulk(ops: readonly BulkOp[], refresh: 'wait_for' | undefined): Promise<Array<{ op: BulkOp; result: BulkItemResult }>> {
    const res = await this.es.request<BulkAnswer>('POST', '/_bulk', {
      body: ops.map((o) => o.lines).join(''),
      query: { filter_path: 'errors,items.*.status,items.*.error', refresh },
    });
    if (!res.body.errors) return [];
    const items = res.body.items ?? [];
    if (items.length !== ops.length) throw new Error(`_bulk answered ${items.length} results for ${ops.length} operations`);
    return items.map((item, k) => ({ op: ops[k]!, result: Object.values(item)[0]! }));
  }

  /** Which of these indices do not exist: one HEAD per batch, a closer look only when one is missing. */
  private async missingIndices(indices: ReadonlySet<string>): Promise<Set<string>> {
    const missing = new Set<string>();
    for (const chunk of joinedNames([...indices])) {
      const head = await this.es.request('HEAD', `/${chunk}`, { accept: [404] });
      if (head.status !== 404) continue;
      const found = await this.es.request<Record<string, unknown> | undefined>('GET', `/${chunk}/_settings/index.uuid`, {
        query: { ignore_unavailable: true, allow_no_indices: true },
      });
      for (const index of chunk.split(',')) if (!(index in (found.body ?? {}))) missing.add(index);
    }
    return missing;
  }
}

/**
 * What one bulk item's answer means: `done` (applied, or skipped because the
 * engine holds a newer version, or nothing to delete), `retry` (the engine
 * cannot take it now) or `refused` (this write will never go in).
 */
function classify(op: BulkOp, result: BulkItemResult): 'done' | 'retry' | 'refused' {
  const { status } = result;
  if (status < 300) return 'done';
  if (status === 409) return 'done';
  if (status === 404 && op.op === 'delete') return 'done';
  if (status === 429 || status >= 500) return 'retry';
  return 'refused';
}

/**
 * One `_bulk` per batch, unless the batch is bigger than MAX_BULK_CHARS (engines
 * refuse bodies over `http.max_content_length`, 100 MB by default): then a few, one after the other.
 */
function bySize(ops: readonly BulkOp[]): BulkOp[][] {
  const parts: BulkOp[][] = [];
  let part: BulkOp[] = [];
  let size = 0;
  for (const op of ops) {
    if (part.length && size + op.lines.length > MAX_BULK_CHARS) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(op);
    size += op.lines.length;
  }
  if (part.length) parts.push(part);
  return parts;
}
