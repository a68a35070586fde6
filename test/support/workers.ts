import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Worker {
  id: string;
  levelPath: string;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** A real `dstore worker` process (test/support/worker-process.ts) keeping its own LevelDB copy at `levelPath`. */
export async function spawnWorker(env: Record<string, string>, id: string, levelPath: string): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
    cwd: ROOT,
    env: { ...process.env, STORES: 'level', ...env, LEVEL_PATH: levelPath, WORKER_ID: id, ROLE: 'worker' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${id} not ready in 30 s:\n${output.join('')}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join('').includes('worker ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then(() => reject(new Error(`worker ${id} exited early:\n${output.join('')}`)));
  });
  return {
    id,
    levelPath,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      assert.equal(child.exitCode, 0, `worker ${id} stopped cleanly:\n${output.join('')}`);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
