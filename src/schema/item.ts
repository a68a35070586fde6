import type { ValidateFunction } from 'ajv';
import { columnSchema, type Blueprint, type Problems } from './blueprint.ts';
import { describeAjvError, sharedAjv } from './ajv.ts';
import { isUuid } from './identifiers.ts';
import { valueLimitsOf } from './column-types.ts';
import { stringProblem, valueLimitProblem, type ValueLimits } from './limits.ts';

/** One record as clients send it and as LevelDB keeps it. */
export interface Item {
  id: string;
  project_version: number;
  links?: string[] | null;
  [column: string]: unknown;
}

interface CompiledColumn {
  name: string;
  required: boolean;
  /** What no engine can hold for this column's type (exact integers for json, the string length for string). */
  limits: ValueLimits;
  validate: ValidateFunction;
}

const compiled = new WeakMap<Blueprint, CompiledColumn[]>();

function columnsOf(blueprint: Blueprint): CompiledColumn[] {
  let columns = compiled.get(blueprint);
  if (!columns) {
    columns = Object.entries(blueprint.columns).map(([name, column]) => ({
      name,
      required: column.validation?.required === true,
      limits: valueLimitsOf(column.type),
      validate: sharedAjv.compile(columnSchema(column)),
    }));
    compiled.set(blueprint, columns);
  }
  return columns;
}

/** Records a problem as an own member even for `__proto__`, which plain assignment would swallow. */
function note(problems: Problems, field: string, problem: string): void {
  Object.defineProperty(problems, field, { value: problem, enumerable: true, writable: true, configurable: true });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What no engine can hold, for each member of the item (its key or its value), before ajv runs:
 * members named here get no other check.
 */
function limitProblems(columns: CompiledColumn[], input: Record<string, unknown>): Problems {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const problems: Problems = {};
  for (const key of Object.keys(input)) {
    const keyProblem = stringProblem(key);
    if (keyProblem) {
      note(problems, key, `is a member name that ${keyProblem}`);
      continue;
    }
    const column = byName.get(key);
    const problem = valueLimitProblem(input[key], column?.limits ?? { exactIntegers: false });
    if (problem) note(problems, key, problem);
  }
  return problems;
}

/**
 * Every problem of an item against its blueprint, by field (empty when valid).
 * `project_version` is only checked for shape here: whether that snapshot exists is the catalog's business.
 */
export function itemProblems(blueprint: Blueprint, input: unknown): Problems {
  if (!isObject(input)) return { item: 'must be a JSON object' };
  const columns = columnsOf(blueprint);
  const problems = limitProblems(columns, input);
  const unchecked = (field: string) => !Object.hasOwn(problems, field);
  if (unchecked('id')) {
    if (input['id'] === undefined || input['id'] === null) note(problems, 'id', 'is required');
    else if (!isUuid(input['id'])) note(problems, 'id', 'must be a UUID');
  }
  if (unchecked('project_version')) {
    const version = input['project_version'];
    if (version === undefined || version === null) note(problems, 'project_version', 'is required: the number of an existing snapshot');
    else if (!Number.isInteger(version) || (version as number) < 1) note(problems, 'project_version', 'must be a positive integer');
  }
  const links = input['links'];
  if (unchecked('links') && links !== undefined && links !== null) {
    if (!Array.isArray(links)) note(problems, 'links', 'must be an array of UUIDs');
    else {
      const bad = links.findIndex((l) => !isUuid(l));
      if (bad >= 0) note(problems, 'links', `element ${bad} must be a UUID`);
    }
  }
  for (const column of columns) {
    if (!unchecked(column.name)) continue;
    const value = input[column.name];
    if (value === undefined || value === null) {
      if (column.required) note(problems, column.name, 'is required');
      continue;
    }
    if (!column.validate(value)) {
      note(problems, column.name, [...new Set((column.validate.errors ?? []).map(describeAjvError))].join('; '));
    }
  }
  for (const key of Object.keys(input)) {
    if (unchecked(key) && key !== 'id' && key !== 'project_version' && key !== 'links' && !Object.hasOwn(blueprint.columns, key)) {
      note(problems, key, 'is not a column of this blueprint');
    }
  }
  return problems;
}
