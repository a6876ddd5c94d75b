// Retention of audit rows (the seed's "DB retention" note): iterations started more than N days
// ago are deleted with their operations, oldest first, in short transactions of at most
// `batchSize` rows, so the tables are never locked for long while runs keep writing.
import { existsSync } from 'node:fs';
import { systemClock, type Clock } from '../clock.js';
import { openStore, sqlitePath } from './open.js';

export interface PruneOptions {
  dsn: string | undefined;
  logDir: string;
  olderThanDays: number;
  /** Rows per DELETE statement. Default 5000. */
  batchSize?: number;
  clock?: Clock;
  /** MySQL connect timeout, ms. Default 3000. */
  connectTimeoutMs?: number;
}

export interface PruneReport {
  kind: 'mysql' | 'sqlite' | 'none';
  /** Where the rows were (never contains a password). */
  where: string;
  cutoff: Date;
  operations: number;
  iterations: number;
  flushes: number;
}

/**
 * Flush markers (one small row per run) are what make a leftover opslog flush exactly once. They
 * are kept at least this long whatever --older-than-days says, far beyond any opslog retention,
 * so pruning can never let an old opslog be flushed a second time.
 */
export const MARKER_RETAIN_DAYS = 400;

export async function pruneAudit(opts: PruneOptions): Promise<PruneReport> {
  const clock = opts.clock ?? systemClock;
  const cutoff = new Date(clock.now() - opts.olderThanDays * 86_400_000);
  const useSqlite = opts.dsn === undefined || opts.dsn.trim() === '';
  if (useSqlite && !existsSync(sqlitePath(opts.logDir))) {
    // No embedded audit here yet: nothing to prune, and no reason to create an empty one.
    return { kind: 'none', where: sqlitePath(opts.logDir), cutoff, operations: 0, iterations: 0, flushes: 0 };
  }
  const store = await openStore({
    dsn: opts.dsn,
    logDir: opts.logDir,
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  try {
    await store.ensureSchema();
    const markerCutoffMs = Math.min(cutoff.getTime(), clock.now() - MARKER_RETAIN_DAYS * 86_400_000);
    const r = await store.prune(cutoff.getTime(), opts.batchSize ?? 5000, markerCutoffMs);
    return { kind: store.kind, where: store.where, cutoff, ...r };
  } finally {
    await store.close();
  }
}
