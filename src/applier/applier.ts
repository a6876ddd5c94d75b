// The live applier: consumes a pair's change events (both sides) and makes the two sides equal,
// one path at a time. An event only says which path to look at: the applier stats both sides,
// reads the path's baseline, and lets the core's `decidePath` (the reconciler's rule) decide;
// execute.ts carries the decision out. It acks only after that is done and in the opslog, naks
// with a delay on a transient failure, and terminates (after logging) a message that can never
// be applied. Correctness never rests on the event's contents nor on the echo cache.
//
// Invariants:
// - Events are untrusted: a bad pair/side, a path that is absolute, has '..' or NUL, or goes
//   through a symlink is terminated and logged, never acted on.
// - One operation per path at a time (a per-path queue), at most `workers` at once.
// - No write starts without the pair's lock (LeaseKeeper) and never after `handle.lost` aborted.
// - Nothing is done while a root is not the pair's: missing, or without its marker
//   (`.ha-sync/root.json` naming this pair and side; a bare mount point has none). The event is
//   nak'ed with a delay and waits in NATS; work resumes by itself when the marker is back. Every
//   write re-checks both markers right before it is carried out. A root emptied for real keeps
//   its marker: its deletes follow the deletion rules, never a stall.
// - Temp files a killed writer left are removed where the applier works (see temps.ts), and
//   where a watcher reports one (an upsert naming a temp file of that root).
// - An operation done whose opslog record failed keeps its event un-acked; the record is written
//   first when the event (or another for the path) comes back.
// - The echo of the applier's own writes (the other watcher reporting the copy) is recognised
//   from an LRU cache of what was just written, without a stat. Only an optimisation: an echo that
//   got through finds both sides as the baseline records them, and nothing is done.
// - Baseline unreadable: safe mode (newest wins, nothing deleted), retried after a while.
import type { ChangeEvent, Delivery, Disposition } from '../bus/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import type { ApplierBeat } from '../health/index.js';
import type { BaselineStore } from '../baseline/index.js';
import { couldMove, type BaseRecord, type Decision, type Entry, type SideName } from '../core/index.js';
import { STALE_TEMP_MS, TEMP_RE, expireSides, isTempName, splitRel } from '../fsops/index.js';
import type { ApplierConfig, ApplierDeps, ApplierStats } from './config.js';
import {
  carryOut,
  decideLive,
  entryOf,
  readBase,
  type LiveContext,
  failedOp,
  type Owed,
  type Outcome,
} from './execute.js';
import { LeaseKeeper } from './lease.js';
import { Echoes } from './echoes.js';
import { MountWatch } from './mounts.js';
import { TempSweeper } from './temps.js';
import { goneAbove, missingAbove } from './ancestors.js';
import { LiveMoves, PAIR_WAIT_MS } from './moves.js';
import { STALE_VIEW_RETRY_MS, StaleViews } from './staleview.js';
import { LiveState } from './livestate.js';
import { AuditWindows, type SideRef } from './windows.js';
import { PathTurns } from './turns.js';
import { refusal, retryOf } from './triage.js';

export type { ApplierConfig, ApplierDeps, ApplierStats } from './config.js';

/** The subject of a re-check of a write whose echo never came (recheckSilent). */
const RECHECK = 'recheck';

/** What `look` found: the decision, and the baseline and both sides' entries it was made on. */
interface Looked {
  readonly decision: Decision;
  readonly base: BaseRecord | undefined;
  readonly now: { readonly a: Entry | undefined; readonly b: Entry | undefined };
}

