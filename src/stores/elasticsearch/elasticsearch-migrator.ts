import type { Blueprint } from '../../schema/blueprint.ts';
import { columnType } from '../../schema/column-types.ts';
import type { Snapshot } from '../store.ts';
import type { ElasticsearchConnection } from './elasticsearch-http.ts';
import { indexName, indexPattern, joinedNames, latestAlias, META_KEY, versionAlias, type IndexOwner } from './elasticsearch-names.ts';

export interface IndexSettings {
  /** Replicas per index; 0 suits a single node. */
  replicas: number;
  /**
   * How long a delete's tombstone (and its external version) is remembered
   * (`index.gc_deletes`, engine default 60s). An older write of a deleted item
   * that arrives later than this after the delete would bring the item back;
   * dstore's queues deliver late writes within seconds, redeliveries within minutes.
   */
  gcDeletes: string;
}

export const DEFAULT_INDEX_SETTINGS: IndexSettings = { replicas: 0, gcDeletes: '1h' };

/** Fields every document carries besides its columns. */
const ITEM_FIELDS: Readonly<Record<string, Record<string, unknown>>> = {
  id: { type: 'keyword' },
  project_version: { type: 'integer' },
  links: { type: 'keyword' },
};

/** The mapping of one blueprint's index (SPEC §4, from the column-type table), strict at the top level. */
export function indexMapping(owner: IndexOwner, blueprint: Blueprint): Record<string, unknown> {
  const properties: Record<string, unknown> = { ...ITEM_FIELDS };
  for (const [name, column] of Object.entries(blueprint.columns)) properties[name] = { ...columnType(column.type).elasticsearch };
  return {
    dynamic: 'strict',
    // the blueprint's `elasticsearch.type` has no role in typeless mappings; kept here for readers of the index
    _meta: { [META_KEY]: { ...owner, type: blueprint.elasticsearch.type } },
    properties,
  };
}

interface MappingMeta {
  mappings?: { _meta?: Record<string, Partial<IndexOwner> | undefined> };
}

/**
 * Makes Elasticsearch ready for a snapshot: one index per blueprint, then the
 * version alias; `activate` moves the latest alias later. It only
 * ever deletes indices whose mapping `_meta` says dstore created them for that project.
 */
export class ElasticsearchMigrator {
  constructor(
    private readonly es: ElasticsearchConnection,
    private readonly settings: IndexSettings = DEFAULT_INDEX_SETTINGS,
  ) {}

  async migrate(snapshot: Snapshot): Promise<void> {
    const { project, version } = snapshot;
    // leftovers of an earlier try of this version (a crash between creating and abandoning)
    await this.deleteIndices([...(await this.ownedIndices(project)).entries()].filter(([, o]) => o.version === version).map(([i]) => i));
    const blueprints = Object.keys(snapshot.blueprints).sort();
    const created: string[] = [];
    try {
      for (const blueprint of blueprints) {
        const index = indexName(project, version, blueprint);
        await this.createIndex(index, { project, version, blueprint }, snapshot.blueprints[blueprint]!);
        created.push(index);
      }
      await this.publish(project, version, created);
    } catch (err) {
      await this.abandon(project, version).catch(() => {});
      throw err;
    }
  }

  private async createIndex(index: string, owner: IndexOwner, blueprint: Blueprint): Promise<void> {
    const res = await this.es.request<{ shards_acknowledged?: boolean }>('PUT', `/${index}`, {
      body: {
        settings: { index: { number_of_shards: 1, number_of_replicas: this.settings.replicas, gc_deletes: this.settings.gcDeletes } },
        mappings: indexMapping(owner, blueprint),
      },
    });
    if (res.body.shards_acknowledged === false) throw new Error(`index ${index} was created but its shard did not start in time`);
  }

