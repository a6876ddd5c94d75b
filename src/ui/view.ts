// What the dashboard shows, computed from the audit store's rows: pure functions of rows and a
// time, so the rules (when is a pair stale, how old is a sync) are tested with plain arrays and
// shared by the JSON API, the page and /metrics.
import type { HistoryRow, IterationRow, OperationRow, PairSummary } from '../audit/index.js';

/** How often each pair is expected to sync, for the staleness rule. */
export interface Schedule {
  /** Minutes between two real syncs of a pair when it has no entry in `perPairMinutes`. */
  readonly defaultMinutes: number;
  /** Per-pair overrides (pair name to minutes). */
  readonly perPairMinutes: Readonly<Record<string, number>>;
}

/**
 * The health of one (pair, direction), worst first:
 * - `failed`: the last real sync failed or partly failed (some file did not make it);
 * - `stale`: no successful real sync for more than twice the schedule (including never);
 * - `running`: a real sync is in progress and the last success is recent;
 * - `ok`: the last real sync succeeded recently.
 */
export type Health = 'failed' | 'stale' | 'running' | 'ok';

export interface PairView {
  pair: string;
  direction: string;
  health: Health;
  /** True when no real sync succeeded within `staleAfterSeconds` (also when none ever did). */
  stale: boolean;
  /** Twice the pair's schedule, in seconds. */
  staleAfterSeconds: number;
  /** Seconds since the last successful real sync ended; null when there never was one. */
  secondsSinceSuccess: number | null;
  lastReal: IterationRow | null;
  lastRealSuccess: IterationRow | null;
  lastDryRun: IterationRow | null;
}

function scheduleMinutesOf(schedule: Schedule, pair: string): number {
  return schedule.perPairMinutes[pair] ?? schedule.defaultMinutes;
}

/**
 * When an iteration's outcome was known: its end, or its start while it has none (a run that
 * crashed before finishing keeps ended_at NULL).
 */
function settledAtMs(row: IterationRow): number {
  return Date.parse(row.endedAt ?? row.startedAt);
}

export function pairView(s: PairSummary, schedule: Schedule, nowMs: number): PairView {
  const staleAfterSeconds = 2 * 60 * scheduleMinutesOf(schedule, s.pair);
  const secondsSinceSuccess =
    s.lastRealSuccess === null
      ? null
      : Math.max(0, Math.floor((nowMs - settledAtMs(s.lastRealSuccess)) / 1000));
  const stale = secondsSinceSuccess === null || secondsSinceSuccess > staleAfterSeconds;
  let health: Health;
  const last = s.lastReal?.status;
  if (last === 'failed' || last === 'partial_failure') health = 'failed';
  else if (stale) health = 'stale';
  else if (last === 'running') health = 'running';
  else health = 'ok';
  return {
    pair: s.pair,
    direction: s.direction,
    health,
    stale,
    staleAfterSeconds,
    secondsSinceSuccess,
    lastReal: s.lastReal,
    lastRealSuccess: s.lastRealSuccess,
    lastDryRun: s.lastDryRun,
  };
}

/** Views sorted by pair, then direction, so cards and metrics keep a stable order. */
export function pairViews(summaries: readonly PairSummary[], schedule: Schedule, nowMs: number): PairView[] {
  return summaries
    .map((s) => pairView(s, schedule, nowMs))
    .sort((a, b) => cmp(a.pair, b.pair) || cmp(a.direction, b.direction));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- kept versions ----

/**
 * `s` as one POSIX shell word: as it is when it is plainly safe, else in single quotes (the same
 * rule as the command lines `ha-sync versions` prints, so both show the same command).
 */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that puts back the version a history row kept, or null when it kept none: a
 * conflict copy is an ordinary file beside the original, a dry run kept nothing, a failed
 * operation may not have. The root is the iteration's dest (the side the operation wrote to), the
 * path the row's file, the version the file name of its kept path.
 */
export function restoreCommand(row: HistoryRow): string | null {
  if (row.keptKind !== 'version' || row.keptPath === null || row.dryRun || row.status !== 'success') {
    return null;
  }
  const version = row.keptPath.slice(row.keptPath.lastIndexOf('/') + 1);
  return `ha-sync restore ${flag('root', row.dest)} ${flag('path', row.filepath)} ${flag('version', version)}`;
}

/** `--name value`, or `--name=value` for a value starting with '-' (else read as a flag). */
function flag(name: string, value: string): string {
  return value.startsWith('-') ? shellWord(`--${name}=${value}`) : `--${name} ${shellWord(value)}`;
}

// ---- moves ----

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * `n` bytes in binary units, the way the page writes every size (page-script.ts `bytes`):
 * '512 B', '1.50 MiB', '12.3 GiB', '200 TiB'.
 */
export function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[i]}`;
}

type MoveFields = Pick<OperationRow, 'operation' | 'filepath' | 'movedFrom' | 'bytesNotCopied'>;

/** "moved from <old> to <new>" for a move row; null for the other operations. Plain text. */
export function moveText(row: MoveFields): string | null {
  if (row.operation !== 'move' || row.movedFrom === null) return null;
  return `moved from ${row.movedFrom} to ${row.filepath}`;
}

/** "1.50 MiB not copied" for a move row whose size is known; null otherwise. */
export function notCopiedText(row: MoveFields): string | null {
  if (row.operation !== 'move' || row.bytesNotCopied === null) return null;
  return `${humanBytes(row.bytesNotCopied)} not copied`;
}

/** An operation row as the page shows it: the row, and the words of a move. */
export type OperationView = OperationRow & { moveText: string | null; notCopiedText: string | null };

export function operationViews(rows: readonly OperationRow[]): OperationView[] {
  return rows.map((r) => ({ ...r, moveText: moveText(r), notCopiedText: notCopiedText(r) }));
}

export type HistoryView = HistoryRow & {
  restoreCommand: string | null;
  moveText: string | null;
  notCopiedText: string | null;
};

export function historyViews(rows: readonly HistoryRow[]): HistoryView[] {
  return rows.map((r) => ({
    ...r,
    restoreCommand: restoreCommand(r),
    moveText: moveText(r),
    notCopiedText: notCopiedText(r),
  }));
}
