import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ApiFailure, type DstoreClient } from './client.ts';

export interface ImportOptions {
  project: string;
  blueprint: string;
  file: string;
  /** Items per bulk PUT. */
  batch: number;
  /** Bulk PUTs in flight at once. */
  concurrency: number;
  /** Filled into items that name no project_version. */
  version?: number;
  /** Bytes of the file read so far and items stored so far, after each stored batch. */
  progress?: (state: { bytes: number; totalBytes: number; stored: number }) => void;
}

export interface ImportResult {
  stored: number;
  lines: number;
  seconds: number;
}

/** A line dstore (or the file) refused: its number, and why; the batches before it are stored. */
export class ImportRefused extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly stored: number,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

interface Batch {
  /** The items as a JSON array text: lines go out as they are, never re-serialized when they need nothing added. */
  body: string;
  firstLine: number;
  /** The file line of each item, in order. */
  lines: number[];
  ids: Array<string | undefined>;
  bytes: number;
}

/**
 * Streams an NDJSON file into dstore as bulk PUTs of `batch` items with up to
 * `concurrency` in flight. A line that is not a JSON object stops the import
 * before it is sent; a refused batch stops it at its first failing line. Lines
 * that are empty are skipped but counted.
 */
export async function importNdjson(client: DstoreClient, opts: ImportOptions): Promise<ImportResult> {
  const started = Date.now();
  const totalBytes = (await stat(opts.file)).size;
  const path = `/${encodeURIComponent(opts.project)}/${encodeURIComponent(opts.blueprint)}`;
  const input = createReadStream(opts.file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const reader = createInterface({ input, crlfDelay: Infinity });

  let lineNo = 0;
  let stored = 0;
  let bytesStored = 0;
  let failure: ImportRefused | null = null;
  const inFlight = new Set<Promise<void>>();

  const send = (batch: Batch): Promise<void> => {
    const p = client
      .call('PUT', path, batch.body)
      .then(() => {
        stored += batch.lines.length;
        bytesStored += batch.bytes;
        opts.progress?.({ bytes: bytesStored, totalBytes, stored });
      })
      .catch((err: unknown) => {
        const refused = refusalOf(err, batch, stored);
        if (!failure || refused.line < failure.line) failure = refused;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  };

  let current: Batch = { body: '', firstLine: 0, lines: [], ids: [], bytes: 0 };
  const flush = async () => {
    if (!current.lines.length) return;
    const batch = { ...current, body: `[${current.body}]` };
    current = { body: '', firstLine: 0, lines: [], ids: [], bytes: 0 };
    void send(batch);
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
  };

  try {
    for await (const raw of reader) {
      lineNo++;
      const lineBytes = Buffer.byteLength(raw) + 1;
      if (failure) break;
      current.bytes += lineBytes;
      const line = raw.trim();
      if (!line) continue;
      let item: unknown;
      try {
        item = JSON.parse(line);
      } catch (err) {
        throw new ImportRefused(lineNo, `not JSON: ${(err as Error).message}`, stored);
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ImportRefused(lineNo, 'is not a JSON object (one item per line)', stored);
      const record = item as Record<string, unknown>;
      let text = line;
      if (opts.version !== undefined && record['project_version'] === undefined) text = JSON.stringify({ ...record, project_version: opts.version });
      if (!current.lines.length) current.firstLine = lineNo;
      current.body += current.lines.length ? `,${text}` : text;
      current.lines.push(lineNo);
      current.ids.push(typeof record['id'] === 'string' ? record['id'] : undefined);
      if (current.lines.length >= opts.batch) await flush();
    }
    if (!failure) await flush();
  } finally {
    reader.close();
    input.destroy();
    await Promise.all(inFlight);
  }
  if (failure) {
    const refused: ImportRefused = failure;
    // batches already in flight when the refusal came back may have been stored too
    throw new ImportRefused(refused.line, refused.reason, stored);
  }
  opts.progress?.({ bytes: totalBytes, totalBytes, stored });
  return { stored, lines: lineNo, seconds: (Date.now() - started) / 1000 };
}

/** Maps a refused bulk PUT back to the file: the 400 names items by id or by `[index]`. */
function refusalOf(err: unknown, batch: Batch, stored: number): ImportRefused {
  if (!(err instanceof ApiFailure)) return new ImportRefused(batch.firstLine, `the batch of lines ${batch.firstLine}-${batch.lines.at(-1)} was not stored: ${(err as Error).message}`, stored);
  const errors = err.body.errors ?? {};
  let first: { line: number; reasons: string[] } | null = null;
  for (const [key, what] of Object.entries(errors)) {
    const index = /^\[(\d+)\]/.exec(key);
    const i = index ? Number(index[1]) : batch.ids.findIndex((id) => id !== undefined && (key === id || key.startsWith(`${id}.`)));
    if (i < 0 || i >= batch.lines.length) continue;
    const field = index ? key.slice(index[0].length).replace(/^\./, '') : key.slice(batch.ids[i]!.length).replace(/^\./, '');
    const line = batch.lines[i]!;
    if (!first || line < first.line) first = { line, reasons: [] };
    if (line === first.line) first.reasons.push(field ? `${field} ${what}` : what);
  }
  if (first) return new ImportRefused(first.line, `${first.reasons.join('; ')} (${err.body.code}; nothing of lines ${batch.firstLine}-${batch.lines.at(-1)} was stored)`, stored);
  return new ImportRefused(batch.firstLine, `the batch of lines ${batch.firstLine}-${batch.lines.at(-1)} was refused: ${err.body.message} (${err.body.code})`, stored);
}
