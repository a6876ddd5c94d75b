// `ha-sync [reconcile] --src <dir> --dest <dir> --pair <name> [flags]`: make --dest current with
// --src once (the CronJob). Flags and defaults follow the seed's CLI; --max-delete and --force are
// ours. parseReconcileArgs is pure (no filesystem): existence checks happen in the command.
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
  requireFlag,
  resolveAuditConfig,
  resolveLockConfig,
} from '../config/index.js';
import { createLogger } from '../log.js';
import type { ReconcileConfig } from '../reconciler/index.js';
import { RECONCILE_DEFAULTS, runReconcile } from '../reconciler/index.js';
import type { CliContext } from './context.js';

export const reconcileFlags = {
  src: { type: 'string', valueName: 'path', help: 'Source directory (required)' },
  dest: { type: 'string', valueName: 'path', help: 'Destination directory (required)' },
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
  'mtime-threshold': {
    type: 'string',
    valueName: 'seconds',
    default: String(RECONCILE_DEFAULTS.mtimeThresholdSeconds),
    help: 'Two mtimes this close are equal',
  },
  'delete-missing': { type: 'boolean', help: 'Delete dest entries absent from src (default: false)' },
  'max-delete': {
    type: 'string',
    valueName: 'percent',
    default: String(RECONCILE_DEFAULTS.maxDeletePercent),
    help: "Fail before deleting more than this percent of dest's files",
  },
  force: { type: 'boolean', help: 'Override the empty-source and --max-delete guards' },
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
    'Usage: ha-sync [reconcile] --src <dir> --dest <dir> --pair <name> [flags]',
    '',
    'Makes --dest current with --src once: creates what is missing, updates what src has newer',
    '(size + mtime; MD5 when only the mtime differs), and with --delete-missing deletes what src',
    'no longer has. Writes go through a temp file and a rename; every op is audited.',
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
): Readonly<ReconcileConfig> & { readonly help: boolean } {
  const { values: v } = parseFlags(argv, reconcileFlags, { env });
  if (v.help) return Object.freeze({ help: true } as ReconcileConfig & { help: boolean });
  const src = resolve(requireFlag('src', v.src, 'the source directory'));
  const dest = resolve(requireFlag('dest', v.dest, 'the destination directory'));
  const config: ReconcileConfig & { help: boolean } = {
    help: false,
    src,
    dest,
    pair: pairFlag('pair', v.pair),
    direction: labelFlag('direction', v.direction, RECONCILE_DEFAULTS.direction),
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
  return Object.freeze(config);
}

export async function reconcileCommand(argv: string[], ctx: CliContext): Promise<number> {
  const config = parseReconcileArgs(argv, ctx.env);
  if (config.help) {
    ctx.stdout.write(reconcileHelp() + '\n');
    return 0;
  }
  // Existence checks: still usage errors (exit 2), still before anything is touched.
  dirFlag('src', config.src, 'source');
  dirFlag('dest', config.dest, 'destination');
  disjointDirs('src', config.src, 'dest', config.dest);
  logDirOutside(config.audit.logDir, [
    ['src', config.src],
    ['dest', config.dest],
  ]);
  const log = createLogger({ verbose: config.verbose });
  const result = await runReconcile(config, {
    log,
    env: ctx.env,
    signal: ctx.signal,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    // Local trees are listed on worker threads; HA_SYNC_SCAN_WORKER=0 keeps it on one thread.
    scanWorker: ctx.env.HA_SYNC_SCAN_WORKER !== '0',
  });
  return result.exitCode;
}
