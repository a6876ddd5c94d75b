// What both stores share: the column layout of a record, its validation, and path arithmetic.
//
// A record is one row of flat columns. The b side is stored as NULLs when it equals the a side
// (the common case after a copy that kept the mtime), which halves the row and lets the reader
// hand out one object for both sides. Kinds are small integers. Every value a store writes has
// passed `checkChange`, so a store never truncates or mangles a value: a change that does not fit
// is refused before anything is written.
//
// Inode numbers (move detection only) have a column per side, `a_ino` and `b_ino`, outside that
// compression: the two sides are different filesystems, so their inodes always differ, and
// comparing them would store the b columns of every row. A row with no inodes still decodes to
// one shared object; a row with inodes decodes to two, each with its own.
import { HaSyncError } from '../errors.js';
import type { EntryKind } from '../core/index.js';
import type { BaseEntry, BaseRecord, BaselineChange } from './types.js';

/** The record columns in the order `recordParams` fills them (after the key columns). */
export const RECORD_COLUMNS = [
  'a_kind',
  'a_size',
  'a_mtime',
  'a_target',
  'b_kind',
  'b_size',
  'b_mtime',
  'b_target',
  'md5',
  'a_ino',
  'b_ino',
] as const;

/** Longest directory path, name and symlink target a store accepts, in UTF-8 bytes. */
export const DIR_MAX_BYTES = 4096;
export const NAME_MAX_BYTES = 1024;
export const TARGET_MAX_BYTES = 65_535;
export const DIGEST_MAX_BYTES = 255;
export const PAIR_MAX_BYTES = 255;

const KIND_CODE: Readonly<Record<EntryKind, number>> = { file: 1, dir: 2, symlink: 3, special: 4 };
const CODE_KIND: readonly (EntryKind | undefined)[] = [
  undefined,
  'file',
  'dir',
  'symlink',
  'special',
  'file',
];
/** A file entry marked racy (src/core/racy.ts): its own kind code, so no column is added. */
const RACY_FILE = 5;

const kindCode = (e: BaseEntry): number => (e.racy === true ? RACY_FILE : KIND_CODE[e.kind]);

/** A lone UTF-16 surrogate: it has no UTF-8 form, so it could not be stored exactly. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const MD5_RE = /^[0-9a-f]{32}$/;

export type Param = string | number | null | Buffer;

/** The columns of one stored record, as a driver hands them back (strings or Buffers). */
export interface RecordRow {
  name: unknown;
  a_kind: unknown;
  a_size: unknown;
  a_mtime: unknown;
  a_target: unknown;
  b_kind: unknown;
  b_size: unknown;
  b_mtime: unknown;
  b_target: unknown;
  md5: unknown;
  a_ino: unknown;
  b_ino: unknown;
}

