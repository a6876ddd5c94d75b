// Conversions between the stores' rows and the audit types, shared by the MySQL and SQLite stores
// so both map identically. Times travel as 'YYYY-MM-DD HH:MM:SS.mmm' strings in UTC (MySQL
// DATETIME(3) read with dateStrings, SQLite TEXT); the API speaks epoch ms in and ISO strings out.
import type { IterationRow, IterationStatus, OperationKind, OperationRow, OperationStatus } from './types.js';

/** Epoch ms to the stores' UTC DATETIME(3) text. */
export function toDbTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
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

export function fromDbTimeOrNull(v: unknown): string | null {
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

export const ITERATION_COLUMNS =
  'id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run, files_created, files_updated, files_deleted, files_skipped, files_failed, total_bytes_transferred, error_message';

export const OPERATION_COLUMNS =
  'id, iteration_id, dry_run, operation, filepath, size_before, size_after, md5_before, md5_after, started_at, ended_at, status, error_message';

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
  };
}

/** Column lengths from the seed's schema; longer values are cut so one odd path never fails a flush. */
export const LIMITS = {
  pair: 255,
  direction: 64,
  src: 512,
  dest: 512,
  filepath: 4096,
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
