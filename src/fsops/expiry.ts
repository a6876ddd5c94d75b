// Expiry of kept versions across a pair's sides, for every writer (the reconcile run after its
// walk, the live applier periodically): what is older than --keep-versions-days goes, and what
// remains is reported (the dashboard shows it). Never throws: the sync itself is done.
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { expireVersions, type VersionsState } from './versions.js';

export async function expireSides(
  sides: readonly { readonly label: string; readonly root: string }[],
  keepDays: number,
  deps: {
    nowMs: number;
    log: Logger;
    /** Told what remains on each side (files, bytes, oldest). */
    report: (side: { label: string; root: string }, state: VersionsState) => Promise<void>;
  },
): Promise<void> {
  for (const s of sides) {
    try {
      const state = await expireVersions(s.root, keepDays, deps.nowMs);
      if (state.removed > 0)
        deps.log.info({ side: s.label, removed: state.removed }, 'expired kept versions');
      await deps.report(s, state);
    } catch (err) {
      deps.log.warn({ side: s.label, err: errorMessage(err) }, 'could not expire or measure kept versions');
    }
  }
}
