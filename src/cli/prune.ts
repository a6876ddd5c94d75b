// `ha-sync prune --older-than-days N`: deletes audit rows (operations, then their iterations)
// older than N days, in batches. A weekly CronJob in the cluster; by hand on a laptop.
import { pruneAudit, parseDsn } from '../audit/index.js';
import { auditFlags, flagHelp, intFlag, parseFlags, requireFlag, type FlagSpecs } from '../config/index.js';
import { DEFAULT_LOG_DIR } from '../config/index.js';
import { EXIT } from '../errors.js';
import type { CliContext } from './context.js';

const specs = {
  'older-than-days': {
    type: 'string',
    valueName: 'n',
    help: 'Delete iterations (and their operations) that started more than N days ago (required)',
  },
  'db-dsn': auditFlags['db-dsn'],
  'log-dir': auditFlags['log-dir'],
  'batch-size': {
    type: 'string',
    valueName: 'rows',
    default: '5000',
    help: 'Rows per DELETE; each batch is its own short transaction',
  },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

export interface PruneConfig {
  readonly help: boolean;
  readonly olderThanDays: number;
  /** Never log it. */
  readonly dbDsn: string | undefined;
  readonly logDir: string;
  readonly batchSize: number;
}

/** Validates flags without touching the filesystem or the network. */
export function parsePruneArgs(argv: string[], env: NodeJS.ProcessEnv): PruneConfig {
  const { values: v } = parseFlags(argv, specs, { env });
  if (v.help) {
    return Object.freeze({
      help: true,
      olderThanDays: 0,
      dbDsn: undefined,
      logDir: DEFAULT_LOG_DIR,
      batchSize: 5000,
    });
  }
  requireFlag('older-than-days', v['older-than-days'], 'an integer number of days, e.g. 30');
  const dsn = v['db-dsn'] === '' ? undefined : v['db-dsn'];
  if (dsn !== undefined) parseDsn(dsn);
  return Object.freeze({
    help: false,
    olderThanDays: intFlag('older-than-days', v['older-than-days'], 0, 36500),
    dbDsn: dsn,
    logDir: v['log-dir'] ?? DEFAULT_LOG_DIR,
    batchSize: intFlag('batch-size', v['batch-size'], 1, 1_000_000, 5000),
  });
}

export async function pruneCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parsePruneArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      `Usage: ha-sync prune --older-than-days N [flags]\n\nDeletes audit rows older than N days, in batches.\n\n${flagHelp(specs)}\n`,
    );
    return EXIT.OK;
  }
  const r = await pruneAudit({
    dsn: cfg.dbDsn,
    logDir: cfg.logDir,
    olderThanDays: cfg.olderThanDays,
    batchSize: cfg.batchSize,
  });
  if (r.kind === 'none') {
    ctx.stdout.write(`no audit database at ${r.where}; nothing to prune\n`);
    return EXIT.OK;
  }
  ctx.stdout.write(
    `pruned ${r.operations} operations and ${r.iterations} iterations started before ${r.cutoff.toISOString()} from ${r.where}\n`,
  );
  return EXIT.OK;
}
