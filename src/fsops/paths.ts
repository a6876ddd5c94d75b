// Path safety. Every path fsops writes or deletes is relative to a trusted root and must stay
// inside it: no absolute paths, no '..', no NUL, no empty components, and no symlink anywhere
// between the root and the entry (a symlinked directory inside dest must never carry a write
// outside --dest). The root itself may be a symlink (a mount path): it is trusted.
import { randomBytes } from 'node:crypto';
import type { Io } from './io.js';

/**
 * Our temp files: `.ha-sync-<root id>-<16 hex>.tmp`, the root id from the root's marker (see
 * marker.ts). Only names with the id of the root they stand in are ours: a user's file with a
 * similar name (another id, the old `.ha-sync-<16 hex>.tmp` form) is synced like any other.
 * Short and of fixed length (a 255-byte name leaves no room for a prefix).
 */
export const TEMP_RE = /^\.ha-sync-([0-9a-f]{16})-[0-9a-f]{16}\.tmp$/;
const TEMP_LEN = 46;

/** Whether `name` is one of our temp files in the root whose id is `rootId` (null: none is). */
export function isTempName(name: string, rootId: string | null): boolean {
  return (
    rootId !== null &&
    name.length === TEMP_LEN &&
    name.startsWith('.ha-sync-') &&
    name.startsWith(rootId, 9) &&
    TEMP_RE.test(name)
  );
}

/** A temp file of ours untouched this long has lost its writer (a copy in flight changes its ctime), ms. */
export const STALE_TEMP_MS = 10 * 60_000;

// 8 random hex digits per process, then a counter: unique without a random draw per file.
const tempPrefix = randomBytes(4).toString('hex');
let tempCounter = 0;

/** A fresh temp file name for the root whose id is `rootId`. */
export function tempName(rootId: string): string {
  tempCounter = (tempCounter + 1) >>> 0;
  return `.ha-sync-${rootId}-${tempPrefix}${tempCounter.toString(16).padStart(8, '0')}.tmp`;
}

/** Why a relative path is unsafe, or null when it is fine. Pure. */
export function unsafeRelPath(rel: string): string | null {
  if (rel === '') return 'empty path';
  if (rel.includes('\0')) return 'path contains NUL';
  if (rel.startsWith('/')) return 'path is absolute';
  for (const part of rel.split('/')) {
    if (part === '') return 'path has an empty component';
    if (part === '..' || part === '.') return `path contains '${part}'`;
  }
  return null;
}

/** Splits 'a/b/c' into its parent ('a/b', '' for the root) and name ('c'). */
export function splitRel(rel: string): { parent: string; name: string } {
  const i = rel.lastIndexOf('/');
  return i < 0 ? { parent: '', name: rel } : { parent: rel.slice(0, i), name: rel.slice(i + 1) };
}

const realRoots = new Map<string, string>();

/**
 * Checks every directory between `root` and `rel`'s entry is a real directory (not a symlink, not
 * missing): the real path of the parent must be the real root plus the parent's relative path.
 * One realpath call (the kernel walks the components) instead of an lstat per component. Returns
 * a reason, or null when the path is safe to act on.
 */
export async function unsafeParents(root: string, rel: string, io: Io): Promise<string | null> {
  const bad = unsafeRelPath(rel);
  if (bad) return bad;
  const i = rel.lastIndexOf('/');
  if (i < 0) return null;
  const parent = rel.slice(0, i);
  let realRoot = realRoots.get(root);
  if (realRoot === undefined) {
    const r = await io.realpath(root);
    if (r === null) return ROOT_MISSING;
    realRoot = r;
    if (realRoots.size > 64) realRoots.clear();
    realRoots.set(root, r);
  }
  const real = await io.realpath(`${root}/${parent}`);
  if (real === null) return parentMissing(parent);
  if (real !== (realRoot === '/' ? '' : realRoot) + '/' + parent) return parentUnsafe(rel);
  return null;
}

export const ROOT_MISSING = 'root directory does not exist';

export function parentMissing(parent: string): string {
  return `parent directory '${parent}' does not exist`;
}

export function parentUnsafe(rel: string): string {
  return `a parent of '${rel}' is a symlink or not a directory; refusing to follow it`;
}
