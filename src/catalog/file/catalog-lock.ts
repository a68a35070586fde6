import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The lock file of a catalog directory: it holds the pid of the process that owns the directory. */
export const LOCK_FILE = '_catalog.lock';

export class CatalogLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`PROJECT_FILE_PATH=${dir} is in use by dstore process ${pid} (lock file ${join(dir, LOCK_FILE)}): one process per file catalog; stop it, or use CATALOG=postgresql for several API processes`);
  }
}

export interface CatalogLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory for this process (SPEC §11): an exclusive create of the lock file with our pid.
 * A lock whose pid is gone (a kill -9) or is this very process (a restart that got the same pid) is stale and taken over.
 */
export async function lockCatalog(dir: string): Promise<CatalogLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(`${process.pid}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
    }
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw err;
    }
    const pid = Number.parseInt(text.trim(), 10);
    // a lock being written by its owner this instant is still empty: give it a moment
    if (!Number.isInteger(pid) || pid <= 0) {
      if (attempt < 2) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
    } else if (pid !== process.pid && alive(pid)) {
      throw new CatalogLockedError(dir, pid);
    }
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // only our own lock: another process may have taken over a directory we no longer hold
      const text = await readFile(path, 'utf8').catch(() => '');
      if (Number.parseInt(text.trim(), 10) === process.pid) await unlink(path).catch(() => {});
    },
  };
}
