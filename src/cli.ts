import { runCli } from './cli/program.ts';

const outcome = await runCli(process.argv.slice(2));
// a server keeps running; a command ends with its exit code once its output is written
if (outcome !== 'serving') process.exitCode = outcome;
