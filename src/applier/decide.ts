// The applier's pure core: given one change event and what is on disk now on both sides, decide the
// one operation (if any) that makes the two sides equal. It never touches the disk or the clock.
//
// Invariants (safe from data loss first):
// - Newest mtime wins; mtimes within the threshold count as equal. Equal files need nothing, which
//   also absorbs the echo of the applier's own copies (a copy preserves the mtime).
// - A delete is propagated only with deleteMissing, and only when the other side's copy still
//   matches what the deleting side last had (size and mtime). If the other side changed since, its
//   version wins and is copied back.
// - An upsert whose origin file is gone again does nothing: its delete event follows and decides.
// - Symlinks are synced as links (their target text, never followed) like files; fifos, sockets
//   and devices are never touched. A file never replaces a directory or a symlink, nor the
//   reverse: those are conflicts, logged and left alone.
import type { ChangeEvent } from '../bus/index.js';
import type { EntryKind } from '../core/index.js';

/** What the applier knows of one path on one side (lstat; symlinks are never followed). */
export interface Stat {
  kind: EntryKind;
  /** Bytes (files), target length (symlinks), 0 for directories. */
  size: number;
  mtimeMs: number;
}

/** Which side an operation reads from / writes to, relative to the event: its origin or the other. */
export type Where = 'origin' | 'other';

export type Plan =
  | { op: 'none'; reason: string }
  | { op: 'conflict'; reason: string }
  | {
      op: 'copy';
      from: Where;
      /** create when the destination has nothing at the path, else update. */
      kind: 'create' | 'update';
      expectSrc: Stat;
      expectDest: Stat | null;
    }
  /** Create the directory on the other side (as a copy of the origin's: mode kept). */
  | { op: 'mkdir'; expectSrc: Stat }
  /** Remove the other side's file or symlink, only if it still matches `expect`. */
  | { op: 'delete'; expect: Stat }
  /** Remove the other side's directory, only when empty. */
  | { op: 'rmdir'; expect: Stat };

export interface DecideOptions {
  deleteMissing: boolean;
  /** Tolerance for mtime equality, milliseconds (the reconciler's --mtime-threshold). */
  mtimeThresholdMs: number;
}

/** True when two files count as the same version: equal size and mtimes within the threshold. */
export function sameVersion(
  x: { size: number; mtimeMs: number },
  y: { size: number; mtimeMs: number },
  thresholdMs: number,
): boolean {
  return x.size === y.size && Math.abs(x.mtimeMs - y.mtimeMs) <= thresholdMs;
}

/**
 * Decides what to do for `ev`. `origin` is the current state of the path on the event's side,
 * `other` on the other side (null: nothing there).
 */
export function decide(ev: ChangeEvent, origin: Stat | null, other: Stat | null, opts: DecideOptions): Plan {
  if (origin?.kind === 'special' || other?.kind === 'special') {
    return { op: 'none', reason: 'fifos, sockets and devices are not synced' };
  }
  // A delete whose path exists again on its own side is stale: the state on disk decides, as for
  // an upsert.
  if (ev.type === 'upsert' || origin !== null) return reconcile(ev, origin, other, opts);

  // ev.type === 'delete' and the origin no longer has the path.
  if (other === null) return { op: 'none', reason: 'already gone on both sides' };
  if (!opts.deleteMissing)
    return { op: 'none', reason: 'deletes are not propagated without --delete-missing' };
  if (other.kind !== ev.kind) {
    return {
      op: 'conflict',
      reason: `a ${ev.kind} was deleted but the other side has a ${other.kind} there`,
    };
  }
  if (other.kind === 'dir') return { op: 'rmdir', expect: other };
  const last = { size: ev.size, mtimeMs: ev.mtimeMs };
  const matches =
    sameVersion(other, last, opts.mtimeThresholdMs) ||
    (ev.prev !== undefined && sameVersion(other, ev.prev, opts.mtimeThresholdMs));
  if (matches) return { op: 'delete', expect: other };
  // The other side changed since the deleted version: its version wins and comes back.
  return { op: 'copy', from: 'other', kind: 'create', expectSrc: other, expectDest: null };
}

function reconcile(ev: ChangeEvent, origin: Stat | null, other: Stat | null, opts: DecideOptions): Plan {
  if (origin === null) {
    // The origin's file is gone again; its delete event follows and decides.
    return { op: 'none', reason: 'gone on its own side since the event' };
  }
  if (origin.kind === 'dir') {
    if (other === null) return { op: 'mkdir', expectSrc: origin };
    if (other.kind === 'dir') return { op: 'none', reason: 'directory exists on both sides' };
    return { op: 'conflict', reason: `a directory on one side, a ${other.kind} on the other` };
  }
  if (other === null)
    return { op: 'copy', from: 'origin', kind: 'create', expectSrc: origin, expectDest: null };
  if (other.kind !== origin.kind)
    return { op: 'conflict', reason: `a ${origin.kind} on one side, a ${other.kind} on the other` };
  const d = origin.mtimeMs - other.mtimeMs;
  if (Math.abs(d) <= opts.mtimeThresholdMs) {
    if (origin.size === other.size) return { op: 'none', reason: 'equal' };
    // Same mtime within the threshold but different sizes: the side that reported a change wins,
    // provided the disk still shows what it reported (else its next event decides).
    if (ev.type === 'upsert' && origin.size === ev.size && Math.abs(origin.mtimeMs - ev.mtimeMs) < 1) {
      return { op: 'copy', from: 'origin', kind: 'update', expectSrc: origin, expectDest: other };
    }
    return { op: 'none', reason: 'mtimes within the threshold; sizes differ but the event is stale' };
  }
  return d > 0
    ? { op: 'copy', from: 'origin', kind: 'update', expectSrc: origin, expectDest: other }
    : { op: 'copy', from: 'other', kind: 'update', expectSrc: other, expectDest: origin };
}
