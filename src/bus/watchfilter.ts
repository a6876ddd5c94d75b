// Helpers both buses share: turning message bytes into a Delivery (validation plus the check that
// the event's pair and side agree with the subject it came on), tap filters, and sanity checks on
// the handler's Disposition.
import { parseEvent } from './event.js';
import type { Delivery } from './types.js';

/** What `watch` (tap) shows. Additive to the `EventBus.watch` filter of types.ts. */
export interface WatchFilter {
  pair?: string;
  side?: string;
  /** Replay stored events published at or after this epoch-ms time, then follow live ones. */
  sinceMs?: number;
}

/** Splits `<prefix>.<pair>.<side>.events`; null when the subject has another shape. */
export function subjectParts(subject: string): { pair: string; side: string } | null {
  const t = subject.split('.');
  if (t.length !== 4 || t[3] !== 'events') return null;
  return { pair: t[1]!, side: t[2]! };
}

export function matchesFilter(f: WatchFilter, subject: string): boolean {
  const p = subjectParts(subject);
  if (!p) return f.pair === undefined && f.side === undefined;
  return (f.pair === undefined || f.pair === p.pair) && (f.side === undefined || f.side === p.side);
}

/**
 * Validates one message. An event whose pair or side differs from its subject's is rejected: the
 * subject is what NATS permissions guard, so a publisher allowed on one side's subject cannot
 * speak for the other side.
 */
export function toDelivery(subject: string, data: Uint8Array, deliveryCount: number): Delivery {
  const ev = parseEvent(data);
  if (typeof ev === 'string') return { event: null, error: ev, subject, deliveryCount };
  const p = subjectParts(subject);
  if (!p || p.pair !== ev.pair || p.side !== ev.side) {
    return {
      event: null,
      error: `event for ${ev.pair}/${ev.side} arrived on subject '${subject}'`,
      subject,
      deliveryCount,
    };
  }
  return { event: ev, subject, deliveryCount };
}

/** Returns why a Disposition is malformed (the bus then naks instead), or null. */
export function settleError(d: unknown): string | null {
  if (typeof d !== 'object' || d === null) return 'disposition is not an object';
  const o = d as Partial<Record<string, unknown>>;
  if (o.action === 'ack') return null;
  if (o.action === 'term') return null;
  if (o.action === 'nak') {
    return typeof o.delayMs === 'number' && Number.isFinite(o.delayMs) && o.delayMs >= 0
      ? null
      : 'nak delayMs must be a finite non-negative number';
  }
  return `unknown action ${String(o.action)}`;
}
