// What a reconcile run keeps beside the trees: the pair's baseline and each side's `.ha-sync/`
// (kept versions). Opened and checked before the walk, expired after it.
import type { Audit } from '../audit/index.js';
import type { BaselineStore } from '../baseline/index.js';
import { openBaseline, orientedBaseline } from '../baseline/index.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import { checkStateDir, expireSides } from '../fsops/index.js';
import type { Logger } from '../log.js';

/** Why a side's `.ha-sync/` makes the run refuse (a symlink or a file there), or null. */
export async function stateDirProblem(
  roots: readonly { label: string; root: string }[],
): Promise<string | null> {
  for (const s of roots) {
    const why = await checkStateDir(s.root);
    if (why) return `${s.label}: ${why}; refusing to run (nothing was touched)`;
  }
  return null;
}

/** The pair's baseline, or null (safe mode) when it cannot be opened. Never throws. */
export async function openPairBaseline(o: {
  pair: string;
  dsn: string | undefined;
  logDir: string;
  log: Logger;
  /** How this writer names its sides a and b (see orientedBaseline). */
  sides: { a: string; b: string };
}): Promise<BaselineStore | null> {
  try {
    const store = await openBaseline({ pair: o.pair, dsn: o.dsn ?? null, logDir: o.logDir, log: o.log });
    return orientedBaseline(store, o.sides.a, o.sides.b);
  } catch (err) {
    o.log.warn(
      { err: errorMessage(err) },
      'baseline unavailable: this run keeps everything (newest wins, nothing is deleted)',
    );
    return null;
  }
}

/** Expires each written side's old versions and records what remains (see fsops expireSides). */
export async function expireWritten(
  sides: readonly { label: string; root: string }[],
  keepDays: number,
  deps: { pair: string; audit: Audit; clock: Clock; log: Logger },
): Promise<void> {
  await expireSides(sides, keepDays, {
    nowMs: deps.clock.now(),
    log: deps.log,
    report: (s, state) => deps.audit.recordVersionsState(deps.pair, s.label, s.root, state),
  });
}
