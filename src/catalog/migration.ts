import type { Snapshot, Store } from '../stores/store.ts';

export class MigrationError extends Error {
  constructor(readonly store: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`${store} migration failed: ${reason}`, options);
  }
}

/**
 * Migrates every store for a snapshot, one after the other; if one fails,
 * the stores already migrated abandon the version, so a retry starts clean.
 */
export async function migrateAll(stores: readonly Store[], snapshot: Snapshot, log: (msg: string) => void = () => {}): Promise<void> {
  const done: Store[] = [];
  for (const store of stores) {
    const started = Date.now();
    log(`snapshot ${snapshot.project} v${snapshot.version}: migrating ${store.name}`);
    try {
      await store.migrate(snapshot);
    } catch (err) {
      const reason = (err as Error).message;
      for (const prior of [store, ...done].reverse()) {
        await prior.abandon(snapshot.project, snapshot.version).catch((e: Error) => log(`abandon on ${prior.name} failed: ${e.message}`));
      }
      throw new MigrationError(store.name, reason, { cause: err });
    }
    log(`snapshot ${snapshot.project} v${snapshot.version}: ${store.name} ready in ${Date.now() - started} ms`);
    done.push(store);
  }
}

export async function dropAll(stores: readonly Store[], project: string, versions: readonly number[]): Promise<void> {
  for (const store of stores) await store.dropProject(project, versions);
}
