import type { Blueprints, Column } from '../schema/blueprint.ts';
import { renamesBetween } from '../evolution/steps.ts';

/** How one blueprint changed between two snapshots: the input of back-fills and cross-version writes to come (SPEC §8). */
export interface BlueprintDiff {
  added: string[];
  removed: string[];
  retyped: Array<{ column: string; from: string; to: string }>;
  revalidated: string[];
  /** Columns fed by `renamed_from` (SPEC §9), present only when there are some; they are not in `added` and `removed`. */
  renamed?: Array<{ from: string; to: string }>;
  tableRenamed?: { from: string; to: string };
}

export interface SnapshotDiff {
  addedBlueprints: string[];
  removedBlueprints: string[];
  changed: Record<string, BlueprintDiff>;
}

function sameValidation(a: Column, b: Column): boolean {
  return JSON.stringify(a.validation ?? {}) === JSON.stringify(b.validation ?? {});
}

export function diffSnapshots(from: Blueprints, to: Blueprints): SnapshotDiff {
  const diff: SnapshotDiff = { addedBlueprints: [], removedBlueprints: [], changed: {} };
  for (const name of Object.keys(to)) if (!Object.hasOwn(from, name)) diff.addedBlueprints.push(name);
  for (const name of Object.keys(from)) {
    if (!Object.hasOwn(to, name)) {
      diff.removedBlueprints.push(name);
      continue;
    }
    const a = from[name]!;
    const b = to[name]!;
    const d: BlueprintDiff = { added: [], removed: [], retyped: [], revalidated: [] };
    const renames = renamesBetween(a, b);
    const renamed: Array<{ from: string; to: string }> = [];
    for (const c of Object.keys(b.columns)) {
      const source = renames.get(c);
      if (source !== undefined) renamed.push({ from: source, to: c });
      else if (!Object.hasOwn(a.columns, c)) d.added.push(c);
    }
    for (const [c, col] of Object.entries(a.columns)) {
      const newName = Object.hasOwn(b.columns, c) ? c : [...renames].find(([, source]) => source === c)?.[0];
      const next = newName === undefined ? undefined : b.columns[newName];
      if (!next) d.removed.push(c);
      else if (next.type !== col.type) d.retyped.push({ column: newName!, from: col.type, to: next.type });
      else if (!sameValidation(col, next)) d.revalidated.push(newName!);
    }
    if (renamed.length) d.renamed = renamed;
    if (a.postgresql.table !== b.postgresql.table) d.tableRenamed = { from: a.postgresql.table, to: b.postgresql.table };
    if (d.added.length || d.removed.length || d.retyped.length || d.revalidated.length || d.renamed || d.tableRenamed) diff.changed[name] = d;
  }
  return diff;
}
