import { ARRAY_KEYWORDS, COLUMN_TYPE_NAMES, COLUMN_TYPES, KEYWORDS, valueLimitsOf, type ColumnType } from './column-types.ts';
import { blueprintNameProblem, columnNameProblem, NAME_PATTERN } from './identifiers.ts';
import type { ValidateFunction } from 'ajv';
import { describeAjvError, sharedAjv } from './ajv.ts';
import { valueLimitProblem } from './limits.ts';

export interface ColumnValidation {
  required?: boolean;
  [keyword: string]: unknown;
}

export interface Column {
  type: string;
  validation?: ColumnValidation;
  /** Evolution hint (SPEC §9): the value a copy gets when the version it comes from has no such column. */
  default?: unknown;
  /** Evolution hint (SPEC §9): the column of the previous snapshot whose data this column holds. */
  renamed_from?: string;
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

const COLUMN_MEMBERS = ['type', 'validation', 'default', 'renamed_from'];

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
  for (const k of Object.keys(def)) if (!COLUMN_MEMBERS.includes(k)) problems[`${at}.${k}`] = `is not a column member (expected ${COLUMN_MEMBERS.join(', ')})`;
  const type = typeof def['type'] === 'string' ? COLUMN_TYPES.get(def['type']) : undefined;
  if (!type) {
    problems[`${at}.type`] = `${JSON.stringify(def['type'] ?? null)} is not a column type; valid types: ${COLUMN_TYPE_NAMES.join(', ')}`;
    return null;
  }
  const validation = normalizeValidation(at, type, def['validation'], problems);
  if (validation === null) return null;
  const normalized: Column = validation ? { type: type.name, validation } : { type: type.name };
  const hints = evolutionHints(column, at, normalized, def, problems);
  return hints && { ...normalized, ...hints };
}

/** The column's validation keywords, undefined when it has none, null when they are refused (problems noted). */
function normalizeValidation(at: string, type: ColumnType, validation: unknown, problems: Problems): ColumnValidation | undefined | null {
  if (validation === undefined || validation === null) return undefined;
  if (!isObject(validation)) {
    problems[`${at}.validation`] = 'must be an object of validation keywords';
    return null;
  }
  // the catalog keeps it (in PostgreSQL too, with CATALOG=postgresql): nothing in it may be what no engine can hold
  const limit = valueLimitProblem(validation, { exactIntegers: false });
  if (limit) {
    problems[`${at}.validation`] = limit;
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
  try {
    sharedAjv.compile(columnSchema({ type: type.name, validation }));
  } catch (err) {
    problems[`${at}.validation`] = `is not valid JSON Schema: ${(err as Error).message}`;
    return null;
  }
  return { ...validation };
}

/** `default` and `renamed_from` as far as the blueprint alone can judge them; what needs the previous snapshot is checked when snapshotting. */
function evolutionHints(column: string, at: string, normalized: Column, def: Record<string, unknown>, problems: Problems): Pick<Column, 'default' | 'renamed_from'> | null {
  const hints: Pick<Column, 'default' | 'renamed_from'> = {};
  let ok = true;
  if (Object.hasOwn(def, 'default')) {
    const problem = def['default'] === null ? 'must be a value of the column, not null (leave "default" out instead)' : columnValueProblem(normalized, def['default']);
    if (problem) {
      problems[`${at}.default`] = `${problem} (a default must be a valid ${normalized.type} of this column)`;
      ok = false;
    } else hints.default = def['default'];
  }
  if (Object.hasOwn(def, 'renamed_from')) {
    const from = def['renamed_from'];
    const problem = typeof from !== 'string' ? 'must be the name of a column of the previous snapshot' : from === column ? 'must name another column than this one' : columnNameProblem(from);
    if (problem) {
      problems[`${at}.renamed_from`] = problem;
      ok = false;
    } else hints.renamed_from = from as string;
  }
  return ok ? hints : null;
}

const valueValidators = new WeakMap<Column, ValidateFunction>();

/** Why a present, non-null value is not a valid value of a column (its type and validation), or null when it is. */
export function columnValueProblem(column: Column, value: unknown): string | null {
  if (value === undefined || value === null) return 'must be a value, not null';
  const limit = valueLimitProblem(value, valueLimitsOf(column.type));
  if (limit) return limit;
  let validate = valueValidators.get(column);
  if (!validate) {
    validate = sharedAjv.compile(columnSchema(column));
    valueValidators.set(column, validate);
  }
  if (validate(value)) return null;
  return [...new Set((validate.errors ?? []).map(describeAjvError))].join('; ');
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
