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
//
// The history follows the file across moves (operation 'move': `filepath` the new path,
// `moved_from` the old one; one row for a directory and everything below it). Asked for P, it
// holds P's own rows, and for each move that brought P (or a directory above P) where it is, the
// history of P's old path before that move, followed the same way (`walkHistory`). Asked for an
// old path, it holds the move that took the path (or a directory above it) away: it ends with
// "moved to X". Each lookup is one set of index lookups (filepath, kept_path, moved_from).
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
import type { ConflictQuery, HistoryQuery, HistoryRow, VersionsState, VersionsStateRow } from './types.js';

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

// ---- across moves ----

/** How many moves a history follows back, one after the other, at most. */
export const MAX_MOVE_HOPS = 16;
/** How many lookups one history makes at most (a file moved into place many times). */
export const MAX_HISTORY_LOOKUPS = 64;

/** `dir` is `path` or a directory above it. */
export function isAtOrBelow(path: string, dir: string): boolean {
  return path === dir || (path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f);
}

/** The directories above `path`, outermost first: 'a/b/c.jpg' gives ['a', 'a/b']. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

type MoveFields = Pick<HistoryRow, 'operation' | 'filepath' | 'movedFrom'>;

/** The move brought `path` (or a directory above it) to where it is. */
export function movedInto(row: MoveFields, path: string): boolean {
  return row.operation === 'move' && row.movedFrom !== null && isAtOrBelow(path, row.filepath);
}

/** The move took `path` (or a directory above it) away. */
export function movedAway(row: MoveFields, path: string): boolean {
  return row.operation === 'move' && row.movedFrom !== null && isAtOrBelow(path, row.movedFrom);
}

/** Where `path` was before `move` (which moved it, or a directory above it, to where it is). */
export function pathBefore(move: { filepath: string; movedFrom: string }, path: string): string {
  return move.movedFrom + path.slice(move.filepath.length);
}

/** A row's place in time: newest first is (startedAt, id) descending. */
export interface RowTime {
  startedAt: string;
  id: number;
}

function olderThan(a: RowTime, b: RowTime): boolean {
  return a.startedAt < b.startedAt || (a.startedAt === b.startedAt && a.id < b.id);
}

/** One lookup of a history: the rows of `path`, in `pair` when set, older than `before` when set. */
export interface HistoryStep {
  path: string;
  keys: HistoryKeys;
  pair?: string;
  before: RowTime | null;
}

/** The rows of one step, newest first, at most `limit`, candidates as `historyTerms` selects them. */
export type HistoryLookup = (step: HistoryStep, limit: number) => Promise<HistoryRow[]>;

/**
 * The history of `q.path` across moves, newest first, at most `q.limit` rows, each with the path
 * it was found under (`followedPath`). A move row is followed at most once (a cycle a->b->a ends),
 * at most MAX_MOVE_HOPS moves deep and MAX_HISTORY_LOOKUPS lookups in all.
 *
 * A move of a directory above the path is shown only where the file's old path has rows before it
 * (the file was there), so a directory moved once does not appear in the history of every file
 * created in it afterwards. A move of the path itself is always shown.
 */
export async function walkHistory(q: HistoryQuery, lookup: HistoryLookup): Promise<HistoryRow[]> {
  const walk: Walk = { lookup, limit: q.limit, followed: new Set(), lookups: 0 };
  const rows = await collect(walk, stepOf(q.path, q.pair, null), 0);
  const byId = new Map<number, HistoryRow>();
  for (const r of rows) if (!byId.has(r.id)) byId.set(r.id, r);
  return [...byId.values()]
    .sort((a, b) => (olderThan(a, b) ? 1 : olderThan(b, a) ? -1 : 0))
    .slice(0, q.limit);
}

interface Walk {
  readonly lookup: HistoryLookup;
  readonly limit: number;
  /** Ids of the move rows already followed. */
  readonly followed: Set<number>;
  lookups: number;
}

function stepOf(path: string, pair: string | undefined, before: RowTime | null): HistoryStep {
  return { path, keys: historyKeys(path), ...(pair === undefined ? {} : { pair }), before };
}

/** True when `row` belongs to the step's path (its own rows, moves in and out), in its time. */
export function belongsTo(row: HistoryRow, step: HistoryStep): boolean {
  if (step.before !== null && !olderThan(row, step.before)) return false;
  if (step.pair !== undefined && row.syncPair !== step.pair) return false;
  return relatesTo(row, step.keys) || movedInto(row, step.path) || movedAway(row, step.path);
}

