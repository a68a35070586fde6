// The Debian package and the npm package (SPEC §14), on this machine for real: builds the .deb with
// tools/package/build-deb.mjs, checks its control fields and contents, lints it, verifies both systemd
// units, installs it with dpkg, starts the installed dstore as dstore.service's ExecStart would (as the
// dstore user, with the unit's environment and /etc/dstore/dstore.env), runs the seed walkthrough,
// upgrades to a rebuilt package (edited conffile and data kept), runs dstore-worker@1 beside it through
// RabbitMQ (its own LevelDB copy), and purges it. Then `npm pack`,
// `npm install -g --prefix` of the tarball, and the walkthrough against that `dstore`.
// Needs root, dpkg-deb, dpkg-shlibdeps, lintian, systemd-analyze and RabbitMQ (QUEUE_CONNECTIONSTRING, default
// on 127.0.0.1); the after hook stops what it started, purges the package and deletes its queues.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { ClassicLevel } from 'classic-level';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID } from '../support/harness.ts';
import { freePort } from '../support/server-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'dstore-package-test-'));
const ENV_FILE = '/etc/dstore/dstore.env';
const UNIT_DIR = '/lib/systemd/system';
const AMQP = process.env['QUEUE_CONNECTIONSTRING'] || 'amqp://guest:guest@127.0.0.1:5672';
const ITEM_KEY = `myblog/v${'1'.padStart(10, '0')}/article/${ARTICLE_ID}`;
let deb1 = '';
/** Every process the test started, stopped by the after hook if a step failed. */
const started: ChildProcess[] = [];
let queuePrefix = '';
let installedByUs = false;

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${out.stdout}\n${out.stderr}`);
  return out;
}

function buildDeb(revision: string): string {
  const r = sh(process.execPath, [join(root, 'tools/package/build-deb.mjs'), '--revision', revision, '--out', work]);
  const deb = r.stdout.trim().split('\n').at(-1)!;
  assert.ok(existsSync(deb), `the build printed ${deb}, which does not exist`);
  return deb;
}

function packageStatus(): string {
  return sh('dpkg-query', ['-W', '-f=${Status} ${Version}', 'dstore'], { allowFail: true }).stdout;
}

function purge(): void {
  if (/^(install|deinstall) ok (installed|config-files|half)/.test(packageStatus())) sh('dpkg', ['--purge', 'dstore'], { allowFail: true });
}

/** `Key=value` lines of one section of a unit file (a key may repeat). */
function unitSettings(path: string): Array<[string, string]> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

/** VAR=value lines of an environment file, as systemd's EnvironmentFile= reads them (comments and blanks skipped). */
function envFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#') || !l.includes('=')) continue;
    env[l.slice(0, l.indexOf('=')).trim()] = l.slice(l.indexOf('=') + 1).trim();
  }
  return env;
}

/**
 * Starts a unit's ExecStart the way systemd would: User=/Group= (setpriv), WorkingDirectory=, a clean
 * environment of Environment= then EnvironmentFile= (which wins), %i replaced by the instance.
 */
async function startAsUnit(unitPath: string, instance = '', readyLine?: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const settings = unitSettings(unitPath).map(([k, v]) => [k, v.replaceAll('%i', instance)] as [string, string]);
  const one = (k: string) => settings.find(([key]) => key === k)?.[1] ?? '';
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [k, v] of settings) {
    if (k !== 'Environment') continue;
    for (const pair of v.split(/\s+/).filter(Boolean)) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  }
  Object.assign(env, envFile(one('EnvironmentFile').replace(/^-/, '')));
  const [bin, ...args] = one('ExecStart').split(/\s+/);
  const child: ChildProcess = spawn('setpriv', ['--reuid', one('User'), '--regid', one('Group'), '--init-groups', '--', bin!, ...args], { cwd: one('WorkingDirectory'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${env['PORT'] ?? '2020'}`;
  if (readyLine) await waitLine(readyLine, child, () => out);
  else await waitAnswering(url, child, () => out);
  return { child, url, output: () => out };
}

