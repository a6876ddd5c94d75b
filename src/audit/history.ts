// Kept versions and conflict copies on the read side: which operation rows belong to the history
// of a path, the conflict lists, and the versions-area state. Pure text and row mapping shared by
// the MySQL and SQLite stores, so both answer the same question the same way.
//
// A path's history is every operation whose file is the path or one of its conflict copies, or
// that kept the path's version or a conflict copy of it. The names are the ones src/core/names.ts
// gives (the one place they are defined):
//   conflict copy  <dir>/<stem>.sync-conflict-YYYYMMDD-HHMMSS-<label>[~n]<ext>
//   kept version   .ha-sync/versions/<dir>/<stem>~YYYYMMDD-HHMMSS[-n]<ext>
// The stores select candidates by exact value and by prefix range (index lookups); `relatesTo`
// then decides exactly, so a prefix that catches an unrelated name never shows it.
import { VERSIONS_DIR, parseVersionName, splitExt } from '../core/index.js';
import {
  LIMITS,
  OPERATION_COLUMNS,
  cut,
  fromDbTime,
  mapOperation,
  qualify,
  toDbTime,
  type DbRow,
  type Param,
} from './rows.js';
import type { ConflictQuery, HistoryRow, VersionsState, VersionsStateRow } from './types.js';

/** Above every character: `[prefix, prefix + TOP)` holds exactly the strings starting with prefix. */
const TOP = '\u{10FFFF}';

/** What follows `<stem>.sync-conflict-` up to the extension: the time tag, the label, a counter. */
const CONFLICT_MIDDLE = /^\d{8}-\d{6}-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:~[1-9]\d*)?$/;

/** The parts of a path its copies are named from. */
export interface HistoryKeys {
  path: string;
  /** `<dir>/<stem>.sync-conflict-`: every conflict copy of the path starts with it. */
  conflictPrefix: string;
  /** `.ha-sync/versions/<dir>/<stem>~`: every kept version of the path starts with it. */
  versionPrefix: string;
  ext: string;
}

export function historyKeys(path: string): HistoryKeys {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const { stem, ext } = splitExt(path.slice(slash + 1));
  return {
    path,
    conflictPrefix: `${dir}${stem}.sync-conflict-`,
    versionPrefix: `${VERSIONS_DIR}/${dir}${stem}~`,
    ext,
  };
}

export function isConflictCopyOf(candidate: string | null, k: HistoryKeys): boolean {
  if (candidate === null || !candidate.startsWith(k.conflictPrefix) || !candidate.endsWith(k.ext))
    return false;
  const end = candidate.length - k.ext.length;
  return (
    end >= k.conflictPrefix.length && CONFLICT_MIDDLE.test(candidate.slice(k.conflictPrefix.length, end))
  );
}

export function isVersionOf(candidate: string | null, k: HistoryKeys): boolean {
  return (
    candidate !== null && candidate.startsWith(k.versionPrefix) && parseVersionName(candidate)?.rel === k.path
  );
}

/** True when the row belongs to the history of `k.path` (see the top of this file). */
export function relatesTo(row: { filepath: string; keptPath: string | null }, k: HistoryKeys): boolean {
  return (
    row.filepath === k.path ||
    isConflictCopyOf(row.filepath, k) ||
    row.keptPath === k.path ||
    isVersionOf(row.keptPath, k) ||
    isConflictCopyOf(row.keptPath, k)
  );
}

/**
 * The candidate conditions of a history search on `sync_operations o`, each one index lookup
 * (idx_filepath, idx_kept_path). `kept`: the table has the kept columns (a legacy table has not).
 */
export function historyTerms(k: HistoryKeys, kept: boolean): { sql: string; params: Param[] }[] {
  const terms = [
    { sql: 'o.filepath = ?', params: [k.path] },
    { sql: 'o.filepath >= ? AND o.filepath < ?', params: [k.conflictPrefix, k.conflictPrefix + TOP] },
  ];
  if (!kept) return terms;
  return [
    ...terms,
    { sql: 'o.kept_path = ?', params: [k.path] },
    { sql: 'o.kept_path >= ? AND o.kept_path < ?', params: [k.versionPrefix, k.versionPrefix + TOP] },
    { sql: 'o.kept_path >= ? AND o.kept_path < ?', params: [k.conflictPrefix, k.conflictPrefix + TOP] },
  ];
}

/** Operation columns plus the iteration's, for `sync_operations o JOIN sync_iterations i`. */
export function historyColumns(operationColumns = OPERATION_COLUMNS): string {
  return `${qualify(operationColumns, 'o')}, i.sync_pair, i.direction, i.src, i.dest`;
}

export const HISTORY_FROM = 'sync_operations o JOIN sync_iterations i ON i.id = o.iteration_id';

export function mapHistory(r: DbRow): HistoryRow {
  return {
    ...mapOperation(r),
    syncPair: String(r.sync_pair),
    direction: String(r.direction),
    src: String(r.src),
    dest: String(r.dest),
  };
}

// ---- conflicts ----

/** The WHERE clause (with its leading space) and parameters of the conflict list and counts. */
export function conflictFilter(q: ConflictQuery): { where: string; params: Param[] } {
  const params: Param[] = [toDbTime(q.since.getTime())];
  let where = " WHERE o.kept_kind = 'conflict' AND o.started_at >= ? AND o.dry_run = 0";
  if (q.pair !== undefined) {
    where += ' AND i.sync_pair = ?';
    params.push(q.pair);
  }
  return { where, params };
}

export function conflictCountsSql(where: string): string {
  return `SELECT i.sync_pair AS pair, COUNT(*) AS n FROM ${HISTORY_FROM}${where} GROUP BY i.sync_pair ORDER BY i.sync_pair`;
}

export function conflictRowsSql(where: string, limit: number): string {
  return `SELECT ${historyColumns()} FROM ${HISTORY_FROM}${where} ORDER BY o.started_at DESC, o.id DESC LIMIT ${limit}`;
}

export function mapConflictCount(r: DbRow): { pair: string; conflicts: number } {
  return { pair: String(r.pair), conflicts: Number(r.n) };
}

// ---- versions-area state ----

export const VERSIONS_STATE_COLUMNS = 'pair, side_label, root, files, bytes, oldest_at, updated_at';

export function versionsStateSql(pair: string | undefined): { sql: string; params: Param[] } {
  const where = pair === undefined ? '' : ' WHERE pair = ?';
  return {
    sql: `SELECT ${VERSIONS_STATE_COLUMNS} FROM sync_versions_state${where} ORDER BY pair, side_label`,
    params: pair === undefined ? [] : [pair],
  };
}

/** The values of one upsert, in VERSIONS_STATE_COLUMNS order. */
export function versionsStateParams(
  pair: string,
  sideLabel: string,
  root: string,
  s: VersionsState,
  nowMs: number,
): Param[] {
  return [
    cut(pair, LIMITS.pair),
    cut(sideLabel, LIMITS.sideLabel),
    cut(root, LIMITS.dest),
    s.files,
    s.bytes,
    s.oldestMs === null ? null : toDbTime(s.oldestMs),
    toDbTime(nowMs),
  ];
}

export function mapVersionsState(r: DbRow): VersionsStateRow {
  return {
    pair: String(r.pair),
    sideLabel: String(r.side_label),
    root: String(r.root),
    files: Number(r.files ?? 0),
    bytes: Number(r.bytes ?? 0),
    oldestAt: r.oldest_at === null || r.oldest_at === undefined ? null : fromDbTime(r.oldest_at),
    updatedAt: fromDbTime(r.updated_at),
  };
}
