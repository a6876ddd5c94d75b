// The one decision: what should happen to a path, given the baseline (what both sides held when
// they last agreed) and what each side holds now. Every caller asks this function: the two-way
// reconcile run, the one-way run (the same answer, with only the writes into dest kept), the live
// applier and `run`'s start. Pure: no filesystem, no clock, no network.
//
// Invariants (safe from data loss first):
// - A side changed since the baseline when anything differs from its own baseline entry: kind,
//   size, mtime (exactly, as lstat reports it), symlink target. --mtime-threshold applies only
//   when the two sides are compared with each other, never when a side is compared with itself.
// - One side changed, the other did not: the changed side wins, whatever the mtimes. A delete is
//   such a change, and is carried out only with --delete-missing (without it, the unchanged copy
//   is brought back). A delete is honoured only when the other side still holds the baseline's
//   version; otherwise it deleted something older, and the newer version wins.
// - Both changed, to different contents: the newer mtime keeps the name, the other version is
//   moved aside to a conflict copy and synced like any other file. Nothing is overwritten.
// - No baseline entry (first run, lost state, baseline unreadable): newest wins, nothing is
//   deleted, and the version replaced is kept.
// - Every overwrite and delete of a file or symlink keeps the old version (the shell moves it to
//   the versions area first). Nothing is ever done to fifos, sockets or devices.
// - A directory on one side and a file or symlink on the other, where no rule lets the directory
//   go (it never does: its contents may be new), is settled by the directory: the file is moved
//   aside to a conflict copy, and the directory is made in its place.
// - A racy baseline entry (recorded within a moment of its whole-second mtime, src/core/racy.ts)
//   is not trusted by size and mtime: the two sides' contents are compared instead.
import type { BaseEntry, BaseRecord, Entry, EntryKind, PlanOptions, Problem } from './types.js';

export type SideName = 'a' | 'b';

export const otherSide = (s: SideName): SideName => (s === 'a' ? 'b' : 'a');

/** The decision's options: --mtime-threshold (ms, across sides only) and --delete-missing. */
export type DecideOptions = PlanOptions;

/** MD5s of both sides' files, once the shell computed them for a 'hash' answer. */
export interface Hashes {
  readonly a: string;
  readonly b: string;
}

/**
 * What to do with one path. The shell carries it out with check-before-write against the
 * entries named here, keeps the version it replaces, and then writes the baseline.
 */
export type Decision =
  /** Nothing anywhere, or already equal and recorded. */
  | { readonly type: 'none' }
  /** Both sides hold the same thing: record it as the baseline, touch nothing. */
  | { readonly type: 'agree'; readonly rec: BaseRecord }
  /** Gone on both sides: drop the baseline entry. */
  | { readonly type: 'drop' }
  /** Same size, mtimes apart: the shell hashes both files and asks again with `Hashes`. */
  | { readonly type: 'hash' }
  /** Make `to`'s entry a copy of `from`'s (`dest` is what `to` holds now, kept as a version). */
  | {
      readonly type: 'copy';
      readonly from: SideName;
      readonly to: SideName;
      readonly src: Entry;
      readonly dest: Entry | undefined;
    }
  /** Equal contents (MD5): set `to`'s mtime to `from`'s, move no bytes. */
  | {
      readonly type: 'touch';
      readonly from: SideName;
      readonly to: SideName;
      readonly src: Entry;
      readonly dest: Entry;
    }
  /** Remove `on`'s entry (a file or symlink is kept as a version; a directory only when empty). */
  | { readonly type: 'delete'; readonly on: SideName; readonly entry: Entry }
  /**
   * Both changed: `loser`'s version is moved aside to a conflict copy on its side, `winner`'s is
   * copied over the name, and the conflict copy is copied to the winner's side.
   */
  | {
      readonly type: 'conflict';
      readonly winner: SideName;
      readonly loser: SideName;
      readonly win: Entry;
      readonly lose: Entry;
    }
  /** Both sides hold a directory: walk it. */
  | { readonly type: 'descend' }
  /**
   * A directory on one side only. `create`: make it on the other side and walk it (its contents
   * are copied). `remove`: the other side deleted it (--delete-missing): walk it against an empty
   * other side, then remove it if it ended up empty.
   */
  | { readonly type: 'dir-one-side'; readonly on: SideName; readonly then: 'create' | 'remove' }
  /**
   * A directory on `dir`'s side, a file or symlink (`file`) on the other. The directory wins and
   * nothing is lost: the file is moved aside to a conflict copy on its own side, the directory is
   * made in its place and walked with no baseline below it (what the directory holds is copied,
   * nothing is deleted), and the conflict copy goes to the directory's side.
   */
  | {
      readonly type: 'dir-over-file';
      readonly dir: SideName;
      readonly entry: Entry;
      readonly file: Entry;
    }
  /** Left alone and reported (a fifo, socket or device). */
  | { readonly type: 'problem'; readonly problem: Omit<Problem, 'path'> };