async function waitLine(line: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!output().includes(line)) {
    if (child.exitCode !== null) throw new Error(`dstore exited with ${child.exitCode} before printing ${line}:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`dstore did not print ${line} within 60 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitAnswering(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dstore exited with ${child.exitCode} before answering:\n${output()}`);
    try {
      const res = await fetch(`${url}/_health`);
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`dstore did not answer ${url}/_health within 60 s:\n${output()}`);
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The README's curl walkthrough: PUT blueprint, POST _version, PUT item, DELETE item (no token: loopback in protected mode). */
async function walkthrough(url: string): Promise<void> {
  const bp = await call('PUT', `${url}/myblog/article/_blueprint`, ARTICLE_BLUEPRINT);
  assert.equal(bp.status, 200, JSON.stringify(bp.body));
  const version = await call('POST', `${url}/myblog/_version`);
  assert.equal(version.status, 201, JSON.stringify(version.body));
  assert.deepEqual(version.body, { project_version: 1, versions: [1] });
  const put = await call('PUT', `${url}/myblog/article/${ARTICLE_ID}`, ARTICLE);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body, { id: ARTICLE_ID, project_version: 1, state: 'applied' });
  const del = await call('DELETE', `${url}/myblog/article/${ARTICLE_ID}`);
  assert.equal(del.status, 204, JSON.stringify(del.body));
}

/** Removes the queues and exchanges the test's dstore declared on the shared RabbitMQ. */
async function deleteQueues(prefix: string): Promise<void> {
  const connection = await amqp.connect(AMQP);
  try {
    const list = (what: string) => sh('rabbitmqctl', [what, 'name', '-q', '-s'], { allowFail: true }).stdout.split('\n').map((l) => l.trim()).filter((n) => n.startsWith(prefix));
    for (const q of list('list_queues')) {
      const ch = await connection.createChannel();
      await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    }
    for (const x of list('list_exchanges')) {
      const ch = await connection.createChannel();
      await ch.deleteExchange(x).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await connection.close();
  }
}

/** The item as LevelDB holds it (the server must be stopped: LevelDB takes a lock). */
async function levelItem(path: string): Promise<Record<string, unknown> | undefined> {
  const db = new ClassicLevel<string, string>(path, { keyEncoding: 'utf8', valueEncoding: 'utf8', createIfMissing: false });
  try {
    const v = await db.get(ITEM_KEY);
    return v === undefined ? undefined : (JSON.parse(v) as Record<string, unknown>);
  } finally {
    await db.close();
  }
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'the package test installs a .deb: run it as root');
  for (const tool of ['dpkg-deb', 'dpkg-shlibdeps', 'lintian', 'systemd-analyze', 'setpriv']) assert.equal(sh('sh', ['-c', `command -v ${tool}`], { allowFail: true }).code, 0, `${tool} is missing`);
  assert.doesNotMatch(packageStatus(), /installed/, 'a dstore package is already installed on this machine: not touching it');
  deb1 = buildDeb('1');
});

after(async () => {
  for (const child of started) await stop(child);
  if (queuePrefix) await deleteQueues(queuePrefix);
  // a failed run must not leave the package (or its user and data) on the machine
  if (installedByUs) purge();
  rmSync(work, { recursive: true, force: true });
});

test('the .deb: control fields, maintainer scripts, the compiled program and production dependencies only', () => {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
  const arch = sh('dpkg', ['--print-architecture']).stdout.trim();
  assert.ok(deb1.endsWith(`/dstore_${version}-1_${arch}.deb`), deb1);
  const field = (name: string) => sh('dpkg-deb', ['--field', deb1, name]).stdout.trim();
  assert.equal(field('Package'), 'dstore');
  assert.equal(field('Version'), `${version}-1`);
  assert.equal(field('Architecture'), arch);
  const depends = field('Depends').split(/,\s*/);
  // Debian 12's own nodejs is 18: the package needs 20 (NodeSource, or Debian 13's)
  assert.ok(depends.includes('nodejs (>= 20)'), field('Depends'));
  assert.ok(depends.includes('adduser'), field('Depends'));
  assert.ok(depends.some((d) => d.startsWith('libc6 (>= ')), `the LevelDB binding's libraries: ${field('Depends')}`);
  assert.ok(depends.some((d) => d.startsWith('libstdc++6')), field('Depends'));

  const info = sh('dpkg-deb', ['--info', deb1]).stdout;
  for (const script of ['postinst', 'prerm', 'postrm', 'conffiles', 'md5sums', 'control']) assert.match(info, new RegExp(`\\s${script}\\b`), `${script} in the control archive`);
  const control = join(work, 'control');
  sh('dpkg-deb', ['--control', deb1, control]);
  assert.equal(readFileSync(join(control, 'conffiles'), 'utf8'), `${ENV_FILE}\n`);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const text = readFileSync(join(control, script), 'utf8');
    assert.match(text, /^#!\/bin\/sh\nset -e\n/, `${script} starts with set -e`);
    assert.ok(statSync(join(control, script)).mode & 0o100, `${script} is executable`);
    assert.equal(sh('sh', ['-n', join(control, script)], { allowFail: true }).code, 0, `${script} parses`);
  }

  const contents = sh('dpkg-deb', ['--contents', deb1]).stdout;
  const paths = contents.split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('./') + 1).replace(/ -> .*$/, ''));
  const has = (p: string) => paths.includes(p);
  for (const p of ['/usr/bin/dstore', '/usr/lib/dstore/bin/dstore.mjs', '/usr/lib/dstore/dist/cli.js', '/usr/lib/dstore/dist/main.js', '/usr/lib/dstore/package.json', '/usr/lib/dstore/node_modules/fastify/package.json', '/usr/lib/dstore/node_modules/classic-level/prebuilds/linux-x64/classic-level.node', ENV_FILE, `${UNIT_DIR}/dstore.service`, `${UNIT_DIR}/dstore-worker@.service`, '/usr/share/doc/dstore/copyright', '/usr/share/doc/dstore/changelog.Debian.gz', '/usr/share/man/man1/dstore.1.gz']) {
    assert.ok(has(p), `${p} is in the package`);
  }
  assert.match(contents.split('\n').find((l) => l.endsWith('./usr/bin/dstore'))!, /^-rwxr-xr-x root\/root/);
  assert.match(contents.split('\n').find((l) => l.endsWith(`.${ENV_FILE}`))!, /^-rw-r--r-- root\/root/);
  // no TypeScript toolchain, no sources, no development dependencies, no binaries for other systems
  const leaks = paths.filter((p) => /\/node_modules\/(typescript|tsx|esbuild|@esbuild|@types|autocannon|playwright-core)\//.test(p) || /^\/usr\/lib\/dstore\/(src|test|bench|tools)\//.test(p) || (!p.includes('/node_modules/') && /\.(ts|map)$/.test(p)));
  assert.deepEqual(leaks, []);
  const prebuilds = paths.filter((p) => p.includes('/classic-level/prebuilds/') && p.endsWith('.node'));
  assert.deepEqual(prebuilds, ['/usr/lib/dstore/node_modules/classic-level/prebuilds/linux-x64/classic-level.node']);
  assert.ok(!paths.some((p) => p.startsWith('/var/lib/dstore')), 'the data directory is made by postinst, owned by the dstore user');
});

