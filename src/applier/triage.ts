// Triage of the events the applier cannot carry out as they stand: which ones it refuses outright
// (never acted on, whatever they say), and how long one that failed waits before its next try, or
// whether it is given up. Pure.
import { STATE_DIR } from '../core/index.js';
import type { ChangeEvent } from '../bus/index.js';
import { checkRelPath } from '../bus/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';

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
export const MAX_DELIVERIES = 20;

/**
 * Why the applier of `pair` (sides labelled `labels`) refuses `ev` for good, or null: another
 * pair's event, an unknown side, a path that is absolute, has '..' or NUL, or lies in the state
 * folder.
 */
export function refusal(ev: ChangeEvent, pair: string, labels: readonly [string, string]): string | null {
  if (ev.pair !== pair) return `event for pair '${ev.pair}', this applier serves '${pair}'`;
  if (!labels.includes(ev.side)) return `unknown side '${ev.side}' (sides: ${labels[0]}, ${labels[1]})`;
  const bad = checkRelPath(ev.path);
  if (bad) return `unsafe path: ${bad}`;
  if (ev.path === STATE_DIR || ev.path.startsWith(`${STATE_DIR}/`))
    return `'${STATE_DIR}/' belongs to ha-sync and is never synced`;
  return null;
}

/** How an event whose operation failed with `err` on its `deliveryCount`th delivery goes on. */
export interface Retry {
  readonly message: string;
  /** The file moved under us or the storage hiccuped (logged quieter). */
  readonly transient: boolean;
  /** When to try again, ms; null: given up (the event is terminated and the failure audited). */
  readonly delayMs: number | null;
}

export function retryOf(err: unknown, deliveryCount: number): Retry {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return {
    message: errorMessage(err),
    transient: isHaSyncError(err, 'CHANGED_UNDER_US') || TRANSIENT.has(code),
    delayMs:
      deliveryCount < MAX_DELIVERIES ? Math.min(30_000, 500 * 2 ** Math.min(6, deliveryCount - 1)) : null,
  };
}
