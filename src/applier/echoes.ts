// The applier's own writes as the other watcher will report them. Two uses, neither of which
// correctness rests on the other way round:
// - an event reporting exactly what was just written (the echo) is acked without a stat;
// - a write whose echo never comes (the written side deleted or moved the file the instant it
//   landed, before its watcher looked, so no event will ever name the path) is handed back to be
//   decided again from the disk.
import { LRUCache } from 'lru-cache';
import type { ChangeEvent } from '../bus/index.js';
import type { Written } from './execute.js';

/** A write not reported by its side's watcher within this long is decided again. */
export const ECHO_WAIT_MS = 5000;
/** Writes awaiting their echo at most (beyond, the reconciler is the safety net). */
const AWAITING_MAX = 100_000;

export class Echoes {
  private readonly written = new LRUCache<string, Written>({ max: 100_000, ttl: 10 * 60_000 });
  /** Writes whose echo has not come yet, in write order. */
  private readonly awaiting = new Map<string, { at: number; side: string; path: string }>();

  /** Remembers a write made on `side` at `nowMs`. */
  wrote(side: string, path: string, w: Written, nowMs: number): void {
    const key = `${side}\0${path}`;
    this.written.set(key, w);
    this.awaiting.delete(key); // re-inserted last: the map stays in write order
    if (this.awaiting.size < AWAITING_MAX) this.awaiting.set(key, { at: nowMs, side, path });
  }

  /**
   * Whether `ev` reports exactly what was just written on that side. Any event for the path
   * means its watcher looked. A directory's echo is consumed once (it carries no size or mtime of
   * ours); any other event for the path clears the entry: the side changed in a way we did not cause.
   */
  isEcho(ev: ChangeEvent): boolean {
    const key = `${ev.side}\0${ev.path}`;
    this.awaiting.delete(key);
    const w = this.written.get(key);
    if (!w) return false;
    const hit =
      w.type === ev.type &&
      w.kind === ev.kind &&
      (w.kind === 'dir' || (w.size === ev.size && Math.abs(w.mtimeMs - ev.mtimeMs) < 1));
    if (!hit || w.kind === 'dir') this.written.delete(key);
    return hit;
  }

  /** Takes the writes still unreported `ECHO_WAIT_MS` after they were made. */
  takeSilent(nowMs: number): { side: string; path: string }[] {
    const out: { side: string; path: string }[] = [];
    for (const [key, w] of this.awaiting) {
      if (nowMs - w.at < ECHO_WAIT_MS) break; // in write order: the rest are younger
      this.awaiting.delete(key);
      out.push({ side: w.side, path: w.path });
    }
    return out;
  }

  /** Puts a write back to be looked at again later (its re-check did not settle). */
  again(side: string, path: string, nowMs: number): void {
    const key = `${side}\0${path}`;
    this.awaiting.delete(key);
    this.awaiting.set(key, { at: nowMs, side, path });
  }
}
