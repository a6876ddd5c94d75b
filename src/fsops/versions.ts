// The kept-versions area of a side: `<root>/.ha-sync/versions/`, holding every file ha-sync
// replaced or deleted, under its folder, named by core's versionName (the UTC second it was kept).
//
// Invariants:
// - `.ha-sync` and `.ha-sync/versions` are real directories or absent. Anything else (a symlink,
//   a file) means someone else's data or a trap; checkStateDir reports it and callers refuse the
//   run before touching anything.
// - Nothing here follows a symlink. Folders are created one component at a time after an lstat,
//   walks lstat every entry and descend only into real directories, and a folder is re-checked by
//   its real path before anything in it is removed.
// - A kept version is never overwritten: keepPath only offers names lstat finds free, and the
//   writers in ops.ts claim them with link(2) (fails on an existing name) or, under the pair's
//   lock, with a rename right after the check.
// - Expiry goes by the time in the name, not the mtime (a kept file keeps its own mtime), and
//   never removes a name it cannot parse: such a file was not put there by ha-sync.
import type * as fs from 'node:fs';
import { STATE_DIR, VERSIONS_DIR, parseVersionName, versionName } from '../core/index.js';
import { HaSyncError } from '../errors.js';
import type { Io } from './io.js';
import { syncIo } from './io.js';
import type { Anchor } from './anchor.js';
import { openAnchor } from './anchor.js';
import { splitRel, unsafeParents, unsafeRelPath } from './paths.js';
import { decodeName, kindOf } from './scan.js';

const DAY_MS = 86_400_000;

/** Versions of one path kept in one second, at most; past this keepPath gives up (a runaway loop). */
const MAX_COLLISIONS = 10_000;

/** The filesystem calls keeping versions makes (link(2) is part of Io). Tests pass a failing `link`. */
export type KeepIo = Io;

/** Why `<root>/<rel>` (a state directory) is unusable, or null when it is absent or a real directory. */
async function stateDirReason(root: string, rel: string, io: Io): Promise<string | null> {
  const st = await io.lstat(`${root}/${rel}`);
  if (st === null || st.isDirectory()) return null;
  const what = st.isSymbolicLink() ? 'a symlink' : st.isFile() ? 'a file' : `a ${kindOf(st)}`;
  return `'${root}/${rel}' is ${what}, not a directory: it belongs to ha-sync (kept versions); move it away to sync this root`;
}

/**
 * Null when `<root>/.ha-sync` (and `.ha-sync/versions` inside it) is absent or a real directory;
 * otherwise a one-line reason. Callers refuse the run (HaSyncError 'STATE_DIR_UNSAFE').
 */
export async function checkStateDir(root: string, io: Io = syncIo): Promise<string | null> {
  return (await stateDirReason(root, STATE_DIR, io)) ?? (await stateDirReason(root, VERSIONS_DIR, io));
}

async function requireStateDir(root: string, io: Io): Promise<void> {
  const reason = await checkStateDir(root, io);
  if (reason) throw new HaSyncError('STATE_DIR_UNSAFE', reason);
}

/**
 * Makes sure every component of `dirRel` (relative to the root, under the versions area) is a real
 * directory, creating the missing ones (mode 0o755, before the umask), each through its parent
 * opened without following a symlink (anchor.ts). Throws HaSyncError 'STATE_DIR_UNSAFE' for
 * `.ha-sync` / `.ha-sync/versions` and 'UNSAFE_PATH' below them when a component is a symlink or
 * not a directory.
 */
