// Single-path effects with check-before-write, shared by the reconciler and the live applier.
//
// Every function takes the state it expects to find, re-stats just before acting, and leaves the
// file alone (a failed result with the reason) when the disk disagrees. Per-file failures are
// results, never exceptions. Writes go through a temp file in the destination directory, get
// their mode and mtime, and are renamed into place: a process killed at any instant leaves either
// the old entry or the new one under the real name, plus at most one stale temp file that the
// next run removes. With `keep`, the file or symlink a write replaces or deletes is first kept in
// the side's versions area (`.ha-sync/versions/`, see versions.ts), checked like everything else.
//
// Every entry is reached through its parent directory, opened once without following a symlink
// (anchor.ts): the temp file, the rename over the target, the unlink, the mkdir, the owner and the
// times, so a parent swapped for a symlink meanwhile cannot carry a write outside the root. A copy
// gives the entry its source's owner and group when the process may (owners.ts).
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { EntryKind, Expected } from '../core/index.js';
import { parseVersionName } from '../core/index.js';
import type { Anchor } from './anchor.js';
import { openParent } from './anchor.js';
import type { Io } from './io.js';
import { syncIo } from './io.js';
import { keepByRename, moveFresh, placeFresh, putBack, replaceKeeping } from './keep.js';
import type { OwnerChange, Owners } from './owners.js';
import { keepOwner, ownerChange } from './owners.js';
import { splitRel, tempName, unsafeRelPath } from './paths.js';
import { kindOf } from './scan.js';
import { isStatePath } from './versions.js';

export type FailCode = 'CHANGED_UNDER_US' | 'UNSAFE_PATH' | 'IO';

/**
 * A single-path effect's outcome. `kept`: where the entry it replaced or deleted was kept (a path
 * relative to the root, under `.ha-sync/versions/`), when the call had `keep` and there was one.
 * `owner`: the owner change a copy made (see owners.ts `ownerChange`), when there was one.
 * `ownerDenied`: the copy could not give the entry its source's owner (chown refused).
 */
export type OpResult =
  /** `ino`: the written entry's inode number, where the writer tells it (the batched copier). */
  | { ok: true; bytes: number; kept?: string; owner?: OwnerChange; ownerDenied?: true; ino?: number }
  | { ok: false; code: FailCode; reason: string };

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
  /**
   * The run's owner keeping (one warning a run when chown is refused). Default: chown is tried
   * for every copy whose source is not the process's own, and a refusal is not reported.
   */
  owners?: Owners;
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

/** One parent an operation opens: `side` prefixes the reason when it is unsafe. */
interface Place {
  readonly root: string;
  readonly rel: string;
  readonly side?: string;
}

/**
 * Opens the parents of `places` (anchor.ts), runs `act` with their open directories, and closes
 * them on every way out. A path that is unsafe, or a parent that is missing or a symlink, fails
 * with UNSAFE_PATH before anything is done.
 */
async function withParents(
  io: Io,
  places: readonly Place[],
  act: (dirs: string[]) => Promise<OpResult>,
): Promise<OpResult> {
  const held: Anchor[] = [];
  const why = (p: Place, reason: string): OpResult =>
    fail('UNSAFE_PATH', p.side ? `${p.side}: ${reason}` : reason);
  try {
    for (const p of places) {
      const bad = unsafeRelPath(p.rel);
      if (bad) return why(p, bad);
    }
    for (const p of places) {
      const a = await openParent(io, p.root, p.rel);
      if (typeof a === 'string') return why(p, a);
      held.push(a);
    }
    return await act(held.map((a) => a.dir));
  } finally {
    for (const a of held) await a.release();
  }
}

/** Where a write lands: `rel` under `root`, reached as `abs` through its open parent `dir`. */
interface Dest {
  readonly root: string;
  readonly rel: string;
  readonly dir: string;
  readonly abs: string;
}

function destAt(root: string, rel: string, dir: string): Dest {
  return { root, rel, dir, abs: `${dir}/${splitRel(rel).name}` };
}

