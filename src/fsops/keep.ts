// Keeping the entry a write replaces or removes, in the side's versions area (versions.ts).
//
// The entry is taken by a rename: whatever holds the name at that instant (even a file another
// host's writer put there a moment before) goes to the versions area, and is checked against what
// the plan saw afterwards (moved back, never over something new, if it differs). A write's new
// entry then takes the name only if nothing else did meanwhile (placeFresh: RENAME_NOREPLACE, or
// link(2) where the filesystem has no such flag). So no entry is ever replaced without being kept.
//
// A version name is claimed without clobbering another version: RENAME_NOREPLACE where the Io has
// it (the addon) and the filesystem supports it, and otherwise (node:fs has no such call; NFS
// refuses the flag) a check that the name is free right before renaming: only the holder of the
// pair's lock writes into the versions area, and nothing else makes these timestamped names.
//
// The entry is reached through its open parent (`entry`, see anchor.ts) and the version through
// its own open folder, so no rename can be carried outside the root by a folder swapped for a
// symlink meanwhile.
import { randomBytes } from 'node:crypto';
import type { Expected } from '../core/index.js';
import { isHaSyncError } from '../errors.js';
import { openParent } from './anchor.js';
import type { Io } from './io.js';
import type { FailCode } from './ops.js';
import { destChanged, mismatch } from './ops.js';
import { splitRel } from './paths.js';
import { keepPath } from './versions.js';

/** link(2) errors that mean "this filesystem (or this file, for this user) cannot be linked". */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

/** Attempts at claiming a version name before giving up (each one lost a race). */
const RETRIES = 100;

export type Kept = { ok: true; kept: string } | { ok: false; code: FailCode; reason: string };

const notKept = (code: FailCode, reason: string): Kept => ({ ok: false, code, reason });

/** A free version name (relative to the root), reached through its open folder (`abs`). */
interface Claim {
  readonly v: string;
  readonly abs: string;
  release(): Promise<void>;
}

/** A free version name for `rel`, or the failure that makes the versions area unusable. */
async function claimable(io: Io, root: string, rel: string, nowMs: number): Promise<Claim | Kept> {
  let v: string;
  try {
    v = await keepPath(root, rel, nowMs, io);
  } catch (err) {
    if (isHaSyncError(err, 'UNSAFE_PATH') || isHaSyncError(err, 'STATE_DIR_UNSAFE')) {
      return notKept('UNSAFE_PATH', `cannot keep its version: ${err.message}`);
    }
    throw err;
  }
  const folder = await openParent(io, root, v);
  if (typeof folder === 'string') return notKept('UNSAFE_PATH', `cannot keep its version: ${folder}`);
  return { v, abs: `${folder.dir}/${splitRel(v).name}`, release: () => folder.release() };
}

/** The errno of a failed call, or ''. */
const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? '';

