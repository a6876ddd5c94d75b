// The applier's cleaning of temp files that a killed writer left behind (a copy interrupted by
// kill -9, a node gone mid-write). Writers of a pair hold its lock, so while the applier holds it
// the only temp files that may still be written are its own copies in flight: a directory is swept
// the first time the applier works in it (redelivered events after a restart lead it exactly to
// the directories of the copies it was doing), never while a write of its own is in flight there.
// Later leftovers (a reconcile run killed while the applier kept running) are reported by the
// watcher once they are STALE_TEMP_MS old; see Applier.
import type { Logger } from '../log.js';
import type { FsOps } from './fsadapter.js';
import type { SideRef } from './windows.js';

/** Directories remembered as swept, at most; past this the set starts again (a sweep is cheap). */
const MAX_SWEPT = 50_000;

export class TempSweeper {
  private readonly swept = new Set<string>();
  private readonly busy = new Map<string, number>();

  constructor(
    private readonly fs: FsOps,
    private readonly log: Logger,
  ) {}

  /** Whether `dir` of `side` still waits for its first sweep. */
  due(side: SideRef, dir: string): boolean {
    return !this.swept.has(key(side, dir));
  }

  /**
   * Sweeps `dir` on each side once (if no write of ours is in flight there), then counts a write
   * of ours in flight there until `leave`. Call with the pair's lock held.
   */
  async enter(sides: readonly SideRef[], dir: string): Promise<void> {
    for (const side of sides) {
      const k = key(side, dir);
      if (!this.swept.has(k) && (this.busy.get(k) ?? 0) === 0) {
        if (this.swept.size >= MAX_SWEPT) this.swept.clear();
        this.swept.add(k);
        const n = await this.fs.sweepTemps(side.root, dir).catch(() => 0);
        if (n > 0) this.log.info({ side: side.label, dir: dir || '.', count: n }, 'removed stale temp files');
      }
      this.busy.set(k, (this.busy.get(k) ?? 0) + 1);
    }
  }

  leave(sides: readonly SideRef[], dir: string): void {
    for (const side of sides) {
      const k = key(side, dir);
      const n = (this.busy.get(k) ?? 1) - 1;
      if (n <= 0) this.busy.delete(k);
      else this.busy.set(k, n);
    }
  }

  /** Whether a write of ours is in flight in `dir` of `side`. */
  inFlight(side: SideRef, dir: string): boolean {
    return (this.busy.get(key(side, dir)) ?? 0) > 0;
  }
}

function key(side: SideRef, dir: string): string {
  return `${side.label}\0${dir}`;
}
