// A live applier over two real temp roots, the in-process bus and an in-memory baseline, for
// tests that publish watcher events by hand. `wrap` lets a test put a layer over the real fs
// adapter (a cached view, a counter of reads).
import { Applier, fsOpsAdapter, type FsOps } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { openMemoryBaseline } from '../src/baseline/index.js';
import { MemoryBus, type ChangeEvent } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import { createLogger } from '../src/log.js';
import { fileLockOptions, tempRoots, until } from './applier.helpers.js';

const log = createLogger({ silent: !process.env.TEST_LOG, verbose: !!process.env.TEST_LOG });

export interface LiveRig {
  /** Side dell's root. */
  a: string;
  /** Side hp's root. */
  b: string;
  applier: Applier;
  pub: (ev: ChangeEvent) => Promise<void>;
  /** Resolves once the bus holds no event of the pair. */
  drained: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Starts the applier of `pair` (--delete-missing on) over fresh roots dell and hp. */
export async function startLiveRig(
  pair: string,
  wrap: (real: FsOps, roots: { a: string; b: string }) => FsOps = (real) => real,
): Promise<LiveRig> {
  const t = tempRoots(pair, pair);
  const fs = wrap(fsOpsAdapter(), t);
  const ac = new AbortController();
  const bus = new MemoryBus({ kind: 'memory' });
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(pair, t.logs, log));
  const baseline = openMemoryBaseline(pair);
  const applier = new Applier(
    {
      pair,
      a: { label: 'dell', root: t.a },
      b: { label: 'hp', root: t.b },
      deleteMissing: true,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: `test/${pair}`,
    },
    { bus, lock, audit, fs, clock: systemClock, log, baseline },
  );
  const applying = applier.run(ac.signal);
  return {
    a: t.a,
    b: t.b,
    applier,
    pub: (ev) => bus.publish(ev),
    drained: () => until('every event settled', async () => (await bus.pending(pair)) === 0),
    stop: async () => {
      ac.abort();
      await applying;
      await audit.close();
      await bus.close();
      await baseline.close();
      t.cleanup();
    },
  };
}
