// "Racy" baseline entries (Git's racy-clean rule). On a filesystem that keeps mtimes to the whole
// second (netfs, sshfs, FAT, some NAS exports), a file saved again within the same second as it
// was recorded, at the same size, shows the very size and mtime the baseline holds: by size and
// mtime alone the second save is invisible, forever. So an entry recorded less than RACY_WINDOW_MS
// after its own mtime, whose mtime is a whole second, is marked racy: the next decision compares
// the two sides' contents instead of trusting size and mtime (see `decidePath`). Pure.
import type { BaseEntry, BaseRecord } from './types.js';

/**
 * How close to its mtime an entry may be recorded and still be trusted later. One second of mtime
 * granularity, plus room for the server's clock to run ahead of ours.
 */
export const RACY_WINDOW_MS = 3000;

/**
 * True when an entry with this mtime, recorded at `nowMs`, cannot be trusted by size and mtime. A
 * far-future mtime (a camera with a wrong clock) is not racy: no save today can produce it again.
 */
export function isRacy(e: BaseEntry, nowMs: number): boolean {
  return e.kind === 'file' && e.mtimeMs % 1000 === 0 && Math.abs(nowMs - e.mtimeMs) < RACY_WINDOW_MS;
}

function settleEntry(e: BaseEntry, nowMs: number): BaseEntry {
  const racy = isRacy(e, nowMs);
  if (racy === (e.racy === true)) return e;
  if (racy) return { ...e, racy: true };
  const { racy: _drop, ...rest } = e;
  return rest;
}

/** The record as it should be stored at `nowMs`: each side's file entry marked racy or not. */
export function settle(rec: BaseRecord, nowMs: number): BaseRecord {
  const a = settleEntry(rec.a, nowMs);
  const b = rec.b === rec.a ? a : settleEntry(rec.b, nowMs);
  return a === rec.a && b === rec.b ? rec : { ...rec, a, b };
}

/** True when either side of the record is racy. */
export function racyRecord(rec: BaseRecord): boolean {
  return rec.a.racy === true || rec.b.racy === true;
}
