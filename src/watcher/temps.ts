// Temp files of ours that outlived their writer (a process killed during a copy). The applier
// removes them where it works, and a reconcile run where it walks; the watcher reports those that
// stay older than STALE_TEMP_MS, so that the applier removes them too. A report is an ordinary
// upsert event naming the temp file's path: the applier knows the name for a temp of this root
// (its id is in the name) and checks everything again before it removes anything.
import type { Stats } from 'node:fs';
import { STALE_TEMP_MS } from '../fsops/index.js';
/** Names remembered at most (a report is repeated after STALE_TEMP_MS). */
const MAX_REMEMBERED = 10_000;

export class StaleTemps {
  private readonly reported = new Map<string, number>();

  /** Whether the temp file at `rel`, lstat'ed as `st`, is due for a report at `nowMs`. */
  due(rel: string, st: Stats, nowMs: number): boolean {
    if (!st.isFile() || nowMs - st.ctimeMs < STALE_TEMP_MS) return false;
    const last = this.reported.get(rel);
    if (last !== undefined && nowMs - last < STALE_TEMP_MS) return false;
    if (this.reported.size >= MAX_REMEMBERED) this.reported.clear();
    this.reported.set(rel, nowMs);
    return true;
  }
}
