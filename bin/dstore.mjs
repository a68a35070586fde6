#!/usr/bin/env node
// The dstore command: `dstore` / `dstore start` (API and workers), `dstore api`, `dstore worker`, and the commands that
// talk to a running dstore (`dstore plan`, `apply`, `import`, `status` …; `dstore --help`). Runs the build in dist/ (npm run build).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('dstore: dist/cli.js is missing; run `npm run build` (npm start does it for you)');
  process.exit(1);
}
await import(entry.href);