/** True when a side's entry is what its baseline entry recorded (exactly). */
export function unchanged(
  now: Pick<Entry, 'kind' | 'size' | 'mtimeMs' | 'target'> | undefined,
  base: BaseEntry | undefined,
): boolean {
  if (!now || !base) return now === base;
  if (now.kind !== base.kind) return false;
  if (now.kind === 'dir') return true;
  if (now.kind === 'symlink') return now.target === base.target;
  return now.size === base.size && now.mtimeMs === base.mtimeMs;
}

/** True when the two sides hold the same version (mtimes within the threshold). */
export function sameVersion(a: Entry, b: Entry, thresholdMs: number): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'dir') return true;
  if (a.kind === 'symlink') return a.target === b.target;
  return a.size === b.size && Math.abs(a.mtimeMs - b.mtimeMs) <= thresholdMs;
}

/**
 * The same mtime, as far as copies can carry one: setting an mtime through a double (utimes)
 * loses a fraction of a microsecond, so within a millisecond counts. Not the threshold.
 */
function sameInstant(a: Entry, b: Entry): boolean {
  return Math.abs(a.mtimeMs - b.mtimeMs) < 1;
}

/** The baseline entry for what a side holds now. */
export function baseEntry(e: Entry): BaseEntry {
  const b: BaseEntry =
    e.kind === 'symlink'
      ? { kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, target: e.target ?? '' }
      : { kind: e.kind, size: e.kind === 'dir' ? 0 : e.size, mtimeMs: e.mtimeMs };
  return e.ino === undefined ? b : { ...b, ino: e.ino };
}

/**
 * The baseline entry of a copy of `e` on the other side, where that side's own entry is not known:
 * `e`'s, without its inode (a copy has an inode of its own).
 */
export function copiedEntry(e: Entry): BaseEntry {
  const { ino: _ino, ...rest } = baseEntry(e);
  return rest;
}

export function agreed(name: string, a: Entry, b: Entry, md5: string | null = null): BaseRecord {
  return { name, a: baseEntry(a), b: baseEntry(b), md5 };
}

const leaf = (k: EntryKind): boolean => k === 'file' || k === 'symlink';

/** The side whose version is newer; ties (within the threshold) go to a larger size, then to `a`. */
function newer(a: Entry, b: Entry, thresholdMs: number): SideName {
  const delta = a.mtimeMs - b.mtimeMs;
  if (Math.abs(delta) > thresholdMs) return delta > 0 ? 'a' : 'b';
  if (a.size !== b.size) return a.size > b.size ? 'a' : 'b';
  return delta >= 0 ? 'a' : 'b';
}

function pick(s: SideName, a: Entry, b: Entry): Entry {
  return s === 'a' ? a : b;
}

/** One side holds a directory, the other a file or symlink: the directory wins (see Decision). */
function dirOverFile(a: Entry, b: Entry): Decision {
  return a.kind === 'dir'
    ? { type: 'dir-over-file', dir: 'a', entry: a, file: b }
    : { type: 'dir-over-file', dir: 'b', entry: b, file: a };
}

/** How a side stands against its baseline entry: 'maybe' is a racy entry that looks unchanged. */
type Standing = 'same' | 'maybe' | 'changed';

function standing(now: Entry | undefined, base: BaseEntry | undefined): Standing {
  if (!unchanged(now, base)) return 'changed';
  return base?.racy === true && now?.kind === 'file' ? 'maybe' : 'same';
}

/**
 * Decides one path. `base` is the baseline record (undefined: none), `a`/`b` what each side holds
 * (undefined: nothing). `hashes` answers an earlier 'hash'.
 */
