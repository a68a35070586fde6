/** The pure copy of an item from the version it was written for into another live version (SPEC §9 "Copies"). */
import type { Blueprints, Problems } from '../schema/blueprint.ts';
import { itemProblems, type Item } from '../schema/item.ts';
import { convertValue } from './convert.ts';
import { backwardOps, stepBetween, type StepOp } from './steps.ts';

export type CopyResult = { ok: true; item: Item } | { ok: false; problems: Problems } | { ok: false; absent: true };

/** A column's value on the walk, and what the walk knows about it. */
interface Carried {
  value: unknown;
  /** No version on the way held data for it (added without a default): a `required` in the target is waived. */
  sourceless?: true;
  /** A conversion on the way refused the value: the copy does not fit. */
  problem?: string;
}

function apply(columns: Map<string, Carried>, ops: readonly StepOp[]): void {
  for (const op of ops) {
    switch (op.op) {
      case 'rename': {
        const carried = columns.get(op.from);
        columns.delete(op.from);
        if (carried) columns.set(op.to, carried);
        break;
      }
      case 'convert': {
        const carried = columns.get(op.column);
        if (!carried || carried.problem) break;
        const converted = convertValue(op.from, op.to, carried.value);
        columns.set(op.column, converted.ok ? { value: converted.value } : { value: undefined, problem: converted.problem });
        break;
      }
      case 'drop':
        columns.delete(op.column);
        break;
      case 'add':
        // a default is shared by every copy: each gets its own
        columns.set(op.column, op.default === undefined ? { value: undefined, sourceless: true } : { value: typeof op.default === 'object' ? structuredClone(op.default) : op.default });
        break;
    }
  }
}

/**
 * Copies an item written for version `from` into version `to` by walking the snapshots one step at a time (forwards or backwards).
 * `snapshots(v)` gives the blueprints of snapshot v (every snapshot from..to exists in the catalog, retired ones too).
 * The result is validated against `to` with the API's own item validation; a column `required` in `to` with no source
 * (removed after `to`, walking backwards) is left absent. `problems` keys are the target version's column names (the caller
 * prefixes "v<to>."). `absent` when some snapshot on the way lacks the blueprint. The copy's project_version is `to`; id and
 * links travel unchanged.
 */
export function copyItem(snapshots: (version: number) => Blueprints, blueprint: string, item: Item, from: number, to: number): CopyResult {
  const path: Array<{ version: number; blueprints: Blueprints }> = [];
  const direction = to >= from ? 1 : -1;
  for (let v = from; ; v += direction) {
    const blueprints = snapshots(v);
    if (!Object.hasOwn(blueprints, blueprint)) return { ok: false, absent: true };
    path.push({ version: v, blueprints });
    if (v === to) break;
  }
  const source = path[0]!.blueprints[blueprint]!;
  const columns = new Map<string, Carried>();
  for (const name of Object.keys(source.columns)) if (Object.hasOwn(item, name)) columns.set(name, { value: item[name] });

  for (let i = 1; i < path.length; i++) {
    const here = path[i - 1]!;
    const next = path[i]!;
    if (direction === 1) {
      apply(columns, stepBetween(blueprint, here.version, here.blueprints[blueprint]!, next.version, next.blueprints[blueprint]!).ops);
    } else {
      const earlier = next.blueprints[blueprint]!;
      apply(columns, backwardOps(stepBetween(blueprint, next.version, earlier, here.version, here.blueprints[blueprint]!), earlier));
    }
  }

  const target = path[path.length - 1]!.blueprints[blueprint]!;
  const copy: Item = { id: item.id, project_version: to };
  if (Object.hasOwn(item, 'links')) copy.links = item.links;
  for (const name of Object.keys(target.columns)) {
    const carried = columns.get(name);
    if (carried && carried.value !== undefined) copy[name] = carried.value;
  }
  const problems = itemProblems(target, copy);
  for (const [name, carried] of columns) {
    if (carried.problem) problems[name] = carried.problem;
    else if (carried.sourceless && carried.value === undefined) delete problems[name];
  }
  return Object.keys(problems).length ? { ok: false, problems } : { ok: true, item: copy };
}
