// Directory listings packed for a trip between threads: names joined by NUL (which no name or
// symlink target contains), numbers in one Float64Array that is transferred, not copied, so the
// receiving thread spends little time unpacking.
import type { Entry, EntryKind } from '../core/index.js';
import type { DirScan } from './scan.js';

export interface PackedScan {
  /** name NUL name NUL ... (symlink targets follow their name as a second field). */
  names: string;
  /** Per entry: kind, size, mtimeMs, mode. */
  nums: Float64Array;
  temps: string[];
  issues: DirScan['issues'];
}

const KINDS: EntryKind[] = ['file', 'dir', 'symlink', 'special'];

export function pack(scan: DirScan): PackedScan {
  const nums = new Float64Array(scan.entries.length * 4);
  const parts: string[] = [];
  scan.entries.forEach((e, i) => {
    nums[i * 4] = KINDS.indexOf(e.kind);
    nums[i * 4 + 1] = e.size;
    nums[i * 4 + 2] = e.mtimeMs;
    nums[i * 4 + 3] = e.mode;
    parts.push(e.name);
    if (e.kind === 'symlink') parts.push(e.target ?? '');
  });
  return { names: parts.join('\0'), nums, temps: scan.temps, issues: scan.issues };
}

export function unpack(p: PackedScan): DirScan {
  const parts = p.names === '' ? [] : p.names.split('\0');
  const entries: Entry[] = [];
  let j = 0;
  for (let i = 0; i < p.nums.length / 4; i++) {
    const kind = KINDS[p.nums[i * 4]!]!;
    const name = parts[j++]!;
    const base = {
      name,
      kind,
      size: p.nums[i * 4 + 1]!,
      mtimeMs: p.nums[i * 4 + 2]!,
      mode: p.nums[i * 4 + 3]!,
    };
    entries.push(kind === 'symlink' ? { ...base, target: parts[j++]! } : base);
  }
  return { entries, temps: p.temps, issues: p.issues };
}
