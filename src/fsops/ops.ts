// Single-path effects with check-before-write, shared by the reconciler and the live applier.
//
// Every function takes the state it expects to find, re-stats just before acting, and leaves the
// file alone (a failed result with the reason) when the disk disagrees. Per-file failures are
// results, never exceptions. Writes go through a temp file in the destination directory, get
// their mode and mtime, and are renamed into place: a process killed at any instant leaves either
// the old entry or the new one under the real name, plus at most one stale temp file that the
// next run removes. With `keep`, the file or symlink a write replaces or deletes is first kept in
// the side's versions area (`.ha-sync/versions/`, see versions.ts), checked like everything else.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { EntryKind, Expected } from '../core/index.js';
import type { Io } from './io.js';
import { syncIo } from './io.js';
import { parseVersionName } from '../core/index.js';
import { isHaSyncError } from '../errors.js';
import { splitRel, tempName, unsafeParents } from './paths.js';
import { kindOf } from './scan.js';
import { isStatePath, keepPath, linkVia } from './versions.js';

export type FailCode = 'CHANGED_UNDER_US' | 'UNSAFE_PATH' | 'IO';

/**
 * A single-path effect's outcome. `kept`: where the entry it replaced or deleted was kept (a path
 * relative to the root, under `.ha-sync/versions/`), when the call had `keep` and there was one.
 */
export type OpResult =
  { ok: true; bytes: number; kept?: string } | { ok: false; code: FailCode; reason: string };

export interface OpOptions {
  /** Filesystem calls; default synchronous (local disk). */
  io?: Io;
  /**
   * Aborted when this writer may no longer write: the pair's lock was lost, so another holder may
   * be writing the same tree. Checked right before every visible change (rename, mkdir, touch,
   * unlink, rmdir): a copy in flight is discarded rather than renamed over a file someone else may
   * now own. (SIGTERM is not this signal: a copy in flight on SIGTERM may finish, the lock is
   * still ours.)
   */
  lost?: AbortSignal;
  /**
   * Keep the file or symlink this call replaces (copyEntry) or deletes (deleteEntry) in
   * `<root>/.ha-sync/versions/`, named by `nowMs` (epoch milliseconds from the caller's clock,
   * written as a UTC second). Directories are never kept. Default: not kept (the seed's behaviour:
   * the old entry is gone).
   */
  keep?: { nowMs: number };
  /**
   * The destination root's id (its marker, see marker.ts): temp files are named with it, so a
   * later scan of that root knows them for ours. Default UNMARKED_ROOT_ID (tests; a temp file so
   * named is never taken for ours by a scan of a marked root).
   */
  tempId?: string;
}

/** The temp id of a write into a root whose marker the caller did not read. */
export const UNMARKED_ROOT_ID = '0000000000000000';

export const fail = (code: FailCode, reason: string): OpResult => ({ ok: false, code, reason });

/** Why a write was not made once the lock was lost. */
export const LOST = 'lock lost before the write; left alone';

/** How a failed call reads in a result: `ENOSPC: write failed`. */
export function ioFailure(code: string, syscall: string): string {
  return `${code}: ${syscall} failed`;
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? ioFailure(e.code, e.syscall ?? 'fs') : String(e?.message ?? err);
}

/** mtimes are compared at millisecond precision (utimes round-trips through a double). */
function sameMtime(a: number, b: number): boolean {
  return Math.abs(a - b) < 1;
}

/** Does `st` match the expected state? Returns a description of the difference, or null. */
export function mismatch(st: fs.Stats | null, exp: Expected | null): string | null {
  return mismatchSeen(st ? { kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs } : null, exp);
}

/** `mismatch` for what was seen some other way (kind, size and mtime; null: nothing there). */
export function mismatchSeen(
  seen: { kind: EntryKind; size: number; mtimeMs: number } | null,
  exp: Expected | null,
): string | null {
  if (exp === null) return seen ? `now exists (a ${seen.kind})` : null;
  if (!seen) return 'no longer exists';
  if (seen.kind !== exp.kind) return `is now a ${seen.kind}, expected a ${exp.kind}`;
  if (seen.kind === 'dir') return null;
  if (seen.size !== exp.size) return `size is now ${seen.size}, expected ${exp.size}`;
  if (!sameMtime(seen.mtimeMs, exp.mtimeMs)) return 'mtime changed';
  return null;
}

/** Why a source that changed during (or before) its copy was not copied. */
export function srcChanged(diff: string): string {
  return `source changed since planned or while copying (${diff}); copy discarded`;
}

