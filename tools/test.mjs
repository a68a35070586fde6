#!/usr/bin/env node
// The whole test suite (`npm test`, which .ci/run calls): brings up what the
// machine lacks (PostGIS, the embedded Elasticsearch and OpenSearch), uses the
// PostgreSQL and RabbitMQ that run, runs every suite, and stops what it started.
// A suite whose engine cannot be reached fails; nothing is skipped.
//   node tools/test.mjs            everything
//   node tools/test.mjs --unit     unit and HTTP tests only (no servers needed)
//   node tools/test.mjs --suite postgresql|evolution|rabbitmq|elasticsearch|embedded|package|unit
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--suite') ? args[args.indexOf('--suite') + 1] : null;
const log = (msg) => console.log(`[test] ${msg}`);

const PG = { POSTGRESQL_HOST: process.env.POSTGRESQL_HOST || '127.0.0.1', POSTGRESQL_PORT: process.env.POSTGRESQL_PORT || '5432', POSTGRESQL_USER: process.env.POSTGRESQL_USER || 'postgres', POSTGRESQL_PASSWORD: process.env.POSTGRESQL_PASSWORD || '', POSTGRESQL_DATABASE: process.env.POSTGRESQL_TEST_DATABASE || 'dstore_test' };
const AMQP = process.env.QUEUE_CONNECTIONSTRING || 'amqp://guest:guest@127.0.0.1:5672';

function files(dir, suffix) {
  const full = join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full).filter((f) => f.endsWith(suffix)).sort().map((f) => join(dir, f));
}

function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

async function waitPort(port, seconds) {
  for (let i = 0; i < seconds * 2; i++) {
    if (await portOpen(port)) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

function run(cmd, argv) {
  log(`$ ${cmd} ${argv.join(' ')}`);
  return spawnSync(cmd, argv, { stdio: 'inherit' }).status === 0;
}

/** PostgreSQL must run; PostGIS comes from Debian's packages when missing. */
async function ensurePostgresql() {
  if (!(await portOpen(Number(PG.POSTGRESQL_PORT), PG.POSTGRESQL_HOST)) && PG.POSTGRESQL_HOST === '127.0.0.1') {
    const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
    for (const v of versions) run('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start']);
    await waitPort(Number(PG.POSTGRESQL_PORT), 30);
  }
  const versions = existsSync('/usr/share/postgresql') ? readdirSync('/usr/share/postgresql').filter((v) => /^\d+$/.test(v)) : [];
  const hasPostgis = versions.some((v) => existsSync(`/usr/share/postgresql/${v}/extension/postgis.control`));
  if (!hasPostgis && PG.POSTGRESQL_HOST === '127.0.0.1') {
    const major = versions.sort().at(-1) ?? '15';
    log(`PostGIS is missing: installing postgresql-${major}-postgis-3 from Debian's packages`);
    const apt = process.getuid?.() === 0 ? [] : ['sudo'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'update', '-qq'], { stdio: 'inherit', env });
    spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'install', '-y', '-qq', `postgresql-${major}-postgis-3`], { stdio: 'inherit', env });
  }
}

/** The package suite lints the .deb: lintian (and dpkg-shlibdeps, in dpkg-dev) come from Debian's packages when missing. */
function ensurePackagingTools() {
  const missing = [['lintian', 'lintian'], ['dpkg-shlibdeps', 'dpkg-dev']].filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0).map(([, pkg]) => pkg);
  if (!missing.length) return;
  log(`${missing.join(', ')} missing: installing from Debian's packages`);
  const apt = process.getuid?.() === 0 ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'update', '-qq'], { stdio: 'inherit', env });
  spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
}

