// What an Applier is made with: its configuration (parsed once, by the CLI), the shells it works
// through, and the counters it keeps.
import type { Audit } from '../audit/index.js';
import type { BaselineStore } from '../baseline/index.js';
import type { EventBus } from '../bus/index.js';
import type { Clock } from '../clock.js';
import type { Lock } from '../lock/index.js';
import type { Logger } from '../log.js';
import type { FsOps } from './fsadapter.js';
import type { SideRef } from './windows.js';

export interface ApplierConfig {
  readonly pair: string;
  readonly a: SideRef;
  readonly b: SideRef;
  readonly deleteMissing: boolean;
  /** mtimes closer than this are equal, ms (the reconciler's --mtime-threshold). */
  readonly mtimeThresholdMs: number;
  /** Operations at once. */
  readonly workers: number;
  /** Audit activity window, ms (default 5 minutes). */
  readonly windowMs: number;
  /** Lock holder identity. */
  readonly holder: string;
  /** Release the lock after this long without work, ms. Default 5000. */
  readonly idleReleaseMs?: number;
  /** After yielding the lock to a waiter, wait this long before taking it again, ms. Default 20000. */
  readonly yieldBackoffMs?: number;
  /** Kept versions older than this many days are removed (hourly); 0 keeps none. Default 30. */
  readonly keepVersionsDays?: number;
  /** The first pass (run's start) refuses to delete more than this percent of a side's files. Default 50. */
  readonly maxDeletePercent?: number;
}

export interface ApplierDeps {
  bus: EventBus;
  lock: Lock;
  audit: Audit;
  fs: FsOps;
  clock: Clock;
  log: Logger;
  /** The pair's baseline (shared with the reconciler); null or absent: safe mode. */
  baseline?: BaselineStore | null;
}

export interface ApplierStats {
  /** Operations carried out (copies, deletes, mkdirs, rmdirs). */
  applied: number;
  /** Events that needed nothing (equal, stale, not propagated). */
  skipped: number;
  /** Events recognised from the cache as the echo of our own write. */
  echoes: number;
  /** Events terminated as invalid or unsafe. */
  rejected: number;
  /** Events nak'ed for a later retry. */
  retried: number;
  /** Operations that failed for good. */
  failed: number;
  conflicts: number;
}
