// `ha-sync apply`: the live applier of one pair. Consumes both sides' change events from NATS
// JetStream and makes the two sides equal, holding the pair's lock only while there is work
// (docs/live-sync.md). Runs until SIGTERM / SIGINT, then finishes in-flight operations and audit
// windows, releases the lock and exits 0.
import { existsSync } from 'node:fs';
import { Applier, fsOpsAdapter, type ApplierDeps } from '../applier/index.js';
import { openAudit, type FlushReport } from '../audit/index.js';
import { openBaseline, orientedBaseline, reopeningBaseline, type BaselineStore } from '../baseline/index.js';
import {
  natsBusOptions,
  natsFlags,
  openBus,
  resolveNatsConfig,
  type EventBus,
  type NatsConfig,
} from '../bus/index.js';
import { HEARTBEAT_MS, LiveMetrics, publishBeats, serveMetrics, type Beat } from '../health/index.js';
import { systemClock } from '../clock.js';
import {
  auditFlags,
  disjointDirs,
  dirFlag,
  logDirOutside,
  flagHelp,
  intFlag,
  keepVersionsDaysFlag,
  keepVersionsFlags,
  labelFlag,
  lockFlags,
  numberFlag,
  pairFlag,
  parseFlags,
  resolveAuditConfig,
  resolveLockConfig,
  type AuditConfig,
  type FlagSpecs,
  type LockConfig,
} from '../config/index.js';
import { EXIT, HaSyncError, errorMessage, usage } from '../errors.js';
import { holderIdentity, openLock, type Lock } from '../lock/index.js';
import { createLogger } from '../log.js';
import { stateDirProblem } from '../reconciler/index.js';
import type { CliContext } from './context.js';

/** The applier's own lock TTL default: short, so a crashed applier blocks the reconciler briefly. */
export const APPLY_LOCK_TTL_SECONDS = 30;

