// `ha-sync run`: live two-way sync of two folders on one machine with nothing else installed. One
// process holds both pollers, the in-process bus, the applier, the lock file and the SQLite audit.
// It first reconciles both trees against the pair's baseline (a two-way reconcile pass: what
// changed while it was down is carried over, deletes too with --delete-missing), then follows
// changes until SIGINT / SIGTERM, finishing in-flight operations before it exits 0.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { equalize, type Applier } from '../applier/index.js';
import { openAudit } from '../audit/index.js';
import type { BaselineStore } from '../baseline/index.js';
import { MemoryBus } from '../bus/index.js';
import { systemClock, type Clock } from '../clock.js';
import {
  auditFlags,
  flagHelp,
  intFlag,
  lockFlags,
  pairFlag,
  parseFlags,
  resolveAuditConfig,
  resolveLockConfig,
  type AuditConfig,
  type FlagSpecs,
  type LockConfig,
} from '../config/index.js';
import { EXIT, errorMessage, isHaSyncError, usage } from '../errors.js';
import { holderIdentity } from '../lock/index.js';
import { createLogger, type Logger } from '../log.js';
import { fileLedger, verifyRoots, type RootLedger } from '../reconciler/index.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../watcher/index.js';
import {
  APPLY_LOCK_TTL_SECONDS,
  checkRoots,
  resolveLiveOptions,
  startApplier,
  sideFlags,
  type LiveOptions,
  type Side,
} from './apply.js';
import type { CliContext } from './context.js';

export const runFlags = {
  pair: {
    type: 'string',
    valueName: 'name',
    default: 'local',
    help: 'Pair name: names the lock file and the audit rows',
  },
  ...sideFlags,
  'poll-interval': {
    type: 'string',
    valueName: 'ms',
    default: '500',
    help: 'How often the watchers re-check directories',
  },
  ...auditFlags,
  'log-dir': {
    ...auditFlags['log-dir'],
    default: '~/.local/state/ha-sync',
    help: 'Directory for the lock file, opslogs and the SQLite audit ($XDG_STATE_HOME/ha-sync when set)',
  },
  ...lockFlags,
  lock: { ...lockFlags.lock, default: 'file', help: 'Lock backend: file (default here) or lease' },
  'lock-ttl': { ...lockFlags['lock-ttl'], default: String(APPLY_LOCK_TTL_SECONDS) },
} as const satisfies FlagSpecs;

export interface RunConfig extends LiveOptions {
  readonly help: boolean;
  readonly pair: string;
  readonly pollIntervalMs: number;
  readonly audit: AuditConfig;
  readonly lock: LockConfig;
}

/** The default state directory: $XDG_STATE_HOME/ha-sync, else ~/.local/state/ha-sync. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'ha-sync');
  const home = env.HOME || homedir();
  return join(home, '.local', 'state', 'ha-sync');
}

/** Validates run's flags without touching the filesystem. */
export function parseRunArgs(argv: string[], env: NodeJS.ProcessEnv): RunConfig {
  const { values, given } = parseFlags(argv, runFlags, { env });
  if (values.help) return Object.freeze({ help: true } as RunConfig);
  let logDir = values['log-dir'];
  if (!given.has('log-dir')) logDir = defaultStateDir(env);
  else if (logDir?.startsWith('~/')) logDir = join(env.HOME || homedir(), logDir.slice(2));
  return Object.freeze({
    help: false,
    pair: pairFlag('pair', values.pair),
    ...resolveLiveOptions(values),
    pollIntervalMs: intFlag('poll-interval', values['poll-interval'], 50, 60_000, 500),
    audit: resolveAuditConfig({ ...values, 'log-dir': logDir }),
    lock: resolveLockConfig(values),
  });
}

