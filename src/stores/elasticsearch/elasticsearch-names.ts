/**
 * How dstore names things in Elasticsearch (SPEC §5): one index per project
 * version and blueprint, an alias per version and one that follows the latest.
 * Project and blueprint names are [a-z0-9_] (identifiers.ts), so they are safe in paths.
 */

/** `myblog_v1_article` */
export function indexName(project: string, version: number, blueprint: string): string {
  return `${project}_v${version}_${blueprint}`;
}

/** `myblog_v1`: every index of one snapshot. */
export function versionAlias(project: string, version: number): string {
  return `${project}_v${version}`;
}

/** `myblog`: the indices of the latest snapshot. */
export function latestAlias(project: string): string {
  return project;
}

/** Every name that may be one of the project's indices (more, too: `myblog_v*` also matches project `myblog_vip`). */
export function indexPattern(project: string): string {
  return `${project}_v*`;
}

/**
 * What dstore writes into each index's mapping `_meta.dstore`, so that it only
 * ever deletes indices it created for that project (index names alone can collide:
 * project `a` blueprint `x_v1_b` and project `a_v1_x` blueprint `b` both give `a_v1_x_v1_b`).
 */
export interface IndexOwner {
  project: string;
  version: number;
  blueprint: string;
}

export const META_KEY = 'dstore';

/** Longest comma-joined list of index names put in one URL (engines refuse request lines over 4 KiB). */
const MAX_NAMES_LENGTH = 3000;

/** Index names joined by commas for a path, in as many requests as the URL length allows. */
export function joinedNames(names: readonly string[]): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const name of names) {
    if (current && current.length + name.length + 1 > MAX_NAMES_LENGTH) {
      chunks.push(current);
      current = '';
    }
    current = current ? `${current},${name}` : name;
  }
  if (current) chunks.push(current);
  return chunks;
}
