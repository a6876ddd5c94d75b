// The in-process bus for `ha-sync run`: the same contract as the JetStream bus, kept in memory.
// It is a fake held to the real protocol (the contract suite runs against both): one durable
// queue per pair created at the first publish, explicit settle (ack / nak with a delay / term),
// redelivery with a growing delivery count, a duplicate window keyed by `msgId`, and a live
// `watch` with a bounded replay history. Messages travel as bytes and are re-validated on the way
// out, exactly like NATS messages, so the applier sees the same Delivery either way.
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { HaSyncError } from '../errors.js';
import { encodeEvent, eventSubject, msgId, validateEvent } from './event.js';
import type { ChangeEvent, ConsumeOptions, Delivery, Disposition, EventBus } from './types.js';
import type { WatchFilter } from './watchfilter.js';
import { matchesFilter, settleError, toDelivery } from './watchfilter.js';

export interface MemoryBusOptions {
  kind: 'memory';
  /** Default: the system clock. Tests pass a ManualClock (nak delays, duplicate window). */
  clock?: Clock;
  /** Duplicate window in ms (same msgId published again is dropped). Default 120000. */
  duplicateWindowMs?: number;
  /** Messages kept for `watch` replay (`sinceMs`). Default 10000. */
  historyMax?: number;
}

interface Msg {
  seq: number;
  subject: string;
  data: Uint8Array;
  publishedAt: number;
  deliveryCount: number;
  /** Not handed out before this time (nak delay). */
  availableAt: number;
  inFlight: boolean;
}

const HANDLER_ERROR_NAK_MS = 1000;

export class MemoryBus implements EventBus {
  readonly kind = 'memory';
  private readonly clock: Clock;
  private readonly dupWindowMs: number;
  private readonly historyMax: number;
  private seq = 0;
  private closed = false;
  private readonly queues = new Map<string, Msg[]>();
  private readonly recentIds = new Map<string, number>();
  private readonly history: Msg[] = [];
  private readonly watchers = new Set<(m: Msg) => void>();
  private waiters: (() => void)[] = [];

