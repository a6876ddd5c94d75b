// The AuditStore seam: what the opslog flow and the dashboard need from a database. Two
// implementations, MySQL/MariaDB (`mysql.ts`) and the embedded SQLite file (`sqlite.ts`), pass the
// same contract suite (test/audit-store.test.ts). Everything above this seam (opslogs, run life,
// exactly-once flushing, pruning policy) is written once against it.
import type {
  ConflictList,
  ConflictQuery,
  DryRunKey,
  HistoryQuery,
  HistoryRow,
  IterationEnd,
  IterationHeader,
  IterationQuery,
  IterationRow,
  OperationRow,
  OpRecord,
  PairSummary,
  VersionsState,
  VersionsStateRow,
} from './types.js';

/** What a flush writes: the run as its opslog describes it. */
export interface FlushRun {
  header: IterationHeader;
  /** The 'running' row inserted when the run began, when the store was reachable then. */
  iterationId: number | null;
  end: IterationEnd;
}

export interface FlushResult {
  iterationId: number;
  /** True when this run id was flushed before (marker found): nothing was written this time. */
  duplicate: boolean;
  /** Operation rows inserted by this call. */
  operations: number;
}

export interface PruneResult {
  operations: number;
  iterations: number;
  flushes: number;
}

export interface LastDryRun {
  iterationId: number;
  startedAt: Date;
  ops: DryRunKey[];
}

export interface AuditStore {
  readonly kind: 'mysql' | 'sqlite';
  /** Where the rows go, for log lines; never contains a password. */
  readonly where: string;
  /**
   * Creates the tables and indexes when missing and adds the columns ha-sync added to the seed's
   * tables (schema.ts EXTRA_COLUMNS); never drops anything or changes an existing column.
   */
  ensureSchema(): Promise<void>;
  /** Throws HaSyncError('AUDIT_UNAVAILABLE') when the store cannot be reached. */
  ping(): Promise<void>;
  /** Inserts the 'running' iteration row of a run that begins; returns its id. */
  insertRunning(h: IterationHeader): Promise<number>;
  /**
   * In ONE transaction: claims the run id in `sync_flushes` (a second flush of the same run finds
   * it and writes nothing), writes the iteration row (updating the 'running' row when it is still
   * there), and inserts every operation from `ops` in multi-row batches. `ops` is consumed inside
   * the transaction; when it throws, the transaction rolls back.
   */
  flush(run: FlushRun, ops: AsyncIterable<readonly OpRecord[]>, nowMs: number): Promise<FlushResult>;
  /** The seed's idempotency query: last successful dry-run of (pair, direction) and its op keys. */
  lastDryRun(pair: string, direction: string): Promise<LastDryRun | null>;
  pairs(): Promise<PairSummary[]>;
  iterations(q: IterationQuery): Promise<IterationRow[]>;
  operations(iterationId: number, limit?: number): Promise<OperationRow[]>;
  conflicts(q: ConflictQuery): Promise<ConflictList>;
  versionsState(pair?: string): Promise<VersionsStateRow[]>;
  /** Candidates by index lookup, then only the rows `relatesTo` the path (history.ts). */
  fileHistory(q: HistoryQuery): Promise<HistoryRow[]>;
  /** Inserts or replaces the (pair, side) row of `sync_versions_state`; updated_at = nowMs. */
  recordVersionsState(
    pair: string,
    sideLabel: string,
    root: string,
    state: VersionsState,
    nowMs: number,
  ): Promise<void>;
  /**
   * Deletes iterations started before `cutoffMs` with their operations, and flush markers older
   * than `markerCutoffMs`, in short transactions of at most `batchSize` rows each.
   */
  prune(cutoffMs: number, batchSize: number, markerCutoffMs: number): Promise<PruneResult>;
  close(): Promise<void>;
}

/** Default and bounds for list queries (the dashboard passes user input through). */
export const DEFAULT_OPERATIONS_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

export function clampLimit(n: number | undefined, fallback: number): number {
  if (n === undefined || !Number.isFinite(n)) return fallback;
  return Math.max(1, Math.min(MAX_LIST_LIMIT, Math.trunc(n)));
}

/** Adds one operation to the counts of a run that has no end line (the run was killed). */
export function addCount(c: IterationEnd['counts'], op: OpRecord): void {
  if (op.status === 'fail') {
    c.failed++;
    return;
  }
  if (op.operation === 'create') c.created++;
  else if (op.operation === 'update') c.updated++;
  else if (op.operation === 'move') c.moved++;
  else c.deleted++;
  // A move is a rename: no bytes travel (its sizeAfter is the size of what was renamed).
  if ((op.operation === 'create' || op.operation === 'update') && op.sizeAfter !== null)
    c.bytesTransferred += op.sizeAfter;
}