export const sideFlags = {
  a: {
    type: 'string',
    valueName: 'label=path',
    help: 'First side: its label (e.g. dell) and root directory',
  },
  b: { type: 'string', valueName: 'label=path', help: 'Second side: its label (e.g. hp) and root directory' },
  'mtime-threshold': {
    type: 'string',
    valueName: 'seconds',
    default: '2',
    help: 'mtimes closer than this are equal (as the reconciler)',
  },
  'delete-missing': {
    type: 'boolean',
    help: "Propagate deletes: remove the other side's copy when it still holds the version the baseline recorded (it is kept as a version)",
  },
  workers: { type: 'string', valueName: 'n', default: '4', help: 'Operations at once' },
  window: {
    type: 'string',
    valueName: 'seconds',
    default: '300',
    help: 'Audit activity window: one iteration per direction per window',
  },
  'idle-release': {
    type: 'string',
    valueName: 'seconds',
    default: '5',
    help: 'Release the lock after this long without work',
  },
  ...keepVersionsFlags,
  verbose: { type: 'boolean', short: 'v', help: 'Log every event decision (debug level)' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

export const applyFlags = {
  pair: {
    type: 'string',
    valueName: 'name',
    help: 'Pair name (e.g. media); names the lock and the subjects',
  },
  ...sideFlags,
  ...natsFlags,
  'ack-wait': {
    type: 'string',
    valueName: 'seconds',
    default: '30',
    hidden: true,
    help: 'JetStream ack wait of the durable consumer: an unsettled event is redelivered after it',
  },
  'metrics-port': {
    type: 'string',
    valueName: 'port',
    default: '0',
    help: 'Serve Prometheus /metrics on this port, all interfaces (the cluster uses 9464); 0: none',
  },
  ...auditFlags,
  ...lockFlags,
  'lock-ttl': {
    ...lockFlags['lock-ttl'],
    default: String(APPLY_LOCK_TTL_SECONDS),
    help: 'Lock duration while applying; renewed every ttl/3 (the applier holds it only while there is work)',
  },
} as const satisfies FlagSpecs;

export interface Side {
  readonly label: string;
  readonly root: string;
}

/** `label=path`: a side label (lowercase, digits, '-') and a root path (checked later). */
export function sideFlag(name: string, v: string | undefined): Side {
  if (v === undefined || v === '')
    throw usage(`--${name} is required: label=path, e.g. dell=/mnt/dell/media`);
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1)
    throw usage(`--${name}: expected label=path (e.g. dell=/mnt/dell/media), got '${v}'`);
  return Object.freeze({ label: labelFlag(name, v.slice(0, i)), root: v.slice(i + 1) });
}

export interface LiveOptions {
  readonly a: Side;
  readonly b: Side;
  readonly deleteMissing: boolean;
  readonly mtimeThresholdMs: number;
  readonly workers: number;
  readonly windowMs: number;
  readonly idleReleaseMs: number;
  readonly verbose: boolean;
  /** Kept versions older than this many days are removed; 0 keeps none. Default 30. */
  readonly keepVersionsDays: number;
}

export interface ApplyConfig extends LiveOptions {
  readonly help: boolean;
  readonly pair: string;
  readonly nats: NatsConfig;
  readonly ackWaitMs: number;
  /** Port of /metrics; 0: none. */
  readonly metricsPort: number;
  readonly audit: AuditConfig;
  readonly lock: LockConfig;
}

/** The side, threshold and worker flags shared by apply and run. */
export function resolveLiveOptions(v: {
  a: string | undefined;
  b: string | undefined;
  'mtime-threshold': string | undefined;
  'delete-missing': boolean;
  workers: string | undefined;
  window: string | undefined;
  'idle-release': string | undefined;
  verbose: boolean;
  'keep-versions-days': string | undefined;
}): LiveOptions {
  const a = sideFlag('a', v.a);
  const b = sideFlag('b', v.b);
  if (a.label === b.label) throw usage(`--a and --b need different labels, both are '${a.label}'`);
  return {
    a,
    b,
    deleteMissing: v['delete-missing'],
    mtimeThresholdMs: Math.round(numberFlag('mtime-threshold', v['mtime-threshold'], 0, 86400, 2) * 1000),
    workers: intFlag('workers', v.workers, 1, 256, 4),
    windowMs: intFlag('window', v.window, 1, 86400, 300) * 1000,
    idleReleaseMs: intFlag('idle-release', v['idle-release'], 1, 25, 5) * 1000,
    verbose: v.verbose,
    keepVersionsDays: keepVersionsDaysFlag(v['keep-versions-days']),
  };
}

/** Validates apply's flags without touching the filesystem or the network. */
export function parseApplyArgs(argv: string[], env: NodeJS.ProcessEnv): ApplyConfig {
  const { values } = parseFlags(argv, applyFlags, { env });
  if (values.help) return Object.freeze({ help: true } as ApplyConfig);
  return Object.freeze({
    help: false,
    pair: pairFlag('pair', values.pair),
    ...resolveLiveOptions(values),
    nats: resolveNatsConfig(values),
    ackWaitMs: intFlag('ack-wait', values['ack-wait'], 1, 3600, 30) * 1000,
    metricsPort: intFlag('metrics-port', values['metrics-port'], 0, 65535, 0),
    audit: resolveAuditConfig(values),
    lock: resolveLockConfig(values),
  });
}

/** Checks both roots exist, do not overlap, and do not hold the log dir; returns them absolute. */
export function checkRoots(a: Side, b: Side, logDir: string): { a: Side; b: Side } {
  const ra = { label: a.label, root: dirFlag('a', a.root, `${a.label} root`) };
  const rb = { label: b.label, root: dirFlag('b', b.root, `${b.label} root`) };
  disjointDirs('a', ra.root, 'b', rb.root);
  logDirOutside(logDir, [
    ['a', ra.root],
    ['b', rb.root],
  ]);
  return { a: ra, b: rb };
}

/**
 * The start shared by `apply` and `run`: flush opslogs an earlier process left, clean old ones,
 * open the pair's lock, and build the applier over checked roots.
 */
export async function startApplier(
  cfg: LiveOptions & { readonly pair: string; readonly audit: AuditConfig; readonly lock: LockConfig },
  roots: { a: Side; b: Side },
  holder: string,
  deps: Omit<ApplierDeps, 'lock' | 'fs'> & { env: NodeJS.ProcessEnv },
): Promise<{ applier: Applier; lock: Lock; flushed: FlushReport; baseline: BaselineStore | null }> {
  const { audit, clock, log, env } = deps;
  const unsafe = await stateDirProblem([roots.a, roots.b]);
  if (unsafe) throw new HaSyncError('STATE_DIR_UNSAFE', unsafe);
  const flushed = await audit.flushPending();
  await audit.cleanOldOpslogs(cfg.audit.logRetainDays);
  const lock = await openLock({ ...cfg.lock, pair: cfg.pair, logDir: cfg.audit.logDir, clock, log, env });
  // A long-lived process: a store that cannot be opened now (the database is down) is opened again
  // later, so the applier runs in safe mode only until it is back, not for the rest of its life.
  const openStore = async (): Promise<BaselineStore> =>
    orientedBaseline(
      await openBaseline({ pair: cfg.pair, dsn: cfg.audit.dbDsn ?? null, logDir: cfg.audit.logDir, log }),
      roots.a.label,
      roots.b.label,
    );
  let baseline: BaselineStore;
  try {
    baseline = await openStore();
  } catch (err) {
    log.warn(
      { err: errorMessage(err) },
      'baseline unavailable: deciding without it (newest wins, nothing deleted) until it is back',
    );
    baseline = reopeningBaseline(cfg.audit.dbDsn ? 'mysql' : 'sqlite', openStore);
  }
  const applier = new Applier(
    {
      pair: cfg.pair,
      a: roots.a,
      b: roots.b,
      deleteMissing: cfg.deleteMissing,
      mtimeThresholdMs: cfg.mtimeThresholdMs,
      workers: cfg.workers,
      windowMs: cfg.windowMs,
      idleReleaseMs: cfg.idleReleaseMs,
      keepVersionsDays: cfg.keepVersionsDays,
      holder,
    },
    { ...deps, lock, fs: fsOpsAdapter(undefined, (line) => log.warn(line)), baseline },
  );
  return { applier, lock, flushed, baseline };
}

export async function applyCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseApplyArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      'Usage: ha-sync apply --pair <name> --a <label>=<path> --b <label>=<path> [flags]\n\n' +
        "Consumes both sides' change events from NATS JetStream and makes the two sides equal.\n\n" +
        flagHelp(applyFlags) +
        '\n',
    );
    return EXIT.OK;
  }
  const { a, b } = checkRoots(cfg.a, cfg.b, cfg.audit.logDir);
  const log = createLogger({ verbose: cfg.verbose });
  if (!existsSync(cfg.audit.logDir)) {
    throw usage(`--log-dir: '${cfg.audit.logDir}' does not exist (it holds the opslogs and the lock file)`);
  }
  const clock = systemClock;
  const audit = await openAudit({ dsn: cfg.audit.dbDsn, logDir: cfg.audit.logDir, log, clock });
  const bus = await openBus({
    ...natsBusOptions(cfg.nats),
    ackWaitMs: cfg.ackWaitMs,
    logger: log,
    clock,
    name: `ha-sync-apply-${cfg.pair}`,
  }).catch(async (err: unknown) => {
    // NATS unreachable: the audit store is already open; close it before reporting.
    await audit.close().catch(() => undefined);
    throw err;
  });
  let baseline: BaselineStore | null = null;
  try {
    const started = await startApplier(cfg, { a, b }, holderIdentity(`apply-${process.pid}`, ctx.env), {
      bus,
      audit,
      clock,
      log,
      env: ctx.env,
    });
    const { applier, flushed } = started;
    baseline = started.baseline;
    if (flushed.flushed || flushed.waiting) log.info({ ...flushed }, 'earlier opslogs flushed');
    const stop = new AbortController();
    const live = AbortSignal.any([ctx.signal, stop.signal]);
    const metrics = new LiveMetrics();
    if (cfg.metricsPort > 0) await serveMetrics(cfg.metricsPort, metrics.registry, log, live);
    const beating = publishBeats(bus, () => applierBeat(applier, bus, metrics, clock.now()), {
      clock,
      log,
      signal: live,
    });
    try {
      await applier.run(ctx.signal);
    } finally {
      stop.abort();
      await beating;
    }
    log.info({ pair: cfg.pair, ...applier.stats }, 'applier stopped');
    return EXIT.OK;
  } catch (err) {
    log.error(`applier failed: ${errorMessage(err)}`);
    return EXIT.FAILED;
  } finally {
    await bus.close().catch(() => undefined);
    await baseline?.close().catch(() => undefined);
    await audit.close().catch(() => undefined);
  }
}

/** The applier's heartbeat, its /metrics brought up to date on the way. */
async function applierBeat(
  applier: Applier,
  bus: EventBus,
  metrics: LiveMetrics,
  now: number,
): Promise<Beat[]> {
  const pair = applier.config.pair;
  const pending = await bus.pending(pair).catch(() => 0);
  const b = applier.beat(now, HEARTBEAT_MS, pending);
  metrics.applier(b);
  metrics.sync(pair, applier.liveState.totals);
  return [b];
}
