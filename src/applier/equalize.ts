// The first step of `ha-sync run`: a two-way reconcile pass over both trees against the pair's
// baseline, before following changes. It is the reconcile run's engine with the reconcile run's
// rules (src/core decides), under the applier's lock and into the applier's audit windows, so
// whatever happened while `run` was down is handled exactly as a reconcile run would handle it:
// deletes made offline propagate (with --delete-missing), edits on both sides give conflict
// copies, and every version replaced is kept.
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import { asyncIo, fsTypeOf, isNetworkFs, syncIo } from '../fsops/index.js';
import type { Logger } from '../log.js';
import { runEngine } from '../reconciler/index.js';
import type { Applier } from './applier.js';

export interface EqualizeReport {
  created: number;
  updated: number;
  deleted: number;
  /** Entries that could not be made equal (failed operations; the live sync retries them). */
  failed: number;
  /** Why the pass ran without a baseline (newest wins, nothing deleted), or null. */
  safeMode: string | null;
}

export async function equalize(
  applier: Applier,
  deps: { clock: Clock; log: Logger },
  signal: AbortSignal,
  /** Each root's id (its marker; see verifyRoots): our temp files there carry it. */
  tempIds: { a: string; b: string },
): Promise<EqualizeReport> {
  const cfg = applier.config;
  const none: EqualizeReport = { created: 0, updated: 0, deleted: 0, failed: 0, safeMode: null };
  // The whole pass holds the lock, as a reconcile run does.
  let grant = await applier.lease.begin();
  while (!grant.ok && !signal.aborted) {
    deps.log.info({ pair: cfg.pair, retryInMs: grant.retryInMs }, `waiting for the lock: ${grant.why}`);
    try {
      await deps.clock.sleep(grant.retryInMs, signal);
    } catch {
      return none;
    }
    grant = await applier.lease.begin();
  }
  if (!grant.ok) return none;
  try {
    const net = isNetworkFs(fsTypeOf(cfg.a.root)) || isNetworkFs(fsTypeOf(cfg.b.root));
    const io = net ? asyncIo : syncIo;
    const r = await runEngine({
      srcRoot: cfg.a.root,
      destRoot: cfg.b.root,
      twoWay: true,
      labels: { a: cfg.a.label, b: cfg.b.label },
      baseline: applier.baseline,
      tempIds,
      keepVersions: (cfg.keepVersionsDays ?? 30) > 0,
      plan: { mtimeThresholdMs: cfg.mtimeThresholdMs, deleteMissing: cfg.deleteMissing },
      workers: cfg.workers,
      dryRun: false,
      maxDeletePercent: cfg.maxDeletePercent ?? 50,
      force: false,
      srcIo: io,
      destIo: io,
      opIo: io,
      dirConcurrency: net ? 32 : 1,
      statConcurrency: 64,
      signal: AbortSignal.any([signal, grant.handle.lost]),
      lost: grant.handle.lost,
      clock: deps.clock,
      log: deps.log,
      onOp: async (ev) => {
        const [from, to] = ev.to === 'b' ? [cfg.a, cfg.b] : [cfg.b, cfg.a];
        await applier.windows.record(
          from,
          to,
          ev.record,
          ev.kind === 'create' || ev.kind === 'update' ? ev.size : 0,
        );
      },
    });
    if (r.failure && !signal.aborted)
      deps.log.warn({ pair: cfg.pair, err: r.failure }, 'first pass stopped early');
    return { ...r.counts, safeMode: r.safeMode };
  } catch (err) {
    deps.log.error({ pair: cfg.pair, err: errorMessage(err) }, 'first pass failed');
    throw err;
  } finally {
    grant.done();
  }
}
