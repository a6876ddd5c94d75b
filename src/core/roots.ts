// Whether a pass may sync one root, from what its marker says and what is on record: pure. The
// shell (src/reconciler/roots.ts) reads the marker, the baseline's and the ledger's records, and
// carries the answer out. One rule for every caller that starts a pass (a reconcile run, `run`).

/** What the root's marker says. */
export type MarkerSeen =
  | { readonly kind: 'ok'; readonly rootId: string }
  /** It names another pair or side: `why` says which. */
  | { readonly kind: 'foreign'; readonly why: string }
  /** Unreadable, a symlink, garbled, or the root itself is missing: `why` says which. */
  | { readonly kind: 'bad'; readonly why: string }
  | { readonly kind: 'none' };

/** The root's id on record (the baseline's or the ledger's); `unknown`: neither could be asked. */
export type IdOnRecord =
  | { readonly kind: 'id'; readonly rootId: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'unknown'; readonly why: string };

export type RootAction =
  /** A marked root of this pair: use it (and record its id). */
  | { readonly act: 'use'; readonly rootId: string }
  /** Never marked: its first sync marks it now. */
  | { readonly act: 'mark' }
  /** Left unmarked: a dry run (changes nothing) or a one-way run's source (never written). */
  | { readonly act: 'unmarked'; readonly why: 'dry-run' | 'source' }
  /** Not the pair's root now: refuse it. `foreign`: it belongs elsewhere (configuration). */
  | { readonly act: 'refuse'; readonly foreign: boolean; readonly reason: RefuseReason };

export type RefuseReason =
  | { readonly kind: 'foreign' | 'bad' | 'cannot-tell'; readonly why: string }
  | { readonly kind: 'was-marked'; readonly rootId: string };

/**
 * The rule: a marked root of this pair is used; a foreign or unreadable marker is refused; a root
 * without one whose id is on record is a bare mount point (refused); one never marked is marked
 * by its first sync, except in a dry run or as a one-way run's source; when the record cannot be
 * read at all, a first sync cannot be told from a bare mount point (refused).
 */
export function decideRoot(
  marker: MarkerSeen,
  onRecord: IdOnRecord,
  o: { readonly dryRun: boolean; readonly source: boolean },
): RootAction {
  switch (marker.kind) {
    case 'ok':
      return { act: 'use', rootId: marker.rootId };
    case 'foreign':
      return { act: 'refuse', foreign: true, reason: { kind: 'foreign', why: marker.why } };
    case 'bad':
      return { act: 'refuse', foreign: false, reason: { kind: 'bad', why: marker.why } };
    case 'none':
      if (onRecord.kind === 'id')
        return { act: 'refuse', foreign: false, reason: { kind: 'was-marked', rootId: onRecord.rootId } };
      if (onRecord.kind === 'unknown')
        return { act: 'refuse', foreign: false, reason: { kind: 'cannot-tell', why: onRecord.why } };
      if (o.dryRun) return { act: 'unmarked', why: 'dry-run' };
      if (o.source) return { act: 'unmarked', why: 'source' };
      return { act: 'mark' };
  }
}