/** Why dest's entry was left alone: it is no longer what the plan saw. */
export function destChanged(diff: string): string {
  return `destination changed since planned: ${diff}; left alone`;
}

async function discard(io: Io, path: string): Promise<void> {
  try {
    await io.unlink(path);
  } catch {
    // Best effort: the next run removes stale temp files.
  }
}

/**
 * Makes dest's `rel` a copy of src's `rel` (a file, a directory or a symlink), provided src still
 * matches `expected.src` and dest still matches `expected.dest` (null: must not exist).
 * Files: copied to a temp file beside the target, mode and mtime set, src re-checked after the
 * copy, dest re-checked, then renamed over. Directories: created with src's mode (an existing
 * directory is a failure: the plan did not expect it). Symlinks: same target text, never followed.
 * With `keep`, the file or symlink being replaced is kept in the versions area first (see
 * `replaceKeeping`); the result names it (`kept`).
 */
export async function copyEntry(
  srcRoot: string,
  destRoot: string,
  rel: string,
  expected: { src: Expected; dest: Expected | null },
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    const badSrc = await unsafeParents(srcRoot, rel, io);
    if (badSrc) return fail('UNSAFE_PATH', `source: ${badSrc}`);
    const badDest = await unsafeParents(destRoot, rel, io);
    if (badDest) return fail('UNSAFE_PATH', `destination: ${badDest}`);
    if (opts.keep && isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
    if (expected.src.kind === 'dir')
      return await copyDir(io, `${srcRoot}/${rel}`, `${destRoot}/${rel}`, expected, opts);
    return await copyLeaf(io, `${srcRoot}/${rel}`, destRoot, rel, expected, expected.src.mtimeMs, opts);
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/** Why a path inside `.ha-sync/` is not written as a synced entry. */
const STATE_PATH = "path is inside '.ha-sync/', which belongs to ha-sync; left alone";

async function copyDir(
  io: Io,
  srcAbs: string,
  destAbs: string,
  expected: { src: Expected; dest: Expected | null },
  opts: OpOptions,
): Promise<OpResult> {
  const before = await io.lstat(srcAbs);
  const srcDiff = mismatch(before, expected.src);
  if (srcDiff || !before) return fail('CHANGED_UNDER_US', `source changed since planned: ${srcDiff}`);
  if (expected.dest !== null)
    return fail('CHANGED_UNDER_US', 'destination exists; not replacing it with a directory');
  const mode = before.mode & 0o7777;
  if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
  try {
    await io.mkdir(destAbs, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return fail('CHANGED_UNDER_US', 'destination changed since planned: now exists');
    }
    throw err;
  }
  await io.chmod(destAbs, mode); // mkdir's mode is filtered by the umask.
  return { ok: true, bytes: 0 };
}

/**
 * Copies the file or symlink at `srcAbs` to `destRoot/rel` through a temp file, giving it
 * `mtimeMs`. Shared by copyEntry (src's own mtime) and restoreEntry (the restore's time).
 */
async function copyLeaf(
  io: Io,
  srcAbs: string,
  destRoot: string,
  rel: string,
  expected: { src: Expected; dest: Expected | null },
  mtimeMs: number,
  opts: OpOptions,
): Promise<OpResult> {
  const { parent } = splitRel(rel);
  const tmp = `${destRoot}${parent === '' ? '' : '/' + parent}/${tempName(opts.tempId ?? UNMARKED_ROOT_ID)}`;
  const mtimeS = mtimeMs / 1000;
  // Once the temp file exists, every way out but the rename removes it (a failed check, a lost
  // lock, a call that throws), so no temp file is left behind by a process that lives on.
  let made = false;
  try {
    let bytes = 0;
    if (expected.src.kind === 'symlink') {
      const before = await io.lstat(srcAbs);
      const srcDiff = mismatch(before, expected.src);
      if (srcDiff) return fail('CHANGED_UNDER_US', `source changed since planned: ${srcDiff}`);
      const target = await io.readlink(srcAbs);
      await io.symlink(target, tmp);
      made = true;
      try {
        await io.lutimes(tmp, Date.now() / 1000, mtimeS);
      } catch {
        // Some filesystems cannot set a symlink's times; the target text is what matters.
      }
    } else if (expected.src.kind === 'file') {
      // copyFile opens src as it finds it: a fifo that replaced src since the plan would wait
      // for a writer forever. Look first (on NFS this lstat is usually answered from the
      // attribute cache the scan filled).
      const pre = mismatch(await io.lstat(srcAbs), expected.src);
      if (pre) return fail('CHANGED_UNDER_US', srcChanged(pre));
      // copyFile copies in the kernel where it can and gives the copy src's permission bits. It
      // follows a symlink: if src was swapped for one, the lstat after the copy sees it and the
      // copy is discarded, like any other change to src during the copy. (A copy that fails
      // part way leaves at most a temp file, which the next reconcile removes.)
      await io.copyFile(srcAbs, tmp, expected.src.size);
      made = true;
      await io.utimes(tmp, Date.now() / 1000, mtimeS);
      const changed = mismatch(await io.lstat(srcAbs), expected.src);
      if (changed) return fail('CHANGED_UNDER_US', srcChanged(changed));
      bytes = expected.src.size;
    } else {
      return fail('IO', `cannot copy a ${expected.src.kind}`);
    }
    const destAbs = `${destRoot}/${rel}`;
    // Check before write: dest must still be what the plan saw, right before the rename.
    const last = mismatch(await io.lstat(destAbs), expected.dest);
    if (last) return fail('CHANGED_UNDER_US', destChanged(last));
    if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
    const dest = expected.dest;
    if (opts.keep && dest !== null && versioned(dest.kind)) {
      const r = await replaceKeeping(io, tmp, destRoot, rel, dest, opts.keep.nowMs);
      if (!r.ok) return r;
      made = false;
      return { ok: true, bytes, kept: r.kept };
    }
    await io.rename(tmp, destAbs);
    made = false;
    return { ok: true, bytes };
  } finally {
    if (made) await discard(io, tmp);
  }
}

// ---- keeping the entry a write replaces or removes ----
//
// A version is claimed without clobbering another version. link(2) fails on an existing name, so
// the copy path claims its name atomically. rename(2) replaces an existing name and Node has no
// RENAME_NOREPLACE, so the rename path checks the name is free right before renaming: only the
// holder of the pair's lock writes into the versions area, and nothing else makes these
// timestamped names, so nothing can take the name in between.

/** Only files and symlinks are kept; directories are never versioned. */
function versioned(kind: Expected['kind']): boolean {
  return kind === 'file' || kind === 'symlink';
}

/** link(2) errors that mean "this filesystem (or this file, for this user) cannot be linked". */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

/** Attempts at claiming a version name before giving up (each one lost a race). */
const RETRIES = 100;

type Kept = { ok: true; kept: string } | { ok: false; code: FailCode; reason: string };

const notKept = (code: FailCode, reason: string): Kept => ({ ok: false, code, reason });

/** A free version name for `rel`, or the failure that makes the versions area unusable. */
async function claimable(io: Io, root: string, rel: string, nowMs: number): Promise<string | Kept> {
  try {
    return await keepPath(root, rel, nowMs, io);
  } catch (err) {
    if (isHaSyncError(err, 'UNSAFE_PATH') || isHaSyncError(err, 'STATE_DIR_UNSAFE')) {
      return notKept('UNSAFE_PATH', `cannot keep its version: ${err.message}`);
    }
    throw err;
  }
}

/**
 * Renames `fromAbs` back to `toAbs` unless something now has that name (never clobbers). Returns
 * true when it was put back.
 */
async function putBack(io: Io, fromAbs: string, toAbs: string): Promise<boolean> {
  try {
    if ((await io.lstat(toAbs)) !== null) return false;
    await io.rename(fromAbs, toAbs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Hard-links `rel`'s current entry to a version name and checks the link is the entry the plan
 * saw. The entry stays in place, so the name is never missing. 'unsupported' when the filesystem
 * (or the file's owner, under protected_hardlinks) does not allow the link.
 */
async function keepByLink(
  io: Io,
  root: string,
  rel: string,
  expected: Expected,
  nowMs: number,
): Promise<Kept | 'unsupported'> {
  for (let tries = 0; ; tries++) {
    const v = await claimable(io, root, rel, nowMs);
    if (typeof v !== 'string') return v;
    const vAbs = `${root}/${v}`;
    try {
      await linkVia(io, `${root}/${rel}`, vAbs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST' && tries < RETRIES) continue; // Taken since keepPath looked: next name.
      if (code === 'ENOENT') {
        if ((await io.lstat(`${root}/${rel}`)) === null) {
          return notKept('CHANGED_UNDER_US', destChanged('no longer exists'));
        }
        if (tries < RETRIES) continue; // Expiry removed the (empty) version folder: make it again.
      }
      if (LINK_UNSUPPORTED.has(code)) return 'unsupported';
      throw err;
    }
    // The link names whatever entry was there at the instant of the link: check it is the one
    // the plan expected. If not, only our extra name is removed; the entry itself stays put.
    const diff = mismatch(await io.lstat(vAbs), expected);
    if (diff) {
      await io.unlink(vAbs);
      return notKept('CHANGED_UNDER_US', destChanged(diff));
    }
    return { ok: true, kept: v };
  }
}

/**
 * Renames `rel`'s entry to a version name, then checks it is the entry the plan saw; if not, it
 * is moved back (never over something new) and the call fails. `changed` words the failure.
 */
async function keepByRename(
  io: Io,
  root: string,
  rel: string,
  expected: Expected,
  nowMs: number,
  changed: (diff: string) => string,
): Promise<Kept> {
  const abs = `${root}/${rel}`;
  let v: string;
  for (let tries = 0; ; tries++) {
    const free = await claimable(io, root, rel, nowMs);
    if (typeof free !== 'string') return free;
    v = free;
    try {
      await io.rename(abs, `${root}/${v}`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if ((await io.lstat(abs)) === null) return notKept('CHANGED_UNDER_US', changed('no longer exists'));
      if (tries >= RETRIES) throw err; // Else expiry removed the (empty) version folder: again.
    }
  }
  const vAbs = `${root}/${v}`;
  const diff = mismatch(await io.lstat(vAbs), expected);
  if (diff === null) return { ok: true, kept: v };
  if (await putBack(io, vAbs, abs)) return notKept('CHANGED_UNDER_US', changed(diff));
  // Something new took the name while the entry was aside: both are kept, neither is lost.
  return notKept(
    'CHANGED_UNDER_US',
    `changed since planned: ${diff}; a new entry now has its name, so what was there is kept as '${v}'`,
  );
}

/**
 * The final step of a copy with `keep`: keeps dest's entry as a version, then renames `tmp` over
 * dest. With a hard link dest's name always holds the old entry or the new one. Where links are
 * not supported, the old entry is renamed aside first, so for that instant dest is missing (a
 * watcher may see a delete followed by a create); if the final rename fails it is put back.
 * On failure `tmp` is left for the caller to remove.
 */
async function replaceKeeping(
  io: Io,
  tmp: string,
  root: string,
  rel: string,
  expected: Expected,
  nowMs: number,
): Promise<Kept> {
  const abs = `${root}/${rel}`;
  const linked = await keepByLink(io, root, rel, expected, nowMs);
  if (linked !== 'unsupported') {
    if (linked.ok) await io.rename(tmp, abs);
    return linked;
  }
  const moved = await keepByRename(io, root, rel, expected, nowMs, destChanged);
  if (!moved.ok) return moved;
  try {
    await io.rename(tmp, abs);
  } catch (err) {
    await putBack(io, `${root}/${moved.kept}`, abs);
    throw err;
  }
  return moved;
}

/**
 * Sets dest's mtime to src's when their contents are known equal (MD5), provided both still
 * match what was hashed. Moves no bytes.
 */
export async function touchEntry(
  srcRoot: string,
  destRoot: string,
  rel: string,
  expected: { src: Expected; dest: Expected },
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    const bad = (await unsafeParents(srcRoot, rel, io)) ?? (await unsafeParents(destRoot, rel, io));
    if (bad) return fail('UNSAFE_PATH', bad);
    const s = await io.lstat(`${srcRoot}/${rel}`);
    const sd = mismatch(s, expected.src);
    if (sd || !s) return fail('CHANGED_UNDER_US', `source changed since planned: ${sd}`);
    const dd = mismatch(await io.lstat(`${destRoot}/${rel}`), expected.dest);
    if (dd) return fail('CHANGED_UNDER_US', `destination changed since planned: ${dd}; left alone`);
    if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
    await io.utimes(`${destRoot}/${rel}`, Date.now() / 1000, s.mtimeMs / 1000);
    return { ok: true, bytes: 0 };
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/**
 * Deletes `rel` under `root` if it still matches `expected`. Directories are removed only when
 * empty (rmdir), never recursively. With `keep`, a file or symlink is renamed into the versions
 * area instead of unlinked, and the result names it (`kept`).
 */
export async function deleteEntry(
  root: string,
  rel: string,
  expected: Expected,
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    const bad = await unsafeParents(root, rel, io);
    if (bad) return fail('UNSAFE_PATH', bad);
    if (opts.keep && isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
    const abs = `${root}/${rel}`;
    const diff = mismatch(await io.lstat(abs), expected);
    if (diff) return fail('CHANGED_UNDER_US', leftAlone(diff));
    if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
    if (expected.kind === 'dir') {
      try {
        await io.rmdir(abs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          return fail('CHANGED_UNDER_US', 'directory is not empty; left alone');
        }
        throw err;
      }
    } else if (opts.keep && versioned(expected.kind)) {
      // A rename, not link + unlink: the entry verified is the entry moved, so a file saved
      // over `rel` after the check can never be the one unlinked.
      const r = await keepByRename(io, root, rel, expected, opts.keep.nowMs, leftAlone);
      return r.ok ? { ok: true, bytes: 0, kept: r.kept } : r;
    } else {
      await io.unlink(abs);
    }
    return { ok: true, bytes: 0 };
  } catch (err) {
    return fail('IO', errText(err));
  }
}

function leftAlone(diff: string): string {
  return `changed since planned: ${diff}; left alone`;
}

/**
 * Renames the file or symlink `rel` to `toRel` in the same directory (a conflict copy), provided
 * it still matches `expected` and nothing has the name `toRel`. Never clobbers: the name is
 * checked free right before the rename (see the note on keeping above: `toRel` is a fresh
 * timestamped name, and the pair's lock keeps other ha-sync writers out). link + unlink would
 * claim `toRel` atomically, but its unlink could remove a file saved over `rel` after the check;
 * with a rename the entry checked afterwards is the entry moved, and a mismatch is moved back.
 */
export async function moveAside(
  root: string,
  rel: string,
  expected: Expected,
  toRel: string,
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    const bad = (await unsafeParents(root, rel, io)) ?? (await unsafeParents(root, toRel, io));
    if (bad) return fail('UNSAFE_PATH', bad);
    if (isStatePath(rel) || isStatePath(toRel)) return fail('UNSAFE_PATH', STATE_PATH);
    if (splitRel(rel).parent !== splitRel(toRel).parent || rel === toRel) {
      return fail('UNSAFE_PATH', `'${toRel}' is not another name in the directory of '${rel}'`);
    }
    if (!versioned(expected.kind)) return fail('IO', `cannot move a ${expected.kind} aside`);
    const abs = `${root}/${rel}`;
    const toAbs = `${root}/${toRel}`;
    const diff = mismatch(await io.lstat(abs), expected);
    if (diff) return fail('CHANGED_UNDER_US', leftAlone(diff));
    if ((await io.lstat(toAbs)) !== null) {
      return fail('CHANGED_UNDER_US', `'${toRel}' already exists; not replacing it`);
    }
    if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
    try {
      await io.rename(abs, toAbs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return fail('CHANGED_UNDER_US', leftAlone('no longer exists'));
      throw err;
    }
    const after = mismatch(await io.lstat(toAbs), expected);
    if (after === null) return { ok: true, bytes: 0 };
    if (await putBack(io, toAbs, abs))
      return fail('CHANGED_UNDER_US', `changed since planned: ${after}; moved back`);
    return fail(
      'CHANGED_UNDER_US',
      `changed since planned: ${after}; a new entry now has its name, so what was there is at '${toRel}'`,
    );
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/**
 * Puts the kept version `versionRel` (under `.ha-sync/versions/`) back at `rel` under the same
 * root, through copyEntry's steps: a temp file, check-before-write on both, then a rename (with
 * `keep`, the entry it replaces is kept first). The version itself stays where it is. The copy gets
 * `mtimeMs` (the restore's time), not the version's own mtime: see docs/recovery.md.
 */
export async function restoreEntry(
  root: string,
  versionRel: string,
  rel: string,
  expected: { src: Expected; dest: Expected | null },
  opts: OpOptions & { mtimeMs: number },
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    if (parseVersionName(versionRel) === null)
      return fail('UNSAFE_PATH', `'${versionRel}' is not a kept version`);
    const badV = await unsafeParents(root, versionRel, io);
    if (badV) return fail('UNSAFE_PATH', `version: ${badV}`);
    const bad = await unsafeParents(root, rel, io);
    if (bad) return fail('UNSAFE_PATH', bad);
    if (isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
    if (!versioned(expected.src.kind)) return fail('IO', `cannot restore a ${expected.src.kind}`);
    return await copyLeaf(io, `${root}/${versionRel}`, root, rel, expected, opts.mtimeMs, opts);
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/** MD5 of a regular file, hex. Never follows a symlink (O_NOFOLLOW). */
export async function md5File(abs: string): Promise<string> {
  const fh = await fs.promises.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const hash = createHash('md5');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/** Removes a stale temp file of ours (name checked by the caller). Returns true when removed. */
export async function removeTemp(abs: string, io: Io = syncIo): Promise<boolean> {
  try {
    await io.unlink(abs);
    return true;
  } catch {
    return false;
  }
}
