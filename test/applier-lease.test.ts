// Shell tier: the applier's lock protocol with the real lock-file backend: held only while there
// is work, released when idle, yielded to a waiting process (the reconciler), events kept.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Applier, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { MemoryBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import { createLogger } from '../src/log.js';
import { eventFor, read, tempRoots, until, fileLockOptions } from './applier.helpers.js';

const PAIR = 'leasetest';
const log = createLogger({ silent: !process.env.TEST_LOG, pretty: false });
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

async function rig(idleReleaseMs: number) {
  const t = tempRoots('lease', PAIR);
  writeFileSync(join(t.a, 'marker'), 'm');
  writeFileSync(join(t.b, 'marker'), 'm');
  const lockOpts = fileLockOptions(PAIR, t.logs, log, { checkIntervalMs: 200, pollIntervalMs: 200 });
  const bus = new MemoryBus({ kind: 'memory' });
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const applier = new Applier(
    {
      pair: PAIR,
      a: { label: 'a', root: t.a },
      b: { label: 'b', root: t.b },
      deleteMissing: false,
      mtimeThresholdMs: 2000,
      workers: 2,
      windowMs: 60_000,
      holder: 'test/applier',
      idleReleaseMs,
      yieldBackoffMs: 3000,
    },
    { bus, lock: await openLock(lockOpts), audit, fs: fsOpsAdapter(), clock: systemClock, log },
  );
  const ac = new AbortController();
  const running = applier.run(ac.signal);
  stops.push(async () => {
    ac.abort();
    await running;
    await audit.close();
    t.cleanup();
  });
  return { t, bus, applier, lockOpts };
}

describe('applier lock protocol', () => {
  it('takes the lock for work and releases it when the queue is idle', async () => {
    const { t, bus, applier } = await rig(500);
    expect(applier.lease.held).toBe(false);
    writeFileSync(join(t.a, 'f.txt'), 'f');
    await bus.publish(eventFor(PAIR, 'a', t.a, 'f.txt'));
    await until('copied', () => read(join(t.b, 'f.txt')) === 'f');
    expect(applier.lease.acquisitions).toBe(1);
    await until('released when idle', () => !applier.lease.held);
  });

  it('yields to a waiting process; events wait and are applied after it releases', async () => {
    const { t, bus, applier, lockOpts } = await rig(600_000);
    writeFileSync(join(t.a, 'one.txt'), '1');
    await bus.publish(eventFor(PAIR, 'a', t.a, 'one.txt'));
    await until('copied', () => read(join(t.b, 'one.txt')) === '1');
    expect(applier.lease.held).toBe(true);

    // The reconciler CronJob starts and waits for the lock.
    const other = await openLock(lockOpts);
    const handle = await other.acquire({ holder: 'reconciler/run-1', waitSeconds: 25 });
    expect(applier.lease.yields).toBe(1);
    expect(applier.lease.held).toBe(false);

    // While the reconciler holds the lock nothing is applied; the event waits in the bus.
    writeFileSync(join(t.a, 'two.txt'), '2');
    await bus.publish(eventFor(PAIR, 'a', t.a, 'two.txt'));
    await new Promise((r) => setTimeout(r, 300));
    expect(read(join(t.b, 'two.txt'))).toBeNull();
    await handle.release();
    await until('applied after the reconciler released', () => read(join(t.b, 'two.txt')) === '2', 20_000);
    expect(applier.lease.acquisitions).toBe(2);
  });
});
