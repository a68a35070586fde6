import pg from 'pg';

/** The PostgreSQL the integration tests talk to, from the runner's environment (tools/test.mjs sets it). */
export const PG = {
  host: process.env['POSTGRESQL_HOST'] || '127.0.0.1',
  port: Number(process.env['POSTGRESQL_PORT'] || 5432),
  user: process.env['POSTGRESQL_USER'] || 'postgres',
  password: process.env['POSTGRESQL_PASSWORD'] || undefined,
  database: process.env['POSTGRESQL_DATABASE'] || 'dstore_test',
};

/** The same, as the settings a dstore process reads (SPEC §7). */
export const PG_ENV = {
  POSTGRESQL_HOST: PG.host,
  POSTGRESQL_PORT: String(PG.port),
  POSTGRESQL_USER: PG.user,
  POSTGRESQL_PASSWORD: PG.password ?? '',
  POSTGRESQL_DATABASE: PG.database,
};

/** A client of the test database, made first if this run is the first to need it (dstore would, at its first start). */
export async function connectTestDatabase(config: pg.ClientConfig & { database: string } = PG): Promise<pg.Client> {
  const admin = new pg.Client({ ...config, database: 'postgres' });
  await admin.connect();
  try {
    if (!(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.database])).rowCount) await admin.query(`CREATE DATABASE "${config.database}"`);
  } finally {
    await admin.end();
  }
  const db = new pg.Client(config);
  await db.connect();
  return db;
}
