// `ha-sync ui` / `ha-sync-ui`: serves the dashboard (docs/dashboard.md). Reads the audit store,
// MySQL from --db-dsn / HA_SYNC_DB_DSN or the embedded SQLite file in --log-dir, and never writes
// to it. Runs until SIGTERM / SIGINT, then stops accepting requests, lets open ones finish, and
// exits 0. A store that is down does not stop it: /readyz answers 503 until the store is back.
import { openAuditReader, parseDsn } from '../audit/index.js';
import { systemClock } from '../clock.js';
import { natsBusOptions, natsFlags, openBus, resolveNatsConfig, type NatsConfig } from '../bus/index.js';
import { auditFlags, flagHelp, intFlag, pairFlag, parseFlags, type FlagSpecs } from '../config/index.js';
import { HealthBoard } from '../health/index.js';
import { EXIT, usage } from '../errors.js';
import { createLogger } from '../log.js';
import { buildApp } from '../ui/index.js';
import type { CliContext } from './context.js';

export const uiFlags = {
  port: { type: 'string', valueName: 'n', default: '8080', help: 'TCP port to listen on (0: any free port)' },
  host: {
    type: 'string',
    valueName: 'addr',
    default: '127.0.0.1',
    help: 'Address to listen on (0.0.0.0: every interface, as in the cluster)',
  },
  'db-dsn': auditFlags['db-dsn'],
  'log-dir': {
    ...auditFlags['log-dir'],
    help: 'Directory of the embedded SQLite audit (used when no --db-dsn is given)',
  },
  'schedule-minutes': {
    type: 'string',
    valueName: 'n',
    default: '15',
    help: 'Expected minutes between real syncs of a pair; a pair without a successful one for twice this long is stale',
  },
  'pair-schedule': {
    type: 'string',
    valueName: 'pair=minutes',
    multiple: true,
    help: 'The schedule of one pair when it differs from --schedule-minutes, e.g. media=60',
  },
  live: {
    type: 'boolean',
    help: "Show live health: listen to the watchers' and appliers' heartbeats on NATS (the --nats-* flags)",
  },
  ...natsFlags,
  verbose: { type: 'boolean', short: 'v', help: 'Log at debug level' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

const MAX_SCHEDULE_MINUTES = 7 * 24 * 60;

export interface UiConfig {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  /** MySQL DSN, or undefined for the SQLite file in logDir. Never log it. */
  readonly dbDsn: string | undefined;
  readonly logDir: string;
  readonly scheduleMinutes: number;
  /** Per-pair schedule overrides, minutes. */
  readonly pairScheduleMinutes: Readonly<Record<string, number>>;
  /** Where to hear heartbeats (--live), or null. */
  readonly nats: NatsConfig | null;
  readonly verbose: boolean;
}

/**
 * Parses and validates the flags without touching the network or the filesystem (the DSN's syntax
 * is checked, not the database). Throws HaSyncError('USAGE') with one line.
 */
export function parseUiArgs(argv: string[], env: NodeJS.ProcessEnv): UiConfig {
  const { values } = parseFlags(argv, uiFlags, { env });
  const defaults = {
    port: 8080,
    // Only this machine, unless asked: the dashboard has no login and shows file names.
    host: '127.0.0.1',
    dbDsn: undefined,
    logDir: uiFlags['log-dir'].default,
    scheduleMinutes: 15,
    pairScheduleMinutes: Object.freeze({}),
    nats: null,
    verbose: false,
  };
  if (values.help) return Object.freeze({ ...defaults, help: true });
  const host = values.host ?? defaults.host;
  if (host.trim() === '' || /\s/.test(host))
    throw usage(`--host: expected an address such as 0.0.0.0, got '${host}'`);
  const dbDsn =
    values['db-dsn'] === undefined || values['db-dsn'].trim() === '' ? undefined : values['db-dsn'];
  if (dbDsn !== undefined) parseDsn(dbDsn);
  const logDir = values['log-dir'] ?? defaults.logDir;
  if (logDir === '') throw usage('--log-dir: expected a directory path, got an empty value');
  const pairScheduleMinutes: Record<string, number> = {};
  for (const entry of values['pair-schedule']) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw usage(`--pair-schedule: expected pair=minutes such as media=60, got '${entry}'`);
    const pair = pairFlag('pair-schedule', entry.slice(0, eq));
    pairScheduleMinutes[pair] = intFlag('pair-schedule', entry.slice(eq + 1), 1, MAX_SCHEDULE_MINUTES);
  }
  return Object.freeze({
    help: false,
    port: intFlag('port', values.port, 0, 65535, 8080),
    host,
    dbDsn,
    logDir,
    scheduleMinutes: intFlag('schedule-minutes', values['schedule-minutes'], 1, MAX_SCHEDULE_MINUTES, 15),
    pairScheduleMinutes: Object.freeze(pairScheduleMinutes),
    nats: values.live ? resolveNatsConfig(values) : null,
    verbose: values.verbose,
  });
}

export function uiHelp(): string {
  return [
    'ha-sync ui (also: ha-sync-ui): serve the dashboard of what was synced, when, and what failed.',
    '',
    'Usage: ha-sync ui [--port 8080] [--db-dsn <dsn> | --log-dir <path>] [--schedule-minutes 15]',
    '',
    'Flags:',
    flagHelp(uiFlags),
    '',
    'Routes: / (the page), /api/pairs, /api/iterations, /api/operations, /api/health, /healthz, /readyz, /metrics.',
    'It only reads the audit store. See docs/dashboard.md.',
  ].join('\n');
}

export async function uiCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseUiArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(uiHelp() + '\n');
    return EXIT.OK;
  }
  const log = createLogger({ verbose: cfg.verbose });
  const reader = await openAuditReader({ dsn: cfg.dbDsn, logDir: cfg.logDir, log });
  let app: ReturnType<typeof buildApp> | undefined;
  // Live health: heartbeats heard on NATS (a bus that cannot connect retries in the background).
  const board = cfg.nats ? new HealthBoard(systemClock, log) : null;
  const bus = cfg.nats
    ? await openBus({ ...natsBusOptions(cfg.nats), logger: log, name: 'ha-sync-ui' })
    : null;
  const stopLive = new AbortController();
  const listening = board && bus ? board.listen(bus, stopLive.signal) : Promise.resolve();
  try {
    app = buildApp({
      reader,
      ...(board ? { health: board } : {}),
      clock: systemClock,
      schedule: { defaultMinutes: cfg.scheduleMinutes, perPairMinutes: cfg.pairScheduleMinutes },
      log,
      processMetrics: true,
    });
    if (ctx.signal.aborted) return EXIT.OK;
    const address = await app.listen({ port: cfg.port, host: cfg.host });
    log.info({ address, store: reader.kind }, 'dashboard listening');
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info('stopping the dashboard');
    return EXIT.OK;
  } finally {
    // The reader is closed even when building or closing the server failed.
    try {
      await app?.close();
    } finally {
      stopLive.abort();
      await listening.catch(() => undefined);
      await bus?.close();
      await reader.close();
    }
  }
}
