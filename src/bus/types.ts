// The bus seam: watchers publish change events, the applier consumes them. Backed by NATS
// JetStream in production (stream HASYNC, subjects hasync.<pair>.<side>.events) and by an
// in-process bus on a laptop (`ha-sync run`). Events are untrusted bytes until validated.

export type ChangeType = 'upsert' | 'delete';
export type ChangeKind = 'file' | 'dir' | 'symlink';

/** Schema version 1 of a change event (JSON on the wire). */
export interface ChangeEvent {
  v: 1;
  pair: string;
  /** Side label, e.g. 'dell' or 'hp'. */
  side: string;
  type: ChangeType;
  kind: ChangeKind;
  /** Relative to the side's root, '/'-separated, never absolute, never containing '..' or NUL. */
  path: string;
  /** Size in bytes after the change (0 for dirs; for deletes, the last known size). */
  size: number;
  /** mtime in epoch milliseconds after the change (for deletes, the last known mtime). */
  mtimeMs: number;
  /** What the watcher saw before this change (absent for a first sighting). */
  prev?: { size: number; mtimeMs: number };
  /** When the watcher observed the change, epoch ms. */
  observedAt: number;
  /**
   * Which observation this is: `<watcher id>.<sequence>`, unique per watcher process and change
   * seen. The bus de-duplicates on it (a republish of the same observation is dropped; a new
   * observation of the same state, such as a rename back, never is). Absent: older watchers.
   */
  obs?: string;
}

/** What the consumer decides for one delivered event. */
export type Disposition =
  | { action: 'ack' }
  /** Transient failure: deliver again after `delayMs`. */
  | { action: 'nak'; delayMs: number }
  /** Can never be applied (invalid, unsafe): drop it for good, after logging why. */
  | { action: 'term'; reason: string };

export interface Delivery {
  /** The validated event, or null when the bytes failed validation (`error` says why). */
  event: ChangeEvent | null;
  error?: string;
  /** Raw subject (NATS) or a synthetic one (memory bus). */
  subject: string;
  /** How many times this message has been delivered (1 = first time). */
  deliveryCount: number;
}

export interface ConsumeOptions {
  /** Stops consuming when aborted; `consume` then resolves. */
  signal: AbortSignal;
  /** Max events handed out at once (in flight). Default 64. */
  batch?: number;
}

export interface EventBus {
  /** 'nats' | 'memory', for logs. */
  readonly kind: string;
  /**
   * Publishes one event. With NATS, sets a Nats-Msg-Id derived from (pair, side, path, type,
   * size, mtime) so a republished change is dropped by the server's duplicate window.
   * Throws HaSyncError 'BUS_UNAVAILABLE' when it cannot publish (the caller keeps the event).
   */
  publish(event: ChangeEvent): Promise<void>;
  /**
   * Delivers the pair's events (all sides) to `handler` through one durable consumer per pair, and
   * settles each message with the handler's Disposition (ack only after the work is done).
   * Resolves when `opts.signal` aborts.
   */
  consume(pair: string, handler: (d: Delivery) => Promise<Disposition>, opts: ConsumeOptions): Promise<void>;
  /** Events for the pair not yet acknowledged (waiting + in flight): the applier's "queue empty". */
  pending(pair: string): Promise<number>;
  /**
   * Live view of every event (or one pair / side) without consuming: for `ha-sync tap`.
   * (Additive: `sinceMs` replays stored events published at or after that epoch-ms time first.)
   */
  watch(
    filter: { pair?: string; side?: string; sinceMs?: number },
    onEvent: (d: Delivery) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}
