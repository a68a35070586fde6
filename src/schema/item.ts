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

/** A blueprint's validation, compiled once per frozen definition (each snapshot's blueprint is its own object). */
interface CompiledBlueprint {
  columns: CompiledColumn[];
  byName: ReadonlyMap<string, CompiledColumn>;
}

const compiled = new WeakMap<Blueprint, CompiledBlueprint>();

function compiledOf(blueprint: Blueprint): CompiledBlueprint {
  let done = compiled.get(blueprint);
  if (!done) {
    const columns = Object.entries(blueprint.columns).map(([name, column]) => ({
      name,
      required: column.validation?.required === true,
      limits: valueLimitsOf(column.type),
      validate: sharedAjv.compile(columnSchema(column)),
    }));
    done = { columns, byName: new Map(columns.map((c) => [c.name, c])) };
    compiled.set(blueprint, done);
  }
  return done;
}

const NO_LIMITS: ValueLimits = { exactIntegers: false };

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
function limitProblems(byName: ReadonlyMap<string, CompiledColumn>, input: Record<string, unknown>): Problems {
  const problems: Problems = {};
  for (const key of Object.keys(input)) {
    const column = byName.get(key);
    // column names are identifiers (blueprint.ts), so only other member names can hold a bad character
    const keyProblem = column ? null : stringProblem(key);
    if (keyProblem) {
      note(problems, key, `is a member name that ${keyProblem}`);
      continue;
    }
    const problem = valueLimitProblem(input[key], column ? column.limits : NO_LIMITS);
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
  const { columns, byName } = compiledOf(blueprint);
  const problems = limitProblems(byName, input);
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
