// Parents opened once: every write of fsops reaches its entry through the open parent directory.
//
// The check that no parent of a path is a symlink (unsafeParents) is only true at the instant it
// is made: a parent renamed away and replaced by a symlink to an outside directory right after it
// would carry the next write by name outside the root. So the parent is opened once, without
// following a symlink below the root (Io.openDir), and the temp file, the rename over the target,
// the unlink, the mkdir and the times are all made through that open directory: what happens to
// the parent's name afterwards no longer matters. Where the Io cannot open directories (no /proc,
// see io.ts) the real-path check is made instead, right before the operation: a window remains
// between that check and each call (docs/operations.md, "Writes and symlinked parents").
import type { Io, OpenDirError } from './io.js';
import { ROOT_MISSING, parentMissing, parentUnsafe, splitRel, unsafeParents } from './paths.js';

/** An open parent directory: names in it are reached as `${dir}/${name}`. */
export interface Anchor {
  readonly dir: string;
  /** Closes the directory (never throws). Call it on every way out. */
  release(): Promise<void>;
}

const nothing = async (): Promise<void> => {};

/**
 * Opens the directory `dirRel` ('' for the root) under `root`. Returns the Anchor, or the reason
 * it is unsafe (UNSAFE_PATH wording, naming `rel`, the entry the caller means to act on). The
 * root itself is trusted (it may be a symlink: a mount path) and is not opened.
 */
export async function openAnchor(
  io: Io,
  root: string,
  dirRel: string,
  rel: string,
): Promise<Anchor | string> {
  if (dirRel === '') return { dir: root, release: nothing };
  if (!io.openDir) {
    // Any name will do: unsafeParents checks the directories above it.
    const probe = `${dirRel}/x`;
    const bad = await unsafeParents(root, probe, io);
    if (bad === null) return { dir: `${root}/${dirRel}`, release: nothing };
    return bad === parentUnsafe(probe) ? parentUnsafe(rel) : bad;
  }
  let handle: string;
  try {
    handle = await io.openDir(root, dirRel);
  } catch (err) {
    const e = err as OpenDirError;
    if (e.code === 'ENOENT') return e.atRoot ? ROOT_MISSING : parentMissing(dirRel);
    if (e.code === 'ELOOP' || e.code === 'ENOTDIR') return parentUnsafe(rel);
    throw err;
  }
  return { dir: handle, release: async () => void (await io.closeDir?.(handle)) };
}

/** Opens `rel`'s parent under `root` (see openAnchor). */
export function openParent(io: Io, root: string, rel: string): Promise<Anchor | string> {
  return openAnchor(io, root, splitRel(rel).parent, rel);
}
