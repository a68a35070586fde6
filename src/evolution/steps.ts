/**
 * The steps between two adjacent snapshots of one blueprint, as data (SPEC §9): renames,
 * conversions, drops and additions, derived once per pair and applied by copy.ts.
 */
import type { Blueprint, Blueprints, Problems } from '../schema/blueprint.ts';
import { convertible } from './convert.ts';

/** One step between adjacent snapshots for one blueprint, as data. */
export type StepOp =
  | { op: 'rename'; from: string; to: string }
  | { op: 'convert'; column: string; from: string; to: string }
  | { op: 'drop'; column: string }
  | { op: 'add'; column: string; default?: unknown };

/** Forwards (renames, then conversions under the new names, drops, additions); a backwards walk inverts it. */
export interface Step {
  blueprint: string;
  fromVersion: number;
  toVersion: number;
  ops: StepOp[];
}

/**
 * The columns of `to` that take their data from a renamed column of `from`, new name to old name.
 * A `renamed_from` counts only when the column is new, its source exists in `from` and is gone
 * from `to`, and no earlier column claimed that source.
 */
export function renamesBetween(from: Blueprint, to: Blueprint): Map<string, string> {
  const renames = new Map<string, string>();
  const claimed = new Set<string>();
  for (const [name, column] of Object.entries(to.columns)) {
    const source = column.renamed_from;
    if (source === undefined || Object.hasOwn(from.columns, name)) continue;
    if (!Object.hasOwn(from.columns, source) || Object.hasOwn(to.columns, source) || claimed.has(source)) continue;
    claimed.add(source);
    renames.set(name, source);
  }
  return renames;
}

function deriveOps(from: Blueprint, to: Blueprint): StepOp[] {
  const renames = renamesBetween(from, to);
  const renamed: StepOp[] = [];
  const converted: StepOp[] = [];
  const dropped: StepOp[] = [];
  const added: StepOp[] = [];
  for (const [name, column] of Object.entries(to.columns)) {
    const source = Object.hasOwn(from.columns, name) ? name : renames.get(name);
    if (source === undefined) {
      added.push(column.default === undefined ? { op: 'add', column: name } : { op: 'add', column: name, default: column.default });
      continue;
    }
    if (source !== name) renamed.push({ op: 'rename', from: source, to: name });
    const before = from.columns[source]!.type;
    if (before !== column.type) converted.push({ op: 'convert', column: name, from: before, to: column.type });
  }
  const sources = new Set(renames.values());
  for (const name of Object.keys(from.columns)) {
    if (!Object.hasOwn(to.columns, name) && !sources.has(name)) dropped.push({ op: 'drop', column: name });
  }
  return [...renamed, ...converted, ...dropped, ...added];
}

const steps = new WeakMap<Blueprint, WeakMap<Blueprint, Map<string, Step>>>();

/** The steps for one blueprint between two adjacent snapshots (derived once per pair and cached on the Blueprint objects). */
export function stepBetween(blueprint: string, fromVersion: number, from: Blueprint, toVersion: number, to: Blueprint): Step {
  let byTarget = steps.get(from);
  if (!byTarget) steps.set(from, (byTarget = new WeakMap()));
  let byKey = byTarget.get(to);
  if (!byKey) byTarget.set(to, (byKey = new Map()));
  const key = `${blueprint}:${fromVersion}:${toVersion}`;
  let step = byKey.get(key);
  if (!step) {
    step = { blueprint, fromVersion, toVersion, ops: deriveOps(from, to) };
    byKey.set(key, step);
  }
  return step;
}

const inverses = new WeakMap<Step, StepOp[]>();

/**
 * The ops that walk a step backwards, from its `toVersion` to its `fromVersion`: each op inverted,
 * in reverse order. A dropped column comes back from the `default` it has in the earlier blueprint
 * (`earlier` is the blueprint of `fromVersion`), or absent.
 */
export function backwardOps(step: Step, earlier: Blueprint): StepOp[] {
  let ops = inverses.get(step);
  if (!ops) {
    ops = [...step.ops].reverse().map((op): StepOp => {
      switch (op.op) {
        case 'rename': return { op: 'rename', from: op.to, to: op.from };
        case 'convert': return { op: 'convert', column: op.column, from: op.to, to: op.from };
        case 'add': return { op: 'drop', column: op.column };
        case 'drop': {
          const fallback = earlier.columns[op.column]?.default;
          return fallback === undefined ? { op: 'add', column: op.column } : { op: 'add', column: op.column, default: fallback };
        }
      }
    });
    inverses.set(step, ops);
  }
  return ops;
}

/** Snapshot-time checks of SPEC §9 for the next snapshot against the previous one: problems keyed "<blueprint>.columns.<column>" (empty = fine). */
export function evolutionProblems(previous: Blueprints | undefined, next: Blueprints): Problems {
  const problems: Problems = {};
  for (const [name, to] of Object.entries(next)) {
    const from = previous && Object.hasOwn(previous, name) ? previous[name]! : undefined;
    const claimedBy = new Map<string, string>();
    for (const [column, def] of Object.entries(to.columns)) {
      const at = `${name}.columns.${column}`;
      const source = def.renamed_from;
      const existed = from !== undefined && Object.hasOwn(from.columns, column);
      if (source !== undefined && !existed) {
        if (!from) {
          problems[at] = `renamed_from "${source}": the previous snapshot has no blueprint "${name}" to rename from`;
          continue;
        }
        if (!Object.hasOwn(from.columns, source)) {
          problems[at] = `renamed_from "${source}": the previous snapshot has no column "${source}" in "${name}"`;
          continue;
        }
        if (Object.hasOwn(to.columns, source)) {
          problems[at] = `renamed_from "${source}": "${source}" is still a column of "${name}" in this snapshot (a rename removes it)`;
          continue;
        }
        const other = claimedBy.get(source);
        if (other !== undefined) {
          problems[at] = `renamed_from "${source}": column "${other}" is already renamed from "${source}"`;
          continue;
        }
        claimedBy.set(source, column);
      }
      if (!from) continue;
      const sourceColumn = existed ? column : source;
      if (sourceColumn === undefined) {
        if (def.validation?.required === true && def.default === undefined) {
          problems[at] = `is a new required column: give it a "default" (the value old items get) or a "renamed_from"`;
        }
        continue;
      }
      const before = from.columns[sourceColumn]!.type;
      if (!convertible(before, def.type) || !convertible(def.type, before)) {
        problems[at] = `cannot be converted from ${before}${sourceColumn === column ? '' : ` (column "${sourceColumn}")`} to ${def.type}: use a new column`;
      }
    }
  }
  return problems;
}
