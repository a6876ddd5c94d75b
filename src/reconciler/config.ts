// The resolved configuration of one reconcile run (parsed once by the CLI, frozen).
import type { AuditConfig, LockConfig } from '../config/index.js';

export interface ReconcileConfig {
  /** Absolute source directory. */
  readonly src: string;
  /** Absolute destination directory. */
  readonly dest: string;
  readonly pair: string;
  /** Label for logs and audit rows; default 'fwd'. */
  readonly direction: string;
  readonly audit: AuditConfig;
  readonly lock: LockConfig;
  /** mtimes closer than this are equal. Seconds; default 2. */
  readonly mtimeThresholdSeconds: number;
  /** Delete dest entries absent from src. Default false. */
  readonly deleteMissing: boolean;
  /** File operations at once. Default 4. */
  readonly workers: number;
  readonly dryRun: boolean;
  readonly verbose: boolean;
  /** Refuse a run that would delete more than this percent of dest's files. Default 50. */
  readonly maxDeletePercent: number;
  /** Overrides the empty-source and max-delete guards. Default false. */
  readonly force: boolean;
  /**
   * Two-way: both sides are written, and these label them (src is a's root, dest b's). Undefined:
   * one-way, only dest is written (the seed's form).
   */
  readonly sides?: { readonly a: string; readonly b: string };
  /** Kept versions older than this many days are removed; 0 keeps none. Default 30. */
  readonly keepVersionsDays: number;
}

export const RECONCILE_DEFAULTS = {
  direction: 'fwd',
  mtimeThresholdSeconds: 2,
  workers: 4,
  maxDeletePercent: 50,
  keepVersionsDays: 30,
} as const;
