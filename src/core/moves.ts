// Moves: a path gone on one side since the baseline and a path new on that same side with the
// same identity are one move, carried to the other side as a rename (no bytes copied, no version
// kept), never guessed from names. Pure: the shells list the candidates, read what each side
// holds, hash, and carry out the answer.
//
// Identity:
// - a file: the same size and the same mtime (exactly, as lstat reports it) as the baseline's
//   entry of the gone path on that side; then either the same inode number as that entry (where
//   both are known and the entry is not racy: a rename keeps the inode on every filesystem that
//   has stable ones), or else the same contents (MD5), which the shell computes only for such
//   candidates. Empty files are never paired: a copy of 0 bytes costs nothing, and every empty
//   file looks alike. A file moved and then edited is copied, not paired.
// - a directory: the same listing (names, kinds, and each file's size and mtime) as the baseline
//   held below the gone path on that side; or the same inode number as the gone directory with
//   at least one child still as recorded (a directory moved and then changed inside: its changes
//   follow the rename as ordinary decisions). A directory moved whole is one move, not
//   thousands. The child guards against a new directory given a freed inode number.
//
// A move is carried out on the other side only when its old path there still holds the
// baseline's version (for a directory: a directory); otherwise the ordinary decisions stand
// (copy, conflict copy, kept version), and the shell says why.
import { otherSide, unchanged, type Decision, type SideName } from './reconcile.js';
import type { BaseEntry, BaseRecord, Entry } from './types.js';

/** A path gone on `side` since the baseline: `base` is its record. */
export interface Gone {
  readonly path: string;
  readonly side: SideName;
  readonly base: BaseRecord;
}

/** A path new (or replaced) on `side`, which a copy would carry to the other side. */
export interface Appeared {
  readonly path: string;
  readonly side: SideName;
  readonly entry: Entry;
}

/** Which half of a move a decision could be, if any. */
export type MoveHalf =
  /** The path is gone on `side` (the decision deletes or removes it on the other side). */
  | { readonly half: 'gone'; readonly side: SideName; readonly kind: 'file' | 'dir' }
  /** The path is new (or replaced) on `side`: a file the decision copies, or a directory it makes. */
  | { readonly half: 'appeared'; readonly side: SideName; readonly kind: 'file'; readonly entry: Entry }
  | { readonly half: 'appeared'; readonly side: SideName; readonly kind: 'dir' };

/**
 * The one answer to "could this decision be half of a move": a delete of a file with contents or
 * the removal of a directory (gone on the other side), a copy of a file with contents, or a
 * directory made on the other side that the baseline never saw (appeared). The reconcile run holds
 * such halves until its walk is over; the live applier lets them wait a moment for each other.
 */
export function moveHalf(d: Decision, base: BaseRecord | undefined): MoveHalf | null {
  switch (d.type) {
    case 'delete':
      return base && d.entry.kind === 'file' && d.entry.size > 0
        ? { half: 'gone', side: otherSide(d.on), kind: 'file' }
        : null;
    case 'copy':
      return d.src.kind === 'file' && d.src.size > 0
        ? { half: 'appeared', side: d.from, kind: 'file', entry: d.src }
        : null;
    case 'dir-one-side':
      if (d.then === 'remove') return base ? { half: 'gone', side: otherSide(d.on), kind: 'dir' } : null;
      return base === undefined ? { half: 'appeared', side: d.on, kind: 'dir' } : null;
    default:
      return null;
  }
}

/** Whether a path held as `e` on a side could, once gone there, be half of a move. */
export function couldMove(e: BaseEntry): boolean {
  return e.kind === 'dir' || (e.kind === 'file' && e.size > 0);
}

/**
 * The MD5 the old contents on `side` are known to have without reading them: the baseline's,
 * unless `side`'s entry is racy (its size and mtime cannot tell a re-save in the same second from
 * the recorded version, src/core/racy.ts). Undefined: the shell hashes the file.
 */
export function knownMd5(base: BaseRecord, side: SideName): string | undefined {
  return base[side].racy === true ? undefined : (base.md5 ?? undefined);
}

/**
 * True when `now` has the inode number `base` recorded (both known), and `base` can be trusted
 * for it: not racy (a file saved again in place within its recorded second keeps its inode, size
 * and mtime). For files this stands in for the MD5 check, once size and mtime matched.
 */
export function sameInode(base: BaseEntry, now: Pick<Entry, 'kind' | 'ino'>): boolean {
  return (
    base.ino !== undefined &&
    now.ino !== undefined &&
    base.ino === now.ino &&
    base.kind === now.kind &&
    base.racy !== true
  );
}

