// The browsable API page (SPEC §13): GET /_docs of a real dstore process loads in headless Chromium
// (Debian's chromium driven by playwright-core), lists every documented route, and is kept as a screenshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServerProcess } from '../support/server-process.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

test('/_docs loads in headless Chromium and shows every route; a screenshot is saved', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (tools/test.mjs does it)`);
  const dir = await mkdtemp(join(tmpdir(), 'dstore-docs-'));
  const server = await startServerProcess({ STORES: 'level', POSTGRESQL_HOST: '', ELASTICSEARCH_HOST: '', QUEUE_CONNECTIONSTRING: '', LEVEL_PATH: join(dir, 'level'), PROJECT_FILE_PATH: join(dir, 'blueprint'), QUEUE_PATH: join(dir, 'queue'), HOST: '127.0.0.1' });
  // a fresh profile each run (playwright passes it as --user-data-dir)
  const browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 2400 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const documented = (await (await fetch(`${server.url}/_openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(documented.paths).reduce((n, ops) => n + Object.keys(ops).filter((m) => ['get', 'put', 'post', 'delete'].includes(m)).length, 0);
    const page = await browser.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    const res = await page.goto(`${server.url}/_docs`, { waitUntil: 'networkidle', timeout: 30_000 });
    assert.equal(res?.status(), 200);
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 });
    assert.equal(await page.locator('.swagger-ui .info .title').first().innerText().then((t) => t.split('\n')[0]!.trim()), 'dstore');
    assert.equal(await page.locator('.swagger-ui .opblock').count(), operations, 'one block per documented operation');
    assert.ok(await page.locator('.opblock-summary-path', { hasText: '/{project}/{blueprint}/{id}' }).count() >= 2);
    assert.deepEqual(failed, []);
    const shots = process.env['DSTORE_SCREENSHOT_DIR'] ?? join(tmpdir(), 'dstore-screenshots');
    await mkdir(shots, { recursive: true });
    const file = join(shots, 'docs.png');
    await page.screenshot({ path: file, fullPage: false });
    assert.ok((await stat(file)).size > 10_000, 'the screenshot has content');
    console.log(`screenshot of /_docs: ${file}`);
  } finally {
    await browser.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
