// The live applier: consumes a pair's change events (both sides) and makes the two sides equal,
// one path at a time. For each event it stats both sides and lets `decide` (pure) pick the one
// operation; it acks only after that operation is done and in the opslog, naks with a delay on a
// transient failure, and terminates (after logging) a message that can never be applied.
//
// Invariants:
// - Events are untrusted: a bad pair/side, a path that is absolute, has '..' or NUL, or goes
//   through a symlink is terminated and logged, never acted on.
// - One operation per path at a time (a per-path queue), at most `workers` at once.
// - No write starts without the pair's lock (LeaseKeeper) and never after `handle.lost` aborted.
// - Nothing is done while a root looks unmounted (missing, or empty when it had files and the
//   other side still has some): the event is nak'ed with a delay and waits. A delete re-checks
//   the roots uncached right before it is carried out.
// - An operation done whose opslog record failed keeps its event un-acked; the record is written
//   first when the event (or another for the path) comes back.
// - The echo of the applier's own writes (the other watcher reporting the copy) is recognised
//   from an LRU cache of what was just written, without a stat.
import { LRUCache } from 'lru-cache';
import type { Audit, OpRecord } from '../audit/index.js';
import type { ChangeEvent, Delivery, Disposition, EventBus } from '../bus/index.js';
import type { Clock } from '../clock.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import type { Lock } from '../lock/index.js';
import type { Logger } from '../log.js';
import { checkRelPath } from '../bus/index.js';
import { decide, type Plan } from './decide.js';
import type { FsOps } from './fsadapter.js';
import { LeaseKeeper } from './lease.js';
import { AuditWindows, directionName, type SideRef } from './windows.js';

export interface ApplierConfig {
  readonly pair: string;
  readonly a: SideRef;
  readonly b: SideRef;
  readonly deleteMissing: boolean;
  /** mtimes closer than this are equal, ms (the reconciler's --mtime-threshold). */
  readonly mtimeThresholdMs: number;
  /** Operations at once. */
  readonly workers: number;
  /** Audit activity window, ms (default 5 minutes). */
  readonly windowMs: number;
  /** Lock holder identity. */
  readonly holder: string;
  /** Release the lock after this long without work, ms. Default 5000. */
  readonly idleReleaseMs?: number;
  /** After yielding the lock to a waiter, wait this long before taking it again, ms. Default 20000. */
  readonly yieldBackoffMs?: number;
}

export interface ApplierDeps {
  bus: EventBus;
  lock: Lock;
  audit: Audit;
  fs: FsOps;
  clock: Clock;
  log: Logger;
}

export interface ApplierStats {
  /** Operations carried out (copies, deletes, mkdirs, rmdirs). */
  applied: number;
  /** Events that needed nothing (equal, stale, not propagated). */
  skipped: number;
  /** Events recognised from the cache as the echo of our own write. */
  echoes: number;
  /** Events terminated as invalid or unsafe. */
  rejected: number;
  /** Events nak'ed for a later retry. */
  retried: number;
  /** Operations that failed for good. */
  failed: number;
  conflicts: number;
}

/** An operation carried out whose record is not in the opslog yet. */
interface Owed {
  from: SideRef;
  to: SideRef;
  op: OpRecord;
  bytes: number;
}

interface Written {
  type: 'upsert' | 'delete';
  kind: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
}

/** errno codes worth retrying: the file moved under us, or the storage hiccuped. */
const TRANSIENT = new Set([
  'ENOENT',
  'ENOTDIR',
  'EIO',
  'ESTALE',
  'EAGAIN',
  'EBUSY',
  'ENOTCONN',
  'ETIMEDOUT',
  'ENOSPC',
  'EMFILE',
  'ENFILE',
  'EHOSTDOWN',
  'ECONNRESET',
]);
/** After this many deliveries a message that keeps failing is terminated (and logged). */
const MAX_DELIVERIES = 20;
const ROOT_STATE_TTL_MS = 1000;

export class Applier {
  readonly stats: ApplierStats = {
    applied: 0,
    skipped: 0,
    echoes: 0,
    rejected: 0,
    retried: 0,
    failed: 0,
    conflicts: 0,
  };
  readonly lease: LeaseKeeper;
  readonly windows: AuditWindows;
  private readonly written = new LRUCache<string, Written>({ max: 100_000, ttl: 10 * 60_000 });
  private readonly pathQueues = new Map<string, Promise<void>>();
  private readonly waiters: (() => void)[] = [];
  private running = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly roots = new Map<string, { at: number; state: 'missing' | 'empty' | 'ok' }>();
  private readonly seenNonEmpty = new Set<string>();
  private readonly unmountedLogged = new Set<string>();
  /** Records owed to the opslog, by event path (see recordAll). */
  private readonly owed = new Map<string, Owed[]>();

