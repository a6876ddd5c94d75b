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
}

export const RECONCILE_DEFAULTS = {
  direction: 'fwd',
  mtimeThresholdSeconds: 2,
  workers: 4,
  maxDeletePercent: 50,
} as const;
