// Whether both roots of a pass are really the pair's roots (their markers, see fsops marker.ts),
// and the one place a marker is made without `ha-sync init`: the first meeting of a pair. A
// reconcile run and `run`'s first pass ask here before they read or write anything.
//
// The rule: a root with a marker naming this pair (and side) is mounted. A root without one is a
// bare mount point, unless the pair never synced (its baseline holds nothing, and neither root is
// marked): then this is the pair's first sync, and the markers are made now (not in a dry run,
// which changes nothing). Without a readable baseline the two cannot be told apart, and the root
// counts as not mounted. A replacement disk or a restored share is marked by `ha-sync init`.
import type { BaselineStore } from '../baseline/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import { MARKER_REL, createMarker, markerMismatch, readMarker } from '../fsops/index.js';
import type { Logger } from '../log.js';

export interface RootSide {
  /** The side's label; null for an unlabelled one-way run (the marker then names no side). */
  readonly label: string | null;
  readonly root: string;
}

export type RootsVerdict =
  | {
      readonly ok: true;
      /** Each root's id, in the order given (null: no marker yet, a dry run's first meeting). */
      readonly ids: readonly (string | null)[];
    }
  | {
      readonly ok: false;
      readonly why: string;
      /** The root belongs elsewhere (another pair or side): a configuration error, not an unmount. */
      readonly foreign: boolean;
    };

/**
 * Checks every root's marker; on a first meeting makes the missing ones (unless `dryRun`).
 * Never throws: a failure is `{ ok: false, why }`, one line for the log and the audit.
 */
export async function verifyRoots(
  pair: string,
  sides: readonly RootSide[],
  baseline: BaselineStore | null,
  o: { dryRun: boolean; log: Logger; nowMs?: number },
): Promise<RootsVerdict> {
  const reads = await Promise.all(sides.map((s) => readMarker(s.root)));
  for (const [i, read] of reads.entries()) {
    const s = sides[i]!;
    if (read.ok) {
      const bad = markerMismatch(s.root, read.marker, pair, s.label);
      if (bad)
        return { ok: false, why: `${bad.why}; refusing to sync it (nothing was touched)`, foreign: true };
    } else if (read.trouble !== 'no-marker') {
      return { ok: false, why: `${read.why}; refusing to sync it`, foreign: false };
    }
  }
  const unmarked = sides.filter((_, i) => !reads[i]!.ok);
  if (unmarked.length > 0) {
    // A first meeting: the pair never synced (its baseline is empty) and no root is marked yet.
    // A marked root beside an unmarked one means the pair synced before, whatever the baseline.
    const why = reads.some((r) => r.ok) ? false : await neverSynced(baseline);
    if (why !== true) return { ok: false, foreign: false, why: notMounted(pair, unmarked[0]!, why) };
  }
  const ids: (string | null)[] = [];
  for (const [i, read] of reads.entries()) {
    const s = sides[i]!;
    if (read.ok) ids.push(read.marker.rootId);
    else if (o.dryRun) ids.push(null);
    else {
      const made = await makeMarker(pair, s, o.nowMs);
      if ('why' in made) return { ok: false, why: made.why, foreign: false };
      o.log.info(
        { root: s.root, pair, side: s.label, rootId: made.id },
        `first sync of this root: wrote its ${MARKER_REL}`,
      );
      ids.push(made.id);
    }
  }
  return { ok: true, ids };
}

/** True when the pair's baseline holds nothing; false when it does; a string when it cannot tell. */
async function neverSynced(baseline: BaselineStore | null): Promise<boolean | string> {
  if (!baseline) return 'the baseline is unavailable';
  try {
    return (await baseline.readDir('')).length === 0;
  } catch (err) {
    return `the baseline is unavailable (${errorMessage(err)})`;
  }
}

/** The one line for a root without its marker that a first meeting cannot explain. */
function notMounted(pair: string, s: RootSide, why: boolean | string): string {
  if (typeof why === 'string')
    return `'${s.root}' has no ${MARKER_REL} and ${why}: cannot tell a first sync from a bare mount point; refusing to sync it`;
  const init = `ha-sync init --root ${s.root} --pair ${pair}${s.label ? ` --side ${s.label}` : ''}`;
  return `'${s.root}' has no ${MARKER_REL}, but pair '${pair}' synced before: it looks like a bare mount point (the share is not mounted); refusing to sync it. If this folder really is the pair's, run: ${init}`;
}

/** Makes a marker (or takes the one another process made meanwhile): its root id, or why not. */
async function makeMarker(
  pair: string,
  s: RootSide,
  nowMs?: number,
): Promise<{ id: string } | { why: string }> {
  try {
    const m = await createMarker(s.root, { pair, side: s.label, ...(nowMs !== undefined ? { nowMs } : {}) });
    return { id: m.rootId };
  } catch (err) {
    if (isHaSyncError(err, 'CHANGED_UNDER_US')) {
      const again = await readMarker(s.root);
      if (again.ok && !markerMismatch(s.root, again.marker, pair, s.label))
        return { id: again.marker.rootId };
    }
    return { why: `cannot write ${s.root}/${MARKER_REL}: ${errorMessage(err)}` };
  }
}
