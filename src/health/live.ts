// The shells around heartbeats: a publisher that sends what a component says about itself every
// HEARTBEAT_MS, and the board that keeps the last heartbeat of every component it hears (the
// dashboard). Both speak plain NATS subjects through `PlainBus`, nothing is stored in JetStream:
// a heartbeat is only worth its freshness.
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { HEARTBEAT_MS, beatSubject, encodeBeat, parseBeat, type Beat } from './beat.js';
import { pairHealth, type PairHealth } from './status.js';

/** What the heartbeat shells need of the bus (NatsBus has it). */
export interface PlainBus {
  readonly prefix: string;
  readonly linkUp: boolean;
  publishPlain(subject: string, data: Uint8Array): boolean;
  subscribePlain(
    subject: string,
    onMsg: (subject: string, data: Uint8Array) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/**
 * Publishes `produce()`'s heartbeats now and every `everyMs` until `signal` aborts. A failing
 * producer is logged once per distinct message and skipped: health reporting never stops the work.
 */
export async function publishBeats(
  bus: PlainBus,
  produce: () => Promise<Beat[]> | Beat[],
  deps: { clock: Clock; log: Logger; signal: AbortSignal; everyMs?: number },
): Promise<void> {
  let lastErr = '';
  while (!deps.signal.aborted) {
    try {
      for (const b of await produce()) bus.publishPlain(beatSubject(bus.prefix, b), encodeBeat(b));
      lastErr = '';
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== lastErr) deps.log.warn({ err: msg }, 'could not build a heartbeat');
      lastErr = msg;
    }
    try {
      await deps.clock.sleep(deps.everyMs ?? HEARTBEAT_MS, deps.signal);
    } catch {
      return;
    }
  }
}

type Held = Beat & { readonly receivedAt: number };

/** The last heartbeat of every component heard, and the live health judged from them. */
export class HealthBoard {
  private readonly last = new Map<string, Held>();
  private bus: PlainBus | null = null;
  /** Heartbeats dropped as invalid (logged, rate-limited). */
  rejected = 0;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Listens on `<prefix>.*.*.health` until `signal` aborts. */
  async listen(bus: PlainBus, signal: AbortSignal): Promise<void> {
    this.bus = bus;
    await bus.subscribePlain(`${bus.prefix}.*.*.health`, (subject, data) => this.take(subject, data), signal);
  }

  /** Takes one message (exposed for tests): validated against its subject, else dropped. */
  take(subject: string, data: Uint8Array): void {
    const parts = subject.split('.');
    const [pair, side] = [parts[parts.length - 3] ?? '', parts[parts.length - 2] ?? ''];
    const b = parseBeat(data, { pair, side });
    if (typeof b === 'string') {
      this.rejected++;
      if (this.rejected <= 10 || this.rejected % 1000 === 0)
        this.log.warn(
          { subject: subject.slice(0, 200), why: b, rejected: this.rejected },
          'heartbeat ignored',
        );
      return;
    }
    const key = `${b.pair}\0${b.component}\0${b.component === 'watcher' ? b.side : ''}`;
    this.last.set(key, { ...b, receivedAt: this.clock.now() });
  }

  /** Each pair's live health now. `busUp` is null when no bus is attached. */
  health(): PairHealth[] {
    return pairHealth({
      beats: this.last.values(),
      now: this.clock.now(),
      busUp: this.bus ? this.bus.linkUp : null,
    });
  }

  /** Whether a bus is attached (live health configured). */
  get enabled(): boolean {
    return this.bus !== null;
  }
}
