// The `dstore` CLI (SPEC §13) as its own process against a real running dstore (embedded: catalog on
// disk + LevelDB), checked on the exit codes, the output, and what landed in LevelDB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { DstoreClient } from '../../src/cli/client.ts';
import { ARTICLE, ARTICLE_BLUEPRINT, startDstore, type TestDstore } from '../support/harness.ts';
import { freePort } from '../support/server-process.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
let d: TestDstore;
let url: string;
let client: DstoreClient;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, DSTORE_URL: url, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const oneLine = (s: string) => s.trim().split('\n').length === 1;
const key = (version: number) => `myblog/v${String(version).padStart(10, '0')}/article/`;
async function levelCount(version: number): Promise<number> {
  return (await d.level!.entries({ gte: key(version), lt: `${key(version)}\uffff` })).length;
}
const itemId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

before(async () => {
  d = await startDstore({ STORES: 'level', LOG_LEVEL: 'warn' });
  const { port } = d.running.app!.server.address() as { port: number };
  url = `http://127.0.0.1:${port}`;
  client = new DstoreClient({ url });
});

after(async () => {
  await client.close();
  await d.stop();
});

test('apply --snapshot --wait on a new project, then plan of the same file exits 0', async () => {
  const file = join(d.dir, 'blueprints.yaml');
  await writeFile(file, toYaml({ article: ARTICLE_BLUEPRINT }));
  const applied = await cli(['apply', '-p', 'myblog', '-f', file, '--snapshot', '--wait']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /snapshot v1 created/);
  assert.deepEqual((await client.versions('myblog')).versions, [1]);

  const plan = await cli(['plan', '-p', 'myblog', '-f', file]);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /Nothing to change/);

  // applying the same file again makes no new snapshot
  const again = await cli(['apply', '-p', 'myblog', '-f', file, '--snapshot']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /equals snapshot v1: no snapshot made/);
  assert.deepEqual((await client.versions('myblog')).versions, [1]);
});

test('import of 50,000 NDJSON lines: every item in LevelDB', async () => {
  const file = join(d.dir, 'articles.ndjson');
  const lines: string[] = [];
  // no project_version: the CLI fills in the latest
  for (let i = 0; i < 50_000; i++) {
    const { project_version: _v, ...item } = ARTICLE;
    lines.push(JSON.stringify({ ...item, id: itemId(i), title_en: `title ${i}` }));
  }
  await writeFile(file, `${lines.join('\n')}\n`);
  const run = await cli(['import', '-p', 'myblog', '-b', 'article', file]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /imported 50000 item\(s\)/);
  assert.equal(await levelCount(1), 50_000);
  const stored = JSON.parse((await d.level!.entries({ gte: `${key(1)}${itemId(49_999)}`, lt: `${key(1)}${itemId(49_999)}\uffff` }))[0]![1]);
  assert.equal(stored.title_en, 'title 49999');
  assert.equal(stored.project_version, 1);
});

test('plan of a changed file exits 2 and names each change; apply --snapshot --wait follows the back-fill', async () => {
  const { intro_nl: _dropped, ...columns } = ARTICLE_BLUEPRINT.columns;
  const changed = { article: { ...ARTICLE_BLUEPRINT, columns: { ...columns, summary: { type: 'text' } } } };
  const file = join(d.dir, 'changed.json');
  await writeFile(file, JSON.stringify(changed));

  const plan = await cli(['plan', '-p', 'myblog', '-f', file]);
  assert.equal(plan.code, 2, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /~ blueprint article/);
  assert.match(plan.stdout, /\+ column summary \(text\)/);
  assert.match(plan.stdout, /- column intro_nl/);
  assert.match(plan.stdout, /Changes would be made/);
  const planJson = await cli(['plan', '-p', 'myblog', '-f', file, '--json']);
  assert.equal(planJson.code, 2);
  const parsed = JSON.parse(planJson.stdout);
  assert.deepEqual(parsed.working.diff.changed.article.added, ['summary']);
  assert.deepEqual(parsed.snapshot.diff.changed.article.removed, ['intro_nl']);
  assert.equal(parsed.snapshot.version, 1);

  const applied = await cli(['apply', '-p', 'myblog', '-f', file, '--snapshot', '--wait', '--json']);
  assert.equal(applied.code, 0, applied.stderr);
  const result = JSON.parse(applied.stdout);
  assert.equal(result.snapshot.project_version, 2);
  assert.equal(result.job.state, 'done');
  assert.equal(result.job.done, 50_000);
  assert.equal(result.job.total, 50_000);
  assert.equal((await client.job(result.job.id)).state, 'done');
  // the back-fill copied every item into v2
  assert.equal(await levelCount(2), 50_000);
  const plain = await cli(['plan', '-p', 'myblog', '-f', file]);
  assert.equal(plain.code, 0, plain.stdout);
});