/** The /_docs test drives Debian's chromium (never a downloaded browser); installed when missing, like PostGIS. */
function ensureChromium() {
  if (existsSync(process.env.CHROMIUM_PATH || '/usr/bin/chromium')) return;
  log('chromium is missing: installing it from Debian\'s packages');
  const apt = process.getuid?.() === 0 ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'update', '-qq'], { stdio: 'inherit', env });
  spawnSync(apt[0] ?? 'apt-get', [...apt.slice(1), ...(apt.length ? ['apt-get'] : []), 'install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
}

async function ensureRabbitmq() {
  const url = new URL(AMQP);
  const port = Number(url.port || 5672);
  if (await portOpen(port, url.hostname)) return;
  if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') {
    log('RabbitMQ is not running: starting it');
    run('rabbitmq-server', ['-detached']);
    await waitPort(port, 60);
  }
}

const results = [];
const SUITE_TIMEOUT_MS = Number(process.env.DSTORE_SUITE_TIMEOUT_MS || 15 * 60 * 1000);
const tapDir = mkdtempSync(join(tmpdir(), 'dstore-tap-'));

/** Runs node's test runner on some files with extra environment; records pass/fail counts. */
function suite(name, listed, env = {}) {
  // a suffix can match several files (`postgresql.int.test.ts` matches `scan-postgresql.int.test.ts` too): each runs once
  const testFiles = [...new Set(listed)];
  return new Promise((resolve) => {
    if (!testFiles.length) {
      log(`${name}: no test files`);
      results.push({ name, pass: 0, fail: 1, note: 'no test files found' });
      return resolve();
    }
    const tap = join(tapDir, `${results.length}-${name.replace(/\W+/g, '_')}.tap`);
    log(`suite ${name}: ${testFiles.join(' ')}`);
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...testFiles], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    // a hung suite must fail, not hold CI until its own limit
    const limit = setTimeout(() => {
      log(`suite ${name} still running after ${SUITE_TIMEOUT_MS / 60000} min: stopping it`);
      hung = true;
      child.kill('SIGKILL');
    }, SUITE_TIMEOUT_MS);
    let hung = false;
    child.on('exit', (code) => {
      clearTimeout(limit);
      const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
      const count = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)`, 'm')) ?? [])[1] ?? 0);
      const pass = count('pass');
      const fail = count('fail') + count('cancelled') + (code !== 0 && count('fail') + count('cancelled') === 0 ? 1 : 0);
      results.push({ name, pass, fail: fail + (hung ? 1 : 0), skipped: count('skipped') + count('todo'), note: hung ? `killed after ${SUITE_TIMEOUT_MS / 60000} min` : undefined });
      resolve();
    });
  });
}

async function main() {
  const started = Date.now();
  const want = (s) => !only || only === s;
  const searchEngines = [];

  if (want('unit')) {
    // the types are part of the contract: a type error fails the run like a failing test
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
    results.push({ name: 'typecheck (tsc --noEmit)', pass: tsc.status === 0 ? 1 : 0, fail: tsc.status === 0 ? 0 : 1 });
  }
  if (want('unit')) await suite('unit', [...files('test/unit', '.test.ts'), ...files('test/http', '.test.ts')]);
  if (want('embedded')) ensureChromium();
  if (want('embedded')) await suite('embedded', [...files('test/integration', 'embedded.int.test.ts'), ...files('test/integration', 'evolution.int.test.ts'), ...files('test/integration', 'cli.int.test.ts'), ...files('test/integration', 'logs.int.test.ts'), ...files('test/integration', 'docs.int.test.ts')], { STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '' });

  // The search engines take a while to start: boot the first one while the other suites run.
  let engineList = [];
  let firstEngine = null;
  if ((want('elasticsearch') || want('rabbitmq') || want('evolution')) && !process.env.ELASTICSEARCH_HOST) {
    const { SEARCH_ENGINES, startSearchEngine } = await import('./engines/search-engines.mjs');
    engineList = (process.env.DSTORE_TEST_SEARCH_ENGINES?.split(',') ?? SEARCH_ENGINES.map((e) => e.name)).map((name) => ({ name, start: () => startSearchEngine(name, { log }) }));
    if (engineList.length) firstEngine = engineList[0].start().catch((err) => err);
  }

  if (want('postgresql')) {
    await ensurePostgresql();
    await ensureRabbitmq();
    await suite('postgresql', [...files('test/integration', 'postgresql.int.test.ts'), ...files('test/integration', 'scan-postgresql.int.test.ts'), ...files('test/integration', 'outage.int.test.ts'), ...files('test/integration', 'poison.int.test.ts'), ...files('test/integration', 'full-disk.int.test.ts'), ...files('test/integration', 'auth.int.test.ts'), ...files('test/integration', 'prune.int.test.ts'), ...files('test/integration', 'catalog-postgresql.int.test.ts')], { ...PG, QUEUE_CONNECTIONSTRING: AMQP });
  }
  // the all-engine suites write through PostgreSQL and the first search engine too
  const firstSearchHost = async () => {
    if (process.env.ELASTICSEARCH_HOST) return process.env.ELASTICSEARCH_HOST;
    const engine = firstEngine && (await firstEngine);
    return engine && !(engine instanceof Error) ? engine.url : '';
  };
  if (want('evolution')) {
    await ensurePostgresql();
    await suite('evolution (PostgreSQL, the first search engine, LevelDB)', files('test/integration', 'evolution.int.test.ts'), { ...PG, ELASTICSEARCH_HOST: await firstSearchHost() });
  }
  if (want('rabbitmq')) {
    await ensureRabbitmq();
    await ensurePostgresql();
    const searchHost = await firstSearchHost();
    await suite('rabbitmq', [...files('test/integration', 'rabbitmq.int.test.ts'), ...files('test/integration', 'evolution-rabbitmq.int.test.ts'), ...files('test/integration', 'hostile.int.test.ts'), ...files('test/integration', 'rebalance.int.test.ts'), ...files('test/integration', 'verify.int.test.ts')], { QUEUE_CONNECTIONSTRING: AMQP, ...PG, ELASTICSEARCH_HOST: searchHost });
  }
  if (!want('elasticsearch') && firstEngine) {
    const engine = await firstEngine;
    if (!(engine instanceof Error)) await engine.stop();
  }
  if (want('elasticsearch')) {
    const esFiles = [...files('test/integration', 'elasticsearch.int.test.ts'), ...files('test/integration', 'scan-elasticsearch.int.test.ts')];
    if (process.env.ELASTICSEARCH_HOST) await suite(`elasticsearch ${process.env.ELASTICSEARCH_HOST}`, esFiles);
    for (let i = 0; i < engineList.length; i++) {
      const { name } = engineList[i];
      const engine = i === 0 ? await firstEngine : await engineList[i].start().catch((err) => err);
      if (engine instanceof Error) {
        log(`${name} did not start: ${engine.message}`);
        results.push({ name: `elasticsearch on ${name}`, pass: 0, fail: 1, note: `engine did not start: ${engine.message.split('\n')[0]}` });
        continue;
      }
      searchEngines.push(engine);
      try {
        await suite(`elasticsearch on ${name} (${engine.distribution ?? ''} ${engine.version})`, esFiles, { ELASTICSEARCH_HOST: engine.url });
      } finally {
        await engine.stop();
      }
    }
  }

  if (want('package')) {
    // builds, installs (dpkg -i, as root), upgrades and purges the .deb; then npm pack and npm install -g
    ensurePackagingTools();
    await ensureRabbitmq();
    await suite('package (Debian package, npm pack)', files('test/integration', 'package.int.test.ts'), { QUEUE_CONNECTIONSTRING: AMQP });
  }

  rmSync(tapDir, { recursive: true, force: true });
  const pass = results.reduce((n, r) => n + r.pass, 0);
  const fail = results.reduce((n, r) => n + r.fail, 0);
  console.log('\n[test] summary');
  for (const r of results) console.log(`[test]   ${r.fail ? 'FAIL' : 'ok  '} ${r.name}: ${r.pass} passed, ${r.fail} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.note ? ` (${r.note})` : ''}`);
  console.log(`[test] took ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(fail || !results.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
