// Whether both roots of a pass are really the pair's roots (their markers, see fsops marker.ts),
// and the one place a marker is made without `ha-sync init`: a root's first sync. A reconcile run
// and `run`'s first pass ask here before they read or write anything.
//
// The rule: a root with a marker naming this pair (and side) is mounted. Each root's id is also
// recorded in the pair's baseline once seen, so a root without its marker whose side has an id on
// record is a bare mount point (the share is not mounted) and is refused. A side with no id on
// record was never marked: this is its first sync, and its marker is made now (not in a dry run,
// which changes nothing). Without a readable baseline the two cannot be told apart, and an
// unmarked root counts as not mounted. A one-way run never writes into its source (the CronJobs
// mount it read-only): an unmarked source stays so until the opposite direction's run, a two-way
// run or `ha-sync init` marks it, and the run says so.
import type { BaselineStore } from '../baseline/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import { STATE_DIR, decideRoot, type IdOnRecord, type MarkerSeen, type RefuseReason } from '../core/index.js';
import { MARKER_REL, createMarker, markerMismatch, readMarker } from '../fsops/index.js';
import type { Logger } from '../log.js';
import type { RootLedger } from './ledger.js';

export interface RootSide {
  /** The side's label; null for an unlabelled one-way run (the marker then names no side). */
  readonly label: string | null;
  readonly root: string;
  /** A one-way run's source: never written, so never marked here (checked when it is marked). */
  readonly readOnly?: boolean;
}

export type RootsVerdict =
  | {
      readonly ok: true;
      /** Each root's id, in the order given (null: no marker yet, a dry run's first sync). */
      readonly ids: readonly (string | null)[];
    }
  | {
      readonly ok: false;
      readonly why: string;
      /** The root belongs elsewhere (another pair or side): a configuration error, not an unmount. */
      readonly foreign: boolean;
    };

/** Where the baseline keeps the id of a side's root (a key no synced directory can have). */
function idKey(s: RootSide): string {
  return `${STATE_DIR}/root/${s.label ?? s.root}`;
}

/**
 * Checks every root's marker; makes the marker of a root that was never marked (unless `dryRun`);
 * records each root's id in the baseline. Never throws: a failure is `{ ok: false, why }`, one
 * line for the log and the audit.
 */
export async function verifyRoots(
  pair: string,
  sides: readonly RootSide[],
  baseline: BaselineStore | null,
  o: {
    dryRun: boolean;
    log: Logger;
    nowMs?: number;
    /** The second record of root ids (the log dir's), for when the baseline is down. */
    ledger?: RootLedger;
  },
): Promise<RootsVerdict> {
  const ids: (string | null)[] = [];
  for (const s of sides) {
    const marker = await seeMarker(pair, s);
    // The record is asked only for a root without a marker (the one case the rule needs it).
    const onRecord: IdOnRecord =
      marker.kind === 'none' ? await recorded(baseline, o.ledger, s) : { kind: 'none' };
    const action = decideRoot(marker, onRecord, { dryRun: o.dryRun, source: s.readOnly === true });
    switch (action.act) {
      case 'use':
        if (!o.dryRun) await remember(baseline, o.ledger, s, action.rootId);
        ids.push(action.rootId);
        break;
      case 'unmarked':
        if (action.why === 'source')
          o.log.info(
            { root: s.root, pair },
            `the source holds no ${MARKER_REL} (a one-way run never writes into its source; the opposite direction's run, a two-way run or ha-sync init marks it): an unmounted source is caught only by the empty-source and --max-delete guards`,
          );
        ids.push(null);
        break;
      case 'mark': {
        const made = await makeMarker(pair, s, o.nowMs);
        if (!('id' in made)) return { ok: false, why: made.why, foreign: false };
        o.log.info(
          { root: s.root, pair, side: s.label, rootId: made.id },
          `first sync of this root: wrote its ${MARKER_REL}`,
        );
        await remember(baseline, o.ledger, s, made.id);
        ids.push(made.id);
        break;
      }
      case 'refuse':
        return { ok: false, foreign: action.foreign, why: refusal(pair, s, action.reason) };
    }
  }
  return { ok: true, ids };
}

/** What the root's marker says, for the rule. */
async function seeMarker(pair: string, s: RootSide): Promise<MarkerSeen> {
  const read = await readMarker(s.root);
  if (read.ok) {
    const bad = markerMismatch(s.root, read.marker, pair, s.label);
    return bad ? { kind: 'foreign', why: bad.why } : { kind: 'ok', rootId: read.marker.rootId };
  }
  return read.trouble === 'no-marker' ? { kind: 'none' } : { kind: 'bad', why: read.why };
}

/**
 * The id on record for this side: the baseline's, else the ledger's. `unknown` only when neither
 * can be asked (no baseline and no ledger).
 */
async function recorded(
  baseline: BaselineStore | null,
  ledger: RootLedger | undefined,
  s: RootSide,
): Promise<IdOnRecord> {
  let why = 'the baseline is unavailable';
  if (baseline) {
    try {
      const id = await baseline.dirDigest(idKey(s));
      if (id !== null) return { kind: 'id', rootId: id };
      if (!ledger) return { kind: 'none' };
    } catch (err) {
      why = `the baseline is unavailable (${errorMessage(err)})`;
    }
  }
  const noted = ledger ? await ledger.get(idKey(s)).catch(() => null) : null;
  if (noted !== null) return { kind: 'id', rootId: noted };
  return ledger ? { kind: 'none' } : { kind: 'unknown', why };
}

/** Records a root's id in both records (best effort: a record that fails is a weaker guard later). */
async function remember(
  baseline: BaselineStore | null,
  ledger: RootLedger | undefined,
  s: RootSide,
  id: string,
): Promise<void> {
  try {
    if (baseline && (await baseline.dirDigest(idKey(s))) !== id) await baseline.setDigest(idKey(s), id);
  } catch {
    // The run itself decides what an unavailable baseline means (safe mode).
  }
  if (ledger && (await ledger.get(idKey(s)).catch(() => null)) !== id)
    await ledger.set(idKey(s), id).catch(() => undefined);
}

/** The one line for a refused root. */
function refusal(pair: string, s: RootSide, r: RefuseReason): string {
  switch (r.kind) {
    case 'foreign':
      return `${r.why}; refusing to sync it (nothing was touched)`;
    case 'bad':
      return `${r.why}; refusing to sync it`;
    case 'cannot-tell':
      return `'${s.root}' has no ${MARKER_REL} and ${r.why}: cannot tell a first sync from a bare mount point; refusing to sync it`;
    case 'was-marked': {
      const init = `ha-sync init --root ${s.root} --pair ${pair}${s.label ? ` --side ${s.label}` : ''}`;
      return `'${s.root}' has no ${MARKER_REL}, but it held one (root id ${r.rootId}) when pair '${pair}' synced before: it looks like a bare mount point (the share is not mounted); refusing to sync it. If this folder really is the pair's (a replacement disk), run: ${init}`;
    }
  }
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
