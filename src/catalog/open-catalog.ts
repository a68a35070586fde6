import { join } from 'node:path';
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import { FileJobStorage, type JobStorage } from '../jobs/jobs.ts';
import type { Catalog } from './catalog.ts';
import { CatalogLockedError, lockCatalog } from './file/catalog-lock.ts';
import { FileCatalog } from './file/file-catalog.ts';
import { FileTokenStorage, type TokenStorage } from './tokens.ts';

/** The catalog of a process with the storages of its tokens and jobs, one kind for all three (CATALOG). */
export interface OpenedCatalog {
  catalog: Catalog;
  tokens: TokenStorage;
  jobs: JobStorage;
  /** Says where it lives, for the start-up line. */
  where: string;
  close(): Promise<void>;
}

/** Opens and loads the configured catalog; any fault stops start-up with one line (ConfigError). */
export async function openCatalog(config: Config, log: (msg: string) => void): Promise<OpenedCatalog> {
  if (config.catalog === 'postgresql') {
    const { openPostgresqlCatalog } = await import('./postgresql/postgresql-catalog.ts');
    return openPostgresqlCatalog(config, log);
  }
  const dir = config.projectFilePath;
  let lock;
  try {
    lock = await lockCatalog(dir);
  } catch (err) {
    if (err instanceof CatalogLockedError) throw new ConfigError(err.message);
    throw new ConfigError(`cannot lock the catalog at PROJECT_FILE_PATH=${dir}: ${(err as Error).message}`);
  }
  const catalog = new FileCatalog(dir);
  try {
    await catalog.load();
  } catch (err) {
    await lock.release();
    throw new ConfigError(`cannot read the catalog at PROJECT_FILE_PATH=${dir}: ${(err as Error).message}`);
  }
  return {
    catalog,
    tokens: new FileTokenStorage(join(dir, '_tokens.json')),
    jobs: new FileJobStorage(join(dir, '_jobs')),
    where: `file ${dir}`,
    close: () => lock.release(),
  };
}
