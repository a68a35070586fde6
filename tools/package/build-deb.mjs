#!/usr/bin/env node
// `npm run package:deb [-- --revision N --out DIR]`: builds dist/dstore_<version>-<revision>_<arch>.deb with
// dpkg-deb from a staged tree: the compiled JavaScript, the production dependencies (`npm ci --omit=dev`,
// from the npm registry only), the launcher, the settings, the systemd units and the maintainer scripts
// in tools/package/debian/. Needs Node.js 20, npm, dpkg-deb and dpkg-shlibdeps (dpkg-dev).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const skeleton = join(dirname(fileURLToPath(import.meta.url)), 'debian');
const MAINTAINER = 'dstore maintainers <maintainers@users.noreply.r-seed-4729cc11.example>';
/** Node's name for each Debian architecture dstore's LevelDB binding has a prebuild for. */
const NODE_ARCH = { amd64: 'x64', arm64: 'arm64', armhf: 'arm' };

class BuildError extends Error {}

function parseArgs(argv) {
  const opts = { revision: '1', out: join(root, 'dist'), keepStage: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--revision') opts.revision = argv[++i] ?? '';
    else if (a === '--out') opts.out = argv[++i] ?? '';
    else if (a === '--keep-stage') opts.keepStage = true;
    else throw new BuildError(`unknown argument ${JSON.stringify(a)} (known: --revision N, --out DIR, --keep-stage)`);
  }
  if (!/^[0-9][0-9A-Za-z.+~]*$/.test(opts.revision)) throw new BuildError(`--revision ${JSON.stringify(opts.revision)} must be a Debian revision such as 1 or 2`);
  if (!opts.out) throw new BuildError('--out needs a directory');
  return opts;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw new BuildError(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout || '').trim().split('\n').slice(-20).join('\n')}`);
  return r.stdout;
}

function walk(dir, visit) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else visit(full, entry);
  }
}

/** Keeps only the glibc prebuild of the target architecture: the others would be binaries for other systems. */
function pruneLevelPrebuilds(app, nodeArch) {
  const prebuilds = join(app, 'node_modules', 'classic-level', 'prebuilds');
  if (!existsSync(prebuilds)) throw new BuildError(`${relative(app, prebuilds)} is missing: classic-level ships its binary there`);
  for (const platform of readdirSync(prebuilds)) if (platform !== `linux-${nodeArch}`) rmSync(join(prebuilds, platform), { recursive: true });
  const kept = join(prebuilds, `linux-${nodeArch}`);
  const binary = join(kept, 'classic-level.node');
  if (!existsSync(binary)) throw new BuildError(`classic-level has no linux-${nodeArch} prebuild (${relative(app, binary)}): LevelDB would not load`);
  for (const f of readdirSync(kept)) if (f !== 'classic-level.node') rmSync(join(kept, f));
  return binary;
}

/** The Depends of the native binaries, as dpkg-shlibdeps computes them from the installed libraries. */
function sharedLibraryDepends(stage, binaries) {
  const work = mkdtempSync(join(tmpdir(), 'dstore-shlibs-'));
  try {
    mkdirSync(join(work, 'debian'));
    writeFileSync(join(work, 'debian', 'control'), 'Source: dstore\n\nPackage: dstore\nArchitecture: any\n');
    const out = run('dpkg-shlibdeps', ['-O', ...binaries.map((b) => `-e${b}`)], { cwd: work });
    const m = out.match(/^shlibs:Depends=(.*)$/m);
    if (!m) throw new BuildError(`dpkg-shlibdeps printed no shlibs:Depends for ${binaries.map((b) => relative(stage, b)).join(', ')}`);
    return m[1].trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function install(from, to, mode) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

function gzipInto(text, to) {
  mkdirSync(dirname(to), { recursive: true });
  // no name or time stamp in the header (lintian: reproducible, and `gzip -n` style)
  writeFileSync(to, gzipSync(Buffer.from(text), { level: 9 }));
  chmodSync(to, 0o644);
}

/** Scripts (a #! line) 0755, every other file 0644, directories 0755: npm keeps the tarballs' modes, which lintian rightly flags. */
function normalizeModes(dir) {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) normalizeModes(full);
    else chmodSync(full, readFileSync(full).subarray(0, 2).toString() === '#!' ? 0o755 : 0o644);
  }
}

/** What a package's tarball holds that nothing loads at run time: its tests, examples, benchmarks, CI and tooling dotfiles. */
const UNUSED_DIRS = new Set(['test', 'tests', '__tests__', 'example', 'examples', 'benchmark', 'benchmarks', 'bench', 'integration']);

function pruneDependencies(nodeModules) {
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    const full = join(nodeModules, entry.name);
    // .bin links, npm's hidden lockfile, and any dotfile a package left in
    if (entry.name.startsWith('.')) rmSync(full, { recursive: true, force: true });
    else if (entry.name.startsWith('@') && entry.isDirectory()) pruneDependencies(full);
    else if (entry.isDirectory()) prunePackage(full);
  }
}

/** Dotfiles anywhere in a package; the unused directories only at its root (deeper, a `test/` may be code). */
function prunePackage(dir, atRoot = true) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.name === 'node_modules' && entry.isDirectory()) pruneDependencies(full);
    else if (entry.name.startsWith('.') || (atRoot && entry.isDirectory() && UNUSED_DIRS.has(entry.name))) rmSync(full, { recursive: true, force: true });
    else if (entry.isDirectory()) prunePackage(full, false);
  }
}

function changelog(version, date) {
  return `dstore (${version}) unstable; urgency=medium\n\n  * Built from the dstore repository by tools/package/build-deb.mjs.\n\n -- ${MAINTAINER}  ${date}\n`;
}

/** A synopsis line and the package.json description wrapped as the extended description. */
function description(text) {
  const wrapped = text.replace(/(.{1,72})(\s+|$)/g, ' $1\n').trimEnd();
  const units = ' .\n It runs as dstore.service (API and workers) or dstore-worker@N.service,\n as the dstore user, with settings in /etc/dstore/dstore.env and data\n in /var/lib/dstore.';
  return `REST API writing every item into PostgreSQL, Elasticsearch and LevelDB\n${wrapped}\n${units}`;
}

function control(fields) {
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
}

export function buildDeb(argv = []) {
  const opts = parseArgs(argv);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const arch = run('dpkg', ['--print-architecture']).trim();
  const nodeArch = NODE_ARCH[arch];
  if (!nodeArch) throw new BuildError(`architecture ${arch} is not one dstore's LevelDB binding has a Linux prebuild for (known: ${Object.keys(NODE_ARCH).join(', ')})`);
  const version = `${pkg.version}-${opts.revision}`;
  const stage = mkdtempSync(join(tmpdir(), 'dstore-deb-'));
  const app = join(stage, 'usr', 'lib', 'dstore');
  const log = (line) => console.log(`[package:deb] ${line}`);
  try {
    log(`compiling src/ into ${relative(stage, app)}/dist (tsconfig.build.json, no source maps)`);
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(app, 'dist'), '--sourceMap', 'false'], { cwd: root });
    install(join(root, 'bin', 'dstore.mjs'), join(app, 'bin', 'dstore.mjs'), 0o755);
    for (const f of ['package.json', 'package-lock.json']) install(join(root, f), join(app, f), 0o644);

    log('npm ci --omit=dev (production dependencies from the npm registry)');
    // npm run exports its settings to the child: drop them so the stage's install is the plain one
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env });
    for (const dev of ['typescript', 'tsx', 'esbuild', '@types']) {
      if (existsSync(join(app, 'node_modules', dev))) throw new BuildError(`node_modules/${dev} is in the stage: a development dependency leaked into the package`);
    }
    const binding = pruneLevelPrebuilds(app, nodeArch);
    // LevelDB's C++ sources are for building the binding, which the prebuild makes unnecessary
    for (const f of ['deps', 'binding.cc', 'binding.gyp']) rmSync(join(app, 'node_modules', 'classic-level', f), { recursive: true, force: true });
    pruneDependencies(join(app, 'node_modules'));
    const natives = [];
    walk(join(app, 'node_modules'), (file) => {
      if (file.endsWith('.node')) natives.push(file);
    });
    normalizeModes(join(stage, 'usr'));

    install(join(skeleton, 'dstore.launcher'), join(stage, 'usr', 'bin', 'dstore'), 0o755);
    install(join(skeleton, 'dstore.env'), join(stage, 'etc', 'dstore', 'dstore.env'), 0o644);
    install(join(skeleton, 'dstore.service'), join(stage, 'lib', 'systemd', 'system', 'dstore.service'), 0o644);
    install(join(skeleton, 'dstore-worker@.service'), join(stage, 'lib', 'systemd', 'system', 'dstore-worker@.service'), 0o644);
    install(join(skeleton, 'copyright'), join(stage, 'usr', 'share', 'doc', 'dstore', 'copyright'), 0o644);
    const date = run('date', ['-R']).trim();
    gzipInto(changelog(version, date), join(stage, 'usr', 'share', 'doc', 'dstore', 'changelog.Debian.gz'));
    gzipInto(readFileSync(join(skeleton, 'dstore.1'), 'utf8'), join(stage, 'usr', 'share', 'man', 'man1', 'dstore.1.gz'));

    const md5sums = [];
    walk(stage, (file, entry) => {
      if (entry.isSymbolicLink()) return;
      const rel = relative(stage, file);
      if (!rel.startsWith('etc/')) md5sums.push(`${createHash('md5').update(readFileSync(file)).digest('hex')}  ${rel}`);
    });
    const installedKb = Number(run('du', ['-sk', '--apparent-size', stage]).split('\t')[0]);

    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian, { mode: 0o755 });
    const depends = ['nodejs (>= 20)', 'adduser', sharedLibraryDepends(stage, natives.length ? natives : [binding])].join(', ');
    writeFileSync(
      join(debian, 'control'),
      control({
        Package: 'dstore',
        Version: version,
        Architecture: arch,
        Maintainer: MAINTAINER,
        'Installed-Size': String(installedKb),
        Depends: depends,
        Section: 'database',
        Priority: 'optional',
        Description: description(pkg.description),
      }),
    );
    writeFileSync(join(debian, 'conffiles'), '/etc/dstore/dstore.env\n');
    writeFileSync(join(debian, 'md5sums'), md5sums.sort((a, b) => a.slice(34).localeCompare(b.slice(34))).join('\n') + '\n');
    for (const f of ['conffiles', 'md5sums', 'control']) chmodSync(join(debian, f), 0o644);
    for (const script of ['postinst', 'prerm', 'postrm']) install(join(skeleton, script), join(debian, script), 0o755);

    mkdirSync(opts.out, { recursive: true });
    const deb = join(opts.out, `dstore_${version}_${arch}.deb`);
    log(`dpkg-deb --build → ${deb}`);
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb]);
    return { deb, version, arch, stage: opts.keepStage ? stage : null };
  } finally {
    if (!opts.keepStage) rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { deb, stage } = buildDeb(process.argv.slice(2));
    console.log(deb);
    if (stage) console.log(`stage kept in ${stage}`);
  } catch (err) {
    console.error(err instanceof BuildError ? `package:deb: ${err.message}` : err);
    process.exit(1);
  }
}
