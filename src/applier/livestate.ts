// What the applier says about itself in its heartbeat: events it holds un-acked (and the oldest
// one's age), operations in the last minute, the last error, conflicts and kept versions today,
// and running totals for /metrics. Updated by the applier as it settles events; read every
// heartbeat. Plain bookkeeping, no I/O.
import type { OperationKind } from '../audit/index.js';
import type { ApplierBeat } from '../health/index.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export class LiveState {
  /** Per path, when the oldest change the applier holds un-acked for it was observed (epoch ms). */
  private readonly open = new Map<string, number>();
  private recent: number[] = [];
  private lastError: { msg: string; at: number } | null = null;
  private day = -1;
  private conflictsToday = 0;
  private keptToday = 0;
  /** Running totals (for /metrics counters). */
  readonly totals = { ops: new Map<OperationKind, number>(), conflicts: 0, failures: 0 };

  /** An event for `path` is being handled. */
  holding(path: string, observedAt: number): void {
    const was = this.open.get(path);
    if (was === undefined || observedAt < was) this.open.set(path, observedAt);
  }

  /** The event for `path` was acked or terminated: nothing is held for it any more. */
  settled(path: string): void {
    this.open.delete(path);
  }

  operation(kind: OperationKind, kept: 'version' | 'conflict' | null, now: number): void {
    this.rollDay(now);
    this.recent.push(now);
    this.totals.ops.set(kind, (this.totals.ops.get(kind) ?? 0) + 1);
    if (kept === 'version') this.keptToday++;
  }

  conflict(now: number): void {
    this.rollDay(now);
    this.conflictsToday++;
    this.totals.conflicts++;
  }

  failed(msg: string, now: number, final: boolean): void {
    this.lastError = { msg: msg.slice(0, 300), at: now };
    if (final) this.totals.failures++;
  }

  beat(o: {
    pair: string;
    now: number;
    everyMs: number;
    lockHeld: boolean;
    pending: number;
    blocked: string | null;
  }): ApplierBeat {
    this.rollDay(o.now);
    this.recent = this.recent.filter((t) => o.now - t < MINUTE_MS);
    let oldest = o.now;
    for (const t of this.open.values()) if (t < oldest) oldest = t;
    // An error older than ten minutes is history, not health.
    if (this.lastError && o.now - this.lastError.at > 10 * MINUTE_MS) this.lastError = null;
    return {
      v: 1,
      pair: o.pair,
      component: 'applier',
      at: o.now,
      everyMs: o.everyMs,
      lockHeld: o.lockHeld,
      pending: o.pending,
      oldestMs: Math.max(0, o.now - oldest),
      opsPerMin: this.recent.length,
      lastError: this.lastError?.msg ?? null,
      conflictsToday: this.conflictsToday,
      keptToday: this.keptToday,
      blocked: o.blocked,
    };
  }

  private rollDay(now: number): void {
    const d = Math.floor(now / DAY_MS);
    if (d === this.day) return;
    this.day = d;
    this.conflictsToday = 0;
    this.keptToday = 0;
  }
}
