// Logging: pino JSON lines on stdout (what Kubernetes collects), readable lines when stdout is a
// terminal. One logger is built per entry point and passed down; there is no module-level logger.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  /** Adds per-file lines (debug level). Default false. */
  verbose?: boolean;
  /** Force pretty (true) or JSON (false). Default: pretty when stdout is a TTY. */
  pretty?: boolean;
  /** Where to write; default stdout. Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
  /** Silence everything (tests). */
  silent?: boolean;
}

/** Keys whose values are never written to a log line. */
export const REDACT_PATHS = [
  'password',
  'pass',
  'token',
  'dsn',
  'dbDsn',
  'natsToken',
  'natsPassword',
  '*.password',
  '*.pass',
  '*.token',
  '*.dsn',
  '*.dbDsn',
];

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.silent ? 'silent' : opts.verbose ? 'debug' : 'info';
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: undefined };
  const pretty = opts.pretty ?? (!opts.destination && process.stdout.isTTY === true);
  if (pretty) {
    // In-process and synchronous (not a transport worker), so no line is lost on process.exit.
    // Loaded only here: a CronJob never needs it, and it takes 25 ms to load.
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(
      base,
      pinoPretty({
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
        destination: 1,
      }),
    );
  }
  if (opts.destination) return pino(base, opts.destination);
  return pino(base, pino.destination({ fd: 1, sync: true }));
}
