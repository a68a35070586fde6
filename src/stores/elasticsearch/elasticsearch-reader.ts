import { isUuid } from '../../schema/identifiers.ts';
import type { ScannedItem, ScanRequest } from '../store.ts';
import { EngineRequestError, type ElasticsearchConnection } from './elasticsearch-http.ts';
import { indexName } from './elasticsearch-names.ts';
import { itemFromSource } from './elasticsearch-serializer.ts';

/** The most hits one search may return (`index.max_result_window`'s default). */
const MAX_PAGE = 10_000;

interface SearchAnswer {
  hits?: { hits?: Array<{ _id: string; _version: number; _source: Record<string, unknown>; sort?: unknown[] }> };
}

/**
 * Reads one version's index of one blueprint in id order (SPEC §9 back-fill source, §12 verify
 * and rebuild), paging with `search_after` on the `id` keyword every document carries (its
 * doc values sort on Elasticsearch 7.10 and OpenSearch 2 and 3 alike; sorting on `_id` needs
 * fielddata, deprecated in 7.x and off in OpenSearch, and a point in time has no API common
 * to both). Keyword order is byte order, which for lowercase UUIDs is the order PostgreSQL and
 * LevelDB scan in. The stamp is the document's external `_version`. Each page starts with a
 * refresh, so it sees every write applied before it; deletes leave no document to find.
 */
export class ElasticsearchReader {
  constructor(private readonly es: ElasticsearchConnection) {}

  /** The documents of the version's index, after a refresh (what a scan would see). */
  async count(request: Pick<ScanRequest, 'project' | 'version' | 'blueprint'>): Promise<number> {
    const index = indexName(request.project, request.version, request.blueprint);
    try {
      await this.es.request('POST', `/${index}/_refresh`);
      const { body } = await this.es.request<{ count: number }>('GET', `/${index}/_count`);
      return body.count;
    } catch (err) {
      if (err instanceof EngineRequestError && err.status === 404) throw new Error(`Elasticsearch has no index ${index} to count (version retired or never migrated?): ${err.reason}`, { cause: err });
      throw err;
    }
  }

  async scan(request: ScanRequest): Promise<ScannedItem[]> {
    const { project, version, blueprint, definition, limit } = request;
    if (request.after !== undefined && !isUuid(request.after)) throw new Error(`scan cursor ${JSON.stringify(request.after)} is not a UUID`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`scan limit ${JSON.stringify(limit)} is not a positive integer`);
    const index = indexName(project, version, blueprint);
    try {
      await this.es.request('POST', `/${index}/_refresh`);
      const scanned: ScannedItem[] = [];
      let after = request.after?.toLowerCase();
      while (scanned.length < limit) {
        const size = Math.min(MAX_PAGE, limit - scanned.length);
        const { body } = await this.es.request<SearchAnswer>('POST', `/${index}/_search`, {
          query: { filter_path: 'hits.hits._id,hits.hits._version,hits.hits._source' },
          body: {
            size,
            query: { match_all: {} },
            sort: [{ id: 'asc' }],
            ...(after === undefined ? {} : { search_after: [after] }),
            version: true,
            track_total_hits: false,
          },
        });
        const hits = body.hits?.hits ?? [];
        for (const hit of hits) scanned.push({ id: hit._id, stamp: hit._version, item: itemFromSource(definition, hit._id, version, hit._source) });
        if (hits.length < size) break;
        after = hits.at(-1)!._id;
      }
      return scanned;
    } catch (err) {
      if (err instanceof EngineRequestError && err.status === 404) throw new Error(`Elasticsearch has no index ${index} to scan (version retired or never migrated?): ${err.reason}`, { cause: err });
      throw err;
    }
  }
}