/** rename(2) errors that mean "this filesystem has no RENAME_NOREPLACE". */
const NOREPLACE_UNSUPPORTED = new Set(['EINVAL', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP']);

/**
 * rename(2) of `fromAbs` to `toAbs` with RENAME_NOREPLACE (EEXIST when the name is taken). False,
 * having done nothing, where the Io or the filesystem has no such flag.
 */
async function renamedNoReplace(io: Io, fromAbs: string, toAbs: string): Promise<boolean> {
  if (!io.renameNoReplace) return false;
  try {
    await io.renameNoReplace(fromAbs, toAbs);
    return true;
  } catch (err) {
    if (!NOREPLACE_UNSUPPORTED.has(codeOf(err))) throw err;
    return false;
  }
}

/**
 * Renames `fromAbs` to `toAbs`, a name the caller checked free: atomically refusing an existing
 * name (EEXIST) where the Io and the filesystem can, else a plain rename (see the note above).
 */
export async function renameFresh(io: Io, fromAbs: string, toAbs: string): Promise<void> {
  if (await renamedNoReplace(io, fromAbs, toAbs)) return;
  await io.rename(fromAbs, toAbs);
}

const eexist = (abs: string): Error =>
  Object.assign(new Error(`EEXIST: file already exists, '${abs}'`), { code: 'EEXIST' });

/**
 * Moves `fromAbs` to `toAbs`, a name the caller checked free, never over what another writer put
 * there since: RENAME_NOREPLACE where the Io and the filesystem can. Else (NFS has no such flag,
 * and a stat there may be answered from a cache) a file or symlink is renamed to a hidden name
 * beside the target, nobody else's, then linked to the target, which the server refuses
 * atomically when the name is taken; then the hidden name is unlinked. Only for a directory (a
 * rename can replace an empty one only) or without links is the name checked right before a
 * plain rename. Throws EEXIST when the name is taken: what moved is then back at `fromAbs`, or,
 * should a new entry have taken that name too, kept under the hidden name
 * (`.ha-sync-moving-<16 hex>`: not a temp name, so it is synced, never swept).
 */
export async function moveFresh(io: Io, fromAbs: string, toAbs: string, dir: boolean): Promise<void> {
  if (await renamedNoReplace(io, fromAbs, toAbs)) return;
  if (!dir) {
    const hidden = `${toAbs.slice(0, toAbs.lastIndexOf('/'))}/.ha-sync-moving-${randomBytes(8).toString('hex')}`;
    await io.rename(fromAbs, hidden);
    try {
      await io.link(hidden, toAbs);
    } catch (err) {
      let failure = err;
      if (LINK_UNSUPPORTED.has(codeOf(err))) {
        if ((await io.lstat(toAbs)) === null) {
          await io.rename(hidden, toAbs);
          return;
        }
        failure = eexist(toAbs);
      }
      await placeFresh(io, hidden, fromAbs).catch(() => undefined); // back, never over a new entry
      throw failure;
    }
    await io.unlink(hidden);
    return;
  }
  if ((await io.lstat(toAbs)) !== null) throw eexist(toAbs);
  await io.rename(fromAbs, toAbs);
}

/**
 * Puts `fromAbs` at `toAbs` only if nothing has that name, atomically where the Io and the
 * filesystem can: RENAME_NOREPLACE, else link(2) then unlink (a network filesystem such as sshfs
 * has links but not the flag, and a stat there may be seconds old). Only where neither works is
 * the name checked right before a plain rename. Throws EEXIST when the name is taken.
 */
export async function placeFresh(io: Io, fromAbs: string, toAbs: string): Promise<void> {
  if (await renamedNoReplace(io, fromAbs, toAbs)) return;
  try {
    await io.link(fromAbs, toAbs);
  } catch (err) {
    if (!LINK_UNSUPPORTED.has(codeOf(err))) throw err;
    if ((await io.lstat(toAbs)) !== null) throw eexist(toAbs);
    await io.rename(fromAbs, toAbs);
    return;
  }
  await io.unlink(fromAbs);
}

/**
 * Renames `fromAbs` back to `toAbs` unless something now has that name (never clobbers). Returns
 * true when it was put back.
 */
export async function putBack(io: Io, fromAbs: string, toAbs: string): Promise<boolean> {
  try {
    if ((await io.lstat(toAbs)) !== null) return false;
    await renameFresh(io, fromAbs, toAbs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Renames `rel`'s entry (at `entry`) to a version name, then checks it is the entry the plan saw;
 * if not, it is moved back (never over something new) and the call fails. `changed` words the
 * failure. `then`, when given, runs while the version's folder is still open, with the version's
 * path (to put it back should the caller's next step fail).
 */
export async function keepByRename(
  io: Io,
  root: string,
  rel: string,
  entry: string,
  expected: Expected,
  nowMs: number,
  changed: (diff: string) => string,
  then?: (versionAbs: string) => Promise<void>,
): Promise<Kept> {
  let c: Claim;
  for (let tries = 0; ; tries++) {
    const free = await claimable(io, root, rel, nowMs);
    if (!('v' in free)) return free;
    c = free;
    try {
      await renameFresh(io, entry, c.abs);
      break;
    } catch (err) {
      await c.release();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && tries < RETRIES) continue; // Taken since keepPath looked: next name.
      if (code !== 'ENOENT') throw err;
      if ((await io.lstat(entry)) === null) return notKept('CHANGED_UNDER_US', changed('no longer exists'));
      if (tries >= RETRIES) throw err; // Else expiry removed the (empty) version folder: again.
    }
  }
  try {
    const diff = mismatch(await io.lstat(c.abs), expected);
    if (diff === null) {
      await then?.(c.abs);
      return { ok: true, kept: c.v };
    }
    if (await putBack(io, c.abs, entry)) return notKept('CHANGED_UNDER_US', changed(diff));
    // Something new took the name while the entry was aside: both are kept, neither is lost.
    return notKept(
      'CHANGED_UNDER_US',
      `changed since planned: ${diff}; a new entry now has its name, so what was there is kept as '${c.v}'`,
    );
  } finally {
    await c.release();
  }
}

/**
 * The final step of a copy with `keep`: dest's entry (at `entry`) is renamed into the versions
 * area, then `tmp` takes the name if nothing else did meanwhile. For that instant dest is missing
 * (a watcher may see a delete followed by a create); if the final step fails for another reason
 * the old entry is put back. On failure `tmp` is left for the caller to remove.
 */
export async function replaceKeeping(
  io: Io,
  tmp: string,
  root: string,
  rel: string,
  entry: string,
  expected: Expected,
  nowMs: number,
): Promise<Kept> {
  // Whatever holds the name at the instant of the first rename is what is kept (the rename takes
  // it, even from a writer on another host); the new entry then takes the name only if nothing
  // else did meanwhile. So no write, ours or anybody's, is ever replaced without being kept.
  let taken = false;
  const r = await keepByRename(io, root, rel, entry, expected, nowMs, destChanged, async (vAbs) => {
    try {
      await placeFresh(io, tmp, entry);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        taken = true;
        return;
      }
      await putBack(io, vAbs, entry);
      throw err;
    }
  });
  if (r.ok && taken) {
    return notKept(
      'CHANGED_UNDER_US',
      `changed since planned: a new entry took its name; left alone (what was there is kept as '${r.kept}')`,
    );
  }
  return r;
}