  /**
   * Points the version alias at the new indices. The latest alias moves only on `activate`, once
   * the version is back-filled (SPEC §9); an alias of that name on an index dstore did not make
   * for the project stops the snapshot here already, before anything is announced.
   */
  private async publish(project: string, version: number, indices: readonly string[]): Promise<void> {
    const latest = latestAlias(project);
    const byVersion = versionAlias(project, version);
    const [latestHolders, versionHolders] = await Promise.all([this.aliasHolders(latest), this.aliasHolders(byVersion)]);
    const foreignVersionHolder = [...versionHolders.keys()].find((i) => !indices.includes(i));
    if (foreignVersionHolder) throw new Error(`alias ${byVersion} already points at index ${foreignVersionHolder}, which is not an index of ${project} version ${version}`);
    this.checkLatestHolders(project, latestHolders);
    const actions: unknown[] = indices.map((index) => ({ add: { index, alias: byVersion } }));
    if (actions.length) await this.es.request('POST', '/_aliases', { body: { actions } });
  }

  private checkLatestHolders(project: string, holders: ReadonlyMap<string, IndexOwner | null>): void {
    const latest = latestAlias(project);
    for (const [index, owner] of holders) {
      if (owner?.project !== project) throw new Error(`alias ${latest} already points at index ${index}, which dstore did not create for project ${project}`);
    }
  }

  /**
   * Moves the latest alias onto this version's indices in one atomic `_aliases` call: off every
   * other index of the project, onto each of the version's (readers see one version or the
   * other, never both). Every blueprint's index must be there.
   */
  async activate(snapshot: Snapshot): Promise<void> {
    const { project, version } = snapshot;
    const latest = latestAlias(project);
    const owned = await this.ownedIndices(project);
    const targets = Object.keys(snapshot.blueprints).sort().map((blueprint) => indexName(project, version, blueprint));
    const missing = targets.filter((index) => owned.get(index)?.version !== version);
    if (missing.length) throw new Error(`cannot point alias ${latest} at version ${version}: index ${missing.join(', ')} does not exist`);
    const holders = await this.aliasHolders(latest);
    this.checkLatestHolders(project, holders);
    const actions: unknown[] = [];
    for (const index of holders.keys()) if (!targets.includes(index)) actions.push({ remove: { index, alias: latest } });
    for (const index of targets) actions.push({ add: { index, alias: latest } });
    if (actions.length) await this.es.request('POST', '/_aliases', { body: { actions } });
  }

  /** Deletes one version's indices, and with them its version alias; harmless when they are gone. */
  async retire(project: string, version: number): Promise<void> {
    const owned = await this.ownedIndices(project);
    await this.deleteIndices([...owned.entries()].filter(([, o]) => o.version === version).map(([index]) => index));
  }

  /**
   * Removes a version's indices (their aliases go with them); if the latest alias
   * was already on them, it moves back to the highest remaining version first.
   */
  async abandon(project: string, version: number): Promise<void> {
    const owned = await this.ownedIndices(project);
    const victims = [...owned.entries()].filter(([, o]) => o.version === version).map(([i]) => i);
    if (!victims.length) return;
    const latest = latestAlias(project);
    const holders = await this.aliasHolders(latest);
    if (victims.some((i) => holders.has(i))) {
      const previous = Math.max(0, ...[...owned.values()].map((o) => o.version).filter((v) => v !== version));
      const actions: unknown[] = victims.filter((i) => holders.has(i)).map((index) => ({ remove: { index, alias: latest } }));
      for (const [index, owner] of owned) if (owner.version === previous) actions.push({ add: { index, alias: latest } });
      await this.es.request('POST', '/_aliases', { body: { actions } });
    }
    await this.deleteIndices(victims);
  }

  /** Deletes every index dstore created for the project: the given versions, and leftovers of any other. */
  async dropProject(project: string, _versions: readonly number[]): Promise<void> {
    await this.deleteIndices([...(await this.ownedIndices(project)).keys()]);
  }

