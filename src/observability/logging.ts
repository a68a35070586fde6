import { pino, type Logger } from 'pino';

/** Levels LOG_LEVEL takes (pino's own, plus `silent` to turn logging off). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths pino blanks in every line: secrets may reach a log through an error's
 * details or a request object, never through the lines dstore writes itself.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  'token',
  'apiKey',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.authorization',
];

/** The process's one logger: one JSON line per event, on stdout. */
export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The `log(msg)` callback the stores, queues and jobs take, written through the logger. */
export function logLine(logger: Logger): (msg: string) => void {
  return (msg: string) => logger.info(msg);
}
