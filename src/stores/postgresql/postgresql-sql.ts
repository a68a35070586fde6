import { COLUMN_PATTERN, NAME_PATTERN, projectNameProblem } from '../../schema/identifiers.ts';

/**
 * Every identifier that reaches SQL goes through `ident`: it re-checks the name
 * against the pattern of its kind (the HTTP layer checked it already; this is
 * defence in depth) and double-quotes it. Values never go here: they are parameters.
 */
export type IdentifierKind = 'schema' | 'table' | 'column' | 'database' | 'bookkeeping';

/** Same rule as POSTGRESQL_DATABASE in config.ts: a plain name, quoted because it may hold capitals, `$` or `-`. */
const DATABASE_PATTERN = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
/** dstore's own tables and hidden fields: a fixed prefix no blueprint name or column can take. */
const BOOKKEEPING_PATTERN = /^_dstore_[a-z_]{1,55}$/;

const PATTERNS: Record<IdentifierKind, RegExp> = {
  schema: NAME_PATTERN,
  table: NAME_PATTERN,
  column: COLUMN_PATTERN,
  database: DATABASE_PATTERN,
  bookkeeping: BOOKKEEPING_PATTERN,
};

export function ident(name: string, kind: IdentifierKind): string {
  if (typeof name !== 'string' || !PATTERNS[kind].test(name)) {
    throw new Error(`refusing ${kind} name ${JSON.stringify(name)} in SQL: it must match ${PATTERNS[kind].source}`);
  }
  return `"${name}"`;
}

/** The schema of one project version: `<project>_v<version>` (SPEC §5), unquoted. */
export function schemaName(project: string, version: number): string {
  const problem = projectNameProblem(project);
  if (problem) throw new Error(`refusing project name ${JSON.stringify(project)} in SQL: ${problem}`);
  if (!Number.isSafeInteger(version) || version < 1) throw new Error(`refusing project version ${JSON.stringify(version)} in SQL`);
  return `${project}_v${version}`;
}

/** `"schema"."name"`, both checked. */
export function qualified(schema: string, name: string, kind: 'table' | 'bookkeeping' = 'table'): string {
  return `${ident(schema, 'schema')}.${ident(name, kind)}`;
}

/** Per version schema: the last stamp applied to each item of each table (see postgresql-writer.ts). */
export const STAMPS_TABLE = '_dstore_stamps';

/** Marks a schema as made by dstore (COMMENT ON SCHEMA), so leftovers can be told from someone else's schema. */
export function schemaMarker(project: string, version: number): string {
  return `dstore:${project}:${version}`;
}

/** The schema of views over the latest ready version (SPEC §9 "Versions and latest"): the project's own name, unquoted. */
export function latestSchemaName(project: string): string {
  const problem = projectNameProblem(project);
  if (problem) throw new Error(`refusing project name ${JSON.stringify(project)} in SQL: ${problem}`);
  return project;
}

/** dstore's mark on the latest schema and on each of its views. */
export function latestMarker(project: string): string {
  return `dstore:${project}:latest`;
}
