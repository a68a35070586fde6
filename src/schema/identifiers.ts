/** Names that become schema, table, index and key names (SPEC §2 "Identifiers"). */

export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
export const COLUMN_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;
export const RESERVED_COLUMNS: readonly string[] = ['id', 'project_version', 'links'];
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const RESERVED_SCHEMAS: readonly string[] = ['public', 'information_schema'];

/** Longest project name: `<project>_v<version>` must still fit PostgreSQL's 63-byte identifiers. */
export const PROJECT_MAX_LENGTH = 48;

/** Why a project name is refused, or null when it is fine. */
export function projectNameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name)) return `must match ${NAME_PATTERN.source}`;
  if (name.length > PROJECT_MAX_LENGTH) return `must be at most ${PROJECT_MAX_LENGTH} characters (it becomes <project>_v<N> in PostgreSQL)`;
  // `_v<digits>` marks the version in schema and index names; inside a project name it would make two names collide
  if (/_v\d+(_|$)/.test(name)) return 'must not contain _v<digits> (reserved for version suffixes)';
  if (name.startsWith('pg_')) return 'must not start with pg_ (reserved by PostgreSQL)';
  // the project's name is also its PostgreSQL schema of "latest" views (SPEC §9)
  if (RESERVED_SCHEMAS.includes(name)) return `is a schema every PostgreSQL database has (${RESERVED_SCHEMAS.join(', ')})`;
  return null;
}

export function blueprintNameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name)) return `must match ${NAME_PATTERN.source}`;
  return null;
}

/** Elasticsearch's and OpenSearch's metadata fields: a mapping cannot declare them. */
const SEARCH_METADATA_FIELDS: readonly string[] = ['_id', '_index', '_type', '_source', '_routing', '_meta', '_version', '_seq_no', '_primary_term', '_field_names', '_ignored', '_tier', '_doc_count', '_size', '_data_stream_timestamp', '_all', '_parent', '_uid', '_timestamp', '_ttl'];

export function columnNameProblem(name: string): string | null {
  if (!COLUMN_PATTERN.test(name)) return `must match ${COLUMN_PATTERN.source}`;
  if (RESERVED_COLUMNS.includes(name)) return `is reserved (${RESERVED_COLUMNS.join(', ')})`;
  if (SEARCH_METADATA_FIELDS.includes(name)) return 'is a metadata field of Elasticsearch and OpenSearch';
  if (name.startsWith('_dstore')) return 'must not start with _dstore (reserved for bookkeeping)';
  return null;
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}
