// `npm run bench [-- level postgresql elasticsearch rabbitmq]`: every benchmark, each
// comparing dstore with a baseline in the same run. Engines: PostgreSQL and RabbitMQ
// on 127.0.0.1 (override with POSTGRESQL_HOST / QUEUE_CONNECTIONSTRING); Elasticsearch
// from ELASTICSEARCH_HOST, or the embedded test engines started for the run.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const all = ['level', 'postgresql', 'elasticsearch', 'rabbitmq'];
const run = wanted.length ? wanted : all;
const items = Number(process.env['BENCH_ITEMS'] ?? 100_000);
const log = (line: string) => console.log(line);

for (const name of run) {
  if (!all.includes(name)) throw new Error(`unknown benchmark ${name}; known: ${all.join(', ')}`);
  log(`\n## ${name}\n`);
  const started = Date.now();
  switch (name) {
    case 'level':
      await (await import('./level.ts')).benchLevel({ items, seconds: Number(process.env['BENCH_SECONDS'] ?? 10), log });
      break;
    case 'postgresql':
      await (await import('./postgresql.ts')).benchPostgresql({ items, log });
      break;
    case 'elasticsearch':
      await (await import('./elasticsearch.ts')).benchElasticsearchAll({ items, log });
      break;
    case 'rabbitmq':
      await (await import('./rabbitmq.ts')).benchRabbitmq({ items, log });
      break;
  }
  log(`(${name}: ${Math.round((Date.now() - started) / 1000)} s)`);
}
process.exit(0);
