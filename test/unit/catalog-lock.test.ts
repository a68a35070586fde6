// The file-catalog lock (SPEC §11): one process per PROJECT_FILE_PATH, a stale lock of a dead process taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogLockedError, LOCK_FILE, lockCatalog } from '../../src/catalog/file/catalog-lock.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A live process that is not this one, and its pid. */
function sleeper(): { pid: number; kill(): void } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  return { pid: child.pid!, kill: () => child.kill('SIGKILL') };
}

test('the lock file holds our pid and is removed on release', async () => {
  await withDir(async (dir) => {
    const lock = await lockCatalog(dir);
    assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(process.pid));
    await lock.release();
    await assert.rejects(access(join(dir, LOCK_FILE)));
  });
});

test('a lock held by a live process refuses, naming the directory and its pid', async () => {
  await withDir(async (dir) => {
    const other = sleeper();
    try {
      await writeFile(join(dir, LOCK_FILE), `${other.pid}\n`);
      await assert.rejects(lockCatalog(dir), (err: Error) => {
        assert.ok(err instanceof CatalogLockedError);
        assert.match(err.message, new RegExp(`PROJECT_FILE_PATH=${dir} is in use by dstore process ${other.pid}`));
        return true;
      });
      // refusing did not remove the holder's lock
      assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(other.pid));
    } finally {
      other.kill();
    }
  });
});

test('a lock left by a dead process (kill -9) is stale and taken over', async () => {
  await withDir(async (dir) => {
    const other = sleeper();
    other.kill();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writeFile(join(dir, LOCK_FILE), `${other.pid}\n`);
    const lock = await lockCatalog(dir);
    assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(process.pid));
    await lock.release();
  });
});

test('an empty or garbled lock file does not block a start for ever', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, LOCK_FILE), '');
    const lock = await lockCatalog(dir);
    assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), String(process.pid));
    await lock.release();
  });
});

test('release leaves a lock that another process took over', async () => {
  await withDir(async (dir) => {
    const lock = await lockCatalog(dir);
    await writeFile(join(dir, LOCK_FILE), '999999\n');
    await lock.release();
    assert.equal((await readFile(join(dir, LOCK_FILE), 'utf8')).trim(), '999999');
  });
});
