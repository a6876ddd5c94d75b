// The audit seam. A run (a reconciler CronJob run, or one activity window of the live applier)
// writes every operation to an opslog file first and to the store (MySQL, or SQLite on a laptop)
// when it finishes, so a database outage never blocks a sync. Field names follow the seed's
// `sync_iterations` / `sync_operations` schema.

export type OperationKind = 'create' | 'update' | 'delete';
export type OperationStatus = 'success' | 'fail';
export type IterationStatus = 'running' | 'success' | 'partial_failure' | 'failed';

/** One row of `sync_operations`, as recorded by a run. Times are epoch milliseconds (UTC). */
export interface OpRecord {
  operation: OperationKind;
  /** Path relative to the tree root, '/'-separated. */
  filepath: string;
  sizeBefore: number | null;
  sizeAfter: number | null;
  md5Before: string | null;
  md5After: string | null;
  startedAtMs: number;
  endedAtMs: number | null;
  status: OperationStatus;
  errorMessage: string | null;
}

/** What is known when a run starts: the `sync_iterations` row before its outcome. */
export interface IterationHeader {
  /** Unique per run; makes the flush of its opslog idempotent (exactly once). */
  runId: string;
  pair: string;
  direction: string;
  src: string;
  dest: string;
  startedAtMs: number;
  dryRun: boolean;
}

export interface IterationCounts {
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  failed: number;
  bytesTransferred: number;
}

export interface IterationEnd {
  endedAtMs: number;
  status: Exclude<IterationStatus, 'running'>;
  counts: IterationCounts;
  errorMessage: string | null;
}

/** The open audit of one run. Records go to the opslog at once; `finish` flushes to the store. */
export interface RunRecorder {
  readonly runId: string;
  /**
   * Appends one operation to the opslog. When it resolves the line has reached the kernel: it
   * survives a crash of this process, not of the host (the opslog is fsynced when the run finishes).
   */
  record(op: OpRecord): Promise<void>;
  /**
   * Closes the opslog and flushes it to the store (iteration + operations, exactly once), deleting
   * the file on success. A store failure is not an error: the opslog stays for the next run.
   */
  finish(end: IterationEnd): Promise<{ iterationId: number | null; flushed: boolean }>;
}

/** The op key the dry-run idempotency rule compares (seed: filepath + operation + size_before). */
export interface DryRunKey {
  filepath: string;
  operation: OperationKind;
  sizeBefore: number | null;
}

export interface LastDryRunResult {
  startedAt: Date;
  ops: DryRunKey[];
  /** The dry-run's `sync_iterations.id`. */
  iterationId?: number;
}

export interface FlushReport {
  /** Opslogs now in the store (including ones found already flushed, then deleted). */
  flushed: number;
  /** Opslogs left for later: store unreachable, or a writer still at work. */
  waiting: number;
  /** Corrupt lines skipped, plus files set aside for lacking a valid header. */
  corrupt: number;
}

/** What writers (reconciler, applier) use. */
export interface Audit {
  /** Which store is behind it, for logs: 'mysql' | 'sqlite'. */
  readonly kind: string;
  /** Flushes every waiting opslog in the log dir (exactly once each). Store down: returns, logs. */
  flushPending(): Promise<FlushReport>;
  /** Opens the opslog of a new run and (when the store is up) inserts its 'running' row. */
  beginRun(header: IterationHeader): Promise<RunRecorder>;
  /**
   * The last successful dry-run of (pair, direction) and its op keys; null when none, and null
   * (with a logged warning) when the store is unreachable: without proof it is current, run it.
   */
  lastDryRun(pair: string, direction: string): Promise<LastDryRunResult | null>;
  /**
   * Deletes opslogs older than `days` days (never one touched within `staleAfterMs`, which a live
   * writer elsewhere may still append to); returns how many.
   */
  cleanOldOpslogs(days: number): Promise<number>;
  close(): Promise<void>;
}

// ---- read side (dashboard) ----

export interface IterationRow {
  id: number;
  syncPair: string;
  direction: string;
  src: string;
  dest: string;
  /** ISO 8601 UTC with milliseconds. */
  startedAt: string;
  endedAt: string | null;
  status: IterationStatus;
  dryRun: boolean;
  filesCreated: number;
  filesUpdated: number;
  filesDeleted: number;
  filesSkipped: number;
  filesFailed: number;
  totalBytesTransferred: number;
  errorMessage: string | null;
}

export interface OperationRow {
  id: number;
  iterationId: number;
  dryRun: boolean;
  operation: OperationKind;
  filepath: string;
  sizeBefore: number | null;
  sizeAfter: number | null;
  md5Before: string | null;
  md5After: string | null;
  startedAt: string;
  endedAt: string | null;
  status: OperationStatus;
  errorMessage: string | null;
}

export interface PairSummary {
  pair: string;
  direction: string;
  /** Last real (dry_run = 0) iteration, any status. */
  lastReal: IterationRow | null;
  /** Last successful real iteration (for staleness). */
  lastRealSuccess: IterationRow | null;
  /** Last dry-run (dry_run = 1) iteration. */
  lastDryRun: IterationRow | null;
}

export interface IterationQuery {
  pair?: string;
  limit: number;
  /** Only iterations started at or after this time. */
  since?: Date;
  /** Filter real / dry-run; both when undefined. */
  dryRun?: boolean;
}

/** What the dashboard uses. Read-only. */
export interface AuditReader {
  readonly kind: string;
  /** Throws when the store is unreachable (readiness). */
  ping(): Promise<void>;
  pairs(): Promise<PairSummary[]>;
  iterations(q: IterationQuery): Promise<IterationRow[]>;
  operations(iterationId: number, limit?: number): Promise<OperationRow[]>;
  close(): Promise<void>;
}