/** The rows of one step and of the steps its moves lead to (depth first). */
async function collect(walk: Walk, step: HistoryStep, hops: number): Promise<HistoryRow[]> {
  walk.lookups++;
  const found = (await walk.lookup(step, walk.limit)).filter((r) => belongsTo(r, step));
  const aboveIn = (r: HistoryRow): boolean => r.filepath !== step.path && movedInto(r, step.path);
  const aboveAway = (r: HistoryRow): boolean =>
    r.movedFrom !== step.path && r.filepath !== step.path && movedAway(r, step.path) && !aboveIn(r);
  const out: HistoryRow[] = found
    .filter((r) => !aboveIn(r) && !aboveAway(r))
    .map((r) => ({ ...r, followedPath: step.path }));
  for (const m of found) {
    if (!movedInto(m, step.path) || m.movedFrom === null || walk.followed.has(m.id)) continue;
    if (hops >= MAX_MOVE_HOPS || walk.lookups >= MAX_HISTORY_LOOKUPS) break;
    walk.followed.add(m.id);
    // The same pair: the old path is a path of the tree the move was made in.
    const from = pathBefore({ filepath: m.filepath, movedFrom: m.movedFrom }, step.path);
    const before = await collect(walk, stepOf(from, m.syncPair, m), hops + 1);
    if (aboveIn(m) && before.length > 0) out.push({ ...m, followedPath: step.path });
    out.push(...before);
  }
  // A directory above the path moved away: shown when the file was there before it (in its pair).
  for (const m of found.filter(aboveAway)) {
    if (out.some((r) => r.syncPair === m.syncPair && olderThan(r, m)))
      out.push({ ...m, followedPath: step.path });
  }
  return out;
}

/** Where the candidate conditions of a history search may look (the table's generation). */
export interface HistoryColumns {
  /** kept_path and kept_kind exist. */
  kept: boolean;
  /** moved_from exists. */
  moved: boolean;
}

/**
 * The candidate conditions of a history search on `sync_operations o`, each one index lookup
 * (idx_filepath, idx_kept_path, idx_moved_from): the path and its conflict copies, the versions
 * and copies kept of it, moves of a directory above it, and moves away from it or from a directory
 * above it. A legacy table has neither the kept nor the moved columns.
 */
export function historyTerms(k: HistoryKeys, has: HistoryColumns): { sql: string; params: Param[] }[] {
  const above = ancestorsOf(k.path);
  const marks = (n: number): string => Array<string>(n).fill('?').join(', ');
  const terms: { sql: string; params: Param[] }[] = [
    { sql: 'o.filepath = ?', params: [k.path] },
    { sql: 'o.filepath >= ? AND o.filepath < ?', params: [k.conflictPrefix, k.conflictPrefix + TOP] },
  ];
  if (above.length > 0) {
    terms.push({ sql: `o.filepath IN (${marks(above.length)}) AND o.operation = 'move'`, params: above });
  }
  if (has.kept) {
    terms.push(
      { sql: 'o.kept_path = ?', params: [k.path] },
      { sql: 'o.kept_path >= ? AND o.kept_path < ?', params: [k.versionPrefix, k.versionPrefix + TOP] },
      { sql: 'o.kept_path >= ? AND o.kept_path < ?', params: [k.conflictPrefix, k.conflictPrefix + TOP] },
    );
  }
  if (has.moved) {
    terms.push({ sql: `o.moved_from IN (${marks(above.length + 1)})`, params: [k.path, ...above] });
  }
  return terms;
}

/**
 * The extra condition (with its leading ' AND ') and parameters of a step's pair and time.
 * `unindexed`: SQLite; each column is written as `+column`, a no-op that keeps SQLite's planner
 * from reading the step through the pair's or the time's index (every operation of the pair)
 * instead of one lookup per term (MULTI-INDEX OR). MySQL would read `+text` as a number: there
 * the terms are separate statements anyway.
 */
export function stepFilter(step: HistoryStep, unindexed = false): { sql: string; params: Param[] } {
  const p = unindexed ? '+' : '';
  let sql = '';
  const params: Param[] = [];
  if (step.pair !== undefined) {
    sql += ` AND ${p}i.sync_pair = ?`;
    params.push(step.pair);
  }
  if (step.before !== null) {
    const t = toDbTime(Date.parse(step.before.startedAt));
    sql += ` AND (${p}o.started_at < ? OR (${p}o.started_at = ? AND ${p}o.id < ?))`;
    params.push(t, t, step.before.id);
  }
  return { sql, params };
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

export function conflictRowsSql(where: string, limit: number, operationColumns = OPERATION_COLUMNS): string {
  return `SELECT ${historyColumns(operationColumns)} FROM ${HISTORY_FROM}${where} ORDER BY o.started_at DESC, o.id DESC LIMIT ${limit}`;
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
