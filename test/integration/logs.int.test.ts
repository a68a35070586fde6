// Logs (SPEC §13): a real dstore process writes one JSON line per request (id, route pattern, method,
// status, duration) and never an item value, a token or a password; LOG_LEVEL sets the level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTICLE, ARTICLE_BLUEPRINT } from '../support/harness.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { failedStart, freePort, startServerProcess } from '../support/server-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

const SECRET_TOKEN = 'tok-s3cr3t-never-logged-0123456789abcdef';
const SECRET_VALUE = 'item-value-never-logged-42';

async function embedded(dir: string): Promise<Record<string, string>> {
  return { STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), HOST: '127.0.0.1', AUTH: 'off' };
}

test('one JSON line per request with id, route pattern, method, status and duration; no item value or secret', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-logs-'));
  const server = await startServerProcess(await embedded(dir));
  try {
    const send = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${SECRET_TOKEN}`, 'x-api-password': SECRET_TOKEN }, body: body === undefined ? undefined : JSON.stringify(body) });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await send('PUT', '/myblog/article/_blueprint', ARTICLE_BLUEPRINT), 200);
    assert.equal(await send('POST', '/myblog/_version'), 201);
    assert.equal(await send('PUT', `/myblog/article/${ARTICLE.id}`, { ...ARTICLE, title_en: SECRET_VALUE }), 200);
    assert.equal(await send('PUT', `/myblog/article/${ARTICLE.id}`, { ...ARTICLE, title_en: 5, title_nl: SECRET_VALUE }), 400);
    assert.equal(await send('GET', '/no/such/route/here/x'), 404);
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    const exit = await server.stop();
    assert.equal(exit.code, 0, server.output());
    await rm(dir, { recursive: true, force: true });
  }
  const out = server.output();
  const lines = out.split('\n').filter((l) => l.trim());
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return assert.fail(`a log line that is not JSON: ${l}`);
    }
  });
  const requests = parsed.filter((l) => l['msg'] === 'request');
  assert.deepEqual(
    requests.map((r) => [r['method'], r['route'], r['status']]),
    [
      ['PUT', '/:project/:blueprint/_blueprint', 200],
      ['POST', '/:project/_version', 201],
      ['PUT', '/:project/:blueprint/:id', 200],
      ['PUT', '/:project/:blueprint/:id', 400],
      ['GET', '<unmatched>', 404],
    ],
  );
  const ids = new Set<unknown>();
  for (const r of requests) {
    assert.equal(typeof r['reqId'], 'string');
    ids.add(r['reqId']);
    assert.equal(typeof r['duration_ms'], 'number');
    assert.ok((r['duration_ms'] as number) >= 0);
    assert.equal(r['level'], 'info');
    assert.match(String(r['time']), /^\d{4}-\d\d-\d\dT/);
  }
  assert.equal(ids.size, requests.length, 'each request has its own id');
  // the start-up and snapshot lines go through the same logger
  assert.ok(parsed.some((l) => /listening on/.test(String(l['msg']))));
  assert.ok(parsed.some((l) => /snapshot myblog v1/.test(String(l['msg']))));
  assert.ok(!out.includes(SECRET_TOKEN), 'a token reached the log');
  assert.ok(!out.includes(SECRET_VALUE), 'an item value reached the log');
  assert.ok(!out.includes('De inhoud'), 'an item value reached the log');
});

test('LOG_LEVEL=warn writes no request lines; a bad LOG_LEVEL stops start-up with one line naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dstore-logs-'));
  try {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts'], { cwd: root, env: { ...process.env, ...(await embedded(dir)), PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // at warn the "listening on" line is not written: the start shows by the port answering
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/_health`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(up, out);
    assert.equal((await fetch(`http://127.0.0.1:${port}/_project`)).status, 200);
    child.kill('SIGTERM');
    await exited;
    assert.doesNotMatch(out, /"msg":"request"/);
    assert.doesNotMatch(out, /listening on/);

    const bad = await failedStart({ ...(await embedded(dir)), LOG_LEVEL: 'chatty' });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /LOG_LEVEL="chatty" must be one of fatal, error, warn, info, debug, trace, silent/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
