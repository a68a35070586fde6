/**
 * LevelDB key layout (SPEC §5): UTF-8 text keys that sort by project, version,
 * blueprint, id. Names are [a-z0-9_], so '/' (below every name character) keeps
 * one project's range from touching another's. dstore's own bookkeeping lives
 * under '!', which no project name can start with.
 */

const VERSION_WIDTH = 10;

export function itemKey(project: string, version: number, blueprint: string, id: string): string {
  return `${project}/v${String(version).padStart(VERSION_WIDTH, '0')}/${blueprint}/${id.toLowerCase()}`;
}

export function projectRange(project: string): { gte: string; lt: string } {
  return { gte: `${project}/`, lt: `${project}/\uffff` };
}

/** Last stamp applied to an item of one version (a `d` suffix when that write was a delete). */
export function stampKey(project: string, version: number, blueprint: string, id: string): string {
  return `!stamp/${project}/v${String(version).padStart(VERSION_WIDTH, '0')}/${blueprint}/${id.toLowerCase()}`;
}

export function stampRange(project: string): { gte: string; lt: string } {
  return { gte: `!stamp/${project}/`, lt: `!stamp/${project}/\uffff` };
}

/** The highest stamp the database ever applied: writes above it need no stamp look-up. */
export const HIGHEST_STAMP_KEY = '!meta/highest-stamp';
