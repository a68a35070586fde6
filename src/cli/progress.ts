import cliProgress from 'cli-progress';

/** How long work reports itself: a bar on a terminal, a plain line every few seconds otherwise, nothing with --json. */
export interface Progress {
  update(done: number, total: number, detail?: string): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 2000;

export function progress(label: string, mode: { json: boolean; tty: boolean }, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (mode.json) return { update() {}, stop() {} };
  if (mode.tty) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} {detail}`, stream, hideCursor: true, etaBuffer: 50, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail = '') {
        if (!started) {
          bar.start(Math.max(total, 1), done, { detail });
          started = true;
        } else {
          bar.setTotal(Math.max(total, 1));
          bar.update(done, { detail });
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  // a short run prints nothing but its result
  let last = Date.now();
  let printed = false;
  let latest = '';
  return {
    update(done, total, detail = '') {
      latest = `${label}: ${done}/${total}${total ? ` (${Math.floor((done / total) * 100)}%)` : ''}${detail ? ` ${detail}` : ''}`;
      const now = Date.now();
      if (now - last >= PLAIN_EVERY_MS) {
        last = now;
        printed = true;
        stream.write(`${latest}\n`);
      }
    },
    stop() {
      if (latest && printed) stream.write(`${latest}\n`);
    },
  };
}
