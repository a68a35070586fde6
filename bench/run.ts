// `npm run bench [-- level postgresql elasticsearch rabbitmq evolution]`: every benchmark, each
// comparing dstore with a baseline in the same run. Engines: PostgreSQL and RabbitMQ
// on 127.0.0.1 (override with POSTGRESQL_HOST / QUEUE_CONNECTIONSTRING); Elasticsearch
// from ELASTICSEARCH_HOST, or the embedded test engines started for the run.
// The rabbitmq benchmark runs with all three engines and is judged against the raw
// rates the other benchmarks measured in this same run.
import { fmt } from './support.ts';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const all = ['level', 'postgresql', 'elasticsearch', 'rabbitmq', 'evolution', 'auth', 'scaleout', 'catalog', 'package', 'operations', 'verify'];
const run = wanted.length ? wanted : all;
const items = Number(process.env['BENCH_ITEMS'] ?? 100_000);
const log = (line: string) => console.log(line);
const raw: Record<string, number> = {};

interface RunningEngine {
  url: string;
  version: string;
  distribution: string;
  stop(): Promise<void>;
}

for (const name of run) {
  if (!all.includes(name)) throw new Error(`unknown benchmark ${name}; known: ${all.join(', ')}`);
  log(`\n## ${name}\n`);
  const started = Date.now();
  switch (name) {
    case 'level': {
      const r = await (await import('./level.ts')).benchLevel({ items, seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log });
      raw['LevelDB batch()'] = r['raw_bulk_per_s']!;
      break;
    }
    case 'postgresql': {
      const r = await (await import('./postgresql.ts')).benchPostgresql({ items, log });
      if (r['nogeo_raw_per_s']) raw['PostgreSQL INSERT'] = r['nogeo_raw_per_s'];
      break;
    }
    case 'elasticsearch': {
      const r = await (await import('./elasticsearch.ts')).benchElasticsearchAll({ items, log });
      const first = Object.entries(r)[0];
      if (first) raw[`${first[0]} _bulk`] = first[1]['raw_per_s']!;
      break;
    }
    case 'auth': {
      await (await import('./auth.ts')).benchAuth({ seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log });
      break;
    }
    case 'scaleout': {
      const scaleout = await import('./scaleout.ts');
      await scaleout.benchTwoApis({ seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log });
      await scaleout.benchScaleout({ items, log });
      break;
    }
    case 'catalog': {
      await (await import('./catalog.ts')).benchCatalog({ log });
      break;
    }
    case 'package': {
      await (await import('./package.ts')).benchPackage({ rounds: Number(process.env['BENCH_ROUNDS'] ?? 3), log });
      break;
    }
    case 'operations': {
      await (await import('./operations.ts')).benchOperations({ items, seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log });
      break;
    }
    case 'verify': {
      await (await import('./verify.ts')).benchVerify({ items, log });
      break;
    }
    case 'evolution': {
      await (await import('./evolution.ts')).benchEvolution({ items, log });
      break;
    }
    case 'rabbitmq': {
      // end to end with every engine: PostgreSQL, Elasticsearch (one embedded engine unless given) and LevelDB
      let engine: RunningEngine | null = null;
      if (!process.env['ELASTICSEARCH_HOST']) {
        const specifier = '../tools/engines/search-engines.mjs';
        const { startSearchEngine } = (await import(specifier)) as { startSearchEngine: (n: string, o: { log: (l: string) => void }) => Promise<RunningEngine> };
        engine = await startSearchEngine('elasticsearch-7.10', { log });
        process.env['ELASTICSEARCH_HOST'] = engine.url;
      }
      process.env['POSTGRESQL_HOST'] ||= '127.0.0.1';
      process.env['POSTGRESQL_USER'] ||= 'postgres';
      process.env['POSTGRESQL_DATABASE'] ||= 'dstore_bench';
      process.env['STORES'] ||= 'postgresql,elasticsearch,level';
      try {
        const r = await (await import('./rabbitmq.ts')).benchRabbitmq({ items, log });
        log('');
        const slowest = Object.entries(raw).sort(([, a], [, b]) => a - b)[0];
        if (slowest) {
          log(`raw engine rates measured in this run: ${Object.entries(raw).map(([k, v]) => `${k} ${fmt(v)}/s`).join(', ')} (items of different shapes: see each section)`);
          log(`bulk through RabbitMQ (ROLE=api + 1 worker, every copy applied) vs the slowest raw engine (${slowest[0]}): ${fmt(r['bulk_rabbit_1worker_every_copy_per_s']! / slowest[1], 2)}x`);
        }
        log(`single-item p99 through RabbitMQ (ROLE=all) vs the in-process queue writing the same engines directly: ${r['single_rabbit_all_p99']} ms vs ${r['single_inprocess_p99']} ms = ${fmt(r['single_rabbit_all_p99']! / Math.max(1, r['single_inprocess_p99']!), 2)}x`);
      } finally {
        if (engine) {
          await engine.stop();
          delete process.env['ELASTICSEARCH_HOST'];
        }
      }
      break;
    }
  }
  log(`(${name}: ${Math.round((Date.now() - started) / 1000)} s)`);
}
process.exit(0);
