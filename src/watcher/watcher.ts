// One watched root: a poller (or native watcher) feeding the outbox, and a publisher draining the
// outbox to the bus. The two run independently: polling never waits for NATS, and while NATS is
// unreachable the outbox coalesces what changed (bounded) and publishes it once NATS is back.
import type { ChangeEvent, EventBus } from '../bus/index.js';
import type { Clock } from '../clock.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import type { Logger } from '../log.js';
import { fsTypeOf, isNetworkFs } from '../fsops/index.js';
import type { WatcherBeat } from '../health/index.js';
import { NativeWatcher } from './native.js';
import { Outbox } from './outbox.js';
import { Poller } from './poll.js';

export interface WatchRoot {
  pair: string;
  side: string;
  /** Absolute path of the root. */
  root: string;
}

export interface WatcherOptions {
  /** 'poll' (default; NFS-safe) or 'native' (chokidar, local disks). */
  mode: 'poll' | 'native';
  /** Poller tick in ms. Default 1000. */
  pollIntervalMs: number;
  /**
   * Sweep budget, filesystem calls per second; 0 (the default) picks 10000 on a local filesystem
   * (synchronous stats, ~2.5 us of CPU each) and 5000 on a network one (asynchronous, ~20 us).
   */
  sweepRate: number;
  /** Timeout of one filesystem call, ms. Default 5000. */
  statTimeoutMs: number;
  /** Filesystem calls in flight per root. Default 8. */
  statConcurrency: number;
  /** Re-list a changed directory every tick for this long, ms. Default 3000. */
  hotMs: number;
  /** Events kept per root while NATS is away before directories collapse to a rescan. Default 50000. */
  maxPending: number;
  /** Announce every existing entry at start (default false: the reconciler owns the backlog). */
  initialSync: boolean;
  /** Events published at once. Default 64. */
  publishBatch: number;
}

export const DEFAULT_WATCHER_OPTIONS: Readonly<WatcherOptions> = Object.freeze({
  mode: 'poll',
  pollIntervalMs: 1000,
  sweepRate: 0,
  statTimeoutMs: 5000,
  statConcurrency: 8,
  hotMs: 3000,
  maxPending: 50_000,
  initialSync: false,
  publishBatch: 64,
});

export interface WatcherDeps {
  bus: EventBus;
  clock: Clock;
  logger: Logger;
}

/** A running watcher of one root. */
export class RootWatcher {
  readonly outbox: Outbox;
  readonly source: Poller | NativeWatcher;
  private kick: (() => void) | null = null;
  private busDown = false;
  /** Events handed to the bus successfully. */
  published = 0;
  /** Filesystem type of the root at start ('unknown' when it could not be told). */
  readonly fsType: string;

  constructor(
    readonly root: WatchRoot,
    readonly opts: WatcherOptions,
    private readonly deps: WatcherDeps,
  ) {
    this.outbox = new Outbox(opts.maxPending);
    const emit = (ev: ChangeEvent): void => {
      this.outbox.put(ev);
      this.kick?.();
    };
    const log = deps.logger.child({ pair: root.pair, side: root.side });
    // Synchronous stats only on a filesystem known to be local: a network call could hang.
    this.fsType = fsTypeOf(root.root);
    const syncIo = this.fsType !== 'unknown' && !isNetworkFs(this.fsType);
    this.source =
      opts.mode === 'native'
        ? new NativeWatcher({
            ...root,
            batchMs: 200,
            statTimeoutMs: opts.statTimeoutMs,
            clock: deps.clock,
            logger: log,
            emit,
          })
        : new Poller({
            ...root,
            pollIntervalMs: opts.pollIntervalMs,
            sweepRate: opts.sweepRate > 0 ? opts.sweepRate : syncIo ? 10_000 : 5000,
            statTimeoutMs: opts.statTimeoutMs,
            statConcurrency: opts.statConcurrency,
            hotMs: opts.hotMs,
            syncIo,
            clock: deps.clock,
            logger: log,
            emit,
          });
  }

  /** What this watcher says about itself in a heartbeat. */
  beat(now: number, everyMs: number): WatcherBeat {
    const why = this.source.unhealthyReason;
    return {
      v: 1,
      pair: this.root.pair,
      component: 'watcher',
      side: this.root.side,
      at: now,
      everyMs,
      root: why === null ? 'ok' : /has not returned|timed? ?out|ETIMEDOUT/i.test(why) ? 'hung' : 'unmounted',
      ...(why !== null ? { reason: why.slice(0, 300) } : {}),
      filesIndexed: this.source.entriesIndexed,
      lastSweepAt: this.source.sweep.lastAt,
      sweepMs: this.source.sweep.ms,
      pending: this.outbox.size,
    };
  }

