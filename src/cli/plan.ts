import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { diffSnapshots, type SnapshotDiff } from '../catalog/diff.ts';
import { BlueprintError, normalizeBlueprints, type Blueprints } from '../schema/blueprint.ts';

/** A bad file, a bad blueprint in it: one line for the user, exit 1. */
export class PlanInputError extends Error {}

/** Reads a JSON or YAML file shaped like `PUT /{project}/_blueprint`: `{ "<blueprint>": { "columns": … } }`. */
export async function readBlueprintFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PlanInputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    // YAML is a superset of JSON; a .json file still gets JSON's own error messages
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new PlanInputError(`${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML or JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * The blueprints of a file as dstore would store them (defaults filled in), so
 * that a plan compares like with like. The same pure normalization the server
 * runs: it reaches no engine and no server state.
 */
export function normalizeFile(path: string, input: unknown): Blueprints {
  try {
    return normalizeBlueprints(input);
  } catch (err) {
    if (err instanceof BlueprintError) {
      const problems = Object.entries(err.problems).map(([k, v]) => `${k} ${v}`).join('; ');
      throw new PlanInputError(`${path}: blueprint ${err.blueprint === '*' ? '' : `"${err.blueprint}" `}is invalid: ${problems}`);
    }
    throw err;
  }
}

/** What a plan found against one side (the working copy, or the latest snapshot). */
export interface PlanSide {
  against: string;
  diff: SnapshotDiff;
  /** Blueprints whose columns are the same but whose other settings (engine names, options) differ. */
  otherwise: string[];
  changes: number;
}

export interface Plan {
  project: string;
  working: PlanSide;
  /** Absent when the project has no snapshot yet. */
  snapshot?: PlanSide & { version: number };
  changed: boolean;
}

/** Key order never counts as a change. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function side(against: string, from: Blueprints, to: Blueprints): PlanSide {
  const diff = diffSnapshots(from, to);
  const otherwise = Object.keys(to).filter((name) => Object.hasOwn(from, name) && !diff.changed[name] && canonical(from[name]) !== canonical(to[name]));
  let changes = diff.addedBlueprints.length + diff.removedBlueprints.length + otherwise.length;
  for (const d of Object.values(diff.changed)) changes += d.added.length + d.removed.length + d.retyped.length + d.revalidated.length + (d.renamed?.length ?? 0) + (d.tableRenamed ? 1 : 0);
  return { against, diff, otherwise, changes };
}

/** Compares a file's blueprints with the working copy (what `apply` changes) and the latest snapshot (what `apply --snapshot` freezes). */
export function makePlan(project: string, file: Blueprints, working: Blueprints, latest?: { version: number; blueprints: Blueprints }): Plan {
  const w = side('the working copy', working, file);
  const s = latest ? { ...side(`snapshot v${latest.version}`, latest.blueprints, file), version: latest.version } : undefined;
  return { project, working: w, ...(s ? { snapshot: s } : {}), changed: w.changes > 0 || (s ? s.changes > 0 : Object.keys(file).length > 0) };
}

/** The plan as a reviewer reads it in a pull request: + added, - removed, ~ changed. */
export function formatPlan(plan: Plan, file: Blueprints): string {
  const lines: string[] = [];
  const describe = (s: PlanSide) => {
    if (s.changes === 0) {
      lines.push(`  no changes against ${s.against}`);
      return;
    }
    lines.push(`  against ${s.against}: ${s.changes} change(s)`);
    for (const name of s.diff.addedBlueprints) lines.push(`    + blueprint ${name} (${Object.keys(file[name]!.columns).length} columns)`);
    for (const name of s.diff.removedBlueprints) lines.push(`    - blueprint ${name}`);
    for (const [name, d] of Object.entries(s.diff.changed)) {
      lines.push(`    ~ blueprint ${name}`);
      for (const c of d.added) lines.push(`        + column ${c} (${file[name]!.columns[c]!.type})`);
      for (const c of d.removed) lines.push(`        - column ${c}`);
      for (const r of d.retyped) lines.push(`        ~ column ${r.column}: ${r.from} -> ${r.to}`);
      for (const r of d.renamed ?? []) lines.push(`        ~ column ${r.from} renamed to ${r.to}`);
      for (const c of d.revalidated) lines.push(`        ~ column ${c}: validation changed`);
      if (d.tableRenamed) lines.push(`        ~ postgresql table ${d.tableRenamed.from} -> ${d.tableRenamed.to}`);
    }
    for (const name of s.otherwise) lines.push(`    ~ blueprint ${name}: settings changed (engine names or options)`);
  };
  lines.push(`Plan for project ${plan.project}:`);
  describe(plan.working);
  if (plan.snapshot) describe(plan.snapshot);
  else lines.push(`  no snapshot yet: apply --snapshot creates v1 with ${Object.keys(file).length} blueprint(s)`);
  lines.push(plan.changed ? 'Changes would be made (exit 2).' : 'Nothing to change.');
  return lines.join('\n');
}