  constructor(
    readonly config: ApplierConfig,
    private readonly deps: ApplierDeps,
  ) {
    this.lease = new LeaseKeeper(deps.lock, deps.clock, deps.log, {
      holder: config.holder,
      ...(config.idleReleaseMs !== undefined ? { idleReleaseMs: config.idleReleaseMs } : {}),
      ...(config.yieldBackoffMs !== undefined ? { yieldBackoffMs: config.yieldBackoffMs } : {}),
    });
    this.windows = new AuditWindows(deps.audit, config.pair, config.windowMs, deps.clock, deps.log);
  }

  /**
   * Consumes until `signal` aborts, then stops starting operations, lets in-flight ones finish,
   * finishes the audit windows and releases the lock.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { bus, clock, log } = this.deps;
    // The ticker stops with `signal` and also when consume ends on its own (it threw): waiting for
    // a ticker that only `signal` stops would hang here and swallow consume's error.
    const tickerStop = new AbortController();
    const stopTicker = (): void => tickerStop.abort();
    signal.addEventListener('abort', stopTicker, { once: true });
    const ticker = (async () => {
      while (!tickerStop.signal.aborted) {
        try {
          await clock.sleep(1000, tickerStop.signal);
        } catch {
          break;
        }
        await this.tick();
      }
    })();
    log.info(
      {
        pair: this.config.pair,
        a: this.config.a,
        b: this.config.b,
        bus: bus.kind,
        lock: this.deps.lock.kind,
        deleteMissing: this.config.deleteMissing,
      },
      'applier consuming events',
    );
    try {
      await bus.consume(this.config.pair, (d) => this.handle(d), {
        signal,
        batch: Math.max(8, this.config.workers * 4),
      });
    } finally {
      // Ticker first: a yield/idle tick during close() would undo close()'s refusal of new work.
      signal.removeEventListener('abort', stopTicker);
      stopTicker();
      await ticker;
      await this.close();
    }
  }

  /** Periodic housekeeping: lease idle/yield, audit windows. */
  async tick(): Promise<void> {
    try {
      await this.lease.tick();
      await this.windows.tick();
    } catch (err) {
      this.deps.log.error(`applier housekeeping failed: ${errorMessage(err)}`);
    }
  }

  /** Stops starting operations, waits for in-flight ones, finishes windows, releases the lock. */
  async close(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    await this.windows.close();
    await this.lease.close();
  }