export async function runCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseRunArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      'Usage: ha-sync run --a <label>=<path> --b <label>=<path> [flags]\n\n' +
        "Live two-way sync of two folders in one process: first reconciles both against the pair's\n" +
        'baseline (what changed while it was not running is carried over; a first run keeps\n' +
        'everything, newest wins), then follows changes until Ctrl-C.\n\n' +
        flagHelp(runFlags) +
        '\n',
    );
    return EXIT.OK;
  }
  const { a, b } = checkRoots(cfg.a, cfg.b, cfg.audit.logDir);
  try {
    mkdirSync(cfg.audit.logDir, { recursive: true });
  } catch (err) {
    throw usage(`--log-dir: cannot create '${cfg.audit.logDir}' (${errorMessage(err)})`);
  }
  const log = createLogger({ verbose: cfg.verbose });
  const clock = systemClock;
  const signal = ctx.signal;
  log.info(
    { a: `${a.label}=${a.root}`, b: `${b.label}=${b.root}`, state: cfg.audit.logDir },
    `ha-sync run: syncing ${a.root} <-> ${b.root}`,
  );

  const audit = await openAudit({ dsn: cfg.audit.dbDsn, logDir: cfg.audit.logDir, log, clock });
  const bus = new MemoryBus({ kind: 'memory', clock });
  const watchAbort = new AbortController();
  const stopWatchers = (): void => watchAbort.abort();
  signal.addEventListener('abort', stopWatchers, { once: true });
  // A watcher that fails stops the whole run: following only one side would be a silent half-sync.
  const watcherFailed = new AbortController();
  const runSignal = AbortSignal.any([signal, watcherFailed.signal]);
  let applier: Applier | undefined;
  let baseline: BaselineStore | null = null;
  let applierRunning = false;
  let watching: Promise<void> | undefined;
  try {
    const holder = holderIdentity(`run-${process.pid}`, ctx.env);
    const started = await startApplier(cfg, { a, b }, holder, {
      bus,
      audit,
      clock,
      log,
      env: ctx.env,
    });
    applier = started.applier;
    baseline = started.baseline;
    const { lock } = started;
    // Two `run`s of the same pair would take turns on every event: refuse the second one up front.
    try {
      const probe = await lock.acquire({ holder, waitSeconds: 0 });
      await probe.release();
    } catch (err) {
      if (!isHaSyncError(err, 'LOCK_HELD')) throw err;
      log.error(
        `another ha-sync process is syncing pair '${cfg.pair}' (${errorMessage(err)}); stop it first or use --pair`,
      );
      return EXIT.FAILED;
    }

    // Both roots must be the pair's (their markers; a first meeting marks them). A root without
    // its marker is waited for (a share not mounted yet); one that belongs elsewhere is an error.
    const ledger = fileLedger(cfg.audit.logDir, cfg.pair);
    const tempIds = await awaitRoots(cfg.pair, [a, b], baseline, { clock, log, signal, ledger });
    if (tempIds === 'foreign') return EXIT.FAILED;
    if (tempIds === null) return EXIT.OK;

    // Watchers first: their index is taken before the first pass, so a change made while the
    // sides are being equalised is still seen (and an echo of our own copies is absorbed).
    const wopts = {
      ...DEFAULT_WATCHER_OPTIONS,
      pollIntervalMs: cfg.pollIntervalMs,
      hotMs: Math.max(3000, cfg.pollIntervalMs * 3),
    };
    const watchers = [a, b].map(
      (s) =>
        new RootWatcher({ pair: cfg.pair, side: s.label, root: s.root }, wopts, { bus, clock, logger: log }),
    );
    log.info('scanning both sides');
    await Promise.all(watchers.map((w) => w.start(watchAbort.signal)));
    if (signal.aborted) return EXIT.OK;
    watching = Promise.all(watchers.map((w) => w.run(watchAbort.signal))).then(
      () => undefined,
      (err: unknown) => {
        log.error(`a watcher failed: ${errorMessage(err)}; stopping`);
        watcherFailed.abort(err);
      },
    );

    log.info("first pass: both trees against the pair's baseline (as a two-way reconcile run)");
    const equalizeStarted = clock.now();
    const report = await equalize(applier, { clock, log }, runSignal, tempIds);
    log.info(
      { ...report, seconds: Math.round((clock.now() - equalizeStarted) / 100) / 10 },
      `both sides equal: ${report.created} created, ${report.updated} updated, ${report.deleted} deleted` +
        (report.failed ? `, ${report.failed} not yet (retried live)` : '') +
        (report.safeMode ? ' (no baseline: newest won, nothing was deleted)' : ''),
    );

    if (!runSignal.aborted) {
      log.info(
        `following changes live${cfg.deleteMissing ? ' (deletes propagate)' : ' (deletes do not propagate: --delete-missing)'}; Ctrl-C to stop`,
      );
    }
    applierRunning = true; // run() finishes the applier (windows, lock) on every path
    await applier.run(runSignal);
    stopWatchers();
    await watching;
    if (watcherFailed.signal.aborted) return EXIT.FAILED;
    log.info({ ...applier.stats }, 'stopped cleanly');
    return EXIT.OK;
  } catch (err) {
    log.error(`run failed: ${errorMessage(err)}`);
    return EXIT.FAILED;
  } finally {
    stopWatchers();
    signal.removeEventListener('abort', stopWatchers);
    // On a failure before the live phase (equalize), in-flight copies, audit windows and the lock
    // are still the applier's: finish them before the audit and the bus close under them.
    if (applier && !applierRunning)
      await applier.close().catch((err: unknown) => log.error(`closing the applier: ${errorMessage(err)}`));
    await watching;
    await bus.close().catch(() => undefined);
    await baseline?.close().catch(() => undefined);
    await audit.close().catch(() => undefined);
  }
}

/**
 * Waits until both roots hold their markers (made now on a pair's first meeting): their ids, null
 * when stopped meanwhile, 'foreign' when a root belongs to another pair or side (logged).
 */
async function awaitRoots(
  pair: string,
  sides: readonly [Side, Side],
  baseline: BaselineStore | null,
  o: { clock: Clock; log: Logger; signal: AbortSignal; ledger: RootLedger },
): Promise<{ a: string; b: string } | 'foreign' | null> {
  let logged = '';
  while (!o.signal.aborted) {
    const v = await verifyRoots(pair, sides, baseline, {
      dryRun: false,
      log: o.log,
      nowMs: o.clock.now(),
      ledger: o.ledger,
    });
    if (v.ok) {
      if (logged) o.log.info('both roots hold their markers: starting');
      return { a: v.ids[0]!, b: v.ids[1]! };
    }
    if (v.foreign) {
      o.log.error(v.why);
      return 'foreign';
    }
    if (v.why !== logged) o.log.error(`${v.why}; waiting for it`);
    logged = v.why;
    try {
      await o.clock.sleep(2000, o.signal);
    } catch {
      break;
    }
  }
  return null;
}
