// Planning, one directory at a time. Given what src and dest hold in ONE directory, decide the
// operations for its entries and which subdirectories to walk next. Pure: no filesystem, no clock.
//
// Invariants (safe from data loss first):
// - Nothing in dest is ever deleted or replaced by a different kind of entry unless
//   --delete-missing is on. Without it, a directory standing where src has a file (or the
//   reverse) is a failed entry with a reason, never a deletion.
// - A name src holds but could not read (`srcUnread`: lstat failed, symlink target not UTF-8) is
//   not missing from src: dest's entry of that name is left alone, even with --delete-missing.
// - When dest's copy is newer than src's (beyond the threshold) it is left alone: the opposite
//   direction's run brings it back. Ties within the threshold with different sizes go src -> dest.
// - Fifos, sockets and devices are never copied, replaced or deleted: a warning, not a failure.
// - Same size, src newer: the plan says 'hash'; the shell MD5s both and turns it into a 'touch'
//   (equal: set dest's mtime, move 0 bytes) or an 'update'.
import type { DescendMode, DirPlan, Entry, Op, PlanOptions, Problem } from './types.js';

/** Joins a directory path and a name ('' is the root). */
export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function byName(a: Entry, b: Entry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Should src's entry replace dest's of the same kind? `differs` says whether the contents differ
 * (size for files, target text for symlinks). Returns 'update', 'hash' (same size, src newer:
 * contents unknown) or null (leave dest alone).
 */
export function compareEntries(src: Entry, dest: Entry, mtimeThresholdMs: number): 'update' | 'hash' | null {
  const delta = src.mtimeMs - dest.mtimeMs;
  if (src.kind === 'symlink' && dest.kind === 'symlink') {
    if (src.target === dest.target) return null;
    return delta > mtimeThresholdMs || (Math.abs(delta) <= mtimeThresholdMs && delta >= 0) ? 'update' : null;
  }
  if (src.kind !== dest.kind) {
    // A file where dest has a symlink (or the reverse): the newer one wins, like contents.
    return delta >= -mtimeThresholdMs ? 'update' : null;
  }
  if (Math.abs(delta) <= mtimeThresholdMs) {
    // Equal mtimes: equal files, unless the sizes disagree (then src wins the tie, if not older).
    return src.size !== dest.size && delta >= 0 ? 'update' : null;
  }
  if (delta < 0) return null; // dest is newer: leave it.
  return src.size === dest.size ? 'hash' : 'update';
}

const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * Plans one directory. `src`/`dest` are its entries (any order); `mode` says whether both sides
 * exist ('both'), only src ('src-only': dest directory is being created), or only dest
 * ('dest-only': everything below is deleted; only reached with --delete-missing). `srcUnread`:
 * names src's listing holds but whose entries could not be read (never deleted from dest).
 */
export function planDir(
  dir: string,
  src: readonly Entry[],
  dest: readonly Entry[],
  opts: PlanOptions,
  mode: DescendMode = 'both',
  srcUnread: ReadonlySet<string> = NO_NAMES,
): DirPlan {
  const ops: Op[] = [];
  const descend: DirPlan['descend'][number][] = [];
  const problems: Problem[] = [];
  const replace: string[] = [];
  const srcSorted = mode === 'dest-only' ? [] : [...src].sort(byName);
  const destByName = new Map<string, Entry>();
  if (mode !== 'src-only') for (const d of dest) destByName.set(d.name, d);

  const special = (path: string, side: 'src' | 'dest', e: Entry): void => {
    problems.push({
      kind: 'special',
      path,
      side,
      message: `skipped: ${side} entry is a fifo, socket or device`,
      fails: false,
      [side]: e,
    });
  };

  for (const s of srcSorted) {
    const path = joinPath(dir, s.name);
    const d = destByName.get(s.name);
    destByName.delete(s.name);
    if (s.kind === 'special') {
      special(path, 'src', s);
      continue;
    }
    if (!d) {
      ops.push({ kind: 'create', path, src: s });
      if (s.kind === 'dir') descend.push({ path, mode: 'src-only' });
      continue;
    }
    if (d.kind === 'special') {
      special(path, 'dest', d);
      continue;
    }
    if (s.kind === 'dir' && d.kind === 'dir') {
      descend.push({ path, mode: 'both' });
      continue;
    }
    if (s.kind === 'dir' || d.kind === 'dir') {
      // A directory on one side, a file or symlink on the other.
      if (!opts.deleteMissing) {
        problems.push({
          kind: 'type-conflict',
          path,
          side: 'dest',
          message:
            d.kind === 'dir'
              ? `dest has a directory where src has a ${s.kind}; not replaced without --delete-missing`
              : `dest has a ${d.kind} where src has a directory; not replaced without --delete-missing`,
          fails: true,
          op: 'update',
          src: s,
          dest: d,
        });
        continue;
      }
      ops.push({ kind: 'delete', path, dest: d });
      if (d.kind === 'dir') descend.push({ path, mode: 'dest-only' });
      replace.push(path);
      continue;
    }
    const verdict = compareEntries(s, d, opts.mtimeThresholdMs);
    if (verdict) ops.push({ kind: verdict, path, src: s, dest: d });
  }

  if (opts.deleteMissing) {
    const rest = [...destByName.values()].sort(byName);
    for (const d of rest) {
      if (srcUnread.has(d.name)) continue;
      const path = joinPath(dir, d.name);
      if (d.kind === 'special') {
        special(path, 'dest', d);
        continue;
      }
      ops.push({ kind: 'delete', path, dest: d });
      if (d.kind === 'dir') descend.push({ path, mode: 'dest-only' });
    }
  }
  return { ops, descend, problems, replace };
}

/** The audit's word for a plan kind: touch and hash are updates (sync_operations has three). */
export function auditOperation(kind: Op['kind']): 'create' | 'update' | 'delete' {
  return kind === 'create' ? 'create' : kind === 'delete' ? 'delete' : 'update';
}

/**
 * The max-delete guard. Returns a reason when the run must fail before deleting anything, or null.
 * `srcEmpty`: src's root has no entries; `destFiles`: non-directory entries seen in dest;
 * `fileDeletes`: non-directory entries the plan would delete.
 */
export function deleteGuard(g: {
  srcEmpty: boolean;
  destEntries: number;
  destFiles: number;
  fileDeletes: number;
  maxDeletePercent: number;
  force: boolean;
}): string | null {
  if (g.force) return null;
  if (g.srcEmpty && g.destEntries > 0) {
    return 'source is empty but destination is not (is the source volume mounted?); refusing to delete; use --force to override';
  }
  if (g.fileDeletes === 0) return null;
  const percent = g.destFiles === 0 ? 100 : (g.fileDeletes / g.destFiles) * 100;
  if (percent > g.maxDeletePercent) {
    return `would delete ${g.fileDeletes} of ${g.destFiles} destination files (${percent.toFixed(1)}%), more than --max-delete ${g.maxDeletePercent}%; refusing to delete; use --force to override`;
  }
  return null;
}
