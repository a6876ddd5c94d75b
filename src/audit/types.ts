// The audit seam. A run (a reconciler CronJob run, or one activity window of the live applier)
// writes every operation to an opslog file first and to the store (MySQL, or SQLite on a laptop)
// when it finishes, so a database outage never blocks a sync. Field names follow the seed's
// `sync_iterations` / `sync_operations` schema.

/**
 * What an operation did. `move`: an entry renamed on the side written to instead of a delete and a
 * copy; `filepath` is its new path and `movedFrom` its old one (one row per move, a directory
 * moved with everything below it is one row).
 */
export type OperationKind = 'create' | 'update' | 'delete' | 'move';
export type OperationStatus = 'success' | 'fail';
export type IterationStatus = 'running' | 'success' | 'partial_failure' | 'failed';
/**
 * Where the version an operation replaced or deleted went: `version`, a kept version in the
 * side's `.ha-sync/versions/` area; `conflict`, a conflict copy beside the file.
 */
export type KeptKind = 'version' | 'conflict';

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
  /**
   * Where the version this operation replaced or deleted went, relative to the root of the side
   * written to (the iteration's dest), '/'-separated: `.ha-sync/versions/photos/a~20261204-231500.jpg`
   * or a conflict copy `photos/a.sync-conflict-20261204-231500-hp.jpg`. Absent or null: nothing
   * was kept (a create, a dry run, or an opslog line written before ha-sync kept versions).
   */
  keptPath?: string | null;
  /** What `keptPath` is; set exactly when `keptPath` is. */
  keptKind?: KeptKind | null;
  /**
   * An owner change a copy made, as "uid:gid": the owner of the entry it replaced (null for a
   * create) and the owner it gave the new entry. Set when a chown was made (the source's owner
   * kept) or the entry replaced had another owner; absent or null otherwise (and in opslog lines
   * written before ha-sync kept owners).
   */
  ownerBefore?: string | null;
  ownerAfter?: string | null;
  /**
   * The old path of a move, relative to the tree root, '/'-separated; set exactly when
   * `operation` is 'move' (`filepath` is then the new path). Absent or null otherwise (and in
   * opslog lines written before ha-sync recorded moves).
   */
  movedFrom?: string | null;
  /**
   * Bytes a copy would have transferred had the move been carried out as a delete and a copy:
   * for a file its size, for a directory the total size of the files below it when known. Null
   * or absent otherwise. A move row keeps the seed's columns meaningful: size_before = size_after
   * = the moved entry's size (a file) or null (a directory), both md5s null.
   */
  bytesNotCopied?: number | null;
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
  /** Moves carried out as renames (not counted in created or deleted; no bytes transferred). */
  moved: number;
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
  /** The old path of a 'move' key, as read from the store; absent for the other operations. */
  movedFrom?: string | null;
}

export interface LastDryRunResult {
  startedAt: Date;
  ops: DryRunKey[];
  /** The dry-run's `sync_iterations.id`. */
  iterationId?: number;
}

/**
 * The versions area of one side as an expiry pass left it. Times are epoch milliseconds (UTC).
 */
export interface VersionsState {
  /** Kept versions (files and symlinks) in `<root>/.ha-sync/versions/`. */
  files: number;
  /** Their total size. */
  bytes: number;
  /** When the oldest was kept (the time in its name); null when the area is empty. */
  oldestMs: number | null;
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
  /**
   * Stores the state of one side's versions area (one row per pair and side, replaced each time),
   * for the dashboard. Goes straight to the store, not through an opslog: the state is a snapshot
   * the next expiry pass rewrites. Throws HaSyncError('AUDIT_UNAVAILABLE') when the store is down
   * and 'INVALID_INPUT' for values it cannot store; callers catch, a run never fails on it.
   */
  recordVersionsState(pair: string, sideLabel: string, root: string, state: VersionsState): Promise<void>;
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
  /** `files_moved`; 0 for rows written before ha-sync recorded moves. */
  filesMoved: number;
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
  /** See OpRecord.keptPath; null when nothing was kept. */
  keptPath: string | null;
  keptKind: KeptKind | null;
  /** See OpRecord.movedFrom: the old path of a 'move', null for the other operations. */
  movedFrom: string | null;
  /** See OpRecord.bytesNotCopied; null when not a move or not known. */
  bytesNotCopied: number | null;
}

/** An operation with the iteration it belongs to (file history, conflict lists). */
export interface HistoryRow extends OperationRow {
  syncPair: string;
  direction: string;
  src: string;
  /** The root of the side the operation wrote to: where `keptPath` is relative to. */
  dest: string;
  /**
   * fileHistory only: the path of the file whose history this row belongs to, as it was then: the
   * path asked for, or an earlier path of the file the history followed back across a move.
   */
  followedPath?: string;
}

/** One row of `sync_versions_state`. */
export interface VersionsStateRow {
  pair: string;
  sideLabel: string;
  root: string;
  files: number;
  bytes: number;
  /** ISO 8601 UTC; null when the area is empty. */
  oldestAt: string | null;
  updatedAt: string;
}

export interface ConflictQuery {
  pair?: string;
  /** Only conflicts recorded at or after this time. */
  since: Date;
  limit: number;
}

export interface ConflictList {
  /** Conflicts per pair since `since` (real runs only); pairs without any are absent. */
  counts: { pair: string; conflicts: number }[];
  /** The newest `limit` of them, newest first. */
  rows: HistoryRow[];
}

export interface HistoryQuery {
  /** A path relative to the pair's root, '/'-separated, as the operations show it. */
  path: string;
  pair?: string;
  limit: number;
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
  /** Operations that made a conflict copy (kept_kind 'conflict') in real runs since `q.since`. */
  conflicts(q: ConflictQuery): Promise<ConflictList>;
  /** The versions area of each side, by pair then side label. */
  versionsState(pair?: string): Promise<VersionsStateRow[]>;
  /**
   * Every operation on `q.path`, on its conflict copies, or that kept a version or conflict copy
   * of it, newest first (see history.ts for what counts as a copy). Follows the file across
   * moves: the history of its old path before a move that brought it (or a directory above it)
   * to `q.path`, and the move that took it away from `q.path`.
   */
  fileHistory(q: HistoryQuery): Promise<HistoryRow[]>;
  close(): Promise<void>;
}
