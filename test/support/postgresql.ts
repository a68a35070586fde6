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