test('lintian finds no errors', () => {
  const r = sh('lintian', ['--tag-display-limit', '0', deb1], { allowFail: true });
  const lines = r.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l));
  const errors = lines.filter((l) => l.startsWith('E: '));
  const warnings = [...new Set(lines.filter((l) => l.startsWith('W: ')).map((l) => l.split(' ')[2]))];
  console.log(`lintian: ${errors.length} errors; warnings: ${warnings.join(', ') || 'none'}`);
  assert.deepEqual(errors, [], r.stdout.slice(0, 4000));
  assert.ok(lines.length || r.code === 0, `lintian ran: ${r.stderr}`);
});

test('dpkg -i: dstore on the PATH, the dstore system user, its data directory, both units verified', () => {
  installedByUs = true;
  sh('dpkg', ['-i', deb1]);
  assert.match(packageStatus(), /^install ok installed /);
  assert.equal(sh('sh', ['-c', 'command -v dstore']).stdout.trim(), '/usr/bin/dstore');
  const [, , uid, gid, , home, shell] = sh('getent', ['passwd', 'dstore']).stdout.trim().split(':');
  assert.ok(Number(uid) < 1000, `dstore is a system user (uid ${uid})`);
  assert.equal(home, '/var/lib/dstore');
  assert.match(shell!, /nologin|false/);
  const data = statSync('/var/lib/dstore');
  assert.equal(data.uid, Number(uid));
  assert.equal(data.gid, Number(gid));
  assert.equal(data.mode & 0o777, 0o750);
  const env = statSync(ENV_FILE);
  assert.equal(env.uid, 0);
  assert.equal(env.gid, Number(gid), 'the settings are readable by the dstore group');
  assert.equal(env.mode & 0o777, 0o640);
  // a second configure (dpkg-reconfigure, an aborted upgrade) changes nothing and does not fail
  sh(join(work, 'control', 'postinst'), ['configure', '0.0.0-1']);
  assert.equal(statSync('/var/lib/dstore').mode & 0o777, 0o750);

  const service = sh('systemd-analyze', ['verify', `${UNIT_DIR}/dstore.service`], { allowFail: true });
  assert.equal(service.code, 0, service.stderr);
  // a template verifies as one of its instances
  const instance = join(work, 'dstore-worker@1.service');
  copyFileSync(`${UNIT_DIR}/dstore-worker@.service`, instance);
  const worker = sh('systemd-analyze', ['verify', instance], { allowFail: true });
  assert.equal(worker.code, 0, worker.stderr);
  const unit = Object.fromEntries(unitSettings(`${UNIT_DIR}/dstore.service`));
  assert.equal(unit['ExecStart'], '/usr/bin/dstore');
  assert.equal(unit['User'], 'dstore');
  assert.equal(unit['EnvironmentFile'], ENV_FILE);
  const workerSettings = unitSettings(`${UNIT_DIR}/dstore-worker@.service`);
  assert.ok(workerSettings.some(([k, v]) => k === 'ExecStart' && v === '/usr/bin/dstore worker'));
  assert.ok(workerSettings.some(([k, v]) => k === 'Environment' && v === 'WORKER_ID=%i'));
  assert.ok(workerSettings.some(([k, v]) => k === 'Environment' && v === 'LEVEL_PATH=/var/lib/dstore/worker-%i/level'));
});

