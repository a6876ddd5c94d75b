// Conversions between the stores' rows and the audit types, shared by the MySQL and SQLite stores
// so both map identically. Times travel as 'YYYY-MM-DD HH:MM:SS.mmm' strings in UTC (MySQL
// DATETIME(3) read with dateStrings, SQLite TEXT); the API speaks epoch ms in and ISO strings out.
import type {
  DryRunKey,
  IterationEnd,
  IterationHeader,
  IterationQuery,
  IterationRow,
  IterationStatus,
  KeptKind,
  OperationKind,
  OperationRow,
  OperationStatus,
  OpRecord,
} from './types.js';

let cachedSecond = NaN;
let cachedPrefix = '';

/** Epoch ms to the stores' UTC DATETIME(3) text. */
export function toDbTime(ms: number): string {
  // A run records many operations per second: the text up to the second is made once per second.
  const second = Math.floor(ms / 1000);
  const frac = Math.floor(ms) - second * 1000;
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString(); // throws on an invalid time, as before
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    cachedSecond = second;
  }
  return `${cachedPrefix}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** The stores' DATETIME text (or a Date, when a driver returns one) to ISO 8601 UTC with ms. */
export function fromDbTime(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  const s = String(v);
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?/.exec(s);
  if (!m) return new Date(s).toISOString();
  const frac = (m[3] ?? '').padEnd(3, '0').slice(0, 3);
  return `${m[1]}T${m[2]}.${frac}Z`;
}

function fromDbTimeOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : fromDbTime(v);
}

function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function strOrNull(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'number' || typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
}

export type DbRow = Record<string, unknown>;

const SEED_ITERATION_COLUMNS =
  'id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run, files_created, files_updated, files_deleted, files_skipped, files_failed, total_bytes_transferred, error_message';

export const ITERATION_COLUMNS = `${SEED_ITERATION_COLUMNS}, files_moved`;

/** The iteration columns of a `sync_iterations` without `files_moved` (not migrated yet): no moves. */
export const LEGACY_ITERATION_COLUMNS = `${SEED_ITERATION_COLUMNS}, NULL AS files_moved`;

const SEED_OPERATION_COLUMNS =
  'id, iteration_id, dry_run, operation, filepath, size_before, size_after, md5_before, md5_after, started_at, ended_at, status, error_message';

export const OPERATION_COLUMNS = `${SEED_OPERATION_COLUMNS}, kept_path, kept_kind, moved_from, bytes_not_copied`;

/**
 * The same columns read from a `sync_operations` that lacks the moved columns (an older ha-sync's,
 * which no writer of this version migrated yet): it recorded no moves.
 */
export const KEPT_OPERATION_COLUMNS = `${SEED_OPERATION_COLUMNS}, kept_path, kept_kind, NULL AS moved_from, NULL AS bytes_not_copied`;

/**
 * The same columns read from a `sync_operations` that lacks every added one (a database the seed
 * or an older ha-sync created, which no writer of this version migrated yet): nothing was kept
 * or moved there.
 */
export const LEGACY_OPERATION_COLUMNS = `${SEED_OPERATION_COLUMNS}, NULL AS kept_path, NULL AS kept_kind, NULL AS moved_from, NULL AS bytes_not_copied`;

/**
 * The generations of `sync_operations` a reader may meet, newest first: which columns it has
 * (`kept`: kept_path and kept_kind; `moved`: moved_from and bytes_not_copied) and how to read them.
 */
export const OPERATION_SCHEMAS = [
  { kept: true, moved: true, columns: OPERATION_COLUMNS },
  { kept: true, moved: false, columns: KEPT_OPERATION_COLUMNS },
  { kept: false, moved: false, columns: LEGACY_OPERATION_COLUMNS },
] as const;

export type OperationSchema = (typeof OPERATION_SCHEMAS)[number];

/** `cols` with each column qualified by `alias` (for joins); `NULL AS x` stays as it is. */
export function qualify(cols: string, alias: string): string {
  return cols
    .split(', ')
    .map((c) => (c.startsWith('NULL ') ? c : `${alias}.${c}`))
    .join(', ');
}

function keptKindOf(v: unknown): KeptKind | null {
  const s = strOrNull(v);
  return s === 'version' || s === 'conflict' ? s : null;
}

export function mapIteration(r: DbRow): IterationRow {
  return {
    id: Number(r.id),
    syncPair: String(r.sync_pair),
    direction: String(r.direction),
    src: String(r.src),
    dest: String(r.dest),
    startedAt: fromDbTime(r.started_at),
    endedAt: fromDbTimeOrNull(r.ended_at),
    status: String(r.status) as IterationStatus,
    dryRun: num(r.dry_run) === 1,
    filesCreated: num(r.files_created),
    filesUpdated: num(r.files_updated),
    filesDeleted: num(r.files_deleted),
    filesSkipped: num(r.files_skipped),
    filesFailed: num(r.files_failed),
    filesMoved: num(r.files_moved),
    totalBytesTransferred: num(r.total_bytes_transferred),
    errorMessage: strOrNull(r.error_message),
  };
}

export function mapOperation(r: DbRow): OperationRow {
  return {
    id: Number(r.id),
    iterationId: Number(r.iteration_id),
    dryRun: num(r.dry_run) === 1,
    operation: String(r.operation) as OperationKind,
    filepath: String(r.filepath),
    sizeBefore: numOrNull(r.size_before),
    sizeAfter: numOrNull(r.size_after),
    md5Before: strOrNull(r.md5_before),
    md5After: strOrNull(r.md5_after),
    startedAt: fromDbTime(r.started_at),
    endedAt: fromDbTimeOrNull(r.ended_at),
    status: String(r.status) as OperationStatus,
    errorMessage: strOrNull(r.error_message),
    keptPath: strOrNull(r.kept_path),
    keptKind: keptKindOf(r.kept_kind),
    movedFrom: strOrNull(r.moved_from),
    bytesNotCopied: numOrNull(r.bytes_not_copied),
  };
}

/** Column lengths from the seed's schema; longer values are cut so one odd path never fails a flush. */
export const LIMITS = {
  pair: 255,
  direction: 64,
  src: 512,
  dest: 512,
  filepath: 4096,
  keptPath: 4096,
  movedFrom: 4096,
  sideLabel: 64,
  md5: 32,
  opError: 4096,
  // TEXT holds 65535 bytes; 16000 characters fit even at 4 bytes each.
  iterationError: 16000,
} as const;

/** Cuts a string to at most `max` characters without splitting a surrogate pair. */
export function cut(s: string | null, max: number): string | null {
  if (s === null || s.length <= max) return s;
  let out = s.slice(0, max);
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  return out;
}

// ---- statements and parameters both stores write with ----
// Both stores bind the same values in the same order, so the text and the parameter lists live
// here once: a column added or cut differently in one store only would be a silent divergence.

/** A value bound to a statement parameter. */
export type Param = string | number | null;

/** The 'running' row of a run that begins; binds `headerParams`. */
export const INSERT_RUNNING_SQL =
  "INSERT INTO sync_iterations (sync_pair, direction, src, dest, started_at, status, dry_run) VALUES (?, ?, ?, ?, ?, 'running', ?)";

/** Finds the 'running' row a run inserted (still the same run); binds `runningKeyParams`. */
export const FIND_RUNNING_SQL =
  'SELECT id FROM sync_iterations WHERE id = ? AND sync_pair = ? AND direction = ? AND started_at = ?';

/** Sets the outcome of the 'running' row; binds `[...outcomeParams, id]`. */
export const UPDATE_OUTCOME_SQL =
  'UPDATE sync_iterations SET ended_at = ?, status = ?, files_created = ?, files_updated = ?, files_deleted = ?, files_skipped = ?, files_failed = ?, files_moved = ?, total_bytes_transferred = ?, error_message = ? WHERE id = ?';

/** A finished iteration row (no 'running' row to update); binds `[...headerParams, ...outcomeParams]`. */
export const INSERT_FINISHED_SQL =
  'INSERT INTO sync_iterations (sync_pair, direction, src, dest, started_at, dry_run, ended_at, status, files_created, files_updated, files_deleted, files_skipped, files_failed, files_moved, total_bytes_transferred, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

export const INSERT_MARKER_SQL =
  'INSERT INTO sync_flushes (run_id, iteration_id, flushed_at) VALUES (?, NULL, ?)';
export const SELECT_MARKER_SQL = 'SELECT iteration_id FROM sync_flushes WHERE run_id = ?';
export const SET_MARKER_SQL = 'UPDATE sync_flushes SET iteration_id = ? WHERE run_id = ?';

/** Columns of one operation row; `opParams` binds them in this order. */
export const OP_INSERT_COLUMNS =
  '(iteration_id, dry_run, operation, filepath, size_before, size_after, md5_before, md5_after, started_at, ended_at, status, error_message, kept_path, kept_kind, owner_before, owner_after, moved_from, bytes_not_copied)';
export const OP_PLACEHOLDERS = '(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)';
/** Parameters per operation row. */
export const OP_COLUMNS = 18;

/** The last successful dry-run of (pair, direction); a store may add an index hint after FROM. */
export function lastDryRunSql(hint = ''): string {
  return `SELECT id, started_at FROM sync_iterations ${hint} WHERE sync_pair = ? AND direction = ? AND dry_run = 1 AND status = 'success' ORDER BY started_at DESC, id DESC LIMIT 1`;
}
export const DRY_RUN_OPS_SQL =
  'SELECT filepath, operation, size_before, moved_from FROM sync_operations WHERE iteration_id = ? ORDER BY id';

/** sync_pair, direction, src, dest, started_at, dry_run of a run, cut to the columns' lengths. */
export function headerParams(h: IterationHeader): Param[] {
  return [
    cut(h.pair, LIMITS.pair),
    cut(h.direction, LIMITS.direction),
    cut(h.src, LIMITS.src),
    cut(h.dest, LIMITS.dest),
    toDbTime(h.startedAtMs),
    h.dryRun ? 1 : 0,
  ];
}

export function runningKeyParams(iterationId: number, h: IterationHeader): Param[] {
  return [iterationId, cut(h.pair, LIMITS.pair), cut(h.direction, LIMITS.direction), toDbTime(h.startedAtMs)];
}

/** ended_at, status, the seven counts and error_message of a finished run. */
export function outcomeParams(e: IterationEnd): Param[] {
  return [
    toDbTime(e.endedAtMs),
    e.status,
    e.counts.created,
    e.counts.updated,
    e.counts.deleted,
    e.counts.skipped,
    e.counts.failed,
    e.counts.moved,
    e.counts.bytesTransferred,
    cut(e.errorMessage, LIMITS.iterationError),
  ];
}

/**
 * One operation row, in `OP_INSERT_COLUMNS` order (filepath is index 3, error_message 11,
 * kept_path 12, moved_from 16). A record without the kept, owner or move fields (an opslog line
 * from before) binds NULL.
 */
export function opParams(iterationId: number, dryRun: 0 | 1, op: OpRecord): Param[] {
  return [
    iterationId,
    dryRun,
    op.operation,
    cut(op.filepath, LIMITS.filepath),
    op.sizeBefore,
    op.sizeAfter,
    cut(op.md5Before, LIMITS.md5),
    cut(op.md5After, LIMITS.md5),
    toDbTime(op.startedAtMs),
    op.endedAtMs === null ? null : toDbTime(op.endedAtMs),
    op.status,
    cut(op.errorMessage, LIMITS.opError),
    cut(op.keptPath ?? null, LIMITS.keptPath),
    op.keptKind ?? null,
    op.ownerBefore ?? null,
    op.ownerAfter ?? null,
    cut(op.movedFrom ?? null, LIMITS.movedFrom),
    op.bytesNotCopied ?? null,
  ];
}

/** The WHERE clause (with its leading space, or '') and parameters of a dashboard iteration list. */
export function iterationFilter(q: IterationQuery): { where: string; params: Param[] } {
  const where: string[] = [];
  const params: Param[] = [];
  if (q.pair !== undefined) {
    where.push('sync_pair = ?');
    params.push(q.pair);
  }
  if (q.since !== undefined) {
    where.push('started_at >= ?');
    params.push(toDbTime(q.since.getTime()));
  }
  if (q.dryRun !== undefined) {
    where.push('dry_run = ?');
    params.push(q.dryRun ? 1 : 0);
  }
  return { where: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}

export function mapDryRunKey(o: DbRow): DryRunKey {
  const movedFrom = strOrNull(o.moved_from);
  return {
    filepath: String(o.filepath),
    operation: String(o.operation) as OperationKind,
    sizeBefore: numOrNull(o.size_before),
    // Only on a move: the keys of the other operations stay as they were.
    ...(movedFrom === null ? {} : { movedFrom }),
  };
}
