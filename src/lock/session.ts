// The timing of a lock, shared by both backends (Kubernetes Lease, lock file): acquiring (with an
// optional wait that announces itself to the holder), renewing every ttl/3, checking for a
// different holder and for waiters between renewals, declaring the lock lost, and releasing.
//
// Invariants:
// - A holder never believes it holds the lock past `lastRenew + ttl - margin`: when renewal has
//   failed until then, `lost` aborts, even if the backend later answers again.
// - Seeing a different holder (or no lock at all) on any read aborts `lost` at once.
// - Every backend call is bounded by `apiTimeoutMs` (real time, shorter than the renew interval),
//   so a hung API cannot hold the renewal loop past the deadline. Lock timing itself (expiry,
//   renewal, waits) runs on the injected Clock.
// - `release()` waits for the background loop to stop before removing the lock, so a renewal can
//   never land after the release; it then removes the lock only if it is still ours.
import type { Clock } from '../clock.js';
import { HaSyncError, errorMessage, isHaSyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AcquireOptions, LockHandle } from './types.js';

/** How a lock looks to a reader, whichever backend stores it. Times in ms since the epoch. */
export interface Holding {
  holder: string;
  durationSeconds: number;
  acquireTimeMs: number;
  renewTimeMs: number;
  transitions: number;
  /** The most recent waiter's announcement (see the contention protocol in lease.ts). */
  waiting: Waiting | undefined;
  /** Backend-private version of what was read (resourceVersion, file token). */
  version: string;
}

export interface Waiting {
  holder: string;
  atMs: number;
}

export type Attempt =
  | { kind: 'acquired'; holding: Holding }
  /** Held by another holder that is alive and not expired. */
  | { kind: 'held'; current: Holding }
  /** Lost a race to another writer (a 409, or a file replaced under us): read again. */
  | { kind: 'raced' };

/** What a backend must do; every method may throw HaSyncError('LOCK_UNAVAILABLE'). */
export interface Backend {
  readonly kind: 'lease' | 'file';
  readonly name: string;
  /** One try: create the lock, or take over a stale one (transitions + 1). */
  attempt(holder: string, ttlSeconds: number, nowMs: number, signal: AbortSignal): Promise<Attempt>;
  /** Best effort: tell the current holder that `waiter` is waiting (since `nowMs`). */
  announce(waiter: string, nowMs: number, signal: AbortSignal): Promise<void>;
  /** Best effort: withdraw `waiter`'s announcement (the wait ended without the lock). */
  withdraw(waiter: string, signal: AbortSignal): Promise<void>;
  /**
   * Reads the lock; when `renewAtMs` is set and the lock is still `mine`, also writes that renew
   * time (keeping everything else, foreign annotations included). Returns what it saw last
   * (undefined: no lock at all).
   */
  refresh(mine: Holding, renewAtMs: number | undefined, signal: AbortSignal): Promise<Holding | undefined>;
  /** Removes the lock if it is still `mine`. May throw; the session logs and swallows. */
  remove(mine: Holding, signal: AbortSignal): Promise<void>;
}

export interface SessionOptions {
  ttlSeconds: number;
  clock: Clock;
  log: Logger;
  /** Bound on each backend call, real-time ms. Default: min(10 s, renew interval / 2). */
  apiTimeoutMs?: number | undefined;
  /** How often the holder reads the lock between renewals (waiters, other holders). Default 10 s. */
  checkIntervalMs?: number | undefined;
  /** How often a waiter polls a held lock. Default: min(5 s, renew interval). */
  pollIntervalMs?: number | undefined;
}

/** A waiter's announcement counts for this long after it was written. */
export const WAITING_FRESH_MS = 60_000;
/** A waiter rewrites its announcement when the one on record is older than this. */
const WAITING_REFRESH_MS = 20_000;

export const expiresAtMs = (h: Holding): number => h.renewTimeMs + h.durationSeconds * 1000;
export const isExpired = (h: Holding, nowMs: number): boolean => !h.holder || expiresAtMs(h) <= nowMs;
export const isFreshWaiter = (w: Waiting | undefined, self: string, nowMs: number): boolean =>
  w !== undefined &&
  w.holder !== self &&
  nowMs - w.atMs < WAITING_FRESH_MS &&
  w.atMs - nowMs < WAITING_FRESH_MS;

