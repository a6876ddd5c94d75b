// Whether both roots of a pass are really the pair's roots (their markers, see fsops marker.ts),
// and the one place a marker is made without `ha-sync init`: the first meeting of a pair. A
// reconcile run and `run`'s first pass ask here before they read or write anything.
//
// The rule: a root with a marker naming this pair (and side) is mounted. A root without one is a
// bare mount point, unless the pair never synced (its baseline holds nothing): then this is the
// pair's first sync, and the marker is made now (not in a dry run, which changes nothing).
// Without a readable baseline the two cannot be told apart, and the root counts as not mounted.
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
  let first: boolean | string | undefined;
  const firstMeeting = async (): Promise<boolean | string> => {
    if (first !== undefined) return first;
    if (!baseline) first = 'the baseline is unavailable';
    else {
      try {
        first = (await baseline.readDir('')).length === 0;
      } catch (err) {
        first = `the baseline is unavailable (${errorMessage(err)})`;
      }
    }
    return first;
  };
  const ids: (string | null)[] = [];
  for (const s of sides) {
    const read = await readMarker(s.root);
    if (read.ok) {
      const bad = markerMismatch(s.root, read.marker, pair, s.label);
      if (bad)
        return { ok: false, why: `${bad.why}; refusing to sync it (nothing was touched)`, foreign: true };
      ids.push(read.marker.rootId);
      continue;
    }
    if (read.trouble !== 'no-marker')
      return { ok: false, why: `${read.why}; refusing to sync it`, foreign: false };
    const f = await firstMeeting();
    if (f !== true) {
      const init = `ha-sync init --root ${s.root} --pair ${pair}${s.label ? ` --side ${s.label}` : ''}`;
      return {
        ok: false,
        foreign: false,
        why:
          typeof f === 'string'
            ? `'${s.root}' has no ${MARKER_REL} and ${f}: cannot tell a first sync from a bare mount point; refusing to sync it`
            : `'${s.root}' has no ${MARKER_REL}, but pair '${pair}' synced before: it looks like a bare mount point (the share is not mounted); refusing to sync it. If this folder really is the pair's, run: ${init}`,
      };
    }
    if (o.dryRun) {
      ids.push(null);
      continue;
    }
    const made = await makeMarker(pair, s, o.nowMs);
    if ('why' in made) return { ok: false, why: made.why, foreign: false };
    o.log.info(
      { root: s.root, pair, side: s.label, rootId: made.id },
      `first sync of this root: wrote its ${MARKER_REL}`,
    );
    ids.push(made.id);
  }
  return { ok: true, ids };
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
