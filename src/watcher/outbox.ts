// The outbox: change events waiting to be published, coalesced per path (the latest wins), with
// a bound on memory. While NATS is unreachable the watcher keeps polling and the outbox absorbs
// the changes; when it grows past `maxEvents`, the directory holding the most waiting events is
// collapsed into a "rescan" marker: its events are dropped and, once the bus is back, the watcher
// re-announces that directory's current entries as upserts (see RootWatcher's publish loop). Deletes
// dropped that way are counted and logged; the reconciler converges them. Pure data structure:
// no I/O, no clock.
import type { ChangeEvent } from '../bus/index.js';

export function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export class Outbox {
  /** Waiting events by path: directories' apart, so `take` hands them out first at no cost. */
  private readonly dirEvents = new Map<string, ChangeEvent>();
  private readonly fileEvents = new Map<string, ChangeEvent>();
  /** Directories (relative, '' = root) whose entries must be re-announced. */
  readonly rescanDirs = new Set<string>();
  /** Delete events dropped by collapsing, since the last `takeDroppedDeletes`. */
  private droppedDeletes = 0;

  constructor(readonly maxEvents: number) {}

  get size(): number {
    return this.dirEvents.size + this.fileEvents.size;
  }

  private remove(path: string): void {
    if (!this.dirEvents.delete(path)) this.fileEvents.delete(path);
  }

  private add(ev: ChangeEvent): void {
    (ev.kind === 'dir' ? this.dirEvents : this.fileEvents).set(ev.path, ev);
  }

  /** Every waiting event, directories' first. */
  private *all(): Generator<[string, ChangeEvent]> {
    yield* this.dirEvents;
    yield* this.fileEvents;
  }

  /** Adds an event; an older waiting event for the same path is replaced (and the path moves last). */
  put(ev: ChangeEvent): void {
    this.remove(ev.path);
    this.add(ev);
    if (this.size > this.maxEvents) this.collapse();
  }

  /** Puts back an event whose publish failed, unless a newer one for its path is already waiting. */
  putBack(ev: ChangeEvent): void {
    if (this.dirEvents.has(ev.path) || this.fileEvents.has(ev.path)) return;
    this.add(ev);
    if (this.size > this.maxEvents) this.collapse();
  }

  /**
   * Removes and returns up to `n` events (at most one per path): directories' events first, then
   * the rest, each oldest first. A folder moved whole is then announced by its own two events
   * before its thousands of files', so the applier can pair them into one rename at once.
   */
  take(n: number): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    for (const [k, ev] of this.all()) {
      if (out.length >= n) break;
      this.remove(k);
      out.push(ev);
    }
    return out;
  }

  takeDroppedDeletes(): number {
    const d = this.droppedDeletes;
    this.droppedDeletes = 0;
    return d;
  }

  /**
   * Drops the events of the busiest directories until the outbox is at 90% of its bound. One
   * count and one sweep: the per-directory counts do not change as other directories are dropped.
   */
  private collapse(): void {
    const target = Math.floor(this.maxEvents * 0.9);
    const counts = new Map<string, number>();
    for (const [p] of this.all()) {
      const d = parentDir(p);
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    // Busiest first; a stable sort keeps first-seen order among equals.
    const busiest = [...counts].sort((a, b) => b[1] - a[1]);
    const drop = new Set<string>();
    let left = this.size;
    for (const [d, c] of busiest) {
      if (left <= target) break;
      drop.add(d);
      left -= c;
    }
    for (const [p, ev] of this.all()) {
      if (!drop.has(parentDir(p))) continue;
      if (ev.type === 'delete') this.droppedDeletes++;
      this.remove(p);
    }
    for (const d of drop) this.rescanDirs.add(d);
  }
}