/** Parses `<holder> <iso-time>` (the waiting annotation / file). */
export function parseWaiting(v: string | undefined): Waiting | undefined {
  if (!v) return undefined;
  const i = v.lastIndexOf(' ');
  if (i <= 0) return undefined;
  const atMs = Date.parse(v.slice(i + 1));
  return Number.isFinite(atMs) ? { holder: v.slice(0, i), atMs } : undefined;
}
export const formatWaiting = (w: Waiting): string => `${w.holder} ${new Date(w.atMs).toISOString()}`;

const iso = (ms: number): string => new Date(ms).toISOString();

/** Runs `fn` with a real-time bound; a timeout becomes LOCK_UNAVAILABLE. */
export async function bounded<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new HaSyncError('LOCK_UNAVAILABLE', `${what}: no answer within ${ms} ms`);
      ac.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Acquires through `backend`, waiting up to `opts.waitSeconds`, and starts holding. */
export async function acquire(
  backend: Backend,
  so: SessionOptions,
  opts: AcquireOptions,
): Promise<LockHandle> {
  const { clock } = so;
  const renewEveryMs = (so.ttlSeconds * 1000) / 3;
  const apiTimeoutMs = so.apiTimeoutMs ?? Math.min(10_000, renewEveryMs / 2);
  const pollMs = so.pollIntervalMs ?? Math.min(5_000, renewEveryMs);
  const waitUntil = clock.now() + opts.waitSeconds * 1000;
  let announcedAt: number | undefined;
  let races = 0;
  let waitLogged = false;
  /** Every way out of a wait withdraws our announcement first, so the holder stops yielding. */
  const giveUp = async (err: Error): Promise<Error> => {
    if (announcedAt !== undefined)
      await bestEffort(so.log, () =>
        bounded('withdraw', apiTimeoutMs, (sig) => backend.withdraw(opts.holder, sig)),
      );
    return err;
  };
  for (;;) {
    if (opts.signal?.aborted) throw await giveUp(stopped(opts.signal));
    const now = clock.now();
    let r: Attempt;
    try {
      r = await bounded(`${backend.name}: acquire`, apiTimeoutMs, (sig) =>
        backend.attempt(opts.holder, so.ttlSeconds, now, sig),
      );
    } catch (err) {
      // The first try reports an unreachable backend at once; once waiting, a passing outage is
      // ridden out until the wait ends.
      if (announcedAt === undefined || clock.now() >= waitUntil || !isHaSyncError(err, 'LOCK_UNAVAILABLE'))
        throw err;
      so.log.warn(
        { lock: backend.name, err: errorMessage(err) },
        'lock backend unavailable while waiting; retrying',
      );
      try {
        await clock.sleep(Math.max(1, Math.min(pollMs, waitUntil - clock.now())), opts.signal);
      } catch {
        throw await giveUp(stopped(opts.signal));
      }
      continue;
    }
    if (r.kind === 'acquired') {
      so.log.info(
        {
          lock: backend.name,
          holder: opts.holder,
          ttlSeconds: so.ttlSeconds,
          transitions: r.holding.transitions,
        },
        'lock acquired',
      );
      return hold(backend, so, r.holding, apiTimeoutMs);
    }
    if (r.kind === 'raced') {
      // Another contender wrote between our read and our write; read again (bounded, so two
      // broken writers cannot spin us forever).
      if (++races <= 5) continue;
      throw await giveUp(
        new HaSyncError('LOCK_HELD', `${backend.name}: lost ${races} races in a row to other contenders`),
      );
    }
    const cur = r.current;
    if (clock.now() >= waitUntil) {
      throw await giveUp(
        new HaSyncError(
          'LOCK_HELD',
          `${backend.name} is held by ${cur.holder} until ${iso(expiresAtMs(cur))} (renewed ${iso(cur.renewTimeMs)}, ttl ${cur.durationSeconds}s)`,
        ),
      );
    }
    // Wait mode: announce ourselves so a long-lived holder (the live applier) yields, then poll.
    const mine = cur.waiting?.holder === opts.holder ? cur.waiting.atMs : undefined;
    if (mine === undefined || now - mine >= WAITING_REFRESH_MS) {
      await bestEffort(so.log, () =>
        bounded('announce', apiTimeoutMs, (sig) => backend.announce(opts.holder, now, sig)),
      );
      announcedAt = now;
    }
    // One info line when the wait starts; the polls after it are debug lines.
    so.log[waitLogged ? 'debug' : 'info'](
      { lock: backend.name, holder: cur.holder, expires: iso(expiresAtMs(cur)) },
      'lock held by another run; waiting',
    );
    waitLogged = true;
    try {
      await clock.sleep(Math.max(1, Math.min(pollMs, waitUntil - clock.now())), opts.signal);
    } catch {
      throw await giveUp(stopped(opts.signal));
    }
  }
}

