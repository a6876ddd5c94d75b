// `ha-sync [reconcile] --src <dir> --dest <dir> --pair <name> [flags]` (one-way, the seed's CronJob)
// and `ha-sync reconcile --a L=DIR --b L=DIR ...` (two-way): one run over both trees against the
// pair's baseline. Flags and defaults follow the seed's CLI; --max-delete, --force, --a/--b and
// --keep-versions-days are ours. parseReconcileArgs is pure (no filesystem): existence checks happen in the command.
import { resolve } from 'node:path';
import type { FlagSpecs } from '../config/index.js';
import {
  auditFlags,
  disjointDirs,
  dirFlag,
  logDirOutside,
  flagHelp,
  intFlag,
  labelFlag,
  lockFlags,
  numberFlag,
  pairFlag,
  parseFlags,
  keepVersionsDaysFlag,
  keepVersionsFlags,
  requireFlag,
  resolveAuditConfig,
  resolveLockConfig,
} from '../config/index.js';
import { errorMessage, usage } from '../errors.js';
import { createLogger } from '../log.js';
import type { ReconcileConfig } from '../reconciler/index.js';
import { ProgressCount, RECONCILE_DEFAULTS, runReconcile } from '../reconciler/index.js';
import { natsBusOptions, natsFlags, openBus, resolveNatsConfig, type NatsConfig } from '../bus/index.js';
import { systemClock } from '../clock.js';
import { HEARTBEAT_MS, beatSubject, encodeBeat, publishBeats, type ReconcileBeat } from '../health/index.js';
import type { Logger } from '../log.js';
import { sideFlag } from './apply.js';
import type { CliContext } from './context.js';

