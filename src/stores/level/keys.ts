/**
 * LevelDB key layout (SPEC §5): UTF-8 text keys that sort by project, version,
 * blueprint, id. Names are [a-z0-9_], so '/' (below every name character) keeps
 * one project's range from touching another's. dstore's own bookkeeping lives
 * under '!', which no project name can start with.
 */

const VERSION_WIDTH = 10;

function versionPart(project: string, version: number): string {
  return `${project}/v${String(version).padStart(VERSION_WIDTH, '0')}/`;
}

export function itemKey(project: string, version: number, blueprint: string, id: string): string {
  return `${versionPart(project, version)}${blueprint}/${id.toLowerCase()}`;
}

/** The items of one blueprint of one version, in id order ('/' ends the blueprint name, so `a` never reaches into `a_b`). */
export function blueprintRange(project: string, version: number, blueprint: string): { gte: string; lt: string } {
  const prefix = `${versionPart(project, version)}${blueprint}/`;
  return { gte: prefix, lt: `${prefix}\uffff` };
}

/** Every item of one version. */
export function versionRange(project: string, version: number): { gte: string; lt: string } {
  const prefix = versionPart(project, version);
  return { gte: prefix, lt: `${prefix}\uffff` };
}

export function projectRange(project: string): { gte: string; lt: string } {
  return { gte: `${project}/`, lt: `${project}/\uffff` };
}

/** Last stamp applied to an item of one version (a `d` suffix when that write was a delete). */
export function stampKey(project: string, version: number, blueprint: string, id: string): string {
  return stampKeyOf(itemKey(project, version, blueprint, id));
}

/** The stamp key of an item key already built (the write path builds each key once). */
export function stampKeyOf(itemKey: string): string {
  return `!stamp/${itemKey}`;
}

/** The stamps (tombstones too) of one version. */
export function versionStampRange(project: string, version: number): { gte: string; lt: string } {
  const prefix = `!stamp/${versionPart(project, version)}`;
  return { gte: prefix, lt: `${prefix}\uffff` };
}

export function stampRange(project: string): { gte: string; lt: string } {
  return { gte: `!stamp/${project}/`, lt: `!stamp/${project}/\uffff` };
}

/** Every stamp of every project (tombstones too): what pruning walks. */
export const ALL_STAMPS_RANGE = { gte: '!stamp/', lt: '!stamp/\uffff' } as const;

/** The highest stamp the database ever applied: writes above it need no stamp look-up. */
export const HIGHEST_STAMP_KEY = '!meta/highest-stamp';
