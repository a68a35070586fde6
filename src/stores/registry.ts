import type { Config } from '../config.ts';
import type { Store, StoreName } from './store.ts';

/** How each engine is built from the configuration; engines load lazily so an unused client is never imported. */
const FACTORIES: Record<StoreName, (config: Config) => Promise<Store>> = {
  level: async (config) => new (await import('./level/level-store.ts')).LevelStore(config.levelPath),
  postgresql: async (config) => new (await import('./postgresql/postgresql-store.ts')).PostgresqlStore(config.postgresql!),
  // Elasticsearch keeps its own tombstones as long as dstore keeps its stamps (SPEC §11)
  elasticsearch: async (config) => new (await import('./elasticsearch/elasticsearch-store.ts')).ElasticsearchStore(config.elasticsearch!, { gcDeletes: `${config.tombstoneTtlS}s` }),
};

export async function createStores(config: Config): Promise<Store[]> {
  return Promise.all(config.stores.map((name) => FACTORIES[name](config)));
}
