import type { ValidateFunction } from 'ajv';
import { columnSchema, type Blueprint, type Problems } from './blueprint.ts';
import { describeAjvError, sharedAjv } from './ajv.ts';
import { isUuid } from './identifiers.ts';

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
  validate: ValidateFunction;
}

const compiled = new WeakMap<Blueprint, CompiledColumn[]>();

function columnsOf(blueprint: Blueprint): CompiledColumn[] {
  let columns = compiled.get(blueprint);
  if (!columns) {
    columns = Object.entries(blueprint.columns).map(([name, column]) => ({
      name,
      required: column.validation?.required === true,
      validate: sharedAjv.compile(columnSchema(column)),
    }));
    compiled.set(blueprint, columns);
  }
  return columns;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every problem of an item against its blueprint, by field (empty when valid).
 * `project_version` is only checked for shape here: whether that snapshot exists is the catalog's business.
 */
export function itemProblems(blueprint: Blueprint, input: unknown): Problems {
  if (!isObject(input)) return { item: 'must be a JSON object' };
  const problems: Problems = {};
  if (input['id'] === undefined || input['id'] === null) problems['id'] = 'is required';
  else if (!isUuid(input['id'])) problems['id'] = 'must be a UUID';
  const version = input['project_version'];
  if (version === undefined || version === null) problems['project_version'] = 'is required: the number of an existing snapshot';
  else if (!Number.isInteger(version) || (version as number) < 1) problems['project_version'] = 'must be a positive integer';
  const links = input['links'];
  if (links !== undefined && links !== null) {
    if (!Array.isArray(links)) problems['links'] = 'must be an array of UUIDs';
    else {
      const bad = links.findIndex((l) => !isUuid(l));
      if (bad >= 0) problems['links'] = `element ${bad} must be a UUID`;
    }
  }
  const columns = columnsOf(blueprint);
  for (const column of columns) {
    const value = input[column.name];
    if (value === undefined || value === null) {
      if (column.required) problems[column.name] = 'is required';
      continue;
    }
    if (!column.validate(value)) {
      problems[column.name] = [...new Set((column.validate.errors ?? []).map(describeAjvError))].join('; ');
    }
  }
  for (const key of Object.keys(input)) {
    if (key !== 'id' && key !== 'project_version' && key !== 'links' && !Object.hasOwn(blueprint.columns, key)) {
      problems[key] = 'is not a column of this blueprint';
    }
  }
  return problems;
}
