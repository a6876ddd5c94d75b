// The applier and temp files left by a killed writer: a temp file a watcher reports (one of this
// root's, untouched for 10 minutes) is removed under the lock; a fresh one is left alone (a copy
// may still be writing it); a look-alike name of another root is a user's file and is synced.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Applier, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { MemoryBus, type ChangeEvent } from '../src/bus/index.js';
import { ManualClock, systemClock } from '../src/clock.js';
import { readMarker, tempName } from '../src/fsops/index.js';
import { openLock } from '../src/lock/index.js';
import { createLogger } from '../src/log.js';
import { fileLockOptions, read, tempRoots } from './applier.helpers.js';

const PAIR = 'temps';
const log = createLogger({ silent: true });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function rig(nowMs: number): Promise<{ applier: Applier; a: string; b: string; idB: string }> {
  const t = tempRoots('applier-temps', PAIR);
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(PAIR, t.logs, log));
  const applier = new Applier(
    {
      pair: PAIR,
      a: { label: 'dell', root: t.a },
      b: { label: 'hp', root: t.b },
      deleteMissing: true,
      mtimeThresholdMs: 2000,
      workers: 2,
      windowMs: 300_000,
      holder: 'test/temps',
    },
    {
      bus: new MemoryBus(),
      lock,
      audit,
      fs: fsOpsAdapter(),
      clock: new ManualClock(nowMs),
      log,
      baseline: null,
    },
  );
  closers.push(async () => {
    await applier.close();
    await audit.close();
    t.cleanup();
  });
  const m = await readMarker(t.b);
  if (!m.ok) throw new Error(m.why);
  return { applier, a: t.a, b: t.b, idB: m.marker.rootId };
}

function report(root: string, side: string, path: string): ChangeEvent {
  const st = statSync(join(root, path));
  return {
    v: 1,
    pair: PAIR,
    side,
    type: 'upsert',
    kind: 'file',
    path,
    size: st.size,
    mtimeMs: st.mtimeMs,
    observedAt: Date.now(),
  };
}

describe('the applier and stale temp files', () => {
  it('removes a temp file of the root that a watcher reports as untouched for 10 minutes; leaves a fresh one', async () => {
    const later = await rig(Date.now() + 11 * 60_000);
    mkdirSync(join(later.b, 'd'));
    const stale = `d/${tempName(later.idB)}`;
    writeFileSync(join(later.b, stale), 'left by a writer killed mid-copy');
    const disp = await later.applier.handle({
      event: report(later.b, 'hp', stale),
      subject: 't',
      deliveryCount: 1,
    });
    expect(disp).toEqual({ action: 'ack' });
    expect(existsSync(join(later.b, stale))).toBe(false);
    expect(existsSync(join(later.a, stale))).toBe(false); // never copied

    const now = await rig(Date.now());
    const fresh = tempName(now.idB);
    writeFileSync(join(now.b, fresh), 'a copy in flight');
    expect(
      await now.applier.handle({ event: report(now.b, 'hp', fresh), subject: 't', deliveryCount: 1 }),
    ).toEqual({
      action: 'ack',
    });
    expect(existsSync(join(now.b, fresh))).toBe(true);
    expect(existsSync(join(now.a, fresh))).toBe(false);
  });

  it("a look-alike name of another root is a user's file: synced, never removed", async () => {
    const r = await rig(Date.now() + 11 * 60_000);
    const mine = tempName('fedcba9876543210');
    writeFileSync(join(r.b, mine), "the user's own");
    const disp = await r.applier.handle({ event: report(r.b, 'hp', mine), subject: 't', deliveryCount: 1 });
    expect(disp).toEqual({ action: 'ack' });
    expect(read(join(r.b, mine))).toBe("the user's own");
    expect(read(join(r.a, mine))).toBe("the user's own");
  });
});
