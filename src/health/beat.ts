// Heartbeats: what each live component says about itself, at least every HEARTBEAT_MS, on the
// subject `<prefix>.<pair>.<side>.health` (an applier or reconcile run, which have no side, use the
// tokens `_apply` and `_reconcile`, which no side label can be). Like change events, a heartbeat
// from the bus is untrusted bytes: `parseBeat` checks every field and that the subject names the
// same pair, component and side; anything else is dropped (and logged by the caller).
import { PAIR_RE } from '../config/index.js';

/** How often components publish, ms. A component silent for SILENT_BEATS of these is red. */
export const HEARTBEAT_MS = 5000;
export const SILENT_BEATS = 3;
/** Largest accepted heartbeat, bytes. */
export const MAX_BEAT_BYTES = 4096;

export type Component = 'watcher' | 'applier' | 'reconcile';
export type RootHealth = 'ok' | 'unmounted' | 'hung';

interface BeatBase {
  readonly v: 1;
  readonly pair: string;
  /** When it was sent, epoch ms (the sender's clock). */
  readonly at: number;
  /** The sender's heartbeat period, ms. */
  readonly everyMs: number;
}

export interface WatcherBeat extends BeatBase {
  readonly component: 'watcher';
  readonly side: string;
  readonly root: RootHealth;
  /** Why the root is not ok (one line), when it is not. */
  readonly reason?: string;
  readonly filesIndexed: number;
  /** When the last full sweep ended, epoch ms, and how long it took; null before the first. */
  readonly lastSweepAt: number | null;
  readonly sweepMs: number | null;
  /** Events waiting to be published (NATS away, or a burst). */
  readonly pending: number;
}

export interface ApplierBeat extends BeatBase {
  readonly component: 'applier';
  readonly lockHeld: boolean;
  /** Events of the pair not yet acked, and the age of the oldest one this applier holds, ms. */
  readonly pending: number;
  readonly oldestMs: number;
  /** Operations in the last minute. */
  readonly opsPerMin: number;
  readonly lastError: string | null;
  readonly conflictsToday: number;
  readonly keptToday: number;
  /** Why nothing is applied now (a root not mounted), or null. */
  readonly blocked: string | null;
}

export interface ReconcileBeat extends BeatBase {
  readonly component: 'reconcile';
  readonly phase: 'walking' | 'deleting' | 'done';
  readonly filesSeen: number;
  readonly direction: string;
  /** Estimated ms left, or null when unknown. */
  readonly etaMs: number | null;
}

export type Beat = WatcherBeat | ApplierBeat | ReconcileBeat;

/** The subject token that stands for the side of a beat. */
export function sideToken(b: Pick<Beat, 'component'> & { side?: string }): string {
  return b.component === 'watcher' ? (b.side ?? '') : b.component === 'applier' ? '_apply' : '_reconcile';
}

export function beatSubject(prefix: string, b: Beat): string {
  return `${prefix}.${b.pair}.${sideToken(b)}.health`;
}

const isTime = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
/** A short line of text from the bus: control characters dropped, at most 300 characters. */
function line(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 300);
}

/**
 * Validates a heartbeat's bytes against its subject's tokens (pair, side). Returns the beat (a
 * fresh object with only the known fields) or one line saying what is wrong.
 */
export function parseBeat(
  bytes: Uint8Array | string,
  subject: { pair: string; side: string },
): Beat | string {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_BEAT_BYTES) return `heartbeat is ${size} bytes, more than ${MAX_BEAT_BYTES}`;
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    return 'heartbeat is not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'heartbeat is not a JSON object';
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) return 'unsupported heartbeat version';
  if (typeof o.pair !== 'string' || !PAIR_RE.test(o.pair)) return 'pair is not a valid pair name';
  if (o.pair !== subject.pair) return `pair '${o.pair}' does not match the subject's '${subject.pair}'`;
  if (!isTime(o.at) || !isCount(o.everyMs) || o.everyMs < 100 || o.everyMs > 600_000)
    return 'at/everyMs are not valid times';
  const base = { v: 1 as const, pair: o.pair, at: o.at, everyMs: o.everyMs };
  switch (o.component) {
    case 'watcher': {
      if (typeof o.side !== 'string' || !PAIR_RE.test(o.side)) return 'side is not a valid side label';
      if (o.side !== subject.side) return `side '${o.side}' does not match the subject's '${subject.side}'`;
      if (o.root !== 'ok' && o.root !== 'unmounted' && o.root !== 'hung')
        return 'root is not ok|unmounted|hung';
      if (!isCount(o.filesIndexed) || !isCount(o.pending)) return 'counts are not non-negative integers';
      const sweepAt = o.lastSweepAt === null ? null : isTime(o.lastSweepAt) ? o.lastSweepAt : undefined;
      const sweepMs = o.sweepMs === null ? null : isTime(o.sweepMs) ? o.sweepMs : undefined;
      if (sweepAt === undefined || sweepMs === undefined) return 'sweep times are not valid';
      const reason = line(o.reason);
      return {
        ...base,
        component: 'watcher',
        side: o.side,
        root: o.root,
        ...(reason !== null ? { reason } : {}),
        filesIndexed: o.filesIndexed,
        lastSweepAt: sweepAt,
        sweepMs,
        pending: o.pending,
      };
    }
    case 'applier': {
      if (subject.side !== '_apply') return "an applier's heartbeat must come on its _apply subject";
      if (typeof o.lockHeld !== 'boolean') return 'lockHeld is not a boolean';
      for (const k of ['pending', 'opsPerMin', 'conflictsToday', 'keptToday'] as const)
        if (!isCount(o[k])) return `${k} is not a non-negative integer`;
      if (!isTime(o.oldestMs)) return 'oldestMs is not a valid time';
      return {
        ...base,
        component: 'applier',
        lockHeld: o.lockHeld,
        pending: o.pending as number,
        oldestMs: o.oldestMs,
        opsPerMin: o.opsPerMin as number,
        lastError: line(o.lastError),
        conflictsToday: o.conflictsToday as number,
        keptToday: o.keptToday as number,
        blocked: line(o.blocked),
      };
    }
    case 'reconcile': {
      if (subject.side !== '_reconcile')
        return "a reconcile run's heartbeat must come on its _reconcile subject";
      if (o.phase !== 'walking' && o.phase !== 'deleting' && o.phase !== 'done') return 'phase is not valid';
      if (!isCount(o.filesSeen)) return 'filesSeen is not a non-negative integer';
      const eta = o.etaMs === null ? null : isTime(o.etaMs) ? o.etaMs : undefined;
      if (eta === undefined) return 'etaMs is not a valid time';
      const direction = line(o.direction) ?? '';
      return {
        ...base,
        component: 'reconcile',
        phase: o.phase,
        filesSeen: o.filesSeen,
        direction,
        etaMs: eta,
      };
    }
    default:
      return 'component is not watcher|applier|reconcile';
  }
}

export function encodeBeat(b: Beat): Uint8Array {
  return Buffer.from(JSON.stringify(b), 'utf8');
}
