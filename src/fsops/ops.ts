// Single-path effects with check-before-write, shared by the reconciler and the live applier.
//
// Every function takes the state it expects to find, re-stats just before acting, and leaves the
// file alone (a failed result with the reason) when the disk disagrees. Per-file failures are
// results, never exceptions. Writes go through a temp file in the destination directory, get
// their mode and mtime, and are renamed into place: a process killed at any instant leaves either
// the old entry or the new one under the real name, plus at most one stale temp file that the
// next run removes.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { EntryKind, Expected } from '../core/index.js';
import type { Io } from './io.js';
import { syncIo } from './io.js';
import { splitRel, tempName, unsafeParents } from './paths.js';
import { kindOf } from './scan.js';

export type FailCode = 'CHANGED_UNDER_US' | 'UNSAFE_PATH' | 'IO';

export type OpResult = { ok: true; bytes: number } | { ok: false; code: FailCode; reason: string };

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
}

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
    const srcAbs = `${srcRoot}/${rel}`;
    const destAbs = `${destRoot}/${rel}`;
    const mtimeS = expected.src.mtimeMs / 1000;

    if (expected.src.kind === 'dir') {
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

    const { parent } = splitRel(rel);
    const tmp = `${destRoot}${parent === '' ? '' : '/' + parent}/${tempName()}`;
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
      // Check before write: dest must still be what the plan saw, right before the rename.
      const last = mismatch(await io.lstat(destAbs), expected.dest);
      if (last) return fail('CHANGED_UNDER_US', destChanged(last));
      if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
      await io.rename(tmp, destAbs);
      made = false;
      return { ok: true, bytes };
    } finally {
      if (made) await discard(io, tmp);
    }
  } catch (err) {
    return fail('IO', errText(err));
  }
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
 * empty (rmdir), never recursively.
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
    const abs = `${root}/${rel}`;
    const diff = mismatch(await io.lstat(abs), expected);
    if (diff) return fail('CHANGED_UNDER_US', `changed since planned: ${diff}; left alone`);
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
    } else {
      await io.unlink(abs);
    }
    return { ok: true, bytes: 0 };
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