  /** Initial scan (publishes nothing unless initialSync). Resolves once the index is built. */
  async start(signal: AbortSignal): Promise<void> {
    await this.source.start(signal, this.opts.initialSync);
  }

  /** Polls and publishes until `signal` aborts. Call after `start`. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.source.run(signal), this.publishLoop(signal)]);
  }

  private async publishLoop(signal: AbortSignal): Promise<void> {
    const log = this.deps.logger;
    let backoff = 250;
    let rescan: ChangeEvent[] = [];
    signal.addEventListener('abort', () => this.kick?.(), { once: true });
    while (!signal.aborted) {
      // A collapsed directory is re-announced from a snapshot of its entries, published before
      // the outbox (whose events are all newer) and outside it, so a directory bigger than the
      // outbox bound cannot collapse again forever.
      if (rescan.length === 0 && this.outbox.size === 0 && this.outbox.rescanDirs.size > 0) {
        const dir = this.outbox.rescanDirs.values().next().value!;
        this.outbox.rescanDirs.delete(dir);
        rescan = this.source.reannounce(dir);
        log.warn(
          {
            pair: this.root.pair,
            side: this.root.side,
            dir,
            entries: rescan.length,
            droppedDeletes: this.outbox.takeDroppedDeletes(),
          },
          'outbox overflowed while NATS was away; re-announcing a collapsed directory (dropped deletes are left to the reconciler)',
        );
      }
      if (rescan.length === 0 && this.outbox.size === 0) {
        await new Promise<void>((resolve) => (this.kick = resolve));
        this.kick = null;
        continue;
      }
      const fromRescan = rescan.length > 0;
      const batch = fromRescan
        ? rescan.slice(0, this.opts.publishBatch)
        : this.outbox.take(this.opts.publishBatch);
      if (fromRescan) rescan = rescan.slice(batch.length);
      const results = await Promise.allSettled(batch.map((ev) => this.deps.bus.publish(ev)));
      let failed = 0;
      results.forEach((r, i) => {
        const ev = batch[i]!;
        if (r.status === 'fulfilled') {
          this.published++;
          return;
        }
        if (isHaSyncError(r.reason, 'INVALID_INPUT')) {
          log.warn(
            { path: JSON.stringify(ev.path), err: errorMessage(r.reason) },
            'event dropped: not publishable',
          );
          return;
        }
        failed++;
        if (fromRescan) rescan.push(ev);
        else this.outbox.putBack(ev);
      });
      if (failed > 0) {
        if (!this.busDown) {
          log.warn(
            {
              pair: this.root.pair,
              side: this.root.side,
              waiting: this.outbox.size,
              err: errorMessage(
                (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason,
              ),
            },
            'cannot publish; keeping changes until NATS is back',
          );
          this.busDown = true;
        }
        try {
          await this.deps.clock.sleep(backoff, signal);
        } catch {
          return;
        }
        backoff = Math.min(2000, backoff * 2);
      } else {
        if (this.busDown) {
          log.info(
            { pair: this.root.pair, side: this.root.side, waiting: this.outbox.size },
            'publishing again',
          );
          this.busDown = false;
        }
        backoff = 250;
      }
    }
  }
}

/**
 * Watches every root until `signal` aborts (one process can serve all pairs of one server). A
 * root that is not available at start is waited for without holding up the others.
 */
export async function runWatchers(
  roots: readonly WatchRoot[],
  opts: WatcherOptions,
  deps: WatcherDeps,
  signal: AbortSignal,
  /** Called with the watchers once made, before they start (for heartbeats). */
  created?: (watchers: readonly RootWatcher[]) => void,
): Promise<RootWatcher[]> {
  const watchers = roots.map((r) => new RootWatcher(r, opts, deps));
  created?.(watchers);
  await Promise.all(
    watchers.map(async (w) => {
      await w.start(signal);
      if (signal.aborted) return;
      deps.logger.info(
        { pair: w.root.pair, side: w.root.side, root: w.root.root, mode: opts.mode },
        'watching',
      );
      await w.run(signal);
    }),
  );
  return watchers;
}
