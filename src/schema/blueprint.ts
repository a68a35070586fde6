import { ARRAY_KEYWORDS, COLUMN_TYPE_NAMES, COLUMN_TYPES, KEYWORDS, type ColumnType } from './column-types.ts';
import { blueprintNameProblem, columnNameProblem, NAME_PATTERN } from './identifiers.ts';
import { sharedAjv } from './ajv.ts';

export interface ColumnValidation {
  required?: boolean;
  [keyword: string]: unknown;
}

export interface Column {
  type: string;
  validation?: ColumnValidation;
}

/** A blueprint as dstore keeps it: defaults filled in. */
export interface Blueprint {
  postgresql: { table: string };
  elasticsearch: { type: string };
  columns: Record<string, Column>;
}

/** Blueprints of one project by name: a working copy or a snapshot. */
export type Blueprints = Record<string, Blueprint>;

export type Problems = Record<string, string>;

export class BlueprintError extends Error {
  constructor(readonly blueprint: string, readonly problems: Problems) {
    super(`blueprint ${blueprint} is invalid`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const TOP_KEYS = ['postgresql', 'elasticsearch', 'columns'];

/** Checks a blueprint as a client sent it and returns it normalized; throws BlueprintError listing every problem. */
export function normalizeBlueprint(name: string, input: unknown): Blueprint {
  const problems: Problems = {};
  const nameProblem = blueprintNameProblem(name);
  if (nameProblem) problems['name'] = nameProblem;
  if (!isObject(input)) throw new BlueprintError(name, { ...problems, blueprint: 'must be a JSON object with "columns"' });

  for (const key of Object.keys(input)) {
    if (!TOP_KEYS.includes(key)) problems[key] = `is not a blueprint member (expected ${TOP_KEYS.join(', ')})`;
  }
  const table = engineName(input, 'postgresql', 'table', name, problems);
  const esType = engineName(input, 'elasticsearch', 'type', name, problems);

  const columns: Record<string, Column> = {};
  if (!isObject(input['columns'])) {
    problems['columns'] = 'is required: an object of column name to { "type": … }';
  } else {
    for (const [column, def] of Object.entries(input['columns'])) {
      const normalized = normalizeColumn(column, def, problems);
      if (normalized) columns[column] = normalized;
    }
  }
  if (Object.keys(problems).length) throw new BlueprintError(name, problems);
  return { postgresql: { table }, elasticsearch: { type: esType }, columns };
}

function engineName(input: Record<string, unknown>, engine: string, key: string, fallback: string, problems: Problems): string {
  const section = input[engine];
  if (section === undefined || section === null) return fallback;
  if (!isObject(section)) {
    problems[engine] = `must be an object like { "${key}": "…" }`;
    return fallback;
  }
  for (const k of Object.keys(section)) if (k !== key) problems[`${engine}.${k}`] = `is not a ${engine} setting (expected ${key})`;
  const value = section[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    problems[`${engine}.${key}`] = `must match ${NAME_PATTERN.source}`;
    return fallback;
  }
  return value;
}

function normalizeColumn(column: string, def: unknown, problems: Problems): Column | null {
  const at = `columns.${column}`;
  const nameProblem = columnNameProblem(column);
  if (nameProblem) {
    problems[at] = `column name ${nameProblem}`;
    return null;
  }
  if (!isObject(def)) {
    problems[at] = 'must be an object like { "type": "string" }';
    return null;
  }
  for (const k of Object.keys(def)) if (k !== 'type' && k !== 'validation') problems[`${at}.${k}`] = 'is not a column member (expected type, validation)';
  const type = typeof def['type'] === 'string' ? COLUMN_TYPES.get(def['type']) : undefined;
  if (!type) {
    problems[`${at}.type`] = `${JSON.stringify(def['type'] ?? null)} is not a column type; valid types: ${COLUMN_TYPE_NAMES.join(', ')}`;
    return null;
  }
  const validation = def['validation'];
  if (validation === undefined || validation === null) return { type: type.name };
  if (!isObject(validation)) {
    problems[`${at}.validation`] = 'must be an object of validation keywords';
    return null;
  }
  const allowed = allowedKeywords(type);
  let ok = true;
  for (const [keyword, value] of Object.entries(validation)) {
    if (keyword === 'required') {
      if (typeof value !== 'boolean') {
        problems[`${at}.validation.required`] = 'must be true or false';
        ok = false;
      }
    } else if (!allowed.includes(keyword)) {
      problems[`${at}.validation.${keyword}`] = `is not a validation keyword for ${type.name}; allowed: required${allowed.length ? ', ' + allowed.join(', ') : ''}`;
      ok = false;
    }
  }
  if (!ok) return null;
  const normalized: Column = { type: type.name, validation: { ...validation } };
  try {
    sharedAjv.compile(columnSchema(normalized));
  } catch (err) {
    problems[`${at}.validation`] = `is not valid JSON Schema: ${(err as Error).message}`;
    return null;
  }
  return normalized;
}

function allowedKeywords(type: ColumnType): readonly string[] {
  const own = KEYWORDS[type.keywords];
  return type.array ? [...own, ...ARRAY_KEYWORDS] : own;
}

/** The JSON Schema of a present, non-null value of a column: the type's own schema plus the column's validation keywords. */
export function columnSchema(column: Column): Record<string, unknown> {
  const type = COLUMN_TYPES.get(column.type)!;
  const { required: _required, ...keywords } = column.validation ?? {};
  if (!type.array) return withinType(type.valueSchema, keywords);
  const arrayOwn: Record<string, unknown> = {};
  const itemOwn: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(keywords)) (ARRAY_KEYWORDS.includes(k) ? arrayOwn : itemOwn)[k] = v;
  return { type: 'array', ...arrayOwn, items: withinType(type.valueSchema, itemOwn) };
}

/** A column's own minimum/maximum may narrow the type's range (32-bit integer, REAL), never widen it. */
function withinType(base: Readonly<Record<string, unknown>>, own: Record<string, unknown>): Record<string, unknown> {
  const schema = { ...base, ...own };
  if (typeof base['minimum'] === 'number' && typeof own['minimum'] === 'number') schema['minimum'] = Math.max(base['minimum'], own['minimum']);
  if (typeof base['maximum'] === 'number' && typeof own['maximum'] === 'number') schema['maximum'] = Math.min(base['maximum'], own['maximum']);
  return schema;
}

/** Checks a whole working copy: each blueprint, and that no two share a PostgreSQL table. */
export function normalizeBlueprints(input: unknown): Blueprints {
  if (!isObject(input)) throw new BlueprintError('*', { blueprints: 'must be a JSON object of blueprint name to blueprint' });
  const result: Blueprints = {};
  const problems: Problems = {};
  for (const [name, def] of Object.entries(input)) {
    try {
      result[name] = normalizeBlueprint(name, def);
    } catch (err) {
      if (!(err instanceof BlueprintError)) throw err;
      for (const [k, v] of Object.entries(err.problems)) problems[`${name}.${k}`] = v;
    }
  }
  Object.assign(problems, tableCollisions(result));
  if (Object.keys(problems).length) throw new BlueprintError('*', problems);
  return result;
}

/** Two blueprints of one project may not share a PostgreSQL table. */
export function tableCollisions(blueprints: Blueprints): Problems {
  const byTable = new Map<string, string>();
  const problems: Problems = {};
  for (const [name, bp] of Object.entries(blueprints).sort(([a], [b]) => a.localeCompare(b))) {
    const other = byTable.get(bp.postgresql.table);
    if (other) problems[`${name}.postgresql.table`] = `"${bp.postgresql.table}" is already the table of blueprint "${other}"`;
    else byTable.set(bp.postgresql.table, name);
  }
  return problems;
}