export const reconcileFlags = {
  src: { type: 'string', valueName: 'path', help: 'Source directory (one-way form; with --dest)' },
  dest: { type: 'string', valueName: 'path', help: 'Destination directory (one-way form; with --src)' },
  a: {
    type: 'string',
    valueName: 'label=path',
    help: 'Two-way form (with --b): first side, its label (e.g. dell) and root directory',
  },
  b: { type: 'string', valueName: 'label=path', help: 'Two-way form: second side (e.g. hp=/mnt/hp/media)' },
  pair: {
    type: 'string',
    valueName: 'name',
    help: 'Pair name, e.g. media: lowercase letters, digits, - (names the Lease ha-sync-<pair>; required)',
  },
  direction: {
    type: 'string',
    valueName: 'label',
    default: RECONCILE_DEFAULTS.direction,
    help: 'Label for logs and audit rows, e.g. dell-to-hp',
  },
  ...auditFlags,
  ...lockFlags,
  heartbeat: {
    type: 'boolean',
    help: "Report progress (phase, files seen, ETA) every 5 s as a heartbeat on NATS (the --nats-* flags), for the dashboard's live strip",
  },
  ...natsFlags,
  'mtime-threshold': {
    type: 'string',
    valueName: 'seconds',
    default: String(RECONCILE_DEFAULTS.mtimeThresholdSeconds),
    help: 'Two mtimes this close are equal',
  },
  'delete-missing': {
    type: 'boolean',
    help: 'Carry deletes over: delete what the baseline shows the other side deleted (kept as a version; default: false)',
  },
  'max-delete': {
    type: 'string',
    valueName: 'percent',
    default: String(RECONCILE_DEFAULTS.maxDeletePercent),
    help: "Fail before deleting more than this percent of a side's files",
  },
  force: { type: 'boolean', help: 'Override the empty-source and --max-delete guards' },
  ...keepVersionsFlags,
  workers: {
    type: 'string',
    valueName: 'n',
    default: String(RECONCILE_DEFAULTS.workers),
    help: 'File operations at once',
  },
  'dry-run': {
    type: 'boolean',
    help: 'Compute and print the plan (one line per op) and record it as dry_run rows; copy and delete nothing',
  },
  verbose: { type: 'boolean', help: 'One log line per file operation' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

export function reconcileHelp(): string {
  return [
    'Usage: ha-sync [reconcile] --src <dir> --dest <dir> --pair <name> [flags]      (one-way)',
    '       ha-sync reconcile --a <label>=<dir> --b <label>=<dir> --pair <name> [flags]  (two-way)',
    '',
    "Compares both trees with the pair's baseline (what they held when they last agreed) and",
    'carries every change over: the side that changed wins; when both changed, the newer keeps',
    'the name and the other is kept beside it as a conflict copy. With --delete-missing, deletes',
    'the baseline shows were made on the other side. The one-way form writes only into --dest.',
    'Every file overwritten or deleted is kept in <root>/.ha-sync/versions first. Writes go',
    'through a temp file and a rename; every op is audited.',
    '',
    'Flags:',
    flagHelp(reconcileFlags),
    '',
    'Exit codes: 0 success (also: lock held by another run, or dry-run already current),',
    '            1 failed (the run aborted: a guard tripped, a tree vanished, terminated, lease lost),',
    '            2 usage error (nothing touched), 3 partial failure (some files failed).',
  ].join('\n');
}

/** Parses and validates reconcile's argv without touching the filesystem. */
export function parseReconcileArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Readonly<ReconcileConfig> & { readonly help: boolean; readonly heartbeat: NatsConfig | null } {
  const { values: v } = parseFlags(argv, reconcileFlags, { env });
  if (v.help)
    return Object.freeze({ help: true, heartbeat: null } as ReconcileConfig & {
      help: boolean;
      heartbeat: null;
    });
  const twoWay = v.a !== undefined || v.b !== undefined;
  if (twoWay && (v.src !== undefined || v.dest !== undefined)) {
    throw usage('--a/--b (two-way) and --src/--dest (one-way) cannot be combined; pick one form');
  }
  const sa = twoWay ? sideFlag('a', v.a) : null;
  const sb = twoWay ? sideFlag('b', v.b) : null;
  if (sa && sb && sa.label === sb.label)
    throw usage(`--a and --b need different labels, both are '${sa.label}'`);
  const src = resolve(sa ? sa.root : requireFlag('src', v.src, 'the source directory'));
  const dest = resolve(sb ? sb.root : requireFlag('dest', v.dest, 'the destination directory'));
  const config: ReconcileConfig & { help: boolean } = {
    help: false,
    src,
    dest,
    pair: pairFlag('pair', v.pair),
    direction:
      sa && sb
        ? `${sa.label}-to-${sb.label}`
        : labelFlag('direction', v.direction, RECONCILE_DEFAULTS.direction),
    ...(sa && sb ? { sides: { a: sa.label, b: sb.label } } : {}),
    keepVersionsDays: keepVersionsDaysFlag(v['keep-versions-days']),
    audit: Object.freeze(resolveAuditConfig(v)),
    lock: Object.freeze(resolveLockConfig(v)),
    mtimeThresholdSeconds: numberFlag('mtime-threshold', v['mtime-threshold'], 0, 86400, 2),
    deleteMissing: v['delete-missing'],
    workers: intFlag('workers', v.workers, 1, 256, RECONCILE_DEFAULTS.workers),
    dryRun: v['dry-run'],
    verbose: v.verbose,
    maxDeletePercent: numberFlag('max-delete', v['max-delete'], 0, 100, RECONCILE_DEFAULTS.maxDeletePercent),
    force: v.force,
  };
  return Object.freeze({ ...config, heartbeat: v.heartbeat ? resolveNatsConfig(v) : null });
}

export async function reconcileCommand(argv: string[], ctx: CliContext): Promise<number> {
  const config = parseReconcileArgs(argv, ctx.env);
  if (config.help) {
    ctx.stdout.write(reconcileHelp() + '\n');
    return 0;
  }
  // Existence checks: still usage errors (exit 2), still before anything is touched.
  const [fa, fb] = config.sides ? (['a', 'b'] as const) : (['src', 'dest'] as const);
  dirFlag(fa, config.src, config.sides ? `${config.sides.a} root` : 'source');
  dirFlag(fb, config.dest, config.sides ? `${config.sides.b} root` : 'destination');
  disjointDirs(fa, config.src, fb, config.dest);
  logDirOutside(config.audit.logDir, [
    [fa, config.src],
    [fb, config.dest],
  ]);
  const log = createLogger({ verbose: config.verbose });
  const progress = new ProgressCount(systemClock);
  const beats = config.heartbeat ? await startProgressBeats(config, config.heartbeat, progress, log) : null;
  try {
    const result = await runReconcile(config, {
      log,
      env: ctx.env,
      signal: ctx.signal,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      progress,
      // Local trees are listed on worker threads; HA_SYNC_SCAN_WORKER=0 keeps it on one thread.
      scanWorker: ctx.env.HA_SYNC_SCAN_WORKER !== '0',
    });
    return result.exitCode;
  } finally {
    await beats?.stop();
  }
}

/**
 * Heartbeats of a running reconcile (phase, files seen, ETA) every 5 s, and a last one saying
 * 'done'. NATS being away never holds up or fails the run: beats are simply not heard.
 */
async function startProgressBeats(
  config: Readonly<ReconcileConfig>,
  nats: NatsConfig,
  progress: ProgressCount,
  log: Logger,
): Promise<{ stop: () => Promise<void> }> {
  let bus: Awaited<ReturnType<typeof openBus>>;
  try {
    bus = await openBus({ ...natsBusOptions(nats), logger: log, name: `ha-sync-reconcile-${config.pair}` });
  } catch (err) {
    // A heartbeat is never worth a failed run.
    log.warn({ err: errorMessage(err) }, 'no heartbeats for this run: NATS cannot be used');
    return { stop: () => Promise.resolve() };
  }
  const beat = (): ReconcileBeat => ({
    v: 1,
    pair: config.pair,
    component: 'reconcile',
    at: systemClock.now(),
    everyMs: HEARTBEAT_MS,
    phase: progress.now,
    filesSeen: progress.filesSeen,
    direction: config.direction,
    etaMs: progress.etaMs(),
  });
  const ac = new AbortController();
  const beating = publishBeats(bus, () => [beat()], { clock: systemClock, log, signal: ac.signal });
  return {
    stop: async () => {
      ac.abort();
      await beating;
      progress.phase('done');
      const last = beat();
      bus.publishPlain(beatSubject(bus.prefix, last), encodeBeat(last));
      await bus.close();
    },
  };
}