/** The key under which a gone file and an appeared one can pair (null: never paired). */
export function fileKey(side: SideName, kind: Entry['kind'], size: number, mtimeMs: number): string | null {
  if (kind !== 'file' || size === 0) return null;
  return `${side}\0${size}\0${mtimeMs}`;
}

export function goneKey(g: Gone): string | null {
  const e = g.base[g.side];
  return fileKey(g.side, e.kind, e.size, e.mtimeMs);
}

export function appearedKey(a: Appeared): string | null {
  return fileKey(a.side, a.entry.kind, a.entry.size, a.entry.mtimeMs);
}

/** A child in a directory's listing, as far as move detection looks at it. */
export type Listed = Pick<Entry, 'name' | 'kind' | 'size' | 'mtimeMs' | 'target' | 'ino'>;

/** One line per child, sorted: what a directory's listing must match to be the same directory. */
export function listingSignature(children: readonly Omit<Listed, 'ino' | 'target'>[]): string | null {
  if (children.length === 0) return null; // an empty directory looks like every other one
  const lines = children.map((c) =>
    c.kind === 'file' ? `f\0${c.name}\0${c.size}\0${c.mtimeMs}` : `${c.kind[0]}\0${c.name}`,
  );
  lines.sort();
  return lines.join('\n');
}

/** The signature of a gone directory, from the baseline records below it (its own side's). */
export function goneSignature(side: SideName, below: readonly BaseRecord[]): string | null {
  return listingSignature(below.map((r) => ({ name: r.name, ...r[side] })));
}

/**
 * Whether the directory `now`, listing `children` on `side`, is the gone directory whose baseline
 * entry is `base` and whose records below were `below`: the same listing, or the same inode with
 * at least one child as recorded (see the header).
 */
export function sameDirectory(
  side: SideName,
  base: BaseRecord,
  below: readonly BaseRecord[],
  now: Pick<Entry, 'kind' | 'ino'>,
  children: readonly Listed[],
): boolean {
  if (now.kind !== 'dir' || base[side].kind !== 'dir') return false;
  const sig = listingSignature(children);
  if (sig !== null && sig === goneSignature(side, below)) return true;
  if (!sameInode(base[side], now)) return false;
  const byName = new Map(below.map((r) => [r.name, r[side]] as const));
  return children.some((c) => {
    const was = byName.get(c.name);
    return was !== undefined && unchanged(c, was) && (c.kind !== 'dir' || sameInode(was, c));
  });
}

/** What to do with a paired move, on the side that did not move (`on`). */
export type MoveDecision =
  | {
      readonly type: 'move';
      /** The side the rename is made on. */
      readonly on: SideName;
      readonly from: string;
      readonly to: string;
      /** What `on` holds at `from` (checked right before the rename). */
      readonly entry: Entry;
      /** What `on` holds at `to`, kept as a version first (a move onto an existing file). */
      readonly replaces: Entry | undefined;
    }
  /** Not a move after all: the ordinary decisions stand. */
  | { readonly type: 'no-move'; readonly why: string };

/**
 * Decides a pairing of `gone` with `appeared` (same side, same identity). `oldThere` is what the
 * other side holds at the old path, `newThere` at the new one. `sameContents`: the shell's MD5
 * check for files (undefined for directories).
 */
export function decideMove(
  gone: Gone,
  appeared: Appeared,
  oldThere: Entry | undefined,
  newThere: Entry | undefined,
  sameContents?: boolean,
): MoveDecision {
  const on: SideName = gone.side === 'a' ? 'b' : 'a';
  const { path: from } = gone;
  const { path: to } = appeared;
  if (gone.side !== appeared.side) return { type: 'no-move', why: 'not the same side' };
  if (to.startsWith(`${from}/`) || from.startsWith(`${to}/`)) {
    return { type: 'no-move', why: `'${to}' and '${from}' are inside one another: refused` };
  }
  if (!oldThere) return { type: 'no-move', why: `'${from}' is gone on the other side too` };
  if (appeared.entry.kind === 'dir') {
    if (oldThere.kind !== 'dir') return { type: 'no-move', why: `'${from}' is no longer a directory there` };
  } else {
    if (!unchanged(oldThere, gone.base[on])) {
      return { type: 'no-move', why: `'${from}' changed there since the baseline` };
    }
    if (sameContents !== true) return { type: 'no-move', why: 'different contents' };
  }
  if (newThere && (newThere.kind === 'dir' || appeared.entry.kind === 'dir')) {
    return { type: 'no-move', why: `'${to}' is taken there` };
  }
  return { type: 'move', on, from, to, entry: oldThere, replaces: newThere };
}