export function unavailable(message: string, cause?: unknown): HaSyncError {
  return new HaSyncError('BASELINE_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

/** Equal but for the inode, which has its own columns (see the top of this file). */
function sameEntry(x: BaseEntry, y: BaseEntry): boolean {
  return (
    x.kind === y.kind &&
    x.size === y.size &&
    x.mtimeMs === y.mtimeMs &&
    x.target === y.target &&
    x.racy === y.racy
  );
}

/** The record's columns in RECORD_COLUMNS order; `text` turns a string into the driver's value. */
export function recordParams(rec: BaseRecord, text: (s: string) => string | Buffer): Param[] {
  const a = rec.a;
  const b = rec.b;
  const aTarget = a.target === undefined ? null : text(a.target);
  const aIno = a.ino ?? null;
  const bIno = b.ino ?? null;
  if (sameEntry(a, b)) {
    return [kindCode(a), a.size, a.mtimeMs, aTarget, null, null, null, null, rec.md5, aIno, bIno];
  }
  const bTarget = b.target === undefined ? null : text(b.target);
  return [
    kindCode(a),
    a.size,
    a.mtimeMs,
    aTarget,
    kindCode(b),
    b.size,
    b.mtimeMs,
    bTarget,
    rec.md5,
    aIno,
    bIno,
  ];
}

/**
 * One entry, allocated once, with no `target`, `racy` or `ino` property where it has none (a
 * record read back deep-equals the one written, and no object carries `ino: undefined`).
 */
function entryOf(
  kind: EntryKind,
  size: number,
  mtimeMs: number,
  racy: boolean,
  target: string | undefined,
  ino: number | undefined,
): BaseEntry {
  if (racy) {
    return ino === undefined ? { kind, size, mtimeMs, racy: true } : { kind, size, mtimeMs, racy: true, ino };
  }
  if (target === undefined) return ino === undefined ? { kind, size, mtimeMs } : { kind, size, mtimeMs, ino };
  return ino === undefined ? { kind, size, mtimeMs, target } : { kind, size, mtimeMs, target, ino };
}

function decodeIno(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n =
    typeof v === 'number' ? v : typeof v === 'string' || typeof v === 'bigint' ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`corrupt record (ino ${String(n)})`);
  return n;
}

function decodeEntry(
  kind: unknown,
  size: unknown,
  mtime: unknown,
  target: unknown,
  ino: number | undefined,
  str: (v: unknown) => string,
): BaseEntry {
  const k = CODE_KIND[Number(kind)];
  const s = Number(size);
  if (k === undefined || !Number.isSafeInteger(s) || typeof mtime !== 'number') {
    throw new Error(`corrupt record (kind ${String(kind)}, size ${String(size)}, mtime ${typeof mtime})`);
  }
  const racy = Number(kind) === RACY_FILE;
  const t = racy || target === null || target === undefined ? undefined : str(target);
  return entryOf(k, s, mtime, racy, t, ino);
}

/** A stored row back as a record; throws a plain Error on a row no ha-sync wrote. */
export function decodeRecord(r: RecordRow, str: (v: unknown) => string): BaseRecord {
  const aIno = decodeIno(r.a_ino);
  const bIno = decodeIno(r.b_ino);
  const a = decodeEntry(r.a_kind, r.a_size, r.a_mtime, r.a_target, aIno, str);
  // Side b stored as NULLs is side a's entry with b's own inode: the same object when the two
  // inodes are equal (in practice both unknown: a row written before the inode columns, or from
  // a lister that reports none), else a copy of a's fields (one allocation, nothing decoded twice).
  const b =
    r.b_kind !== null && r.b_kind !== undefined
      ? decodeEntry(r.b_kind, r.b_size, r.b_mtime, r.b_target, bIno, str)
      : aIno === bIno
        ? a
        : entryOf(a.kind, a.size, a.mtimeMs, a.racy === true, a.target, bIno);
  const md5 = r.md5 === null || r.md5 === undefined ? null : str(r.md5);
  return { name: str(r.name), a, b, md5 };
}

const byName = (x: BaseRecord, y: BaseRecord): number => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);

/**
 * Puts records in code-unit name order, in place. The stores hand rows back in UTF-8 byte order
 * (SQLite) or key-hash order (MySQL); the two orders agree except for names that mix characters
 * above U+FFFF with U+E000..U+FFFF, so the check pass usually finds nothing to do.
 */
export function sortByName(recs: BaseRecord[]): BaseRecord[] {
  for (let i = 1; i < recs.length; i++) {
    if (recs[i - 1]!.name > recs[i]!.name) return recs.sort(byName);
  }
  return recs;
}

/** Splits 'a/b/c.txt' into dir 'a/b' and name 'c.txt' ('x' → dir ''). */
export function splitPath(path: string): { dir: string; name: string } {
  const i = path.lastIndexOf('/');
  return i < 0 ? { dir: '', name: path } : { dir: path.slice(0, i), name: path.slice(i + 1) };
}

/**
 * Bounds of every dir strictly below `path`: dir >= lo AND dir < hi, compared as bytes (SQLite's
 * BINARY collation, MySQL's VARBINARY). '/' is 0x2F and '0' is 0x30, so exactly the strings that
 * start with `path/` fall in between: no LIKE pattern, hence nothing in a name to escape.
 */
