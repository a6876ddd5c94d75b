// The dry-run plan as text: one line per operation (kind, path, size), then a summary. A path with
// control characters (a newline in a name) is printed as a JSON string so one op stays one line.
import type { OpEvent } from './engine.js';

// eslint-disable-next-line no-control-regex
const NEEDS_QUOTES = /[\u0000-\u001f\u007f"\\]|^\s|\s$/;

/** The path as printed: as-is when plain, else a JSON string ("a\nb"). */
export function quotePath(path: string): string {
  return NEEDS_QUOTES.test(path) ? JSON.stringify(path) : path;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * One plan line: `create  path/to/file  1234`; directories show 'dir', symlinks 'symlink'. A
 * two-way run names the side written to (`on`: `create  a.txt  5  on hp`); a version or conflict
 * copy kept is named too.
 */
export function planLine(ev: OpEvent, on?: string): string {
  const size = ev.entryKind === 'dir' ? 'dir' : ev.entryKind === 'symlink' ? 'symlink' : String(ev.size);
  const reason = ev.kind === 'fail' && ev.record.errorMessage ? `  (${ev.record.errorMessage})` : '';
  const side = on ? `  on ${on}` : '';
  const from = ev.kind === 'move' && ev.record.movedFrom ? `  (from ${quotePath(ev.record.movedFrom)})` : '';
  const kept =
    ev.record.keptKind === 'conflict' && ev.record.keptPath
      ? `  (conflict: the other version kept as ${quotePath(ev.record.keptPath)})`
      : '';
  return `${ev.kind.padEnd(6)}  ${quotePath(ev.path)}  ${size}${side}${from}${kept}${reason.replace(/[\r\n]/g, ' ')}`;
}

export interface PlanSummary {
  create: number;
  update: number;
  touch: number;
  delete: number;
  move: number;
  fail: number;
  bytes: number;
}

export function emptySummary(): PlanSummary {
  return { create: 0, update: 0, touch: 0, delete: 0, move: 0, fail: 0, bytes: 0 };
}

export function addToSummary(s: PlanSummary, ev: OpEvent): void {
  s[ev.kind]++;
  if ((ev.kind === 'create' || ev.kind === 'update') && ev.entryKind === 'file') s.bytes += ev.size;
}

export function summaryLine(s: PlanSummary): string {
  return (
    `Dry run: ${s.create} to create, ${s.update} to update, ${s.touch} mtime-only, ${s.delete} to delete, ` +
    `${s.move > 0 ? `${s.move} to move, ` : ''}${s.fail} failing; ${formatBytes(s.bytes)} to copy. Nothing was changed.`
  );
}
