// Access control over real sockets (SPEC §10): a client from another address (a network
// namespace with a veth pair), HTTPS with a certificate made here, start-up refusals, no
// token in the process output, and a refused write that leaves PostgreSQL unchanged.
// Needs root (ip netns), openssl, curl, and PostgreSQL from POSTGRESQL_* (the postgresql suite).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ARTICLE, ARTICLE_BLUEPRINT, ARTICLE_ID } from '../support/harness.ts';
import { failedStart, freePort, startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { connectTestDatabase, PG } from '../support/postgresql.ts';

const NS = `dstore-auth-${process.pid}`;
const HOST_IF = `dsa${process.pid % 100000}h`;
const NS_IF = `dsa${process.pid % 100000}n`;
const HOST_IP = '10.200.0.1';
const ADMIN_TOKEN = randomBytes(32).toString('hex');
const PROJECT = `authint_${process.pid}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

interface CurlAnswer {
  status: number;
  body: any;
  text: string;
}

/** curl from inside the namespace (another address than loopback), or from this host. */
function curl(where: 'namespace' | 'host', method: string, url: string, opts: { token?: string; body?: unknown; cacert?: string } = {}): CurlAnswer {
  const args = ['-sS', '-X', method, '-w', '\n%{http_code}', '--max-time', '20'];
  if (opts.cacert) args.push('--cacert', opts.cacert);
  if (opts.token) args.push('-H', `Authorization: Bearer ${opts.token}`);
  // as the seed's walkthrough sends it: -d with no Content-Type header
  if (opts.body !== undefined) args.push('-d', JSON.stringify(opts.body));
  args.push(url);
  const run = where === 'namespace' ? spawnSync('ip', ['netns', 'exec', NS, 'curl', ...args], { encoding: 'utf8' }) : spawnSync('curl', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`curl ${method} ${url} failed (${run.status}): ${run.stderr}`);
  const cut = run.stdout.lastIndexOf('\n');
  const text = run.stdout.slice(0, cut);
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: Number(run.stdout.slice(cut + 1)), body, text };
}

let dir = '';

function serverEnv(name: string, extra: Record<string, string>): Record<string, string> {
  return {
    HOST: '0.0.0.0',
    STORES: 'postgresql,level',
    ELASTICSEARCH_HOST: '',
    POSTGRESQL_HOST: PG.host,
    POSTGRESQL_PORT: String(PG.port),
    POSTGRESQL_USER: PG.user,
    POSTGRESQL_PASSWORD: PG.password ?? '',
    POSTGRESQL_DATABASE: PG.database,
    LEVEL_PATH: join(dir, name, 'level'),
    PROJECT_FILE_PATH: join(dir, name, 'blueprint'),
    QUEUE_PATH: join(dir, name, 'queue'),
    ...extra,
  };
}

describe('access control over the network', () => {
  let db: pg.Client;
  let cert = '';
  let key = '';
  let otherKey = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dstore-auth-int-'));
    // a namespace of its own whose only way out is a veth pair: its address is 10.200.0.2, never loopback
    ip('netns', 'add', NS);
    ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
    ip('link', 'set', NS_IF, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF);
    ip('link', 'set', HOST_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', '10.200.0.2/30', 'dev', NS_IF);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', NS_IF, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    otherKey = join(dir, 'other-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=dstore-test', '-addext', `subjectAltName=IP:${HOST_IP},IP:127.0.0.1,DNS:localhost`], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey], { stdio: 'ignore' });
    db = await connectTestDatabase();
  });

  after(async () => {
    // removing the namespace removes its end of the pair, and with it the host's end
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', HOST_IF]);
    if (db) {
      for (const { nspname } of (await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [PROJECT])).rows) await db.query(`DROP SCHEMA "${nspname}" CASCADE`);
      await db.end();
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('protected mode: a client from 10.200.0.2 gets 403 saying how to set ADMIN_TOKEN; loopback is answered', async () => {
    const server = await startServerProcess(serverEnv('protected', {}));
    try {
      const port = new URL(server.url).port;
      const remote = curl('namespace', 'PUT', `http://${HOST_IP}:${port}/${PROJECT}/article/_blueprint`, { body: ARTICLE_BLUEPRINT });
      assert.equal(remote.status, 403, remote.text);
      assert.equal(remote.body.code, 'DSTORE_PROTECTED_MODE');
      assert.match(remote.body.message, /ADMIN_TOKEN/);
      assert.match(remote.body.message, /10\.200\.0\.2/);
      assert.equal(curl('namespace', 'GET', `http://${HOST_IP}:${port}/_health`).status, 403);
      const local = curl('host', 'GET', `http://127.0.0.1:${port}/_project`);
      assert.equal(local.status, 200, local.text);
      assert.ok(!local.body.projects.some((p: { name: string }) => p.name === PROJECT), 'the refused PUT made no project');
      assert.match(server.output(), /protected mode/);
    } finally {
      await server.stop();
    }
  });

  test('AUTH=off answers the other address, with a warning at start-up', async () => {
    const server = await startServerProcess(serverEnv('open', { AUTH: 'off' }));
    try {
      const port = new URL(server.url).port;
      assert.equal(curl('namespace', 'GET', `http://${HOST_IP}:${port}/_project`).status, 200);
      assert.match(server.output(), /WARNING: AUTH=off/);
    } finally {
      await server.stop();
    }
  });

  test('HTTPS with ADMIN_TOKEN from the other address: the seed walkthrough, tokens, a refused write leaves PostgreSQL unchanged, no token in the output', async () => {
    const port = await freePort();
    const server: ServerProcess = await startServerProcess(serverEnv('tls', { ADMIN_TOKEN, TLS_CERT: cert, TLS_KEY: key, PORT: String(port) }));
    const secrets = [ADMIN_TOKEN];
    try {
      const base = `https://${HOST_IP}:${port}`;
      const call = (method: string, path: string, token?: string, body?: unknown) => curl('namespace', method, base + path, { token, body, cacert: cert });
      assert.equal(call('GET', '/_project').status, 401, 'no token');
      // the walkthrough of the README, over TLS, with the ADMIN_TOKEN
      assert.equal(call('PUT', `/${PROJECT}/article/_blueprint`, ADMIN_TOKEN, ARTICLE_BLUEPRINT).status, 200);
      const snap = call('POST', `/${PROJECT}/_version`, ADMIN_TOKEN);
      assert.equal(snap.status, 201, snap.text);
      assert.deepEqual(snap.body, { project_version: 1, versions: [1] });
      const put = call('PUT', `/${PROJECT}/article/${ARTICLE_ID}`, ADMIN_TOKEN, ARTICLE);
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.state, 'applied');
      const table = `"${PROJECT}_v1".articles`;
      assert.equal((await db.query(`SELECT title_en FROM ${table} WHERE id = $1`, [ARTICLE_ID])).rows[0]?.title_en, 'Some title');
      assert.equal(call('DELETE', `/${PROJECT}/article/${ARTICLE_ID}`, ADMIN_TOKEN).status, 204);
      assert.equal((await db.query(`SELECT 1 FROM ${table}`)).rowCount, 0);

      // project tokens: a writer stores, a reader is refused, revocation is immediate
      const made = (scopes: string[]) => {
        const res = call('POST', '/_token', ADMIN_TOKEN, { name: `int-${scopes.join('-')}`, projects: [PROJECT], scopes });
        assert.equal(res.status, 201, res.text);
        secrets.push(res.body.token);
        return res.body as { id: string; token: string };
      };
      const writer = made(['write']);
      const reader = made(['read']);
      assert.equal(call('PUT', `/${PROJECT}/article/${ARTICLE_ID}`, writer.token, ARTICLE).status, 200);
      const rowsBefore = (await db.query(`SELECT * FROM ${table} ORDER BY id`)).rows;
      assert.equal(rowsBefore.length, 1);
      const refused = call('PUT', `/${PROJECT}/article/${ARTICLE_ID}`, reader.token, { ...ARTICLE, title_en: 'changed by a reader' });
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.body.errors.scope, /write/);
      const otherId = '7d1f5b8e-2c3a-4e6f-9a0b-1c2d3e4f5a6b';
      assert.equal(call('PUT', `/${PROJECT}/article/${otherId}`, reader.token, { ...ARTICLE, id: otherId }).status, 403);
      assert.equal(call('DELETE', `/${PROJECT}`, writer.token).status, 403, 'a writer cannot drop the project');
      assert.equal(call('GET', `/${PROJECT}/_version`, reader.token).status, 200);
      assert.equal(call('DELETE', `/_token/${writer.id}`, ADMIN_TOKEN).status, 204);
      assert.equal(call('PUT', `/${PROJECT}/article/${ARTICLE_ID}`, writer.token, { ...ARTICLE, title_en: 'after revocation' }).status, 401);
      assert.deepEqual((await db.query(`SELECT * FROM ${table} ORDER BY id`)).rows, rowsBefore, 'refused writes changed PostgreSQL');
      assert.equal(call('DELETE', `/${PROJECT}`, ADMIN_TOKEN).status, 204);
      // loopback needs a token too once ADMIN_TOKEN is set
      assert.equal(curl('host', 'GET', `https://127.0.0.1:${port}/_project`, { cacert: cert }).status, 401);
    } finally {
      await server.stop();
    }
    const output = server.output();
    assert.match(output, /listening on .*\(https\)/);
    assert.match(output, /token [0-9a-f-]{36} .* made by ADMIN_TOKEN/);
    for (const secret of secrets) assert.ok(!output.includes(secret), 'a token appeared in the process output');
    assert.ok(!/"authorization"/i.test(output), 'an Authorization header appeared in the process output');
  });

  test('start-up stops with one line: ADMIN_TOKEN too short, TLS_KEY missing, unreadable, or not the key of TLS_CERT', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ADMIN_TOKEN: 'short-but-secret-value' }, /^dstore: ADMIN_TOKEN is 22 characters long; it must be at least 32/],
      [{ TLS_CERT: cert }, /^dstore: TLS_CERT is set but TLS_KEY is not/],
      [{ TLS_CERT: cert, TLS_KEY: join(dir, 'nope.pem') }, /^dstore: TLS_KEY=.*nope\.pem cannot be read: ENOENT/],
      [{ TLS_CERT: cert, TLS_KEY: otherKey }, /^dstore: TLS_KEY=.*other-key\.pem is not the key of the certificate in TLS_CERT=/],
      [{ ADMIN_TOKEN, AUTH: 'off' }, /^dstore: AUTH=off and ADMIN_TOKEN contradict each other/],
    ];
    for (const [env, line] of cases) {
      const r = await failedStart(serverEnv('refused', { ...env, PORT: String(await freePort()) }));
      assert.equal(r.code, 1, r.stderr + r.stdout);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, line);
      if (env['ADMIN_TOKEN']) assert.ok(!(r.stderr + r.stdout).includes(env['ADMIN_TOKEN']), 'the token was printed');
    }
  });
});
