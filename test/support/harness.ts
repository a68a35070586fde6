import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfig, type Config } from '../../src/config.ts';
import { start, type Running } from '../../src/main.ts';
import { LevelStore } from '../../src/stores/level/level-store.ts';

// The running LevelStore is created inside start(); remember each one as it opens, by path, so tests can read what landed.
const openedLevels = new Map<string, LevelStore>();
const openLevel = LevelStore.prototype.open;
LevelStore.prototype.open = async function (this: LevelStore): Promise<void> {
  await openLevel.call(this);
  openedLevels.set(this['path'], this);
};

export interface TestDstore {
  running: Running;
  config: Config;
  dir: string;
  /** The LevelStore of this dstore (when STORES includes level). */
  level: LevelStore | undefined;
  /** Every LevelDB key, in LevelDB order (items and dstore's own bookkeeping). */
  levelKeys(): Promise<string[]>;
  /** Sends a request through fastify's inject (no network). */
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  stop(): Promise<void>;
}

/**
 * Starts dstore in this process on temporary directories (catalog, LevelDB, queue)
 * with the given environment on top; PORT 0 unless given.
 */
export async function startDstore(env: Record<string, string | undefined> = {}): Promise<TestDstore> {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-test-'));
  const config = readConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LEVEL_PATH: join(dir, 'level'),
    PROJECT_FILE_PATH: join(dir, 'blueprint'),
    QUEUE_PATH: join(dir, 'queue'),
    // the file catalog of its own directory unless a test asks for the shared one (CATALOG=postgresql)
    CATALOG: 'file',
    ...env,
  });
  const running = await start(config);
  const level = config.stores.includes('level') ? openedLevels.get(config.levelPath) : undefined;
  return {
    running,
    config,
    dir,
    level,
    async levelKeys() {
      if (!level) throw new Error('this dstore has no LevelDB');
      return (await level.entries()).map(([key]) => key);
    },
    async request(method, url, body, headers = {}) {
      const res = await running.app!.inject({
        method: method as 'GET',
        url,
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headers,
      });
      let parsed: unknown;
      try {
        parsed = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, text: res.body };
    },
    async stop() {
      await running.stop();
      openedLevels.delete(config.levelPath);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The seed's `myblog/article` blueprint, with real JSON. */
export const ARTICLE_BLUEPRINT = {
  postgresql: { table: 'articles' },
  elasticsearch: { type: 'article' },
  columns: {
    title_nl: { type: 'string' },
    title_en: { type: 'string' },
    intro_nl: { type: 'text' },
    intro_en: { type: 'text' },
    content_nl: { type: 'text' },
    content_en: { type: 'text' },
    date_created: { type: 'datetime', validation: { required: true } },
    date_changed: { type: 'datetime', validation: { required: true } },
  },
};

export const ARTICLE_ID = '66276124-ebcd-45e1-8013-825346daa283';

export const ARTICLE = {
  id: ARTICLE_ID,
  project_version: 1,
  title_nl: 'De titel',
  title_en: 'Some title',
  intro_nl: 'De intro',
  intro_en: 'The intro',
  content_nl: 'De inhoud',
  content_en: 'The content',
  date_created: '2014-01-17 03:50:12',
  date_changed: '2014-01-17 03:50:12',
};

/** One column of every type of SPEC §4, and an item with a value for each. */
export const KITCHEN_SINK_BLUEPRINT = {
  columns: {
    c_uuid: { type: 'uuid' },
    c_uuids: { type: 'uuid[]' },
    c_string: { type: 'string' },
    c_strings: { type: 'string[]' },
    c_text: { type: 'text' },
    c_texts: { type: 'text[]' },
    c_point: { type: 'point' },
    c_points: { type: 'point[]' },
    c_line: { type: 'linestring' },
    c_lines: { type: 'linestring[]' },
    c_polygon: { type: 'polygon' },
    c_polygons: { type: 'polygon[]' },
    c_date: { type: 'date' },
    c_dates: { type: 'date[]' },
    c_datetime: { type: 'datetime' },
    c_datetimes: { type: 'datetime[]' },
    c_float: { type: 'float' },
    c_floats: { type: 'float[]' },
    c_integer: { type: 'integer' },
    c_integers: { type: 'integer[]' },
    c_boolean: { type: 'boolean' },
    c_booleans: { type: 'boolean[]' },
    c_json: { type: 'json' },
    c_jsons: { type: 'json[]' },
  },
};

export function kitchenSinkItem(id: string, version = 1): Record<string, unknown> {
  return {
    id,
    project_version: version,
    links: ['0b5c8a4e-6a43-4c1e-9a61-6f1e8d7f2a10'],
    c_uuid: 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    c_uuids: ['f47ac10b-58cc-4372-a567-0e02b2c3d479', '9b2e4c1a-3d5f-4a6b-8c7d-0e1f2a3b4c5d'],
    c_string: 'exact value',
    c_strings: ['red', 'green'],
    c_text: 'The quick brown fox jumps over the lazy dog',
    c_texts: ['first paragraph', 'second paragraph'],
    c_point: { type: 'Point', coordinates: [4.9041, 52.3676] },
    c_points: { type: 'MultiPoint', coordinates: [[4.9041, 52.3676], [5.1214, 52.0907]] },
    c_line: { type: 'LineString', coordinates: [[4.9, 52.3], [5.1, 52.1]] },
    c_lines: { type: 'MultiLineString', coordinates: [[[4.9, 52.3], [5.1, 52.1]], [[4.0, 51.0], [4.5, 51.5]]] },
    c_polygon: { type: 'Polygon', coordinates: [[[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4], [4.8, 52.3]]] },
    c_polygons: { type: 'MultiPolygon', coordinates: [[[[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4], [4.8, 52.3]]], [[[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]] },
    c_date: '2024-02-29',
    c_dates: ['2024-01-01', '2024-12-31'],
    c_datetime: '2014-01-17 03:50:12',
    c_datetimes: ['2014-01-17 03:50:12', '2020-06-01T12:00:00+02:00'],
    c_float: 1.5,
    c_floats: [0.25, -2.5],
    c_integer: 2147483647,
    c_integers: [-2147483648, 0, 42],
    c_boolean: true,
    c_booleans: [true, false],
    c_json: { nested: { a: 1, b: [1, 2] }, s: 'x' },
    c_jsons: [{ a: 1 }, { b: 'two' }],
  };
}
