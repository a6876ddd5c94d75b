// The delete guards, pure: an unmounted export looks exactly like a folder whose files were all
// deleted, so a run refuses to delete from a side when the other side's root is empty, or when it
// would delete more than --max-delete percent of that side's files (--force overrides both).
/**
 * The max-delete guard. Returns a reason when the run must fail before deleting anything, or null.
 * `srcEmpty`: src's root has no entries; `destFiles`: non-directory entries seen in dest;
 * `fileDeletes`: non-directory entries the plan would delete.
 */
export function deleteGuard(g: {
  srcEmpty: boolean;
  destEntries: number;
  destFiles: number;
  fileDeletes: number;
  maxDeletePercent: number;
  force: boolean;
}): string | null {
  if (g.force) return null;
  if (g.srcEmpty && g.destEntries > 0) {
    return 'source is empty but destination is not (is the source volume mounted?); refusing to delete; use --force to override';
  }
  if (g.fileDeletes === 0) return null;
  const percent = g.destFiles === 0 ? 100 : (g.fileDeletes / g.destFiles) * 100;
  if (percent > g.maxDeletePercent) {
    return `would delete ${g.fileDeletes} of ${g.destFiles} destination files (${percent.toFixed(1)}%), more than --max-delete ${g.maxDeletePercent}%; refusing to delete; use --force to override`;
  }
  return null;
}
