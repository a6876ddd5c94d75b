// Names ha-sync gives to the files it keeps: kept versions under `<root>/.ha-sync/versions/` and
// conflict copies beside the file that won. Pure: no filesystem, no clock (the time is passed in).
//
// Both names carry a UTC time tag `YYYYMMDD-HHMMSS` (the second the version was kept, or the
// conflict resolved), inserted between the name's stem and its extension, as Syncthing does, so a
// kept `report.pdf` still opens as a PDF:
//
//   version:  .ha-sync/versions/<folder>/<stem>~YYYYMMDD-HHMMSS[-n]<ext>
//   conflict: <folder>/<stem>.sync-conflict-YYYYMMDD-HHMMSS-<label>[~n]<ext>
//
// The extension is the last `.xxx` of the name, unless that dot is the name's first character: a
// name like `.bashrc` has no extension (its version is `.bashrc~20261204-231500`), `a.tar.gz` has
// `.gz`, and `notes` has none.
//
// The collision counter `n` (1, 2, ...; 0 means none) separates two versions of the same path kept
// in the same second; a name is never reused. In a version name it follows the time as `-n`: the
// tag is fixed digits, so `-n` before the extension (or the end) is unambiguous. In a conflict
// name it follows the label as `~n`, because a label may itself end in `-<digits>` (`node-2`):
// `-hp-2` could be the label `hp-2` or the label `hp` with counter 2, while `~` is never part of a
// label.

/** The directory at a side's root that belongs to ha-sync: never synced, watched or counted. */
export const STATE_DIR = '.ha-sync';

/** Where kept versions live, relative to the root. */
export const VERSIONS_DIR = `${STATE_DIR}/versions`;

const CONFLICT_MARK = '.sync-conflict-';
/** A label as the CLI accepts it (labelFlag): lowercase letters, digits and '-'. */
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Splits a file name into stem and extension (see the header for the rule). */
export function splitExt(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? { stem: name, ext: '' } : { stem: name.slice(0, dot), ext: name.slice(dot) };
}

const pad = (v: number, w: number): string => String(v).padStart(w, '0');

/** `YYYYMMDD-HHMMSS` in UTC for an epoch-milliseconds time (the second it falls in). */
export function timeTag(nowMs: number): string {
  const d = new Date(Math.floor(nowMs / 1000) * 1000);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1000 || d.getUTCFullYear() > 9999) {
    throw new RangeError(`time ${nowMs} cannot be written as a 4-digit-year time tag`);
  }
  return (
    pad(d.getUTCFullYear(), 4) +
    pad(d.getUTCMonth() + 1, 2) +
    pad(d.getUTCDate(), 2) +
    '-' +
    pad(d.getUTCHours(), 2) +
    pad(d.getUTCMinutes(), 2) +
    pad(d.getUTCSeconds(), 2)
  );
}

/** The epoch milliseconds of a `YYYYMMDD`, `HHMMSS` pair, or null when it is not a real UTC time. */
function parseTag(date: string, time: string): number | null {
  const [y, mo, d] = [Number(date.slice(0, 4)), Number(date.slice(4, 6)), Number(date.slice(6, 8))];
  const [h, mi, s] = [Number(time.slice(0, 2)), Number(time.slice(2, 4)), Number(time.slice(4, 6))];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls over (month 13, second 61); a tag we wrote never does, so a rolled-over one is
  // not ours.
  return timeTag(ms) === `${date}-${time}` ? ms : null;
}

function splitDir(rel: string): { dir: string; name: string } {
  const i = rel.lastIndexOf('/');
  return i < 0 ? { dir: '', name: rel } : { dir: rel.slice(0, i), name: rel.slice(i + 1) };
}

function counter(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`collision counter must be >= 0, got ${n}`);
}

/**
 * Where the version of `rel` kept at `nowMs` goes, relative to the root:
 * `.ha-sync/versions/<dir of rel>/<stem>~YYYYMMDD-HHMMSS[-n]<ext>` (UTC; n = 0 adds no counter).
 */
export function versionName(rel: string, nowMs: number, n = 0): string {
  counter(n);
  const { dir, name } = splitDir(rel);
  const { stem, ext } = splitExt(name);
  const file = `${stem}~${timeTag(nowMs)}${n > 0 ? `-${n}` : ''}${ext}`;
  return `${VERSIONS_DIR}/${dir === '' ? '' : dir + '/'}${file}`;
}

export interface ParsedVersion {
  /** The path the version was kept from, relative to the root. */
  readonly rel: string;
  /** When it was kept (the name's UTC second), epoch milliseconds. */
  readonly keptAtMs: number;
  /** The collision counter (0: none). Among versions kept in the same second, higher is newer. */
  readonly n: number;
}

// Greedy stem: a stem may itself hold `~` and digits (a version of a version's name); the tag is
// the last one. The extension holds no further dot.
const VERSION_RE = /^(.+)~(\d{8})-(\d{6})(?:-([1-9]\d{0,8}))?(\.[^.]*)?$/s;

/**
 * The original path and keep time of a version path (relative to the root, under
 * `.ha-sync/versions/`), or null when the name is not one versionName would have written.
 */
export function parseVersionName(versionRel: string): ParsedVersion | null {
  if (!versionRel.startsWith(VERSIONS_DIR + '/')) return null;
  const { dir, name } = splitDir(versionRel.slice(VERSIONS_DIR.length + 1));
  const m = VERSION_RE.exec(name);
  if (!m) return null;
  const keptAtMs = parseTag(m[2]!, m[3]!);
  if (keptAtMs === null) return null;
  const n = m[4] === undefined ? 0 : Number(m[4]);
  const rel = (dir === '' ? '' : dir + '/') + m[1]! + (m[5] ?? '');
  // Only names that round-trip are ours: `~20261204-231500.txt` would give `.txt`, whose version
  // is `.txt~20261204-231500` (a leading dot is not an extension), so it is not a version.
  if (versionName(rel, keptAtMs, n) !== versionRel) return null;
  return { rel, keptAtMs, n };
}

/**
 * The conflict copy of `rel` for the side labelled `loserLabel` (the side whose version lost),
 * resolved at `nowMs`: `<dir>/<stem>.sync-conflict-YYYYMMDD-HHMMSS-<label>[~n]<ext>` (UTC).
 * Throws on a label the CLI would not accept (labels are validated at the edge).
 */
export function conflictName(rel: string, loserLabel: string, nowMs: number, n = 0): string {
  counter(n);
  if (!LABEL_RE.test(loserLabel)) throw new RangeError(`not a side label: '${loserLabel}'`);
  const { dir, name } = splitDir(rel);
  const { stem, ext } = splitExt(name);
  const file = `${stem}${CONFLICT_MARK}${timeTag(nowMs)}-${loserLabel}${n > 0 ? `~${n}` : ''}${ext}`;
  return dir === '' ? file : `${dir}/${file}`;
}

const CONFLICT_RE = /\.sync-conflict-\d{8}-\d{6}-/;

/**
 * True when a file name (or a path: only its last component counts) is a conflict copy: it holds
 * `.sync-conflict-YYYYMMDD-HHMMSS-`. Syncthing's copies (labelled with a device id) match too.
 */
export function isConflictName(name: string): boolean {
  return CONFLICT_RE.test(splitDir(name).name);
}
