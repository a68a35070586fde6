import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Blueprints } from '../schema/blueprint.ts';
import { ApiFailure, DstoreClient, Unreachable, type JobBody } from './client.ts';
import { ImportRefused, importNdjson } from './import.ts';
import { formatPlan, makePlan, normalizeFile, PlanInputError, readBlueprintFile } from './plan.ts';
import { progress } from './progress.ts';
import { maintenanceCommands } from './maintenance.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Draw progress bars (stderr is a terminal). */
  tty: boolean;
}

/** The exit code, or `serving` when the command started the server (the process keeps running). */
export type CliOutcome = number | 'serving';

export const DEFAULT_URL = 'http://127.0.0.1:2020';
const JOB_POLL_MS = 250;

/** A bad argument found after parsing, or a failure to report: one line, exit 1. */
class CliError extends Error {}

function wholeNumber(min: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    return Number(raw);
  };
}

interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/**
 * `dstore <command>`: starts the server (`start`, `serve`, `api`, `worker`, and
 * no command at all) or talks to a running one over its HTTP API.
 */
export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, tty: Boolean(process.stderr.isTTY) }): Promise<CliOutcome> {
  let outcome: CliOutcome = 0;
  const out = (line: string): void => void io.stdout.write(`${line}\n`);
  const json = (value: unknown): void => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  let client: DstoreClient | null = null;

  const program = new Command('dstore')
    .description('dstore: owns the schema of your data and writes every item into PostgreSQL, Elasticsearch and LevelDB.\nWithout a command it starts the server (API and workers).')
    .addOption(new Option('--url <url>', 'where dstore listens').env('DSTORE_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'bearer token sent as Authorization').env('DSTORE_TOKEN'))
    .option('--json', 'print machine-readable JSON')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`dstore: ${s.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);

  // commander reads .env() from process.env; the io's environment wins so tests and embedders can pass their own
  for (const [option, name] of [['url', 'DSTORE_URL'], ['token', 'DSTORE_TOKEN']] as const) {
    const v = io.env[name];
    if (v !== undefined && v !== '') program.setOptionValueWithSource(option, v, 'env');
  }

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const connect = (cmd: Command): DstoreClient => (client ??= new DstoreClient({ url: globals(cmd).url, token: globals(cmd).token }));

  const serve = (role: string[]) => async () => {
    const { main } = await import('../main.ts');
    await main(role);
    outcome = 'serving';
  };
  program.command('start', { isDefault: true }).alias('serve').description('start dstore as ROLE says (default: API and workers in one process)').action(serve(['start']));
  program.command('all').description('start the API and the workers in one process').action(serve(['all']));
  program.command('api').description('start the HTTP API only (ROLE=api, needs QUEUE_CONNECTIONSTRING)').action(serve(['api']));
  program.command('worker').description('start workers only (ROLE=worker, needs QUEUE_CONNECTIONSTRING; metrics on METRICS_PORT)').action(serve(['worker']));

  program
    .command('plan')
    .description('show what applying a blueprint file would change (exit 0: nothing, 2: changes, 1: error)')
    .requiredOption('-p, --project <project>', 'the project')
    .requiredOption('-f, --file <file>', 'blueprints as JSON or YAML, shaped like PUT /{project}/_blueprint')
    .action(async (opts: { project: string; file: string }, cmd: Command) => {
      const file = normalizeFile(opts.file, await readBlueprintFile(opts.file));
      const c = connect(cmd);
      const working = (await c.working(opts.project)) as Blueprints;
      const { project_version: latest } = await c.versions(opts.project);
      const snapshot = latest ? { version: latest, blueprints: (await c.snapshotBlueprints(opts.project, latest)) as Blueprints } : undefined;
      const plan = makePlan(opts.project, file, working, snapshot);
      if (globals(cmd).json) json(plan);
      else out(formatPlan(plan, file));
      outcome = plan.changed ? 2 : 0;
    });

  program
    .command('apply')
    .description('put a blueprint file as the working copy; --snapshot freezes it, --wait follows its back-fill')
    .requiredOption('-p, --project <project>', 'the project')
    .requiredOption('-f, --file <file>', 'blueprints as JSON or YAML')
    .option('--snapshot', 'create the next snapshot (every engine migrated) when the working copy differs from the latest')
    .option('--wait', 'with --snapshot: follow the back-fill job until it is done')
    .action(async (opts: { project: string; file: string; snapshot?: boolean; wait?: boolean }, cmd: Command) => {
      if (opts.wait && !opts.snapshot) throw new CliError('--wait needs --snapshot (there is nothing to wait for without one)');
      const g = globals(cmd);
      const input = await readBlueprintFile(opts.file);
      normalizeFile(opts.file, input);
      const c = connect(cmd);
      const working = (await c.putWorking(opts.project, input)) as Blueprints;
      const result: { project: string; working: string[]; snapshot?: unknown; unchanged_since?: number; job?: JobBody } = { project: opts.project, working: Object.keys(working) };
      if (!g.json) out(`working copy of ${opts.project}: ${Object.keys(working).length} blueprint(s) (${Object.keys(working).join(', ') || 'none'})`);
      if (opts.snapshot) {
        const { project_version: latest } = await c.versions(opts.project);
        const same = latest ? makePlan(opts.project, working, (await c.snapshotBlueprints(opts.project, latest)) as Blueprints).working.changes === 0 : false;
        if (same) {
          result.unchanged_since = latest!;
          if (!g.json) out(`the working copy equals snapshot v${latest}: no snapshot made`);
        } else {
          const created = await c.snapshot(opts.project);
          result.snapshot = created;
          if (!g.json) out(`snapshot v${created.project_version} created: every engine migrated${created.backfill?.job ? `; back-fill job ${created.backfill.job} (${created.backfill.total} items)` : ''}`);
          if (opts.wait && created.backfill?.job) {
            const job = await follow(c, created.backfill.job, g.json ?? false);
            result.job = job;
            if (job.state === 'failed') throw new CliError(`back-fill job ${job.id} failed: ${job.error ?? 'no reason given'}`);
            if (!g.json) out(`back-fill done: ${job.done} items (${job.skipped} skipped); v${created.project_version} is ready`);
          }
        }
      }
      if (g.json) json(result);
    });

  program
    .command('import')
    .description('store every item of an NDJSON file (one item per line) in bulk PUTs')
    .requiredOption('-p, --project <project>', 'the project')
    .requiredOption('-b, --blueprint <blueprint>', 'the blueprint of every line')
    .argument('<file>', 'NDJSON: one JSON item per line')
    .addOption(new Option('--batch <n>', 'items per bulk PUT').argParser(wholeNumber(1)).default(1000))
    .addOption(new Option('--concurrency <n>', 'bulk PUTs in flight').argParser(wholeNumber(1)).default(4))
    .addOption(new Option('--project-version <n>', 'project_version for lines that name none (default: the latest)').argParser(wholeNumber(1)))
    .action(async (file: string, opts: { project: string; blueprint: string; batch: number; concurrency: number; projectVersion?: number }, cmd: Command) => {
      const g = globals(cmd);
      const c = connect(cmd);
      const version = opts.projectVersion ?? (await c.versions(opts.project)).project_version ?? undefined;
      const bar = progress('import', { json: g.json ?? false, tty: io.tty }, io.stderr);
      try {
        const r = await importNdjson(c, {
          project: opts.project,
          blueprint: opts.blueprint,
          file,
          batch: opts.batch,
          concurrency: opts.concurrency,
          version,
          progress: ({ bytes, totalBytes, stored }) => bar.update(bytes, totalBytes, `bytes, ${stored} items`),
        });
        bar.stop();
        const perSecond = r.stored / Math.max(r.seconds, 0.001);
        if (g.json) json({ project: opts.project, blueprint: opts.blueprint, stored: r.stored, lines: r.lines, seconds: r.seconds, items_per_s: Math.round(perSecond) });
        else out(`imported ${r.stored} item(s) from ${file} into ${opts.project}/${opts.blueprint} in ${r.seconds.toFixed(1)} s (${Math.round(perSecond)} items/s)`);
      } catch (err) {
        bar.stop();
        if (err instanceof ImportRefused) throw new CliError(`${file} line ${err.line}: ${err.reason}; ${err.stored} item(s) of other batches were stored`);
        throw err;
      }
    });

  program
    .command('status')
    .description('engines, queue lag, projects and their versions, jobs, dead letters')
    .option('-p, --project <project>', 'one project only')
    .action(async (opts: { project?: string }, cmd: Command) => {
      const c = connect(cmd);
      const [{ body: health }, projects, jobs, letters] = await Promise.all([
        c.health(),
        opts.project ? c.versions(opts.project).then((v) => [{ name: opts.project!, ...v }]) : c.projects(),
        c.jobs(opts.project),
        c.deadLetters(),
      ]);
      const status = { url: c.url, health, projects, jobs: jobs.slice(0, 10), dead_letters: letters.length };
      if (globals(cmd).json) return json(status);
      out(`dstore at ${c.url}: ${health.status}`);
      for (const [name, e] of Object.entries(health.engines ?? {})) {
        const lane = health.queue?.engines?.[name];
        out(`  engine ${name}: ${e.status}${e.reason ? ` (${e.reason})` : ''}${lane ? `; ${lane.pending} pending, oldest ${lane.oldestPendingMs} ms` : ''}`);
      }
      if (health.queue) out(`  queue ${health.queue.kind ?? ''}: ${health.queue.status}${health.queue.pending !== undefined ? `, ${health.queue.pending} pending` : ''}${health.queue.reason ? ` (${health.queue.reason})` : ''}`);
      out(`  dead letters: ${letters.length}`);
      out(projects.length ? 'projects:' : 'projects: none');
      for (const p of projects) out(`  ${p.name}: latest v${p.project_version ?? '-'}; live ${p.versions.map((v) => `v${v}`).join(', ') || 'none'}${p.retired?.length ? `; retired ${p.retired.map((v) => `v${v}`).join(', ')}` : ''}`);
      out(jobs.length ? 'jobs (newest first):' : 'jobs: none');
      for (const j of jobs.slice(0, 10)) out(`  ${describeJob(j)}`);
    });

  program
    .command('jobs')
    .description('list jobs (newest first), or show one; --wait follows it')
    .argument('[id]', 'a job id')
    .option('-p, --project <project>', 'only this project')
    .option('--wait', 'with an id: follow the job until it ends')
    .action(async (id: string | undefined, opts: { project?: string; wait?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const c = connect(cmd);
      if (!id) {
        if (opts.wait) throw new CliError('--wait needs a job id');
        const list = await c.jobs(opts.project);
        if (g.json) return json(list);
        if (!list.length) out('no jobs');
        for (const j of list) out(describeJob(j));
        return;
      }
      const job = opts.wait ? await follow(c, id, g.json ?? false) : await c.job(id);
      if (g.json) json(job);
      else out(describeJob(job));
      if (job.state === 'failed') outcome = 1;
    });

  const deadletter = program.command('deadletter').description('writes that an engine kept refusing');
  deadletter
    .command('list')
    .description('list the dead letters')
    .action(async (_opts: unknown, cmd: Command) => {
      const letters = await connect(cmd).deadLetters();
      if (globals(cmd).json) return json(letters);
      if (!letters.length) out('no dead letters');
      for (const l of letters) out(`${l.id}  ${l.failedAt}  ${l.engine}  ${l.op} ${l.project}/${l.blueprint}/${l.item_id}: ${l.reason}`);
    });
  deadletter
    .command('replay')
    .description('put dead letters back on the queue: all, or those named')
    .argument('[ids...]', 'dead-letter ids (all when none)')
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const replayed = await connect(cmd).replay(ids);
      if (globals(cmd).json) json({ replayed });
      else out(`replayed ${replayed} dead letter(s)`);
    });

  maintenanceCommands(program, { connect, json: (cmd) => globals(cmd).json ?? false, follow, out, print: json, exit: (code) => (outcome = code) });

  async function follow(c: DstoreClient, id: string, quiet: boolean): Promise<JobBody> {
    const bar = progress(`job ${id.slice(0, 8)}`, { json: quiet, tty: io.tty }, io.stderr);
    try {
      for (;;) {
        const job = await c.job(id);
        bar.update(job.done, job.total, `${job.kind} ${job.state}${job.items_per_s ? ` ${Math.round(job.items_per_s)}/s` : ''}`);
        if (job.state === 'done' || job.state === 'failed') return job;
        await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
      }
    } finally {
      bar.stop();
    }
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof ApiFailure || err instanceof Unreachable || err instanceof CliError || err instanceof PlanInputError ? err.message : `${(err as Error).message ?? String(err)}`;
    io.stderr.write(`dstore: ${message.split('\n')[0]}\n`);
    return 1;
  } finally {
    await (client as DstoreClient | null)?.close();
  }
}

function describeJob(j: JobBody): string {
  return `${j.id}  ${j.kind} ${j.project}${j.version ? ` v${j.version}` : ''}  ${j.state}  ${j.done}/${j.total}${j.skipped ? ` (${j.skipped} skipped)` : ''}  started ${j.started_at}${j.finished_at ? `, finished ${j.finished_at}` : ''}${j.error ? `: ${j.error}` : ''}`;
}