test("the installed dstore, started as dstore.service's ExecStart, runs the walkthrough as the dstore user with data in /var/lib/dstore", async () => {
  const port = await freePort();
  // the admin's edit of the conffile, which the upgrade must keep
  appendFileSync(ENV_FILE, `\n# set by the package test\nPORT=${port}\n`);
  const d = await startAsUnit(`${UNIT_DIR}/dstore.service`);
  const uid = Number(sh('id', ['-u', 'dstore']).stdout.trim());
  const status = readFileSync(`/proc/${d.child.pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s`, 'm'), 'the server runs as the dstore user');
  await walkthrough(d.url);
  // stored again, so the upgrade has data to keep
  assert.equal((await call('PUT', `${d.url}/myblog/article/${ARTICLE_ID}`, ARTICLE)).status, 200);
  assert.equal(await stop(d.child), 0, d.output());
  assert.equal((await levelItem('/var/lib/dstore/level'))?.['title_en'], 'Some title');
  assert.ok(existsSync('/var/lib/dstore/blueprint/myblog'), 'the catalog is under /var/lib/dstore/blueprint');
  assert.equal(statSync('/var/lib/dstore/level').uid, uid);
  assert.ok(!existsSync('/var/lib/dstore/storage'), 'nothing under the working directory defaults');
});

test('the launcher: a clear line for a Node.js older than 20; --help without a server', () => {
  const help = sh('/usr/bin/dstore', ['--help']);
  assert.match(help.stdout, /Usage: dstore/);
  // a Node.js 18 is what Debian 12 ships: the launcher reports what it needs before loading anything
  const old = join(work, 'node18-versions.cjs');
  writeFileSync(old, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.19.0' } });\nObject.defineProperty(process, 'version', { value: 'v18.19.0' });\n");
  const r = sh(process.execPath, ['--require', old, '/usr/bin/dstore'], { allowFail: true });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'dstore: needs Node.js 20 or newer; /usr/bin/node is v18.19.0 (install nodejs >= 20, e.g. from NodeSource or Debian 13)');
});

test('upgrade to a rebuilt package with a higher version keeps the edited conffile and the data', async () => {
  const edited = readFileSync(ENV_FILE, 'utf8');
  const deb2 = buildDeb('2');
  assert.ok(sh('dpkg', ['--compare-versions', sh('dpkg-deb', ['--field', deb2, 'Version']).stdout.trim(), 'gt', sh('dpkg-deb', ['--field', deb1, 'Version']).stdout.trim()], { allowFail: true }).code === 0);
  sh('dpkg', ['-i', deb2]);
  assert.match(packageStatus(), /^install ok installed .*-2$/);
  assert.equal(readFileSync(ENV_FILE, 'utf8'), edited, 'the conffile is as the admin left it');
  assert.ok(!existsSync(`${ENV_FILE}.dpkg-dist`) && !existsSync(`${ENV_FILE}.dpkg-new`));
  assert.equal((await levelItem('/var/lib/dstore/level'))?.['title_en'], 'Some title', 'LevelDB kept the item');
  const d = await startAsUnit(`${UNIT_DIR}/dstore.service`);
  const versions = await call('GET', `${d.url}/myblog/_version`);
  assert.equal(versions.status, 200, JSON.stringify(versions.body));
  assert.equal((versions.body as { project_version: number }).project_version, 1, 'the catalog kept snapshot 1');
  const del = await call('DELETE', `${d.url}/myblog/article/${ARTICLE_ID}`);
  assert.equal(del.status, 204);
  assert.equal(await stop(d.child), 0, d.output());
  assert.equal(await levelItem('/var/lib/dstore/level'), undefined);
});

