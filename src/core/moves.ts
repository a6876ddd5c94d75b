// Moves: a path gone on one side since the baseline and a path new on that same side with the
// same identity are one move, carried to the other side as a rename (no bytes copied, no version
// kept), never guessed from names. Pure: the shells list the candidates, read what each side
// holds, hash, and carry out the answer.
//
// Identity:
// - a file: the same size and the same mtime (exactly, as lstat reports it) as the baseline's
//   entry of the gone path on that side; then the same contents (MD5), which the shell computes
//   only for such candidates. Empty files are never paired: a copy of 0 bytes costs nothing, and
//   every empty file looks alike.
// - a directory: the same listing (names, kinds, and each file's size and mtime) as the baseline
//   held below the gone path on that side. A directory moved whole is one move, not thousands.
//
// A move is carried out on the other side only when its old path there still holds the
// baseline's version (for a directory: a directory); otherwise the ordinary decisions stand
// (copy, conflict copy, kept version), and the shell says why.
import { unchanged, type SideName } from './reconcile.js';
import type { BaseRecord, Entry } from './types.js';

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

/** One line per child, sorted: what a directory's listing must match to be the same directory. */
export function listingSignature(
  children: readonly {
    readonly name: string;
    readonly kind: Entry['kind'];
    readonly size: number;
    readonly mtimeMs: number;
  }[],
): string | null {
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