export function decidePath(
  base: BaseRecord | undefined,
  a: Entry | undefined,
  b: Entry | undefined,
  opts: DecideOptions,
  hashes?: Hashes,
): Decision {
  if (a?.kind === 'special' || b?.kind === 'special') {
    const side = a?.kind === 'special' ? 'src' : 'dest';
    return {
      type: 'problem',
      problem: { kind: 'special', side, message: 'skipped: a fifo, socket or device', fails: false },
    };
  }
  if (!a && !b) return base ? { type: 'drop' } : { type: 'none' };
  if (base === undefined) return firstMeeting(a, b, opts, hashes);

  const sa = standing(a, base.a);
  const sb = standing(b, base.b);
  const changedA = sa === 'changed';
  const changedB = sb === 'changed';
  if (!changedA && !changedB) {
    // Both as recorded. Both present (they agreed then); a directory on both sides is walked.
    if (a && b) {
      if (a.kind === 'dir') return { type: 'descend' };
      if (sa === 'same' && sb === 'same') return { type: 'none' };
      return racyCheck(base, a, b, sa === 'maybe', sb === 'maybe', opts, hashes);
    }
    return firstMeeting(a, b, opts, hashes); // a record that never matched: treat as unknown
  }
  if (changedA && changedB) return bothChanged(base, a, b, opts, hashes);
  const winner: SideName = changedA ? 'a' : 'b';
  return oneChanged(winner, winner === 'a' ? a : b, winner === 'a' ? b : a, base, opts, hashes);
}

/** Only `w` changed since the baseline: its state wins. `won` is w's entry, `kept` the other's. */
function oneChanged(
  w: SideName,
  won: Entry | undefined,
  kept: Entry | undefined,
  base: BaseRecord,
  opts: DecideOptions,
  hashes: Hashes | undefined,
): Decision {
  const l = otherSide(w);
  if (!won) {
    // Deleted on w; the other side still holds the baseline's version.
    const k = kept!;
    if (!opts.deleteMissing) return k.kind === 'dir' ? restoreDir(l) : copy(l, w, k, undefined);
    return k.kind === 'dir'
      ? { type: 'dir-one-side', on: l, then: 'remove' }
      : { type: 'delete', on: l, entry: k };
  }
  if (!kept) {
    // Deleted on the other side before this one changed: the change wins and comes back.
    return won.kind === 'dir' ? { type: 'dir-one-side', on: w, then: 'create' } : copy(w, l, won, undefined);
  }
  if (won.kind === 'dir' && kept.kind === 'dir') return { type: 'descend' };
  if (kept.kind === 'dir') {
    // w replaced its directory by a file: the other side's directory (and whatever it holds) wins.
    return w === 'a' ? dirOverFile(won, kept) : dirOverFile(kept, won);
  }
  if (won.kind === 'dir') {
    // w replaced a file by a directory: the other side's file is kept as a version, then replaced.
    return { type: 'delete', on: l, entry: kept };
  }
  // The changed side is compared with the other by contents, never by the threshold: a second
  // save of the same size within the threshold is a change too.
  if (won.kind === 'symlink' && kept.kind === 'symlink' && won.target === kept.target) {
    return { type: 'agree', rec: w === 'a' ? agreed(base.name, won, kept) : agreed(base.name, kept, won) };
  }
  if (won.kind === 'file' && kept.kind === 'file' && won.size === kept.size) {
    if (!hashes) return { type: 'hash' };
    if (hashes.a === hashes.b) return { type: 'touch', from: w, to: l, src: won, dest: kept };
  }
  return copy(w, l, won, kept);
}

/** Both sides changed since the baseline. */
function bothChanged(
  base: BaseRecord,
  a: Entry | undefined,
  b: Entry | undefined,
  opts: DecideOptions,
  hashes: Hashes | undefined,
): Decision {
  // An edit against a delete: the edit wins and comes back to the deleting side.
  if (!a)
    return b!.kind === 'dir'
      ? { type: 'dir-one-side', on: 'b', then: 'create' }
      : copy('b', 'a', b!, undefined);
  if (!b)
    return a.kind === 'dir'
      ? { type: 'dir-one-side', on: 'a', then: 'create' }
      : copy('a', 'b', a, undefined);
  if (a.kind === 'dir' && b.kind === 'dir') return { type: 'descend' };
  if (a.kind === 'dir' || b.kind === 'dir') return dirOverFile(a, b);
  return contentsDiffer(base.name, a, b, opts, hashes, true);
}

