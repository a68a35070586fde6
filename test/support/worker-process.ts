// A dstore worker as its own process, for tests and benchmarks that need several:
// `node --import tsx test/support/worker-process.ts` with the worker's environment
// (QUEUE_CONNECTIONSTRING, STORES, LEVEL_PATH, WORKER_ID, QUEUE_PREFIX …).
// Prints "worker ready" once it consumes; SIGTERM stops it the way `dstore worker` does.
import { readConfig } from '../../src/config.ts';
import { start } from '../../src/main.ts';

const running = await start(readConfig(process.env, 'worker'));
console.log('worker ready');
process.once('SIGTERM', () => {
  running.stop().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`worker stop failed: ${err.message}`);
      process.exit(1);
    },
  );
});