export function subtreeRange(path: string): { lo: string; hi: string } {
  return { lo: `${path}/`, hi: `${path}0` };
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function badText(s: string, max: number): string | null {
  if (s.includes('\0')) return 'contains NUL';
  if (LONE_SURROGATE.test(s)) return 'is not valid Unicode';
  if (s.length > max || byteLength(s) > max) return `is longer than ${max} bytes`;
  return null;
}

/** Why `dir` is not a directory path a store accepts, or null. */
export function badDir(dir: string): string | null {
  if (dir === '') return null;
  if (dir.startsWith('/') || dir.endsWith('/') || dir.includes('//')) return 'is not a relative path';
  return badText(dir, DIR_MAX_BYTES);
}

export function badName(name: string): string | null {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) return 'is not a file name';
  return badText(name, NAME_MAX_BYTES);
}

function badEntry(e: BaseEntry): string | null {
  if (!Object.hasOwn(KIND_CODE, e.kind)) return `has unknown kind ${String(e.kind)}`;
  if (!Number.isSafeInteger(e.size) || e.size < 0) return `has bad size ${String(e.size)}`;
  if (typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) {
    return `has bad mtime ${String(e.mtimeMs)}`;
  }
  // An inode past 2^53 has no exact number (lstat without bigint rounds it): refused, not rounded.
  if (e.ino !== undefined && !(Number.isSafeInteger(e.ino) && e.ino >= 0)) {
    return `has bad ino ${String(e.ino)}`;
  }
  if (e.target === undefined) return null;
  if (typeof e.target !== 'string') return 'has a non-string target';
  const t = badText(e.target, TARGET_MAX_BYTES);
  return t === null ? null : `target ${t}`;
}

function describe(dir: string, name: string): string {
  return JSON.stringify(dir === '' ? name : `${dir}/${name}`);
}

/**
 * Refuses a change that a store could not keep exactly. Called inside the write transaction, so
 * a bad change anywhere in a batch rolls the whole batch back.
 */
export function checkChange(c: BaselineChange): void {
  const where = describe(c.dir, c.name);
  const why =
    (typeof c.dir === 'string' ? badDir(c.dir) : 'dir is not a string') ??
    (typeof c.name === 'string' ? badName(c.name) : 'name is not a string');
  if (why !== null) throw unavailable(`baseline write refused: ${where}: path ${why}`);
  const rec = c.rec;
  if (rec === null) return;
  let bad: string | null = null;
  if (rec.name !== c.name) bad = `record name ${JSON.stringify(rec.name)} differs`;
  else if (rec.md5 !== null && !(typeof rec.md5 === 'string' && MD5_RE.test(rec.md5))) {
    bad = 'md5 is not 32 lowercase hex digits';
  } else {
    const a = badEntry(rec.a);
    const b = a === null ? badEntry(rec.b) : null;
    bad = a === null ? (b === null ? null : `side b ${b}`) : `side a ${a}`;
  }
  if (bad !== null) throw unavailable(`baseline write refused: ${where}: ${bad}`);
}

export function checkDigest(dir: string, digest: string): void {
  const why =
    badDir(dir) ??
    (typeof digest !== 'string' || digest === '' || byteLength(digest) > DIGEST_MAX_BYTES
      ? `digest must be 1 to ${DIGEST_MAX_BYTES} bytes`
      : null);
  if (why !== null) throw unavailable(`baseline digest refused: ${JSON.stringify(dir)}: ${why}`);
}

export function checkPair(pair: string): void {
  if (typeof pair !== 'string' || pair === '' || badText(pair, PAIR_MAX_BYTES) !== null) {
    throw unavailable(`baseline: bad pair name ${JSON.stringify(pair)}`);
  }
}

/**
 * The last change per path, in first-seen order. A store that batches sets and drops separately
 * must not reorder [drop x, set x]; collapsing first makes the order of the batches irrelevant.
 */
export function lastChangePerPath(changes: readonly BaselineChange[]): Iterable<BaselineChange> {
  const byPath = new Map<string, BaselineChange>();
  for (const c of changes) byPath.set(`${c.dir}\0${c.name}`, c);
  return byPath.values();
}