function stopped(signal: AbortSignal | undefined): HaSyncError {
  const reason: unknown = signal?.reason;
  return isHaSyncError(reason) ? reason : new HaSyncError('TERMINATED', 'stopped while waiting for the lock');
}

async function bestEffort(log: Logger, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.debug({ err: errorMessage(err) }, 'lock: best-effort call failed');
  }
}

/** Holds an acquired lock: renews, checks, reports contention and loss; releases on demand. */
function hold(backend: Backend, so: SessionOptions, first: Holding, apiTimeoutMs: number): LockHandle {
  const { clock, log } = so;
  const ttlMs = so.ttlSeconds * 1000;
  const renewEveryMs = ttlMs / 3;
  const checkEveryMs = Math.min(renewEveryMs, so.checkIntervalMs ?? 10_000);
  // Stop trusting the lock a little before others may take it over: clock skew between hosts and
  // the time a write takes to land both eat into the ttl.
  const marginMs = Math.min(ttlMs / 10, 30_000);
  const lostAc = new AbortController();
  const stopAc = new AbortController();
  let mine = first;
  let lastRenewMs = first.renewTimeMs;
  let waiting = first.waiting;
  let released: Promise<void> | undefined;

  const lose = (why: string): void => {
    if (lostAc.signal.aborted) return;
    const err = new HaSyncError('LOCK_LOST', `${backend.name}: lock lost: ${why}`);
    log.error({ lock: backend.name, holder: mine.holder }, err.message);
    lostAc.abort(err);
  };

  const loop = async (): Promise<void> => {
    let failing = false;
    while (!stopAc.signal.aborted && !lostAc.signal.aborted) {
      const now = clock.now();
      const deadline = lastRenewMs + ttlMs - marginMs;
      const nextRenew = lastRenewMs + renewEveryMs;
      // While renewals fail, retry every few seconds until the deadline.
      const wake = failing ? now + Math.min(checkEveryMs, 5_000) : Math.min(nextRenew, now + checkEveryMs);
      try {
        await clock.sleep(Math.max(1, Math.min(wake, deadline) - now), stopAc.signal);
      } catch {
        return; // released
      }
      const at = clock.now();
      if (at >= deadline) {
        lose(`not renewed since ${iso(lastRenewMs)} (ttl ${so.ttlSeconds}s)`);
        return;
      }
      const renew = failing || at >= lastRenewMs + renewEveryMs;
      let seen: Holding | undefined;
      try {
        seen = await bounded(`${backend.name}: renew`, apiTimeoutMs, (sig) =>
          backend.refresh(mine, renew ? at : undefined, sig),
        );
      } catch (err) {
        if (stopAc.signal.aborted) return;
        if (!renew) continue; // a failed check is retried at the next tick
        failing = true;
        log.warn(
          { lock: backend.name, err: errorMessage(err), deadline: iso(deadline) },
          'lock renewal failed; retrying',
        );
        continue;
      }
      if (stopAc.signal.aborted) return;
      // A renewal that only came back after the old deadline may have landed after a contender
      // judged the lock stale and took it (a lock file has no compare-and-swap), so it proves
      // nothing: stop trusting the lock rather than risk two writers.
      if (renew && clock.now() >= deadline) {
        lose(`renewal answered only after the deadline (not renewed since ${iso(lastRenewMs)})`);
        return;
      }
      if (!seen) {
        lose('it was removed by someone else');
        return;
      }
      if (seen.holder !== mine.holder) {
        lose(`now held by ${seen.holder || '(nobody)'}`);
        return;
      }
      mine = seen;
      waiting = seen.waiting;
      if (renew) {
        failing = false;
        lastRenewMs = at;
        log.debug({ lock: backend.name, renewed: iso(at) }, 'lock renewed');
      }
    }
  };
  const running = loop().catch((err: unknown) => lose(`renewal loop failed: ${errorMessage(err)}`));

  return {
    holder: first.holder,
    lost: lostAc.signal,
    contended: () => isFreshWaiter(waiting, first.holder, clock.now()),
    release: () =>
      (released ??= (async () => {
        stopAc.abort();
        await running;
        try {
          await bounded(`${backend.name}: release`, apiTimeoutMs, (sig) => backend.remove(mine, sig));
          log.info({ lock: backend.name, holder: mine.holder }, 'lock released');
        } catch (err) {
          log.warn(
            { lock: backend.name, err: errorMessage(err) },
            'lock release failed; it expires on its own',
          );
        }
      })()),
  };
}