  constructor(opts: Partial<MemoryBusOptions> = {}) {
    this.clock = opts.clock ?? systemClock;
    this.dupWindowMs = opts.duplicateWindowMs ?? 120_000;
    this.historyMax = opts.historyMax ?? 10_000;
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async publish(event: ChangeEvent): Promise<void> {
    if (this.closed) throw new HaSyncError('BUS_UNAVAILABLE', 'memory bus is closed');
    const checked = validateEvent(event);
    if (typeof checked === 'string')
      throw new HaSyncError('INVALID_INPUT', `refusing to publish: ${checked}`);
    const now = this.clock.now();
    for (const [id, at] of this.recentIds) {
      if (now - at < this.dupWindowMs) break; // insertion order is time order
      this.recentIds.delete(id);
    }
    const id = msgId(checked);
    if (this.recentIds.has(id)) return; // a duplicate: dropped, like JetStream does
    this.recentIds.set(id, now);
    const m: Msg = {
      seq: ++this.seq,
      subject: eventSubject(checked.pair, checked.side),
      data: encodeEvent(checked),
      publishedAt: now,
      deliveryCount: 0,
      availableAt: 0,
      inFlight: false,
    };
    let q = this.queues.get(checked.pair);
    if (!q) this.queues.set(checked.pair, (q = []));
    q.push(m);
    this.history.push({ ...m });
    if (this.history.length > this.historyMax) this.history.shift();
    for (const w of this.watchers) w(m);
    this.wake();
  }

  async consume(
    pair: string,
    handler: (d: Delivery) => Promise<Disposition>,
    opts: ConsumeOptions,
  ): Promise<void> {
    const batch = Math.max(1, opts.batch ?? 64);
    const inflight = new Set<Promise<void>>();
    let q = this.queues.get(pair);
    if (!q) this.queues.set(pair, (q = []));
    const queue = q;
    const onAbort = (): void => this.wake();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!opts.signal.aborted && !this.closed) {
        const now = this.clock.now();
        let handed = false;
        // The earliest time a nak-delayed message becomes available: the loop's only timer wakes
        // it then (a nak itself only wakes the loop, through the settle below). If that timer fires
        // a moment before clock.now() reaches availableAt (timers run on a monotonic clock), the
        // next pass simply sleeps the remainder.
        let nextAt = Infinity;
        for (const m of queue) {
          if (inflight.size >= batch) break;
          if (!m.inFlight && m.availableAt > now) nextAt = Math.min(nextAt, m.availableAt);
          if (m.inFlight || m.availableAt > now) continue;
          m.inFlight = true;
          m.deliveryCount++;
          handed = true;
          const p = this.deliver(queue, m, handler).finally(() => {
            inflight.delete(p);
            this.wake();
          });
          inflight.add(p);
        }
        if (!handed || inflight.size >= batch) {
          await this.waitForWake(nextAt === Infinity ? undefined : Math.max(1, nextAt - now));
        }
      }
      // Let handlers already running finish and settle: their work is done or nearly so.
      await Promise.all(inflight);
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  private async deliver(queue: Msg[], m: Msg, handler: (d: Delivery) => Promise<Disposition>): Promise<void> {
    const d = toDelivery(m.subject, m.data, m.deliveryCount);
    let disp: Disposition;
    try {
      disp = await handler(d);
    } catch {
      disp = { action: 'nak', delayMs: HANDLER_ERROR_NAK_MS };
    }
    if (settleError(disp)) disp = { action: 'nak', delayMs: HANDLER_ERROR_NAK_MS };
    if (disp.action === 'nak') {
      // No timer here: the settle wakes the consume loop, which sleeps until the earliest
      // availableAt itself and cancels that sleep when it stops (a timer per nak would outlive
      // the consumer and hold the process open for up to delayMs).
      m.inFlight = false;
      m.availableAt = this.clock.now() + Math.max(0, disp.delayMs);
      return;
    }
    const i = queue.indexOf(m);
    if (i >= 0) queue.splice(i, 1);
  }

  // eslint-disable-next-line @typescript-eslint/require-await
  async pending(pair: string): Promise<number> {
    if (this.closed) throw new HaSyncError('BUS_UNAVAILABLE', 'memory bus is closed');
    return this.queues.get(pair)?.length ?? 0;
  }

  async watch(filter: WatchFilter, onEvent: (d: Delivery) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const emit = (m: Msg): void => {
      const d = toDelivery(m.subject, m.data, 1);
      if (matchesFilter(filter, m.subject)) onEvent(d);
    };
    if (filter.sinceMs !== undefined) {
      for (const m of this.history) if (m.publishedAt >= filter.sinceMs) emit(m);
    }
    this.watchers.add(emit);
    try {
      await new Promise<void>((resolve) => {
        if (this.closed) return resolve();
        const done = (): void => {
          this.closeHooks = this.closeHooks.filter((h) => h !== done);
          resolve();
        };
        signal.addEventListener('abort', done, { once: true });
        this.closeHooks.push(done);
      });
    } finally {
      this.watchers.delete(emit);
    }
  }

  private closeHooks: (() => void)[] = [];

  // eslint-disable-next-line @typescript-eslint/require-await
  async close(): Promise<void> {
    this.closed = true;
    for (const h of this.closeHooks) h();
    this.closeHooks = [];
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Resolves at the next `wake()`, or after `ms` when given. Whichever comes first cancels the
   * other: the timer is cleared, the waiter is removed (so a loop woken by its timer again and
   * again leaves nothing behind in `waiters`).
   */
  private waitForWake(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = new AbortController();
      const done = (): void => {
        timer.abort();
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      this.waiters.push(done);
      if (ms !== undefined) this.clock.sleep(ms, timer.signal).then(done, () => undefined);
    });
  }
}