  /** Decides and carries out one delivered event. Never throws. */
  handle(d: Delivery): Promise<Disposition> {
    const p = this.handleInner(d).catch((err: unknown): Disposition => {
      this.deps.log.error(
        { subject: d.subject },
        `applier bug while handling an event: ${errorMessage(err)}`,
      );
      this.stats.retried++;
      return { action: 'nak', delayMs: 5000 };
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private reject(reason: string, d: Delivery, ev?: ChangeEvent): Disposition {
    this.stats.rejected++;
    this.deps.log.warn(
      { subject: d.subject, pair: ev?.pair, side: ev?.side, path: ev?.path },
      `event rejected: ${reason}`,
    );
    return { action: 'term', reason };
  }

  private async handleInner(d: Delivery): Promise<Disposition> {
    const ev = d.event;
    if (!ev) return this.reject(d.error ?? 'invalid event', d);
    if (ev.pair !== this.config.pair)
      return this.reject(`event for pair '${ev.pair}', this applier serves '${this.config.pair}'`, d, ev);
    const origin =
      ev.side === this.config.a.label
        ? this.config.a
        : ev.side === this.config.b.label
          ? this.config.b
          : null;
    if (!origin)
      return this.reject(
        `unknown side '${ev.side}' (sides: ${this.config.a.label}, ${this.config.b.label})`,
        d,
        ev,
      );
    const bad = checkRelPath(ev.path);
    if (bad) return this.reject(`unsafe path: ${bad}`, d, ev);
    const other = origin === this.config.a ? this.config.b : this.config.a;

    if (this.isEcho(ev)) {
      this.stats.echoes++;
      return { action: 'ack' };
    }
    if (this.stopping) return this.retry(1000);
    return this.serialized(ev.path, () => this.apply(ev, d, origin, other));
  }

  /**
   * True when `ev` reports exactly what this applier just wrote on that side. A directory's echo
   * is consumed once (it carries no size or mtime of ours); any other event for the path clears
   * the entry: the side changed in a way we did not cause.
   */
  private isEcho(ev: ChangeEvent): boolean {
    const key = `${ev.side}\0${ev.path}`;
    const w = this.written.get(key);
    if (!w) return false;
    const hit =
      w.type === ev.type &&
      w.kind === ev.kind &&
      (w.kind === 'dir' || (w.size === ev.size && Math.abs(w.mtimeMs - ev.mtimeMs) < 1));
    if (!hit || w.kind === 'dir') this.written.delete(key);
    return hit;
  }

  private retry(delayMs: number): Disposition {
    this.stats.retried++;
    return { action: 'nak', delayMs };
  }

  /** Runs `fn` after earlier work on the same path and within the worker limit. */
  private async serialized<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.pathQueues.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.pathQueues.set(path, tail);
    await prev;
    try {
      if (this.running >= this.config.workers) await new Promise<void>((r) => this.waiters.push(r));
      this.running++;
      try {
        return await fn();
      } finally {
        this.running--;
        this.waiters.shift()?.();
      }
    } finally {
      release();
      if (this.pathQueues.get(path) === tail) this.pathQueues.delete(path);
    }
  }

  /** How `side`'s root looks, cached for ROOT_STATE_TTL_MS unless `fresh`. */
  private async rootState(side: SideRef, fresh: boolean): Promise<'missing' | 'empty' | 'ok'> {
    const now = this.deps.clock.now();
    const c = this.roots.get(side.label);
    if (!fresh && c && now - c.at < ROOT_STATE_TTL_MS) return c.state;
    const state = await this.deps.fs.rootState(side.root);
    this.roots.set(side.label, { at: now, state });
    if (state === 'ok') this.seenNonEmpty.add(side.label);
    return state;
  }

  /**
   * Why a root looks unmounted, or null. An empty root counts only once it was seen with files.
   * `fresh` skips the cache (before a delete, whose only evidence is an absence).
   */
  private async unmounted(fresh = false): Promise<string | null> {
    const { a, b } = this.config;
    const [sa, sb] = await Promise.all([this.rootState(a, fresh), this.rootState(b, fresh)]);
    for (const [side, s, o] of [
      [a, sa, sb],
      [b, sb, sa],
    ] as const) {
      if (s === 'missing') return `root of ${side.label} ('${side.root}') is missing or unreadable`;
      if (s === 'empty' && o === 'ok' && this.seenNonEmpty.has(side.label)) {
        return `root of ${side.label} ('${side.root}') is suddenly empty while the other side is not`;
      }
    }
    return null;
  }

  /** Nak'ed while a root looks unmounted (logged once per reason); null when both look mounted. */
  private async waitForMount(fresh = false): Promise<Disposition | null> {
    const why = await this.unmounted(fresh);
    if (!why) return null;
    if (!this.unmountedLogged.has(why)) {
      this.unmountedLogged.add(why);
      this.deps.log.error(
        { pair: this.config.pair },
        `${why}: looks unmounted, nothing is applied until it is back`,
      );
    }
    return this.retry(10_000);
  }

  private async apply(ev: ChangeEvent, d: Delivery, origin: SideRef, other: SideRef): Promise<Disposition> {
    const { fs, log } = this.deps;
    const owed = this.owed.get(ev.path);
    if (owed) {
      this.owed.delete(ev.path);
      if (!(await this.recordAll(ev.path, owed))) return this.auditOwed();
      this.stats.applied++;
    }
    const wait = await this.waitForMount();
    if (wait) return wait;
    if (this.unmountedLogged.size) {
      log.info({ pair: this.config.pair }, 'both roots look mounted again: applying');
      this.unmountedLogged.clear();
    }

    let plan: Plan;
    try {
      const [sOrigin, sOther] = await Promise.all([
        fs.stat(origin.root, ev.path),
        fs.stat(other.root, ev.path),
      ]);
      plan = decide(ev, sOrigin, sOther, this.config);
    } catch (err) {
      if (isHaSyncError(err, 'UNSAFE_PATH')) return this.reject(errorMessage(err), d, ev);
      return this.failure(err, d, ev, null);
    }
    if (plan.op === 'none') {
      this.stats.skipped++;
      log.debug({ side: ev.side, type: ev.type, path: ev.path }, `nothing to do: ${plan.reason}`);
      return { action: 'ack' };
    }
    if (plan.op === 'conflict') {
      this.stats.conflicts++;
      log.warn({ pair: this.config.pair, path: ev.path }, `not synced: ${plan.reason}`);
      return { action: 'ack' };
    }
    // A delete is justified only by an absence, and an unmount looks exactly like one: re-check the
    // roots uncached (the cached state may be up to ROOT_STATE_TTL_MS old).
    if (plan.op === 'delete' || plan.op === 'rmdir') {
      const again = await this.waitForMount(true);
      if (again) return again;
    }
    const grant = await this.lease.begin();
    if (!grant.ok) return this.retry(grant.retryInMs);
    try {
      if (grant.handle.lost.aborted || this.stopping) return this.retry(2000);
      return await this.execute(plan, ev, d, origin, other, grant.handle.lost);
    } finally {
      grant.done();
    }
  }

  private async execute(
    plan: Exclude<Plan, { op: 'none' } | { op: 'conflict' }>,
    ev: ChangeEvent,
    d: Delivery,
    origin: SideRef,
    other: SideRef,
    lost: AbortSignal,
  ): Promise<Disposition> {
    const { fs, log, clock } = this.deps;
    const started = clock.now();
    const path = ev.path;
    const pick = (w: 'origin' | 'other'): SideRef => (w === 'origin' ? origin : other);
    let from: SideRef = origin;
    let to: SideRef = other;
    let rec: Omit<OpRecord, 'startedAtMs' | 'endedAtMs' | 'status' | 'errorMessage'> | null = null;
    const success = (r: NonNullable<typeof rec>): OpRecord => ({
      ...r,
      startedAtMs: started,
      endedAtMs: clock.now(),
      status: 'success',
      errorMessage: null,
    });
    try {
      switch (plan.op) {
        case 'copy': {
          from = pick(plan.from);
          to = from === origin ? other : origin;
          rec = {
            operation: plan.kind,
            filepath: path,
            sizeBefore: plan.expectDest?.size ?? null,
            sizeAfter: plan.expectSrc.size,
            md5Before: null,
            md5After: null,
          };
          const r = await fs.copy(
            from.root,
            to.root,
            path,
            { src: plan.expectSrc, dest: plan.expectDest },
            lost,
          );
          // What was done, in the opslog before the ack (see recordAll).
          const done = this.parents(r.createdDirs, from, to, started);
          this.written.set(`${to.label}\0${path}`, {
            type: 'upsert',
            kind: plan.expectSrc.kind === 'symlink' ? 'symlink' : 'file',
            size: r.size,
            mtimeMs: r.mtimeMs,
          });
          done.push({ from, to, op: success(rec), bytes: r.bytes });
          if (!(await this.recordAll(path, done))) return this.auditOwed();
          log.info(
            {
              pair: this.config.pair,
              direction: directionName(from, to),
              op: plan.kind,
              path,
              bytes: r.bytes,
              lagMs: Math.max(0, clock.now() - ev.observedAt),
            },
            `${plan.kind} ${path}`,
          );
          break;
        }
        case 'mkdir': {
          rec = {
            operation: 'create',
            filepath: path,
            sizeBefore: null,
            sizeAfter: 0,
            md5Before: null,
            md5After: null,
          };
          const r = await fs.copy(origin.root, other.root, path, { src: plan.expectSrc, dest: null }, lost);
          const done = this.parents(r.createdDirs, origin, other, started);
          this.written.set(`${other.label}\0${path}`, { type: 'upsert', kind: 'dir', size: 0, mtimeMs: 0 });
          done.push({ from: origin, to: other, op: success(rec), bytes: 0 });
          if (!(await this.recordAll(path, done))) return this.auditOwed();
          log.info(
            { pair: this.config.pair, direction: directionName(origin, other), op: 'mkdir', path },
            `mkdir ${path}`,
          );
          break;
        }
        case 'delete':
        case 'rmdir': {
          rec = {
            operation: 'delete',
            filepath: path,
            sizeBefore: plan.expect.size,
            sizeAfter: null,
            md5Before: null,
            md5After: null,
          };
          const r = await fs.remove(other.root, path, plan.expect, lost);
          if (r === 'not-empty') {
            // Its contents' delete events may still be on their way: retry a few times, then leave it.
            if (d.deliveryCount < 6) return this.retry(2000);
            log.info({ pair: this.config.pair, path }, `directory ${path} not removed: not empty`);
            this.stats.skipped++;
            return { action: 'ack' };
          }
          if (r === 'missing') {
            this.stats.skipped++;
            return { action: 'ack' };
          }
          const kind = plan.expect.kind === 'dir' ? 'dir' : 'file';
          this.written.set(`${other.label}\0${path}`, {
            type: 'delete',
            kind: plan.expect.kind === 'symlink' ? 'symlink' : kind,
            size: plan.expect.size,
            mtimeMs: plan.expect.mtimeMs,
          });
          if (!(await this.recordAll(path, [{ from: origin, to: other, op: success(rec), bytes: 0 }])))
            return this.auditOwed();
          log.info(
            { pair: this.config.pair, direction: directionName(origin, other), op: plan.op, path },
            `${plan.op} ${path}`,
          );
          break;
        }
      }
    } catch (err) {
      return this.failure(err, d, ev, rec && { rec, from, to, started });
    }
    this.stats.applied++;
    return { action: 'ack' };
  }

  /** The audit records of the parent directories a copy had to create first (remembered as echoes). */
  private parents(dirs: string[], from: SideRef, to: SideRef, started: number): Owed[] {
    return dirs.map((dir) => {
      this.written.set(`${to.label}\0${dir}`, { type: 'upsert', kind: 'dir', size: 0, mtimeMs: 0 });
      return {
        from,
        to,
        bytes: 0,
        op: {
          operation: 'create',
          filepath: dir,
          sizeBefore: null,
          sizeAfter: 0,
          md5Before: null,
          md5After: null,
          startedAtMs: started,
          endedAtMs: this.deps.clock.now(),
          status: 'success',
          errorMessage: null,
        },
      };
    });
  }

  /**
   * Appends records of operations already carried out to the opslog, in order. On a failure the
   * rest are kept (by the event's path) and written first when the event comes back; false then,
   * and the event must not be acked: an ack would drop the only trace of an operation done.
   */
  private async recordAll(path: string, recs: Owed[]): Promise<boolean> {
    for (let i = 0; i < recs.length; i++) {
      const o = recs[i]!;
      try {
        await this.windows.record(o.from, o.to, o.op, o.bytes);
      } catch (err) {
        this.owed.set(path, recs.slice(i));
        this.deps.log.error(
          { pair: this.config.pair, path: o.op.filepath },
          `operation done but not yet in the opslog (kept, retried with the event): ${errorMessage(err)}`,
        );
        return false;
      }
    }
    return true;
  }

  /** The event of an operation done but not audited yet waits (never terminated) until it is. */
  private auditOwed(): Disposition {
    return this.retry(5000);
  }

  /** Transient: nak with backoff; unsafe: term; anything else: retry, then term and audit a failure. */
  private async failure(
    err: unknown,
    d: Delivery,
    ev: ChangeEvent,
    op: {
      rec: Omit<OpRecord, 'startedAtMs' | 'endedAtMs' | 'status' | 'errorMessage'>;
      from: SideRef;
      to: SideRef;
      started: number;
    } | null,
  ): Promise<Disposition> {
    const { log, clock } = this.deps;
    if (isHaSyncError(err, 'UNSAFE_PATH')) return this.reject(errorMessage(err), d, ev);
    const msg = errorMessage(err);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const transient = isHaSyncError(err, 'CHANGED_UNDER_US') || TRANSIENT.has(code);
    if (d.deliveryCount < MAX_DELIVERIES) {
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(6, d.deliveryCount - 1));
      (transient ? log.info.bind(log) : log.warn.bind(log))(
        { pair: this.config.pair, path: ev.path, attempt: d.deliveryCount, retryInMs: delayMs },
        `will retry: ${msg}`,
      );
      return this.retry(delayMs);
    }
    this.stats.failed++;
    log.error(
      { pair: this.config.pair, path: ev.path, attempts: d.deliveryCount },
      `giving up on this event: ${msg}`,
    );
    if (op) {
      await this.windows
        .record(op.from, op.to, {
          ...op.rec,
          startedAtMs: op.started,
          endedAtMs: clock.now(),
          status: 'fail',
          errorMessage: msg.slice(0, 4000),
        })
        .catch((e: unknown) => log.error(`could not audit a failed operation: ${errorMessage(e)}`));
    }
    return { action: 'term', reason: msg };
  }
}
