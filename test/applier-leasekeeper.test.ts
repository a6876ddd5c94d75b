// Core-ish tier: the LeaseKeeper's protocol on a ManualClock (no sleeping), against a minimal
// in-test Lock that records calls and lets the test flip `contended` and abort `lost`.
import { describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../src/applier/index.js';
import { ManualClock } from '../src/clock.js';
import { HaSyncError } from '../src/errors.js';
import type { Lock, LockHandle } from '../src/lock/index.js';
import { createLogger } from '../src/log.js';

const log = createLogger({ silent: true });

function stubLock() {
  const state = {
    held: false,
    acquires: 0,
    releases: 0,
    contended: false,
    busy: false,
    lost: new AbortController(),
  };
  const lock: Lock = {
    kind: 'stub',
    name: 'stub',
    acquire: ({ holder }) => {
      if (state.busy || state.held)
        return Promise.reject(new HaSyncError('LOCK_HELD', 'held by someone else'));
      state.held = true;
      state.acquires++;
      state.lost = new AbortController();
      const h: LockHandle = {
        holder,
        lost: state.lost.signal,
        contended: () => state.contended,
        release: () => {
          state.held = false;
          state.releases++;
          return Promise.resolve();
        },
      };
      return Promise.resolve(h);
    },
  };
  return { lock, state };
}

describe('LeaseKeeper', () => {
  it('an event arriving while the idle lock is being released retries within 250 ms, never the 20 s yield back-off', async () => {
    const clock = new ManualClock();
    const { lock, state } = stubLock();
    let letGo!: () => void;
    const slowRelease: Lock = {
      ...lock,
      acquire: async (o) => {
        const h = await lock.acquire(o);
        return {
          ...h,
          release: () => new Promise<void>((r) => (letGo = () => void h.release().then(r))),
        };
      },
    };
    const k = new LeaseKeeper(slowRelease, clock, log, { holder: 'h', idleReleaseMs: 1000 });
    const g = await k.begin();
    if (g.ok) g.done();
    await clock.advance(1000);
    const releasing = k.tick(); // the idle release starts and waits on the lock backend
    const during = await k.begin();
    expect(during).toMatchObject({ ok: false, why: 'releasing the idle lock' });
    expect(!during.ok && during.retryInMs).toBeLessThanOrEqual(250);
    letGo();
    await releasing;
    expect(state.held).toBe(false);
    const after = await k.begin(); // right away: the lock is free again
    expect(after.ok).toBe(true);
    expect(state.acquires).toBe(2);
  });

  it('acquires on the first operation, keeps it while busy, releases after the idle time', async () => {
    const clock = new ManualClock();
    const { lock, state } = stubLock();
    const k = new LeaseKeeper(lock, clock, log, { holder: 'h', idleReleaseMs: 5000 });
    const g = await k.begin();
    expect(g.ok).toBe(true);
    expect(state.acquires).toBe(1);
    await clock.advance(10_000);
    await k.tick();
    expect(state.held).toBe(true); // an operation is in flight
    if (g.ok) g.done();
    await clock.advance(4000);
    await k.tick();
    expect(state.held).toBe(true);
    await clock.advance(1000);
    await k.tick();
    expect(state.held).toBe(false);
    expect(k.held).toBe(false);
  });

  it('yields to a waiter: refuses new work, releases when in-flight work is done, backs off', async () => {
    const clock = new ManualClock();
    const { lock, state } = stubLock();
    const k = new LeaseKeeper(lock, clock, log, {
      holder: 'h',
      idleReleaseMs: 60_000,
      yieldBackoffMs: 20_000,
    });
    const g = await k.begin();
    state.contended = true;
    await k.tick();
    expect((await k.begin()).ok).toBe(false); // no new operation while yielding
    expect(state.held).toBe(true); // in-flight operation still running
    if (g.ok) g.done();
    await k.tick();
    expect(state.held).toBe(false);
    expect(k.yields).toBe(1);
    // The waiter takes it; the applier does not try again before the backoff.
    state.contended = false;
    await clock.advance(10_000);
    expect((await k.begin()).ok).toBe(false);
    expect(state.acquires).toBe(1);
    await clock.advance(10_000);
    expect((await k.begin()).ok).toBe(true);
    expect(state.acquires).toBe(2);
  });

  it('a busy lock is not hammered; a lost lock stops new work until re-acquired', async () => {
    const clock = new ManualClock();
    const { lock, state } = stubLock();
    const k = new LeaseKeeper(lock, clock, log, { holder: 'h', retryMs: 2000 });
    state.busy = true;
    const r = await k.begin();
    expect(r).toMatchObject({ ok: false });
    expect((await k.begin()).ok).toBe(false);
    state.busy = false;
    await clock.advance(2000);
    const g = await k.begin();
    expect(g.ok).toBe(true);
    if (g.ok) g.done();
    state.lost.abort(new HaSyncError('LOCK_LOST', 'renewal failed'));
    state.held = false;
    expect(k.held).toBe(false);
    expect((await k.begin()).ok).toBe(false); // not at once
    await clock.advance(2000);
    expect((await k.begin()).ok).toBe(true);
    expect(state.acquires).toBe(2);
  });
});