test('import stops at a refused line and names it; a line that is not JSON is named too', async () => {
  const { intro_nl: _x, ...v2 } = ARTICLE;
  const good = (i: number) => JSON.stringify({ ...v2, project_version: 2, id: itemId(100_000 + i), title_en: `x ${i}` });
  const file = join(d.dir, 'bad.ndjson');
  await writeFile(file, [good(1), good(2), good(3), JSON.stringify({ ...v2, project_version: 2, id: itemId(100_004), title_en: 5 }), good(5)].join('\n'));
  const run = await cli(['import', '-p', 'myblog', '-b', 'article', file, '--batch', '2']);
  assert.equal(run.code, 1);
  assert.ok(oneLine(run.stderr), run.stderr);
  assert.match(run.stderr, /line 4: title_en must be of type string/);
  // the batch before it (lines 1-2) was stored, the refused batch (3-4) was not
  assert.equal((await d.level!.entries({ gte: `${key(2)}${itemId(100_001)}`, lt: `${key(2)}${itemId(100_001)}\uffff` })).length, 1);
  assert.equal((await d.level!.entries({ gte: `${key(2)}${itemId(100_003)}`, lt: `${key(2)}${itemId(100_003)}\uffff` })).length, 0);

  const notJson = join(d.dir, 'not-json.ndjson');
  await writeFile(notJson, `${good(6)}\n{"id": oops\n`);
  const broken = await cli(['import', '-p', 'myblog', '-b', 'article', notJson]);
  assert.equal(broken.code, 1);
  assert.ok(oneLine(broken.stderr), broken.stderr);
  assert.match(broken.stderr, /line 2: not JSON/);
});

test('status --json, jobs --json and deadletter list --json parse', async () => {
  const status = await cli(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.health.status, 'up');
  assert.equal(s.health.engines.level.status, 'up');
  assert.deepEqual(s.projects.find((p: { name: string }) => p.name === 'myblog').versions, [1, 2]);
  assert.equal(s.jobs[0].kind, 'backfill');
  assert.equal(s.dead_letters, 0);

  const human = await cli(['status', '-p', 'myblog']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /engine level: up/);
  assert.match(human.stdout, /myblog: latest v2; live v1, v2/);

  const jobs = await cli(['jobs', '--json']);
  assert.equal(JSON.parse(jobs.stdout)[0].state, 'done');
  const letters = await cli(['deadletter', 'list', '--json']);
  assert.equal(letters.code, 0);
  assert.deepEqual(JSON.parse(letters.stdout), []);
});

test('bad arguments and a server that cannot be reached: one line on stderr, non-zero exit', async () => {
  for (const args of [['plan', '-p', 'myblog'], ['import', '-p', 'myblog', '-b', 'article', 'x.ndjson', '--batch', 'lots'], ['frobnicate'], ['apply', '-p', 'myblog', '-f', 'x.yaml', '--wait'], ['plan', '-p', 'myblog', '-f', join(d.dir, 'missing.yaml')]]) {
    const run = await cli(args);
    assert.notEqual(run.code, 0, `${args.join(' ')}: ${run.stdout}`);
    assert.equal(run.code === 2, false, args.join(' '));
    assert.ok(oneLine(run.stderr), `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^dstore: /);
  }
  const stopped = `http://127.0.0.1:${await freePort()}`;
  for (const args of [['status'], ['plan', '-p', 'myblog', '-f', join(d.dir, 'changed.json')], ['import', '-p', 'myblog', '-b', 'article', join(d.dir, 'bad.ndjson')]]) {
    const run = await cli(args, { DSTORE_URL: stopped });
    assert.equal(run.code, 1, `${args.join(' ')}: ${run.stdout}`);
    assert.ok(oneLine(run.stderr), run.stderr);
    assert.match(run.stderr, /cannot reach dstore at http:\/\/127\.0\.0\.1:\d+/);
  }
  const help = await cli(['import', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--batch <n>/);
});