test('dstore-worker@1, started as its unit would, keeps its own LevelDB copy in /var/lib/dstore/worker-1 (RabbitMQ)', async () => {
  queuePrefix = `dstore_pkgtest_${process.pid}`;
  appendFileSync(ENV_FILE, `QUEUE_CONNECTIONSTRING=${AMQP}\nQUEUE_PREFIX=${queuePrefix}\n`);
  // the worker first: its LevelDB queue must exist before the write to receive it
  const worker = await startAsUnit(`${UNIT_DIR}/dstore-worker@.service`, '1', 'dstore worker:');
  const api = await startAsUnit(`${UNIT_DIR}/dstore.service`);
  assert.match(api.output(), /queue rabbitmq/);
  const put = await call('PUT', `${api.url}/myblog/article/${ARTICLE_ID}`, ARTICLE);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal((put.body as { state: string }).state, 'applied');
  assert.equal(await stop(api.child), 0, api.output());
  assert.equal(await stop(worker.child), 0, worker.output());
  assert.equal((await levelItem('/var/lib/dstore/worker-1/level'))?.['title_en'], 'Some title', "the worker's own copy holds the item");
  assert.equal(statSync('/var/lib/dstore/worker-1/level').uid, Number(sh('id', ['-u', 'dstore']).stdout.trim()));
  await deleteQueues(queuePrefix);
  queuePrefix = '';
});

test('dpkg --purge removes the program, the settings, the data and the dstore user', () => {
  sh('dpkg', ['--purge', 'dstore']);
  installedByUs = false;
  assert.equal(packageStatus(), '');
  for (const p of ['/usr/lib/dstore', '/etc/dstore', '/var/lib/dstore', '/usr/bin/dstore', `${UNIT_DIR}/dstore.service`, `${UNIT_DIR}/dstore-worker@.service`]) assert.ok(!existsSync(p), `${p} is gone`);
  // the README: purge removes the user, which owns no file once its data is gone
  assert.notEqual(sh('getent', ['passwd', 'dstore'], { allowFail: true }).code, 0, 'the dstore user is removed');
  assert.notEqual(sh('getent', ['group', 'dstore'], { allowFail: true }).code, 0, 'the dstore group is removed');
});

test('npm pack, npm install -g --prefix of the tarball: that dstore starts and runs the walkthrough', async () => {
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work, '--loglevel=error']).stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed[0]!.files.map((f) => f.path);
  assert.ok(files.includes('bin/dstore.mjs') && files.includes('dist/cli.js') && files.includes('dist/main.js') && files.includes('package.json'), files.join(' '));
  assert.deepEqual(files.filter((f) => /^(src|test|bench|tools)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts')), []);
  const prefix = join(work, 'prefix');
  sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', join(work, packed[0]!.filename)], { cwd: work });
  const bin = join(prefix, 'bin', 'dstore');
  assert.ok(existsSync(bin));
  assert.ok(!existsSync(join(prefix, 'lib', 'node_modules', 'dstore', 'node_modules', 'typescript')), 'no development dependency installed');
  const port = await freePort();
  const data = join(work, 'npm-data');
  const child: ChildProcess = spawn(bin, [], { cwd: work, env: { PATH: process.env['PATH'] ?? '', PORT: String(port), LEVEL_PATH: join(data, 'level'), PROJECT_FILE_PATH: join(data, 'blueprint'), QUEUE_PATH: join(data, 'queue') }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const url = `http://127.0.0.1:${port}`;
  await waitAnswering(url, child, () => out);
  await walkthrough(url);
  assert.equal(await stop(child), 0, out);
  assert.ok(existsSync(join(data, 'level')) && existsSync(join(data, 'blueprint', 'myblog')), 'the data went where the settings say');
});
