import { InvalidArgumentError, Option, type Command } from 'commander';
import type { DstoreClient, JobBody } from './client.ts';

/** What the verify and rebuild commands borrow from the program (program.ts). */
export interface CommandKit {
  connect(cmd: Command): DstoreClient;
  json(cmd: Command): boolean;
  /** Follows a job with a progress bar (a plain line when not on a terminal) until it ends. */
  follow(c: DstoreClient, id: string, quiet: boolean): Promise<JobBody>;
  out(line: string): void;
  print(value: unknown): void;
  exit(code: number): void;
}

interface IdList {
  total: number;
  ids: string[];
}
interface Tally {
  count: number;
  missing: IdList;
  extra: IdList;
  different: IdList;
  error?: string;
}
interface VerifyResult {
  agree: boolean;
  drift: number;
  blueprints: Array<{ version: number; blueprint: string; agree: boolean; engines: Record<string, Tally> }>;
}

const ENGINES = ['elasticsearch', 'postgresql', 'level'];

function engineName(raw: string): string {
  if (!ENGINES.includes(raw)) throw new InvalidArgumentError(`must be one of ${ENGINES.join(', ')}`);
  return raw;
}

function version(raw: string): number {
  if (!/^[1-9]\d*$/.test(raw)) throw new InvalidArgumentError('must be a version number (1, 2, …)');
  return Number(raw);
}

function listed(kind: string, list: IdList): string | null {
  if (!list.total) return null;
  const more = list.total > list.ids.length ? `, and ${list.total - list.ids.length} more` : '';
  return `${kind} ${list.total}: ${list.ids.join(', ')}${more}`;
}

/** The verify report as a reviewer reads it: one line per blueprint, then per engine that disagrees, the ids. */
export function formatVerify(project: string, result: VerifyResult): string[] {
  const lines: string[] = [];
  for (const b of result.blueprints) {
    const counts = Object.entries(b.engines).map(([engine, t]) => `${engine} ${t.error ? '?' : t.count}`).join(', ');
    lines.push(`${project} v${b.version} ${b.blueprint}: ${b.agree ? 'all agree' : 'DRIFT'} (${counts})`);
    for (const [engine, t] of Object.entries(b.engines)) {
      if (t.error) lines.push(`  ${engine}: not read: ${t.error}`);
      const parts = [listed('missing', t.missing), listed('extra', t.extra), listed('different', t.different)].filter((p): p is string => p !== null);
      if (parts.length) lines.push(`  ${engine}: ${parts.join('; ')}`);
    }
  }
  lines.push(result.agree ? 'every engine and LevelDB copy agrees' : `${result.drift} id(s) differ between the engines: repair with dstore rebuild -p ${project} --engine <engine>`);
  return lines;
}

/** `dstore verify` and `dstore rebuild` (SPEC §12): each starts its job and follows it. */
export function maintenanceCommands(program: Command, kit: CommandKit): void {
  program
    .command('verify')
    .description('compare every engine and every LevelDB copy item by item (exit 0: all agree, 1: drift or failure)')
    .requiredOption('-p, --project <project>', 'the project')
    .addOption(new Option('--project-version <n>', 'one live version only (default: every live version)').argParser(version))
    .action(async (opts: { project: string; projectVersion?: number }, cmd: Command) => {
      const c = kit.connect(cmd);
      const quiet = kit.json(cmd);
      const { body: started } = await c.call<JobBody>('POST', `/${encodeURIComponent(opts.project)}/_verify`, opts.projectVersion ? { version: opts.projectVersion } : undefined);
      const job = (await kit.follow(c, started.id, quiet)) as JobBody & { result?: VerifyResult };
      if (job.state === 'failed' || !job.result) throw new Error(`verify job ${job.id} failed: ${job.error ?? 'no result'}`);
      if (quiet) kit.print(job);
      else for (const line of formatVerify(opts.project, job.result)) kit.out(line);
      kit.exit(job.result.agree ? 0 : 1);
    });

  program
    .command('rebuild')
    .description('refill one engine (or one worker\'s LevelDB copy) from another while writes go on')
    .requiredOption('-p, --project <project>', 'the project')
    .requiredOption('--engine <engine>', 'the engine to rebuild: elasticsearch, postgresql or level', engineName)
    .option('--from <engine>', 'the engine to read from (default: the first of postgresql, level, elasticsearch other than --engine)', engineName)
    .option('--worker <id>', 'with --engine level: the WORKER_ID whose LevelDB copy is rebuilt')
    .addOption(new Option('--project-version <n>', 'one live version only (default: every live version)').argParser(version))
    .action(async (opts: { project: string; engine: string; from?: string; worker?: string; projectVersion?: number }, cmd: Command) => {
      const c = kit.connect(cmd);
      const quiet = kit.json(cmd);
      const body = { engine: opts.engine, ...(opts.from ? { from: opts.from } : {}), ...(opts.worker ? { worker: opts.worker } : {}), ...(opts.projectVersion ? { version: opts.projectVersion } : {}) };
      const { body: started } = await c.call<JobBody & { from?: string }>('POST', `/${encodeURIComponent(opts.project)}/_rebuild`, body);
      if (!quiet) kit.out(`rebuilding ${opts.engine}${opts.worker ? ` (worker ${opts.worker})` : ''} of ${opts.project} from ${started.from ?? opts.from ?? '?'}: ${started.total} item(s), job ${started.id}`);
      const job = (await kit.follow(c, started.id, quiet)) as JobBody & { result?: { copied: number; repaired: number; deleted: number; from: string; engine: string } };
      if (job.state === 'failed' || !job.result) throw new Error(`rebuild job ${job.id} failed: ${job.error ?? 'no result'}`);
      if (quiet) kit.print(job);
      else kit.out(`rebuilt ${job.result.engine} from ${job.result.from}: ${job.result.copied} copied, ${job.result.repaired} repaired, ${job.result.deleted} deleted; check with dstore verify -p ${opts.project}`);
    });
}