/**
 * Makes dest's `rel` a copy of src's `rel` (a file, a directory or a symlink), provided src still
 * matches `expected.src` and dest still matches `expected.dest` (null: must not exist).
 * Files: copied to a temp file beside the target, owner, mode and mtime set, src re-checked after
 * the copy, dest re-checked, then renamed over. Directories: created with src's mode and owner (an
 * existing directory is a failure: the plan did not expect it). Symlinks: same target text, never
 * followed. With `keep`, the file or symlink being replaced is kept in the versions area first
 * (see keep.ts `replaceKeeping`); the result names it (`kept`).
 */
export async function copyEntry(
  srcRoot: string,
  destRoot: string,
  rel: string,
  expected: { src: Expected; dest: Expected | null },
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  const places = [
    { root: srcRoot, rel, side: 'source' },
    { root: destRoot, rel, side: 'destination' },
  ];
  try {
    return await withParents(io, places, async ([sd, dd]) => {
      if (opts.keep && isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
      const srcAbs = `${sd!}/${splitRel(rel).name}`;
      const dest = destAt(destRoot, rel, dd!);
      if (expected.src.kind === 'dir') return copyDir(io, srcAbs, dest, expected, opts);
      return copyLeaf(io, srcAbs, dest, expected, expected.src.mtimeMs, opts);
    });
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/** Why a path inside `.ha-sync/` is not written as a synced entry. */
const STATE_PATH = "path is inside '.ha-sync/', which belongs to ha-sync; left alone";

function owned(change: OwnerChange | undefined, outcome: string): Partial<OpResult & { ok: true }> {
  return { ...(change ? { owner: change } : {}), ...(outcome === 'denied' ? { ownerDenied: true } : {}) };
}

async function copyDir(
  io: Io,
  srcAbs: string,
  dest: Dest,
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
    await io.mkdir(dest.abs, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return fail('CHANGED_UNDER_US', 'destination changed since planned: now exists');
    }
    throw err;
  }
  const outcome = await keepOwner(io, dest.abs, before, opts.owners);
  // After the owner (chown clears the setgid bit): mkdir's mode is also filtered by the umask.
  await io.chmod(dest.abs, mode);
  return { ok: true, bytes: 0, ...owned(ownerChange(outcome, before, null), outcome) };
}

/**
 * Copies the file or symlink at `srcAbs` (through its open parent) to `dest` through a temp file,
 * giving it `mtimeMs` and the source's owner. Shared by copyEntry (src's own mtime) and
 * restoreEntry (the restore's time).
 */
async function copyLeaf(
  io: Io,
  srcAbs: string,
  dest: Dest,
  expected: { src: Expected; dest: Expected | null },
  mtimeMs: number,
  opts: OpOptions,
): Promise<OpResult> {
  const tmp = `${dest.dir}/${tempName(opts.tempId ?? UNMARKED_ROOT_ID)}`;
  const mtimeS = mtimeMs / 1000;
  // From the call that may create the temp file on, every way out but the rename removes it (a
  // failed check, a lost lock, a call that throws, a copy that failed part way), so no temp file
  // is left behind by a process that lives on.
  let made = false;
  try {
    let bytes = 0;
    let from: fs.Stats;
    if (expected.src.kind === 'symlink') {
      const before = await io.lstat(srcAbs);
      const srcDiff = mismatch(before, expected.src);
      if (srcDiff || !before) return fail('CHANGED_UNDER_US', `source changed since planned: ${srcDiff}`);
      const target = await io.readlink(srcAbs);
      made = true;
      await io.symlink(target, tmp);
      from = before;
    } else if (expected.src.kind === 'file') {
      // The source is opened without following a symlink and without waiting on a fifo, checked
      // with fstat, and the bytes copied are those of the file opened (io.ts copyChecked).
      made = true;
      const c = await io.copyChecked(srcAbs, tmp, expected.src);
      if (!c.copied) return fail('CHANGED_UNDER_US', srcChanged(mismatch(c.st, expected.src) ?? 'changed'));
      from = c.st;
      bytes = expected.src.size;
    } else {
      return fail('IO', `cannot copy a ${expected.src.kind}`);
    }
    const outcome = await keepOwner(io, tmp, from, opts.owners);
    // chown clears the setuid and setgid bits: put them back.
    if (outcome === 'done' && expected.src.kind === 'file' && (from.mode & 0o6000) !== 0) {
      await io.chmod(tmp, from.mode & 0o7777);
    }
    try {
      await io.lutimes(tmp, Date.now() / 1000, mtimeS);
    } catch (err) {
      // Some filesystems cannot set a symlink's times; the target text is what matters.
      if (expected.src.kind === 'file') throw err;
    }
    if (expected.src.kind === 'file') {
      const changed = mismatch(await io.lstat(srcAbs), expected.src);
      if (changed) return fail('CHANGED_UNDER_US', srcChanged(changed));
    }
    // Check before write: dest must still be what the plan saw, right before the rename.
    const now = await io.lstat(dest.abs);
    const last = mismatch(now, expected.dest);
    if (last) return fail('CHANGED_UNDER_US', destChanged(last));
    if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
    const extra = owned(ownerChange(outcome, from, now), outcome);
    const old = expected.dest;
    if (opts.keep && old !== null && versioned(old.kind)) {
      const r = await replaceKeeping(io, tmp, dest.root, dest.rel, dest.abs, old, opts.keep.nowMs);
      if (!r.ok) return r;
      made = false;
      return { ok: true, bytes, kept: r.kept, ...extra };
    }
    // A create never replaces what another writer made since the check (placeFresh: atomic).
    try {
      if (old === null) await placeFresh(io, tmp, dest.abs);
      else await io.rename(tmp, dest.abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        return fail('CHANGED_UNDER_US', destChanged('a new entry took its name'));
      throw err;
    }
    made = false;
    return { ok: true, bytes, ...extra };
  } finally {
    if (made) await discard(io, tmp);
  }
}

/** Only files and symlinks are kept; directories are never versioned. */
function versioned(kind: Expected['kind']): boolean {
  return kind === 'file' || kind === 'symlink';
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
  const { name } = splitRel(rel);
  try {
    return await withParents(
      io,
      [
        { root: srcRoot, rel },
        { root: destRoot, rel },
      ],
      async ([sd, dd]) => {
        const s = await io.lstat(`${sd!}/${name}`);
        const sdiff = mismatch(s, expected.src);
        if (sdiff || !s) return fail('CHANGED_UNDER_US', `source changed since planned: ${sdiff}`);
        const ddiff = mismatch(await io.lstat(`${dd!}/${name}`), expected.dest);
        if (ddiff) return fail('CHANGED_UNDER_US', `destination changed since planned: ${ddiff}; left alone`);
        if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
        await io.lutimes(`${dd!}/${name}`, Date.now() / 1000, s.mtimeMs / 1000);
        return { ok: true, bytes: 0 };
      },
    );
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
    return await withParents(io, [{ root, rel }], async ([dir]) => {
      if (opts.keep && isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
      const abs = `${dir!}/${splitRel(rel).name}`;
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
        const r = await keepByRename(io, root, rel, abs, expected, opts.keep.nowMs, leftAlone);
        return r.ok ? { ok: true, bytes: 0, kept: r.kept } : r;
      } else {
        await io.unlink(abs);
      }
      return { ok: true, bytes: 0 };
    });
  } catch (err) {
    return fail('IO', errText(err));
  }
}

function leftAlone(diff: string): string {
  return `changed since planned: ${diff}; left alone`;
}

/**
 * Renames the file or symlink `rel` to `toRel` in the same directory (a conflict copy), provided
 * it still matches `expected` and nothing has the name `toRel`. Never clobbers: RENAME_NOREPLACE
 * where the Io and filesystem have it, else the name is checked free right before the rename (see
 * the note in keep.ts: `toRel` is a fresh timestamped name, and the pair's lock keeps other
 * ha-sync writers out). link + unlink would claim `toRel`
 * atomically, but its unlink could remove a file saved over `rel` after the check; with a rename
 * the entry checked afterwards is the entry moved, and a mismatch is moved back.
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
    const badTo = unsafeRelPath(toRel);
    if (badTo) return fail('UNSAFE_PATH', badTo);
    if (isStatePath(rel) || isStatePath(toRel)) return fail('UNSAFE_PATH', STATE_PATH);
    if (splitRel(rel).parent !== splitRel(toRel).parent || rel === toRel) {
      return fail('UNSAFE_PATH', `'${toRel}' is not another name in the directory of '${rel}'`);
    }
    return await withParents(io, [{ root, rel }], async ([dir]) => {
      if (!versioned(expected.kind)) return fail('IO', `cannot move a ${expected.kind} aside`);
      const { name } = splitRel(rel);
      return renameChecked(io, `${dir!}/${name}`, `${dir!}/${splitRel(toRel).name}`, toRel, expected, opts);
    });
  } catch (err) {
    return fail('IO', errText(err));
  }
}

/**
 * The step moveAside and moveEntry share: `abs` (reached through its open parent) is checked
 * against `expected`, moved to the free name `toAbs` (keep.ts `moveFresh`: never over a name taken
 * since), and checked again: a mismatch is moved back, never over something new. Never link +
 * unlink of `abs` itself: the unlink could remove a file saved over it between the two calls.
 */
async function renameChecked(
  io: Io,
  abs: string,
  toAbs: string,
  toRel: string,
  expected: Expected,
  opts: OpOptions,
): Promise<OpResult> {
  const taken = (): OpResult => fail('CHANGED_UNDER_US', `'${toRel}' already exists; not replacing it`);
  const diff = mismatch(await io.lstat(abs), expected);
  if (diff) return fail('CHANGED_UNDER_US', leftAlone(diff));
  if ((await io.lstat(toAbs)) !== null) return taken();
  if (opts.lost?.aborted) return fail('CHANGED_UNDER_US', LOST);
  try {
    await moveFresh(io, abs, toAbs, expected.kind === 'dir');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('CHANGED_UNDER_US', leftAlone('no longer exists'));
    if (code === 'EEXIST') return taken();
    if (code === 'EXDEV') return fail('IO', 'EXDEV: another filesystem: not a rename');
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
}

/**
 * Moves `rel` to `toRel` under the same root with one rename (a move seen on the other side,
 * carried out here): both parents opened without following symlinks, `rel` checked against
 * `expected` right before, never over an existing entry (the caller keeps what stood at `toRel`
 * first; see keep.ts `moveFresh` for a filesystem without RENAME_NOREPLACE, as NFS). A directory
 * never moves into its own subtree. Across filesystems (EXDEV): fails with IO, and the caller
 * copies instead.
 */
export async function moveEntry(
  root: string,
  rel: string,
  expected: Expected,
  toRel: string,
  opts: OpOptions = {},
): Promise<OpResult> {
  const io = opts.io ?? syncIo;
  try {
    if (isStatePath(rel) || isStatePath(toRel)) return fail('UNSAFE_PATH', STATE_PATH);
    if (rel === toRel || toRel.startsWith(`${rel}/`)) {
      return fail('UNSAFE_PATH', `'${toRel}' is '${rel}' or inside it: a directory cannot move into itself`);
    }
    return await withParents(
      io,
      [
        { root, rel },
        { root, rel: toRel },
      ],
      ([from, to]) =>
        renameChecked(
          io,
          `${from!}/${splitRel(rel).name}`,
          `${to!}/${splitRel(toRel).name}`,
          toRel,
          expected,
          opts,
        ),
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
    const places = [
      { root, rel: versionRel, side: 'version' },
      { root, rel },
    ];
    return await withParents(io, places, async ([vd, dd]) => {
      if (isStatePath(rel)) return fail('UNSAFE_PATH', STATE_PATH);
      if (!versioned(expected.src.kind)) return fail('IO', `cannot restore a ${expected.src.kind}`);
      const srcAbs = `${vd!}/${splitRel(versionRel).name}`;
      return copyLeaf(io, srcAbs, destAt(root, rel, dd!), expected, opts.mtimeMs, opts);
    });
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
export async function removeTemp(root: string, rel: string, io: Io = syncIo): Promise<boolean> {
  // Through the open parent, like every other unlink: a parent swapped for a symlink after the
  // listing must not carry this unlink outside the root.
  let parent: Anchor | string;
  try {
    parent = await openParent(io, root, rel);
  } catch {
    return false;
  }
  if (typeof parent === 'string') return false;
  try {
    await io.unlink(`${parent.dir}/${splitRel(rel).name}`);
    return true;
  } catch {
    return false;
  } finally {
    await parent.release();
  }
}
