// The lock session (renewal timing shared by both backends) over an in-memory backend, time on a
// ManualClock.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { HaSyncError, isHaSyncError } from '../src/errors.js';
import { acquire, type Backend, type Holding } from '../src/lock/session.js';
import { silent, until } from './fake-kube/support.js';

/** One lock in memory; `slowRenewMs` makes the next renewal answer that much later (clock time). */
function memoryBackend(clock: ManualClock): Backend & { slowRenewMs: number; renewals: number } {
  let cur: Holding | undefined;
  const b = {
    kind: 'file' as const,
    name: 'memory lock',
    slowRenewMs: 0,
    renewals: 0,
    attempt(holder: string, ttlSeconds: number, nowMs: number) {
      cur = {
        holder,
        durationSeconds: ttlSeconds,
        acquireTimeMs: nowMs,
        renewTimeMs: nowMs,
        transitions: 0,
        waiting: undefined,
        version: '1',
      };
      return Promise.resolve({ kind: 'acquired' as const, holding: cur });
    },
    announce: () => Promise.resolve(),
    withdraw: () => Promise.resolve(),
    async refresh(_mine: Holding, renewAtMs: number | undefined) {
      if (renewAtMs !== undefined && cur) {
        cur = { ...cur, renewTimeMs: renewAtMs };
        b.renewals++;
        if (b.slowRenewMs) await clock.advance(b.slowRenewMs);
      }
      return cur;
    },
    remove: () => Promise.resolve(),
  };
  return b;
}

describe('lock session', () => {
  it('a renewal that answers only after the deadline aborts `lost` (it may have landed after a takeover)', async () => {
    const clock = new ManualClock();
    const backend = memoryBackend(clock);
    const h = await acquire(
      backend,
      { ttlSeconds: 30, clock, log: silent },
      { holder: 'me/1', waitSeconds: 0 },
    );
    backend.slowRenewMs = 20_000; // the renewal at 10 s comes back at 30 s, past the 27 s deadline
    await until(() => clock.pending > 0, 'park');
    await clock.advance(10_000);
    await until(() => h.lost.aborted, 'lost');
    expect(backend.renewals).toBe(1);
    expect(isHaSyncError(h.lost.reason, 'LOCK_LOST')).toBe(true);
    expect((h.lost.reason as Error).message).toMatch(/after the deadline/);
    await h.release();
  });

  it('a renewal that answers in time keeps the lock', async () => {
    const clock = new ManualClock();
    const backend = memoryBackend(clock);
    const h = await acquire(
      backend,
      { ttlSeconds: 30, clock, log: silent },
      { holder: 'me/1', waitSeconds: 0 },
    );
    backend.slowRenewMs = 5_000;
    await until(() => clock.pending > 0, 'park');
    await clock.advance(10_000);
    await until(() => backend.renewals === 1 && clock.pending > 0, 'renewed and parked');
    expect(h.lost.aborted).toBe(false);
    await h.release();
  });

  it('ManualClock sleeps that end stop listening to their signal', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) {
      const slept = clock.sleep(1000, ac.signal);
      await clock.advance(1000);
      await slept;
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a wait stopped during a backend outage still withdraws its announcement', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let attempts = 0;
    let waiting: { holder: string; atMs: number } | undefined;
    const held: Holding = {
      holder: 'applier/1',
      durationSeconds: 3600,
      acquireTimeMs: clock.now(),
      renewTimeMs: clock.now(),
      transitions: 0,
      waiting: undefined,
      version: '1',
    };
    const backend: Backend = {
      kind: 'file',
      name: 'memory lock',
      attempt: () => {
        // The second try: SIGTERM arrives while the backend does not answer.
        if (++attempts === 2) {
          ac.abort();
          return Promise.reject(new HaSyncError('LOCK_UNAVAILABLE', 'no answer'));
        }
        return Promise.resolve({ kind: 'held', current: { ...held, waiting } });
      },
      announce: (holder, nowMs) => Promise.resolve(void (waiting = { holder, atMs: nowMs })),
      withdraw: (holder) =>
        Promise.resolve(void (waiting = waiting?.holder === holder ? undefined : waiting)),
      refresh: () => Promise.resolve(held),
      remove: () => Promise.resolve(),
    };
    const failed = acquire(
      backend,
      { ttlSeconds: 30, clock, log: silent },
      { holder: 'cron/1', waitSeconds: 600, signal: ac.signal },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    await until(() => clock.pending > 0, 'the waiter parked');
    expect(waiting?.holder).toBe('cron/1');
    await clock.advance(5_000);
    expect(isHaSyncError(await failed, 'TERMINATED')).toBe(true);
    expect(attempts).toBe(2);
    expect(waiting).toBeUndefined();
  });
});
