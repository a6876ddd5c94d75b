// A network mount's cached attributes (an NFS client's actimeo, a FUSE mount's attribute and entry
// timeouts) can show the applier a path as it stood up to a second before the watcher looked: the
// watcher finds changes by listing directories, and a listing is never cached. An event whose own
// side still shows the opposite of what it reports (a delete of a path that is still there, an
// upsert of a path that is not) is therefore looked at again once, after STALE_VIEW_RETRY_MS, when
// that cache has expired. Without it the decision would see both sides unchanged, and the change
// would wait for the next reconcile run. On a local disk the same disagreement means the path
// changed again since the event, and its newer event is on its way: the wait costs nothing.
import type { ChangeEvent } from '../bus/index.js';

/** Longer than a one-second attribute cache (`actimeo=1`, which docs/watcher.md asks for). */
export const STALE_VIEW_RETRY_MS = 1500;
/** A path's retry is forgotten after this long. */
const FORGET_MS = 60_000;

export class StaleViews {
  /** Paths looked at again for a stale view, and when. */
  private readonly retried = new Map<string, number>();

  /**
   * True when the event should be looked at again later: its side shows the opposite of what it
   * reports (`seen`: what that side holds now, null when nothing), and it was not retried yet.
   */
  retry(ev: ChangeEvent, seen: unknown, deliveryCount: number, nowMs: number): boolean {
    this.expire(nowMs);
    const disagrees = ev.type === 'delete' ? seen !== null : seen === null;
    if (!disagrees || deliveryCount > 1 || this.retried.has(ev.path)) return false;
    this.retried.set(ev.path, nowMs);
    return true;
  }

  /**
   * The event's delivery count as if the stale-view retry had not happened: the first look at a
   * path after that retry still counts as its first (the pairing of moves waits on first looks).
   */
  deliveries(ev: ChangeEvent, deliveryCount: number): number {
    return this.retried.has(ev.path) ? Math.max(1, deliveryCount - 1) : deliveryCount;
  }

  /** The path's event was carried out: a later one gets its own retry. */
  done(path: string): void {
    this.retried.delete(path);
  }

  private expire(nowMs: number): void {
    if (this.retried.size < 1000) return;
    for (const [p, at] of this.retried) if (nowMs - at > FORGET_MS) this.retried.delete(p);
  }
}