/** No baseline: newest wins, nothing is deleted, the version replaced is kept. */
function firstMeeting(
  a: Entry | undefined,
  b: Entry | undefined,
  opts: DecideOptions,
  hashes: Hashes | undefined,
): Decision {
  if (!a || !b) {
    const [on, e] = a ? (['a', a] as const) : (['b', b!] as const);
    return e.kind === 'dir'
      ? { type: 'dir-one-side', on, then: 'create' }
      : copy(on, otherSide(on), e, undefined);
  }
  if (a.kind === 'dir' && b.kind === 'dir') return { type: 'descend' };
  if (a.kind === 'dir' || b.kind === 'dir') return dirOverFile(a, b);
  return contentsDiffer(a.name, a, b, opts, hashes, false);
}

/**
 * Two leaf entries, both changed (or no baseline). Equal versions agree; same-size files are
 * hashed; otherwise the newer wins, and the other is a conflict copy (`conflict`) or a kept
 * version (no baseline: it may just be an older copy of the same file).
 */
function contentsDiffer(
  name: string,
  a: Entry,
  b: Entry,
  opts: DecideOptions,
  hashes: Hashes | undefined,
  conflict: boolean,
): Decision {
  // Equal without reading them only when nothing tells them apart: the same target, or (met for
  // the first time, rsync's quick check) the same size and the same mtime. Otherwise files of
  // one size are compared by MD5: two different saves a second apart, or two edits that happen
  // to share a size and mtime, must never be taken for one.
  if (a.kind === 'symlink' && b.kind === 'symlink' && a.target === b.target) {
    return { type: 'agree', rec: agreed(name, a, b) };
  }
  if (!conflict && a.kind === 'file' && b.kind === 'file' && a.size === b.size && sameInstant(a, b)) {
    return { type: 'agree', rec: agreed(name, a, b) };
  }
  if (!leaf(a.kind) || !leaf(b.kind)) return dirOverFile(a, b);
  const w = newer(a, b, opts.mtimeThresholdMs);
  const l = otherSide(w);
  if (a.kind === 'file' && b.kind === 'file' && a.size === b.size) {
    if (!hashes) return { type: 'hash' };
    if (hashes.a === hashes.b) {
      // Both changed to the same contents: only the baseline learns it. Met for the first time:
      // the older copy takes the newer mtime (0 bytes moved), so the two listings match again.
      if (conflict) return { type: 'agree', rec: agreed(name, a, b, hashes.a) };
      return { type: 'touch', from: w, to: l, src: pick(w, a, b), dest: pick(l, a, b) };
    }
  }
  if (!conflict) return copy(w, l, pick(w, a, b), pick(l, a, b));
  return { type: 'conflict', winner: w, loser: l, win: pick(w, a, b), lose: pick(l, a, b) };
}

/**
 * Both sides look as recorded, and at least one of them is racy (it may have been saved again
 * within the recorded second). Equal contents: record them again. Different contents: the racy
 * side changed (the other still holds the baseline's version); both racy: a conflict.
 */
function racyCheck(
  base: BaseRecord,
  a: Entry,
  b: Entry,
  maybeA: boolean,
  maybeB: boolean,
  opts: DecideOptions,
  hashes: Hashes | undefined,
): Decision {
  if (a.kind !== 'file' || b.kind !== 'file') return { type: 'none' };
  if (a.size === b.size) {
    if (!hashes) return { type: 'hash' };
    if (hashes.a === hashes.b) return { type: 'agree', rec: agreed(base.name, a, b, hashes.a) };
  }
  if (maybeA && maybeB) return contentsDiffer(base.name, a, b, opts, hashes, true);
  return maybeA ? copy('a', 'b', a, b) : copy('b', 'a', b, a);
}

function copy(from: SideName, to: SideName, src: Entry, dest: Entry | undefined): Decision {
  return { type: 'copy', from, to, src, dest };
}

/** A directory deleted on one side, --delete-missing off: it is made again from the other's. */
function restoreDir(on: SideName): Decision {
  return { type: 'dir-one-side', on, then: 'create' };
}

/**
 * Whether a decision writes into `side` (for one-way runs, which may only write into dest: the
 * rest of a two-way decision is left to the opposite direction's run). A conflict writes into
 * both sides; a one-way run carries it out only when dest is the loser (its version is moved
 * aside on dest, src's is copied over it; the conflict copy reaches src in the other run).
 */
export function writesInto(d: Decision, side: SideName): boolean {
  switch (d.type) {
    case 'copy':
    case 'touch':
      return d.to === side;
    case 'delete':
      return d.on === side;
    case 'conflict':
      return d.loser === side;
    case 'dir-one-side':
      return d.then === 'create' ? d.on !== side : d.on === side;
    case 'dir-over-file':
      return d.dir !== side;
    default:
      return true;
  }
}