async function ensureVersionDirs(root: string, dirRel: string, io: Io): Promise<void> {
  let rel = '';
  for (const part of dirRel.split('/')) {
    const parent = rel;
    rel = rel === '' ? part : `${rel}/${part}`;
    const code = (r: string): 'STATE_DIR_UNSAFE' | 'UNSAFE_PATH' =>
      r === STATE_DIR || r === VERSIONS_DIR ? 'STATE_DIR_UNSAFE' : 'UNSAFE_PATH';
    const a = await openAnchor(io, root, parent, rel);
    if (typeof a === 'string') throw new HaSyncError(code(parent), `in the versions area: ${a}`);
    let st: fs.Stats | null;
    try {
      const abs = `${a.dir}/${part}`;
      st = await io.lstat(abs);
      if (st === null) {
        try {
          await io.mkdir(abs, 0o755);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        st = await io.lstat(abs);
      }
    } finally {
      await a.release();
    }
    if (st?.isDirectory()) continue;
    const reason = `'${rel}' in the versions area is ${st?.isSymbolicLink() ? 'a symlink' : 'not a directory'}; refusing to keep versions through it`;
    throw new HaSyncError(code(rel), reason);
  }
}

/**
 * A free version path for `rel` kept at `nowMs` (relative to the root), its folders created. The
 * first collision counter (0, 1, 2, ...) whose name lstat finds free wins. Free at the time of the
 * call only: the caller claims it without clobbering (see ops.ts). Throws HaSyncError
 * ('STATE_DIR_UNSAFE', 'UNSAFE_PATH') when the versions area cannot be used safely.
 */
export async function keepPath(root: string, rel: string, nowMs: number, io: Io = syncIo): Promise<string> {
  const bad = unsafeRelPath(rel);
  if (bad) throw new HaSyncError('UNSAFE_PATH', bad);
  const first = versionName(rel, nowMs);
  await ensureVersionDirs(root, splitRel(first).parent, io);
  const unsafe = await unsafeParents(root, first, io);
  if (unsafe) throw new HaSyncError('UNSAFE_PATH', unsafe);
  for (let n = 0; n <= MAX_COLLISIONS; n++) {
    const v = n === 0 ? first : versionName(rel, nowMs, n);
    if ((await io.lstat(`${root}/${v}`)) === null) return v;
  }
  throw new HaSyncError('INTERNAL', `more than ${MAX_COLLISIONS} versions of '${rel}' kept in one second`);
}

/** One kept version, as listVersions reports it. */
export interface KeptVersion {
  /** The path it was kept from, relative to the root. */
  readonly path: string;
  /** The version's own path, relative to the root (`.ha-sync/versions/...`). */
  readonly version: string;
  /** The version's file name (what `restore --version` takes). */
  readonly name: string;
  /** When it was kept (the name's UTC second), epoch milliseconds. */
  readonly keptAtMs: number;
  /** The name's collision counter (0: none). */
  readonly n: number;
  readonly kind: 'file' | 'symlink';
  /** Bytes (files) or target length (symlinks). */
  readonly size: number;
  /** The kept entry's own mtime (the original's mtime when it was kept). */
  readonly mtimeMs: number;
}

/** An entry of the versions area that is not a directory. */
interface Seen {
  readonly rel: string;
  readonly name: string;
  readonly st: fs.Stats;
}

/**
 * Lists one directory of the versions area (relative to the root) with lstat: real subdirectories
 * in `dirs`, everything else in `leaves`. Names that are not valid UTF-8 are left out (never
 * parsed, never removed, not counted). A directory that is gone yields nothing.
 */
async function readVersionDir(
  root: string,
  dirRel: string,
  io: Io,
): Promise<{ dirs: string[]; leaves: Seen[] }> {
  let raw: fs.Dirent<Buffer>[];
  try {
    raw = await io.readdir(`${root}/${dirRel}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { dirs: [], leaves: [] };
    throw err;
  }
  const dirs: string[] = [];
  const leaves: Seen[] = [];
  for (const d of raw) {
    const name = decodeName(d.name);
    if (name === null) continue;
    const rel = `${dirRel}/${name}`;
    const st = await io.lstat(`${root}/${rel}`);
    if (st === null) continue;
    if (st.isDirectory()) dirs.push(rel);
    else leaves.push({ rel, name, st });
  }
  return { dirs, leaves };
}

function keptVersion(s: Seen): KeptVersion | null {
  const kind = kindOf(s.st);
  if (kind !== 'file' && kind !== 'symlink') return null;
  const p = parseVersionName(s.rel);
  if (!p) return null;
  return {
    path: p.rel,
    version: s.rel,
    name: s.name,
    keptAtMs: p.keptAtMs,
    n: p.n,
    kind,
    size: s.st.size,
    mtimeMs: s.st.mtimeMs,
  };
}

/** Newest first; within one second the higher counter is newer; then by path. */
function newestFirst(a: KeptVersion, b: KeptVersion): number {
  return b.keptAtMs - a.keptAtMs || b.n - a.n || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** True when every component of `dirRel` (relative to the root) is a real directory. */
async function realDirs(root: string, dirRel: string, io: Io): Promise<boolean> {
  let rel = '';
  for (const part of dirRel.split('/')) {
    rel = rel === '' ? part : `${rel}/${part}`;
    const st = await io.lstat(`${root}/${rel}`);
    if (!st?.isDirectory()) return false;
  }
  return true;
}

/**
 * Every kept version under `root`, newest first. With `relFilter` (a path relative to the root):
 * only the versions of that path, and of everything below it when it was a folder. A folder in the
 * versions area that is a symlink is never followed (nothing behind it is listed). Throws
 * HaSyncError 'STATE_DIR_UNSAFE' when `.ha-sync` or `.ha-sync/versions` is not a real directory,
 * 'UNSAFE_PATH' for a filter that is absolute or holds `..`.
 */
export async function listVersions(
  root: string,
  relFilter?: string,
  io: Io = syncIo,
): Promise<KeptVersion[]> {
  await requireStateDir(root, io);
  const out: KeptVersion[] = [];
  const walk = async (dirRel: string): Promise<void> => {
    const { dirs, leaves } = await readVersionDir(root, dirRel, io);
    for (const l of leaves) {
      const v = keptVersion(l);
      if (v) out.push(v);
    }
    for (const d of dirs) await walk(d);
  };
  if (relFilter === undefined) {
    if (await realDirs(root, VERSIONS_DIR, io)) await walk(VERSIONS_DIR);
  } else {
    const bad = unsafeRelPath(relFilter);
    if (bad) throw new HaSyncError('UNSAFE_PATH', bad);
    const { parent } = splitRel(relFilter);
    const dirRel = parent === '' ? VERSIONS_DIR : `${VERSIONS_DIR}/${parent}`;
    if (await realDirs(root, dirRel, io)) {
      const { leaves } = await readVersionDir(root, dirRel, io);
      for (const l of leaves) {
        const v = keptVersion(l);
        if (v && v.path === relFilter) out.push(v);
      }
      // The versions of a folder's contents, when `relFilter` was (or is) a folder.
      const below = `${VERSIONS_DIR}/${relFilter}`;
      if (await realDirs(root, below, io)) await walk(below);
    }
  }
  return out.sort(newestFirst);
}

/** What remains in a versions area after expiry (for logs and the dashboard). */
export interface VersionsState {
  /** Entries removed by this call (expired versions). */
  readonly removed: number;
  /**
   * Files and symlinks left in the area: versions, and files with names ha-sync cannot parse
   * (left alone). Names that are not valid UTF-8 are not counted.
   */
  readonly files: number;
  readonly bytes: number;
  /** The time in the name of the oldest version left, epoch milliseconds; null when none. */
  readonly oldestMs: number | null;
}

interface Expiry {
  readonly root: string;
  readonly io: Io;
  /** Versions kept before this time (epoch ms) are removed. */
  readonly cutoffMs: number;
  removed: number;
  files: number;
  bytes: number;
  oldestMs: number | null;
}

/**
 * Expires one directory of the versions area, then its subdirectories (one at a time, so only one
 * listing per level is in memory), then removes it if it is left empty (never the versions root).
 */
async function expireDir(x: Expiry, dirRel: string): Promise<void> {
  const { dirs, leaves } = await readVersionDir(x.root, dirRel, x.io);
  // Opened once, right before the directory's first removal, without following a symlink: every
  // removal goes through it, so a folder swapped for a symlink never leads outside (anchor.ts).
  let dir: Anchor | null = null;
  try {
    for (const l of leaves) {
      const v = keptVersion(l);
      if (v && v.keptAtMs < x.cutoffMs) {
        if (dir === null) {
          const a = await openAnchor(x.io, x.root, dirRel, `${dirRel}/${l.name}`);
          if (typeof a === 'string') return;
          dir = a;
        }
        try {
          await x.io.unlink(`${dir.dir}/${l.name}`);
          x.removed++;
          continue;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
      }
      if (l.st.isFile() || l.st.isSymbolicLink()) {
        x.files++;
        x.bytes += l.st.size;
      }
      if (v) x.oldestMs = x.oldestMs === null ? v.keptAtMs : Math.min(x.oldestMs, v.keptAtMs);
    }
  } finally {
    await dir?.release();
  }
  for (const d of dirs) await expireDir(x, d);
  if (dirRel === VERSIONS_DIR) return;
  const up = await openAnchor(x.io, x.root, splitRel(dirRel).parent, dirRel);
  if (typeof up === 'string') return;
  try {
    await x.io.rmdir(`${up.dir}/${splitRel(dirRel).name}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
  } finally {
    await up.release();
  }
}

/**
 * Removes the versions kept more than `keepDays` days before `nowMs` (by the time in their names;
 * 0 removes every version: "0 keeps none"), and the folders that leaves empty. Names it cannot
 * parse are left alone and counted. Returns what remains. Throws HaSyncError 'STATE_DIR_UNSAFE'
 * when `.ha-sync` or `.ha-sync/versions` is not a real directory (nothing is removed).
 */
export async function expireVersions(
  root: string,
  keepDays: number,
  nowMs: number,
  io: Io = syncIo,
): Promise<VersionsState> {
  if (!Number.isSafeInteger(keepDays) || keepDays < 0) {
    throw new RangeError(`keepDays must be a non-negative integer, got ${keepDays}`);
  }
  await requireStateDir(root, io);
  const x: Expiry = {
    root,
    io,
    cutoffMs: keepDays === 0 ? Infinity : nowMs - keepDays * DAY_MS,
    removed: 0,
    files: 0,
    bytes: 0,
    oldestMs: null,
  };
  if ((await io.lstat(`${root}/${VERSIONS_DIR}`)) !== null) await expireDir(x, VERSIONS_DIR);
  return { removed: x.removed, files: x.files, bytes: x.bytes, oldestMs: x.oldestMs };
}

/** True when `rel` is ha-sync's state directory or inside it (never synced, never a target). */
export function isStatePath(rel: string): boolean {
  return rel === STATE_DIR || rel.startsWith(STATE_DIR + '/');
}
