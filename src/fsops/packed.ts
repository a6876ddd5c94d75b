// Directory listings packed for a trip between threads: entries sorted by name, names joined by
// NUL (which no name or symlink target contains), numbers in one Float64Array that is transferred,
// not copied. The receiving thread unpacks only when it must: two listings can be compared packed
// (`sameListing`), and on a no-op run nearly every directory is the same on both sides.
import { createHash } from 'node:crypto';
import type { Entry, EntryKind } from '../core/index.js';
import type { DirScan } from './scan.js';

export interface PackedScan {
  /** name NUL name NUL ... in name order (symlink targets follow their name as a second field). */
  readonly names: string;
  /** Per entry: kind, size, mtimeMs, mode. */
  readonly nums: Float64Array;
  /** Entries packed. */
  readonly count: number;
  /** Entries that are not directories (what the --max-delete guard counts). */
  readonly files: number;
  /** Whether a fifo, socket or device is among the entries. */
  readonly special: boolean;
  readonly temps: string[];
  readonly issues: DirScan['issues'];
}

const KINDS: EntryKind[] = ['file', 'dir', 'symlink', 'special'];
const DIR = 1;
const SYMLINK = 2;
const SPECIAL = 3;

/** Code-unit order, the order the planner sorts in. */
function byName(a: Entry, b: Entry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Builds packed listings entry by entry (entries must be added in name order). */
export class PackedBuilder {
  private nums: Float64Array;
  private readonly parts: string[] = [];
  private count = 0;
  private files = 0;
  private special = false;
  constructor(capacity: number) {
    this.nums = new Float64Array(Math.max(1, capacity) * 4);
  }
  add(name: string, kind: EntryKind, size: number, mtimeMs: number, mode: number, target?: string): void {
    if ((this.count + 1) * 4 > this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
    }
    const k = KINDS.indexOf(kind);
    const i = this.count * 4;
    this.nums[i] = k;
    this.nums[i + 1] = size;
    this.nums[i + 2] = mtimeMs;
    this.nums[i + 3] = mode;
    this.parts.push(name);
    if (k === SYMLINK) this.parts.push(target ?? '');
    if (k !== DIR) this.files++;
    if (k === SPECIAL) this.special = true;
    this.count++;
  }
  finish(temps: string[], issues: DirScan['issues']): PackedScan {
    const used = this.count * 4;
    return {
      names: this.parts.join('\0'),
      nums: used === this.nums.length ? this.nums : this.nums.slice(0, used),
      count: this.count,
      files: this.files,
      special: this.special,
      temps,
      issues,
    };
  }
}

/** Packs a listing (entries in any order; packed in name order). */
export function pack(scan: DirScan): PackedScan {
  const b = new PackedBuilder(scan.entries.length);
  for (const e of [...scan.entries].sort(byName)) b.add(e.name, e.kind, e.size, e.mtimeMs, e.mode, e.target);
  return b.finish(scan.temps, scan.issues);
}

export function unpackEntries(p: PackedScan): Entry[] {
  const parts = p.names === '' ? [] : p.names.split('\0');
  const entries: Entry[] = [];
  let j = 0;
  for (let i = 0; i < p.count; i++) {
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
  return entries;
}

/** A listing that stays packed until its entries are asked for. */
export class PackedDirScan implements DirScan {
  private unpacked: Entry[] | null = null;
  constructor(readonly packed: PackedScan) {}
  get entries(): Entry[] {
    return (this.unpacked ??= unpackEntries(this.packed));
  }
  get temps(): string[] {
    return this.packed.temps;
  }
  get issues(): DirScan['issues'] {
    return this.packed.issues;
  }
}

export function unpack(p: PackedScan): DirScan {
  return { entries: unpackEntries(p), temps: p.temps, issues: p.issues };
}

/**
 * Whether two listings hold the same entries for the planner: the same names, kinds and symlink
 * targets, and for everything but directories the same size and mtime (a directory's own size and
 * mtime never matter to the plan). For such a pair `planDir` plans nothing and descends into every
 * subdirectory (`subdirNames`), so the planner need not see it. False when either side holds a
 * fifo, socket or device: those are reported by the planner.
 */
export function sameListing(a: PackedScan, b: PackedScan): boolean {
  if (a.special || b.special || a.count !== b.count || a.names !== b.names) return false;
  const x = a.nums;
  const y = b.nums;
  for (let i = 0; i < x.length; i += 4) {
    if (x[i] !== y[i]) return false;
    if (x[i] !== DIR && (x[i + 1] !== y[i + 1] || x[i + 2] !== y[i + 2])) return false;
  }
  return true;
}

/** The names of the subdirectories in a packed listing, in name order. */
export function subdirNames(p: PackedScan): string[] {
  const out: string[] = [];
  if (p.count === 0) return out;
  const parts = p.names.split('\0');
  let j = 0;
  for (let i = 0; i < p.count; i++) {
    const k = p.nums[i * 4];
    if (k === DIR) out.push(parts[j]!);
    j += k === SYMLINK ? 2 : 1;
  }
  return out;
}

/**
 * A digest of a packed listing: names, kinds, sizes, mtimes, modes and targets. The baseline keeps
 * it per directory once it verified the directory's records against that very listing, so a later
 * run that lists the same bytes knows the records still hold without reading them.
 */
export function listingDigest(p: PackedScan): string {
  const h = createHash('sha1');
  h.update(p.names);
  h.update(new Uint8Array(p.nums.buffer, p.nums.byteOffset, p.nums.byteLength));
  return h.digest('base64');
}
