// The applier's lease protocol (docs/live-sync.md): hold the pair's lock only while there is work.
//
// - The first event that needs an operation acquires the lock (never waiting: when another holder
//   has it, the event is nak'ed with a delay and waits durably in JetStream).
// - The lock is released when no operation has run for `idleReleaseMs` (default 5 s).
// - When another process asks for a turn (`contended()`, e.g. the reconciler CronJob), the applier
//   stops starting operations at once, lets in-flight ones finish, releases, and does not try again
//   for `yieldBackoffMs` (default 20 s) so the waiter gets the lock. With a 1 s tick the yield takes
//   about a second plus the longest in-flight copy, well inside the 30 s bound for ordinary files.
// - When the lock is lost (`handle.lost`), no new operation starts; the next event re-acquires.
import type { Clock } from '../clock.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import type { Lock, LockHandle } from '../lock/index.js';
import type { Logger } from '../log.js';

export interface LeaseKeeperOptions {
  holder: string;
  /** Release after this long without an operation, ms. Default 5000. */
  idleReleaseMs?: number;
  /** After yielding to a waiter, do not re-acquire for this long, ms. Default 20000. */
  yieldBackoffMs?: number;
  /** After a failed acquire (held elsewhere), do not retry for this long, ms. Default 2000. */
  retryMs?: number;
}

export type LeaseGrant =
  { ok: true; handle: LockHandle; done: () => void } | { ok: false; retryInMs: number; why: string };

export class LeaseKeeper {
  private handle: LockHandle | null = null;
  private acquiring: Promise<LockHandle | null> | null = null;
  private inFlight = 0;
  private lastActivity = 0;
  private notBefore = 0;
  private yielding = false;
  private releasing: Promise<void> | null = null;
  private readonly idleReleaseMs: number;
  private readonly yieldBackoffMs: number;
  private readonly retryMs: number;
  /** Times the lock was acquired / yielded to a waiter (for logs and tests). */
  acquisitions = 0;
  yields = 0;

  constructor(
    private readonly lock: Lock,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: LeaseKeeperOptions,
  ) {
    this.idleReleaseMs = opts.idleReleaseMs ?? 5000;
    this.yieldBackoffMs = opts.yieldBackoffMs ?? 20000;
    this.retryMs = opts.retryMs ?? 2000;
  }

  get held(): boolean {
    return this.handle !== null && !this.handle.lost.aborted;
  }

  /**
   * Asks to start one operation. On success the caller runs it and calls `done()` afterwards; the
   * handle's `lost` signal must be checked right before the write.
   */
  async begin(): Promise<LeaseGrant> {
    const now = this.clock.now();
    if (this.yielding) return { ok: false, retryInMs: this.yieldBackoffMs, why: 'yielding the lock' };
    // An idle release in progress is not a yield: the lock is taken again right after it.
    if (this.releasing) return { ok: false, retryInMs: 250, why: 'releasing the idle lock' };
    if (this.handle?.lost.aborted) this.dropLost();
    if (!this.handle) {
      if (now < this.notBefore)
        return { ok: false, retryInMs: Math.max(500, this.notBefore - now), why: 'lock busy' };
      this.acquiring ??= this.acquire().finally(() => (this.acquiring = null));
      const h = await this.acquiring;
      if (!h || !this.handle || this.yielding)
        return { ok: false, retryInMs: this.retryMs, why: 'lock held elsewhere' };
    }
    const handle = this.handle;
    this.inFlight++;
    this.lastActivity = this.clock.now();
    let finished = false;
    return {
      ok: true,
      handle,
      done: () => {
        if (finished) return;
        finished = true;
        this.inFlight--;
        this.lastActivity = this.clock.now();
      },
    };
  }

  private async acquire(): Promise<LockHandle | null> {
    try {
      const h = await this.lock.acquire({ holder: this.opts.holder, waitSeconds: 0 });
      this.handle = h;
      this.acquisitions++;
      this.lastActivity = this.clock.now();
      this.log.info({ lock: this.lock.name, holder: h.holder }, 'lock acquired: applying events');
      h.lost.addEventListener(
        'abort',
        () =>
          this.log.warn(
            { lock: this.lock.name, reason: errorMessage(h.lost.reason) },
            'lock lost: no new operations until it is re-acquired',
          ),
        { once: true },
      );
      return h;
    } catch (err) {
      this.notBefore = this.clock.now() + this.retryMs;
      if (isHaSyncError(err, 'LOCK_HELD'))
        this.log.info({ lock: this.lock.name }, `lock busy, events wait: ${errorMessage(err)}`);
      else this.log.warn({ lock: this.lock.name }, `cannot acquire the lock: ${errorMessage(err)}`);
      return null;
    }
  }

  private dropLost(): void {
    this.handle = null;
    this.notBefore = this.clock.now() + this.retryMs;
  }

  /** Called about once a second: releases when idle, yields when contended. */
  async tick(): Promise<void> {
    const h = this.handle;
    if (!h || this.releasing) return;
    if (h.lost.aborted) {
      this.dropLost();
      return;
    }
    const idle = this.inFlight === 0 && this.clock.now() - this.lastActivity >= this.idleReleaseMs;
    if (!this.yielding && h.contended()) {
      this.yielding = true;
      this.yields++;
      this.log.info(
        { lock: this.lock.name, inFlight: this.inFlight },
        'another process waits for the lock: yielding',
      );
    }
    if (this.yielding && this.inFlight === 0) {
      await this.release('yielded to a waiting process');
      this.notBefore = this.clock.now() + this.yieldBackoffMs;
      this.yielding = false;
    } else if (idle && !this.yielding) {
      await this.release('queue idle');
    }
  }

  private async release(why: string): Promise<void> {
    const h = this.handle;
    if (!h) return;
    this.releasing = (async () => {
      this.handle = null;
      await h.release();
      this.log.info({ lock: this.lock.name }, `lock released: ${why}`);
    })();
    try {
      await this.releasing;
    } finally {
      this.releasing = null;
    }
  }

  /** Waits for in-flight operations (up to `maxWaitMs`), then releases. For shutdown. */
  async close(maxWaitMs = 60_000): Promise<void> {
    this.yielding = true;
    const end = this.clock.now() + maxWaitMs;
    while (this.inFlight > 0 && this.clock.now() < end) await this.clock.sleep(50);
    await this.release('shutting down');
  }
}
