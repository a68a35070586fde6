import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

let tmpCounter = 0;

/** Writes JSON so that a reader (or a crash) sees the old file or the new one, never half of one: temp file, fsync, rename, fsync dir. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  // unique per call: two writes of one file in the same millisecond must not share a temp file
  const tmp = `${path}.${process.pid}.${Date.now()}.${++tmpCounter}.tmp`;
  // serialized before the temp file exists: a value that cannot be (too deep, a BigInt) leaves nothing behind
  const text = JSON.stringify(value, null, 2) + '\n';
  const file = await open(tmp, 'w');
  try {
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // a full disk (ENOSPC), an I/O error or a failed rename: no temp file of a failed write survives it
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}