  /** The project's indices (open or closed) that carry dstore's `_meta` for it, by name. */
  async ownedIndices(project: string): Promise<Map<string, IndexOwner>> {
    const res = await this.es.request<Record<string, MappingMeta> | undefined>('GET', `/${indexPattern(project)}/_mapping`, {
      query: { filter_path: `*.mappings._meta.${META_KEY}`, expand_wildcards: 'open,closed', allow_no_indices: true, ignore_unavailable: true },
    });
    const owned = new Map<string, IndexOwner>();
    for (const [index, owner] of this.owners(res.body)) if (owner?.project === project) owned.set(index, owner);
    return owned;
  }

  /**
   * Gives every open index dstore made (of any project) `index.gc_deletes` = `value`, where it differs:
   * indices created before TOMBSTONE_TTL_S was set or changed (SPEC §11). Returns how many it changed.
   */
  async keepTombstones(value: string): Promise<number> {
    const res = await this.es.request<Record<string, MappingMeta> | undefined>('GET', '/_all/_mapping', {
      query: { filter_path: `*.mappings._meta.${META_KEY}`, expand_wildcards: 'open', allow_no_indices: true },
    });
    const owned = [...this.owners(res.body)].map(([index]) => index);
    const stale: string[] = [];
    for (const chunk of joinedNames(owned)) {
      const settings = await this.es.request<Record<string, { settings?: { index?: { gc_deletes?: string } } }> | undefined>('GET', `/${chunk}/_settings/index.gc_deletes`, {
        query: { ignore_unavailable: true, include_defaults: true, flat_settings: false },
      });
      for (const [index, entry] of Object.entries(settings.body ?? {})) {
        const current = entry.settings?.index?.gc_deletes ?? (entry as { defaults?: { index?: { gc_deletes?: string } } }).defaults?.index?.gc_deletes;
        if (current !== value) stale.push(index);
      }
    }
    for (const chunk of joinedNames(stale)) {
      await this.es.request('PUT', `/${chunk}/_settings`, { query: { ignore_unavailable: true }, body: { index: { gc_deletes: value } } });
    }
    return stale.length;
  }

  /** The indices an alias points at, each with its dstore owner (null when dstore did not create it). */
  private async aliasHolders(alias: string): Promise<Map<string, IndexOwner | null>> {
    const res = await this.es.request<Record<string, unknown> | undefined>('GET', `/_alias/${alias}`, { accept: [404] });
    const indices = res.status === 404 ? [] : Object.keys(res.body ?? {});
    const holders = new Map<string, IndexOwner | null>(indices.map((i) => [i, null]));
    for (const chunk of joinedNames(indices)) {
      const meta = await this.es.request<Record<string, MappingMeta> | undefined>('GET', `/${chunk}/_mapping`, {
        query: { filter_path: `*.mappings._meta.${META_KEY}`, ignore_unavailable: true },
      });
      for (const [index, owner] of this.owners(meta.body)) holders.set(index, owner);
    }
    return holders;
  }

  /** The well-formed dstore owners in a `_mapping` answer whose index name matches what they claim. */
  private *owners(body: Record<string, MappingMeta> | undefined): Iterable<[string, IndexOwner]> {
    for (const [index, entry] of Object.entries(body ?? {})) {
      const o = entry.mappings?._meta?.[META_KEY];
      if (!o || typeof o.project !== 'string' || !Number.isInteger(o.version) || typeof o.blueprint !== 'string') continue;
      if (index !== indexName(o.project, o.version!, o.blueprint)) continue;
      yield [index, { project: o.project, version: o.version!, blueprint: o.blueprint }];
    }
  }

  /** Deletes by exact names (never wildcards: `action.destructive_requires_name` may be on). */
  private async deleteIndices(indices: readonly string[]): Promise<void> {
    for (const chunk of joinedNames(indices)) await this.es.request('DELETE', `/${chunk}`, { query: { ignore_unavailable: true } });
  }
}
