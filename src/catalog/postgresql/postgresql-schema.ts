import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { FileJobStorage } from '../../jobs/jobs.ts';
import { FileCatalog } from '../file/file-catalog.ts';
import { FileTokenStorage } from '../tokens.ts';
import { stateIn } from '../loaded-catalog.ts';

/** The schema of the shared catalog (SPEC §11); snapshots are immutable (a trigger refuses any UPDATE). */
const DDL = `
CREATE SCHEMA IF NOT EXISTS dstore_catalog;
COMMENT ON SCHEMA dstore_catalog IS 'dstore catalog: projects, working copies, snapshots, version states, tokens, jobs, API processes';
CREATE TABLE IF NOT EXISTS dstore_catalog.meta (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision bigint NOT NULL DEFAULT 0,
  initialized_at timestamptz,
  imported_from text
);
INSERT INTO dstore_catalog.meta (singleton) VALUES (true) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS dstore_catalog.projects (
  name text PRIMARY KEY,
  created_at text NOT NULL,
  working json NOT NULL,
  revision bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dstore_catalog.snapshots (
  project text NOT NULL REFERENCES dstore_catalog.projects (name) ON DELETE CASCADE,
  version integer NOT NULL CHECK (version > 0),
  snapshot json NOT NULL,
  revision bigint NOT NULL,
  PRIMARY KEY (project, version)
);
CREATE TABLE IF NOT EXISTS dstore_catalog.version_states (
  project text NOT NULL,
  version integer NOT NULL,
  state text NOT NULL CHECK (state IN ('backfilling', 'ready', 'retired')),
  PRIMARY KEY (project, version),
  FOREIGN KEY (project, version) REFERENCES dstore_catalog.snapshots (project, version) ON DELETE CASCADE
);
CREATE OR REPLACE FUNCTION dstore_catalog.snapshot_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'snapshot % of project % is immutable', OLD.version, OLD.project;
END $$;
CREATE OR REPLACE TRIGGER snapshot_immutable BEFORE UPDATE ON dstore_catalog.snapshots FOR EACH ROW EXECUTE FUNCTION dstore_catalog.snapshot_immutable();
CREATE TABLE IF NOT EXISTS dstore_catalog.tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  projects json NOT NULL,
  scopes json NOT NULL,
  created_at text NOT NULL,
  last_used_at text,
  sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$')
);
CREATE TABLE IF NOT EXISTS dstore_catalog.jobs (
  id text PRIMARY KEY,
  project text NOT NULL,
  record json NOT NULL,
  skipped json NOT NULL,
  owner text,
  expires_at timestamptz
);
CREATE TABLE IF NOT EXISTS dstore_catalog.processes (
  id text PRIMARY KEY,
  pid integer NOT NULL,
  host text NOT NULL,
  seen_revision bigint NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
`;

/** Serializes schema creation and the first-start import across processes starting together. */
const SETUP_LOCK = 'SELECT pg_advisory_xact_lock(hashtext(\'dstore_catalog setup\'))';

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Whether PROJECT_FILE_PATH holds a file catalog (a project, tokens or jobs). */
async function hasFileCatalog(dir: string): Promise<boolean> {
  if ((await exists(join(dir, '_tokens.json'))) || (await exists(join(dir, '_jobs')))) return true;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory() && (await exists(join(dir, e.name, 'project.json')))) return true;
  return false;
}

/**
 * Creates the schema; at the first start with an empty catalog, imports the file catalog found at `fileDir`
 * (SPEC §11: an existing deployment moves over by itself). Answers the line to log about an import, if one ran.
 */
export async function setUpSchema(pool: pg.Pool, fileDir: string): Promise<string | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(SETUP_LOCK);
    await client.query(DDL);
    const meta = await client.query<{ initialized_at: Date | null }>('SELECT initialized_at FROM dstore_catalog.meta');
    let line: string | undefined;
    if (!meta.rows[0]!.initialized_at) {
      const empty = await client.query<{ n: string }>('SELECT (SELECT count(*) FROM dstore_catalog.projects) + (SELECT count(*) FROM dstore_catalog.tokens) + (SELECT count(*) FROM dstore_catalog.jobs) AS n');
      if (Number(empty.rows[0]!.n) === 0 && (await hasFileCatalog(fileDir))) line = await importFileCatalog(client, fileDir);
      await client.query('UPDATE dstore_catalog.meta SET initialized_at = now(), imported_from = $1', [line ? fileDir : null]);
    }
    await client.query('COMMIT');
    return line;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function importFileCatalog(client: pg.PoolClient, dir: string): Promise<string> {
  const files = new FileCatalog(dir);
  await files.load();
  let versions = 0;
  for (const [name, s] of files.loaded()) {
    await client.query('INSERT INTO dstore_catalog.projects (name, created_at, working) VALUES ($1, $2, $3)', [name, s.record.createdAt, JSON.stringify(s.working)]);
    for (const v of s.record.versions) {
      await client.query('INSERT INTO dstore_catalog.snapshots (project, version, snapshot, revision) VALUES ($1, $2, $3, 0)', [name, v, JSON.stringify(s.snapshots.get(v))]);
      await client.query('INSERT INTO dstore_catalog.version_states (project, version, state) VALUES ($1, $2, $3)', [name, v, stateIn(s.record, v)]);
      versions++;
    }
  }
  const tokens = await new FileTokenStorage(join(dir, '_tokens.json')).load();
  for (const t of tokens) {
    await client.query('INSERT INTO dstore_catalog.tokens (id, name, projects, scopes, created_at, last_used_at, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)', [t.id, t.name, JSON.stringify(t.projects), JSON.stringify(t.scopes), t.created_at, t.last_used_at, t.sha256]);
  }
  const jobs = await new FileJobStorage(join(dir, '_jobs')).loadAll();
  for (const j of jobs) {
    await client.query('INSERT INTO dstore_catalog.jobs (id, project, record, skipped) VALUES ($1, $2, $3, $4)', [j.job.id, j.job.project, JSON.stringify(j.job), JSON.stringify(j.skipped)]);
  }
  return `catalog: imported the file catalog at PROJECT_FILE_PATH=${dir} into PostgreSQL (schema dstore_catalog): ${files.loaded().size} projects, ${versions} versions, ${tokens.length} tokens, ${jobs.length} jobs`;
}