/** After the baseline failed, plan without it this long before trying it again. */
const BASELINE_RETRY_MS = 30_000;
/** How often kept versions are expired. */
const EXPIRY_EVERY_MS = 60 * 60_000;

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
  private readonly echoes = new Echoes();
  private readonly turns: PathTurns;
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly mounts: MountWatch;
  private readonly temps: TempSweeper;
  private readonly moves: LiveMoves;
  private readonly stale = new StaleViews();
  /** What the heartbeat reports (see livestate.ts). */
  readonly liveState = new LiveState();
  /** Records owed to the opslog, by event path (see recordAll). */
  private readonly owed = new Map<string, Owed[]>();
  private baselineDownAt: number | null = null;
  private lastExpiry: number | null = null;
  private readonly live: LiveContext;

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
    this.mounts = new MountWatch(config.pair, [config.a, config.b], deps.fs, deps.clock, deps.log);
    this.temps = new TempSweeper(deps.fs, deps.log);
    this.moves = new LiveMoves(config.deleteMissing);
    this.turns = new PathTurns(config.workers);
    this.live = {
      pair: config.pair,
      sides: { a: config.a, b: config.b },
      opts: { deleteMissing: config.deleteMissing, mtimeThresholdMs: config.mtimeThresholdMs },
      keepVersions: (config.keepVersionsDays ?? 30) > 0,
      fs: deps.fs,
      clock: deps.clock,
      log: deps.log,
      baseline: () => this.baselineNow(),
      baselineFailed: (err) => this.baselineFailed(err),
      remember: (side, path, w) => this.echoes.wrote(side.label, path, w, deps.clock.now()),
      record: (path, recs) => this.recordAll(path, recs),
    };
  }

  /** The pair's baseline store as given (null: none). */
  get baseline(): BaselineStore | null {
    return this.deps.baseline ?? null;
  }

  /** The baseline to decide with now, or null (safe mode). */
  private baselineNow(): BaselineStore | null {
    const store = this.deps.baseline ?? null;
    if (!store) return null;
    if (this.baselineDownAt !== null && this.deps.clock.now() - this.baselineDownAt < BASELINE_RETRY_MS)
      return null;
    return store;
  }

  private baselineFailed(err: unknown): void {
    if (this.baselineDownAt === null || this.deps.clock.now() - this.baselineDownAt >= BASELINE_RETRY_MS) {
      this.deps.log.warn(
        { pair: this.config.pair, err: errorMessage(err) },
        'baseline unavailable: deciding without it (newest wins, nothing deleted) until it is back',
      );
    }
    this.baselineDownAt = this.deps.clock.now();
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
      this.recheckSilent();
      await this.expire();
    } catch (err) {
      this.deps.log.error(`applier housekeeping failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Writes whose echo never came are decided again from the disk, as if their event had come
   * (see echoes.ts).
   */
  private recheckSilent(): void {
    const now = this.deps.clock.now();
    for (const w of this.echoes.takeSilent(now)) {
      if (this.stopping) continue;
      const ev: ChangeEvent = {
        v: 1,
        pair: this.config.pair,
        side: w.side,
        type: 'upsert',
        kind: 'file',
        path: w.path,
        size: -1, // never anybody's echo
        mtimeMs: 0,
        observedAt: now,
      };
      void this.handle({ event: ev, subject: RECHECK, deliveryCount: 1 }).then((disp) => {
        // Not settled (lock busy, root unmounted): look again later.
        if (disp.action === 'nak' && !this.stopping) this.echoes.again(w.side, w.path, this.deps.clock.now());
      });
    }
  }

  /** Hourly: old kept versions go on both sides (the first tick does it at once). */
  private async expire(): Promise<void> {
    const now = this.deps.clock.now();
    if (this.lastExpiry !== null && now - this.lastExpiry < EXPIRY_EVERY_MS) return;
    this.lastExpiry = now;
    await expireSides([this.config.a, this.config.b], this.config.keepVersionsDays ?? 30, {
      nowMs: now,
      log: this.deps.log,
      report: (side, state) =>
        this.deps.audit.recordVersionsState(this.config.pair, side.label, side.root, state),
    });
  }

  /** Stops starting operations, waits for in-flight ones, finishes windows, releases the lock. */
  async close(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    await this.windows.close();
    await this.lease.close();
  }

  /** The applier's heartbeat now (`pending`: the pair's events not yet acked, from the bus). */
  beat(now: number, everyMs: number, pending: number): ApplierBeat {
    return this.liveState.beat({
      pair: this.config.pair,
      now,
      everyMs,
      lockHeld: this.lease.held,
      pending,
      blocked: this.mounts.blocked,
    });
  }

  /** Decides and carries out one delivered event. Never throws. */
  handle(d: Delivery): Promise<Disposition> {
    const ev = d.event;
    if (ev) this.liveState.holding(ev.path, ev.observedAt);
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
    if (ev) void p.then((disp) => disp.action !== 'nak' && this.liveState.settled(ev.path));
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
    const refused = refusal(ev, this.config.pair, [this.config.a.label, this.config.b.label]);
    if (refused !== null) return this.reject(refused, d, ev);
    const origin = ev.side === this.config.a.label ? this.config.a : this.config.b;

    if (this.echoes.isEcho(ev)) {
      this.stats.echoes++;
      return { action: 'ack' };
    }
    if (this.stopping) return this.retry(1000);
    if (TEMP_RE.test(splitRel(ev.path).name)) {
      // Perhaps a watcher's report of a stale temp file of ours (see temps.ts); a user's file of
      // a similar name (another root's id) is synced like any other.
      const wait = await this.waitForMount();
      if (wait) return wait;
      if (isTempName(splitRel(ev.path).name, this.mounts.rootId(origin)))
        return this.turns.run(ev.path, () => this.removeReportedTemp(origin, ev.path));
    }
    return this.turns.run(ev.path, () => this.apply(ev, d));
  }

  private retry(delayMs: number): Disposition {
    this.stats.retried++;
    return { action: 'nak', delayMs };
  }

  /** Nak'ed while a root lacks its marker (logged once per reason); null when both hold theirs. */
  private async waitForMount(fresh = false): Promise<Disposition | null> {
    return (await this.mounts.unmounted(fresh)) ? this.retry(10_000) : null;
  }

  /** A watcher reported a stale temp file of ours: removed under the lock if still stale. */
  private async removeReportedTemp(side: SideRef, path: string): Promise<Disposition> {
    const dir = splitRel(path).parent;
    if (this.temps.inFlight(side, dir)) return { action: 'ack' }; // reported again if it stays
    const grant = await this.lease.begin();
    if (!grant.ok) return this.retry(grant.retryInMs);
    try {
      if (grant.handle.lost.aborted || this.stopping) return this.retry(2000);
      const { fs, clock, log } = this.deps;
      if (await fs.removeStaleTemp(side.root, path, STALE_TEMP_MS, clock.now()))
        log.info(
          { pair: this.config.pair, side: side.label, path },
          'removed a stale temp file (reported by the watcher)',
        );
      this.stats.skipped++;
      return { action: 'ack' };
    } catch (err) {
      this.deps.log.warn({ path, err: errorMessage(err) }, 'could not remove a stale temp file');
      return { action: 'ack' };
    } finally {
      grant.done();
    }
  }

  /**
   * Decides and carries out one event's path, in stages: look (both sides, the baseline, the
   * decision), what must come first (another path, a wait for a move's other half), then carry.
   * `above`: called for a path other than the event's own, on its behalf.
   */
  private async apply(ev: ChangeEvent, d: Delivery, above = false): Promise<Disposition> {
    const owed = this.owed.get(ev.path);
    if (owed) {
      this.owed.delete(ev.path);
      if (!(await this.recordAll(ev.path, owed))) return this.auditOwed();
      this.stats.applied++;
    }
    const wait = await this.waitForMount();
    if (wait) return wait;
    const seen = await this.look(ev, d, above);
    if ('action' in seen) return seen;
    return (await this.first(ev, d, above, seen)) ?? this.carry(ev, d, seen);
  }

  /** The side an event comes from. */
  private sideOf(ev: ChangeEvent): SideName {
    return ev.side === this.config.a.label ? 'a' : 'b';
  }

  /** Both sides and the baseline, and the decision; a disposition when it cannot be made now. */
  private async look(ev: ChangeEvent, d: Delivery, above: boolean): Promise<Looked | Disposition> {
    const { fs, log, clock } = this.deps;
    const own = this.sideOf(ev);
    try {
      const [sa, sb] = await Promise.all([
        fs.stat(this.config.a.root, ev.path),
        fs.stat(this.config.b.root, ev.path),
      ]);
      const below = sa?.below ?? sb?.below;
      if (below !== undefined) {
        // A file stands where the other side has a directory above this path: that path is
        // decided first (the same decision its own event would get: a file replaced by a
        // directory, or a directory that wins over a file), then this event again.
        if (above) return this.retry(1000);
        const first = await this.turns.run(below, () => this.apply({ ...ev, path: below }, d, true), true);
        if (first.action !== 'ack') return first;
        return this.apply(ev, d, true);
      }
      const now = { a: entryOf(ev.path, sa), b: entryOf(ev.path, sb) };
      const base = await readBase(this.live, ev.path);
      // (A re-check of a silent write is no watcher's report: it is decided as the disk stands.)
      const reported = !above && d.subject !== RECHECK;
      if (reported && this.stale.retry(ev, own === 'a' ? sa : sb, d.deliveryCount, clock.now())) {
        // A delete that may be half of a move: the other half waits for its second look.
        if (ev.type === 'delete' && base && couldMove(base[own]))
          this.moves.notePending(own, clock.now() + STALE_VIEW_RETRY_MS + PAIR_WAIT_MS);
        log.debug(
          { side: ev.side, type: ev.type, path: ev.path },
          'its side does not show it yet: again later',
        );
        return this.retry(STALE_VIEW_RETRY_MS);
      }
      return { decision: await decideLive(this.live, ev.path, base, now.a, now.b), base, now };
    } catch (err) {
      if (isHaSyncError(err, 'UNSAFE_PATH')) return this.reject(errorMessage(err), d, ev);
      return this.failure(err, d, ev);
    }
  }

  /**
   * What must happen before the decision is carried out: another path first (a moved folder's
   * new place, a directory the other side lacks), or a wait for a move's other half. Null: carry
   * it out now.
   */
  private async first(
    ev: ChangeEvent,
    d: Delivery,
    above: boolean,
    { decision, base }: Looked,
  ): Promise<Disposition | null> {
    const { log, clock } = this.deps;
    // Reported gone below a directory moved since (by this applier): decided at its new place.
    const moved =
      ev.type === 'delete' && decision.type === 'none'
        ? this.moves.followMove(ev.path, this.sideOf(ev))
        : null;
    if (moved !== null && !above) {
      return this.turns.run(moved, () => this.apply({ ...ev, path: moved }, d, true), true);
    }
    if (decision.type === 'problem' && !decision.problem.fails) {
      this.stats.skipped++;
      log.debug({ side: ev.side, path: ev.path }, `nothing to do: ${decision.problem.message}`);
      return { action: 'ack' };
    }
    // Into a directory the other side lacks: that directory is decided first, from the top (it
    // may be a moved directory, renamed as a whole rather than filled file by file).
    if (!above && this.config.deleteMissing) {
      const missing = await missingAbove(this.live, ev.path, decision);
      for (const dir of missing) {
        const r = await this.turns.run(dir, () => this.apply({ ...ev, path: dir }, d, true), true);
        if (r.action !== 'ack') return r;
      }
      if (missing.length > 0) return this.apply(ev, d, true);
    }
    // One half of a move waits a moment for the other (moves.ts); the decision is made again then.
    // A delete inside a directory that is gone on that side too: that directory may have moved
    // whole. It is remembered as gone, and the delete waits longer for the directory's fate.
    const gone = this.config.deleteMissing ? await goneAbove(this.live, ev.path, decision) : null;
    if (gone) this.moves.noteGone(gone.path, gone.side, gone.base, clock.now());
    const pairWait = this.moves.waitMs(
      ev.path,
      decision,
      base,
      this.stale.deliveries(ev, d.deliveryCount) <= 1,
      clock.now(),
      gone !== null,
    );
    return pairWait > 0 ? this.retry(Math.max(100, pairWait)) : null;
  }

  /** Carries the decision out (under the lease when it writes) and settles the event. */
  private async carry(ev: ChangeEvent, d: Delivery, { decision, base, now }: Looked): Promise<Disposition> {
    const { fs, clock } = this.deps;
    const writes =
      decision.type !== 'none' &&
      decision.type !== 'descend' &&
      decision.type !== 'problem' &&
      decision.type !== 'agree' &&
      decision.type !== 'drop';
    // Every write re-checks both markers now (the cached state may be up to a second old): a share
    // unmounted since must not receive it, and a delete's only evidence is an absence.
    if (writes) {
      const again = await this.waitForMount(true);
      if (again) return again;
    }
    const sides = [this.config.a, this.config.b] as const;
    const dir = splitRel(ev.path).parent;
    const sweep = sides.some((s) => this.temps.due(s, dir));
    const grant = writes || sweep ? await this.lease.begin() : null;
    if (grant && !grant.ok) {
      if (writes) return this.retry(grant.retryInMs);
    }
    const held = grant?.ok === true;
    if (held) await this.temps.enter(sides, dir);
    try {
      if (grant?.ok && (grant.handle.lost.aborted || this.stopping)) return this.retry(2000);
      const lost = grant?.ok ? grant.handle.lost : new AbortController().signal;
      let out =
        (await this.moves.tryMove(this.live, ev.path, decision, base, lost, clock.now())) ??
        (await carryOut(this.live, ev.path, decision, now, lost, clock.now()));
      if (
        out.done === 'applied' &&
        decision.type === 'delete' &&
        now[decision.on === 'a' ? 'b' : 'a']?.kind === 'dir'
      ) {
        // A file replaced by a directory on the other side: the file is kept as a version and gone;
        // now the directory is made in its place (the same decision again, on the new state).
        const [sa, sb] = await Promise.all([
          fs.stat(this.config.a.root, ev.path),
          fs.stat(this.config.b.root, ev.path),
        ]);
        const after = { a: entryOf(ev.path, sa), b: entryOf(ev.path, sb) };
        const again = await decideLive(
          this.live,
          ev.path,
          await readBase(this.live, ev.path),
          after.a,
          after.b,
        );
        const next = await carryOut(this.live, ev.path, again, after, lost, clock.now());
        if (next.done !== 'nothing') out = next;
      }
      return this.settle(out, ev, d);
    } catch (err) {
      return this.failure(err, d, ev, decision);
    } finally {
      if (held) this.temps.leave(sides, dir);
      if (grant?.ok) grant.done();
    }
  }

  /** The event's disposition for how its decision ended. */
  private settle(out: Outcome, ev: ChangeEvent, d: Delivery): Disposition {
    const { log, clock } = this.deps;
    this.stale.done(ev.path);
    switch (out.done) {
      case 'audit-owed':
        return this.auditOwed();
      case 'not-empty':
        // Its contents' delete events may still be on their way (over NFS, a poll or more behind):
        // retry with a growing delay for about four minutes, then leave it to the next reconcile.
        if (d.deliveryCount < 12)
          return this.retry(Math.min(30_000, 1000 * 2 ** Math.min(5, d.deliveryCount)));
        log.info({ pair: this.config.pair, path: ev.path }, `directory ${ev.path} not removed: not empty`);
        this.stats.skipped++;
        return { action: 'ack' };
      case 'nothing':
        this.stats.skipped++;
        log.debug({ side: ev.side, type: ev.type, path: ev.path }, `nothing to do: ${out.why}`);
        return { action: 'ack' };
      case 'conflict':
        this.stats.conflicts++;
        this.liveState.conflict(clock.now());
        log.warn({ pair: this.config.pair, path: ev.path }, `not synced: ${out.why}`);
        return { action: 'ack' };
      case 'applied':
        this.stats.applied++;
        log.info(
          { pair: this.config.pair, path: ev.path, lagMs: Math.max(0, clock.now() - ev.observedAt) },
          out.what,
        );
        return { action: 'ack' };
    }
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
        if (o.op.status === 'success') {
          this.liveState.operation(o.op.operation, o.op.keptKind ?? null, this.deps.clock.now());
          if (o.op.keptKind === 'conflict') this.liveState.conflict(this.deps.clock.now());
        }
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
    decision?: Decision,
  ): Promise<Disposition> {
    const { log, clock } = this.deps;
    if (isHaSyncError(err, 'UNSAFE_PATH')) return this.reject(errorMessage(err), d, ev);
    const { message: msg, transient, delayMs } = retryOf(err, d.deliveryCount);
    this.liveState.failed(msg, clock.now(), delayMs === null);
    if (delayMs !== null) {
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
    const op = decision && failedOp(decision, this.config.a, this.config.b);
    if (op) {
      const now = clock.now();
      await this.windows
        .record(op.from, op.to, {
          operation: op.operation,
          filepath: ev.path,
          sizeBefore: op.sizeBefore,
          sizeAfter: op.sizeAfter,
          md5Before: null,
          md5After: null,
          startedAtMs: now,
          endedAtMs: now,
          status: 'fail',
          errorMessage: msg.slice(0, 4000),
        })
        .catch((e: unknown) => log.error(`could not audit a failed operation: ${errorMessage(e)}`));
    }
    return { action: 'term', reason: msg };
  }
}
