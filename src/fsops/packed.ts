// Directory listings packed for a trip between threads: entries sorted by name, names joined by
// NUL (which no name or symlink target contains), numbers in one Float64Array that is transferred,
// not copied. The receiving thread unpacks only when it must: two listings can be compared packed
// (`sameListing`), and on a no-op run nearly every directory is the same on both sides.
//
// Inode numbers travel beside the numbers, in a Float64Array of their own (`inos`), and are never
// compared or digested: they differ between the two sides, sshfs may number a file differently on
// every mount, and the baseline keeps each directory's `listingDigest`, so a digest that took them
// in would differ from the one stored and make every directory of every tree look changed.
import { createHash } from 'node:crypto';
import type { Entry, EntryKind } from '../core/index.js';
import type { DirScan } from './scan.js';

export interface PackedScan {
  /** name NUL name NUL ... in name order (symlink targets follow their name as a second field). */
  readonly names: string;
  /** Per entry: kind, size, mtimeMs, mode. */
  readonly nums: Float64Array;
  /**
   * Per entry, in the order of `nums`: the inode number, NaN (or 0) where the lister has none. May
   * be absent when no entry's is known (an addon built before it listed inodes). Move detection
   * only: `sameListing` and `listingDigest` never read it.
   */
  readonly inos?: Float64Array;
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

/**
 * The inode number an Entry may carry: a positive safe integer. NaN and 0 mean the lister had
 * none; one past 2^53 was rounded on its way into a double and could name another file (the
 * baseline refuses it too), so it is left out rather than guessed at.
 */
export function knownIno(ino: number | undefined): ino is number {
  return ino !== undefined && Number.isSafeInteger(ino) && ino > 0;
}

/** Code-unit order, the order the planner sorts in. */
function byName(a: Entry, b: Entry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Builds packed listings entry by entry (entries must be added in name order). */
export class PackedBuilder {
  private nums: Float64Array;
  private inos: Float64Array;
  private anyIno = false;
  private readonly parts: string[] = [];
  private count = 0;
  private files = 0;
  private special = false;
  constructor(capacity: number) {
    this.nums = new Float64Array(Math.max(1, capacity) * 4);
    this.inos = new Float64Array(Math.max(1, capacity));
  }
  /** `ino`: the entry's inode number; undefined (or NaN) when the lister has none. */
  add(
    name: string,
    kind: EntryKind,
    size: number,
    mtimeMs: number,
    mode: number,
    target?: string,
    ino?: number,
  ): void {
    if ((this.count + 1) * 4 > this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
      const inos = new Float64Array(this.inos.length * 2);
      inos.set(this.inos);
      this.inos = inos;
    }
    const k = KINDS.indexOf(kind);
    const i = this.count * 4;
    this.nums[i] = k;
    this.nums[i + 1] = size;
    this.nums[i + 2] = mtimeMs;
    this.nums[i + 3] = mode;
    if (knownIno(ino)) {
      this.inos[this.count] = ino;
      this.anyIno = true;
    } else {
      this.inos[this.count] = NaN;
    }
    this.parts.push(name);
    if (k === SYMLINK) this.parts.push(target ?? '');
    if (k !== DIR) this.files++;
    if (k === SPECIAL) this.special = true;
    this.count++;
  }
  finish(temps: string[], issues: DirScan['issues']): PackedScan {
    const used = this.count * 4;
    const inos = this.inos.length === this.count ? this.inos : this.inos.slice(0, this.count);
    return {
      names: this.parts.join('\0'),
      nums: used === this.nums.length ? this.nums : this.nums.slice(0, used),
      ...(this.anyIno ? { inos } : {}),
      count: this.count,
      files: this.files,
      special: this.special,
      temps,
      issues,
    };
  }
}

/**
 * The buffers to transfer (move, not copy) with a listing posted to another thread: `nums`, and
 * `inos` where present. The sender must not read the listing afterwards.
 */
export function transferables(p: PackedScan): ArrayBuffer[] {
  const out = [p.nums.buffer as ArrayBuffer];
  if (p.inos) out.push(p.inos.buffer as ArrayBuffer);
  return out;
}

/** Packs a listing (entries in any order; packed in name order). */
export function pack(scan: DirScan): PackedScan {
  const b = new PackedBuilder(scan.entries.length);
  for (const e of [...scan.entries].sort(byName)) {
    b.add(e.name, e.kind, e.size, e.mtimeMs, e.mode, e.target, e.ino);
  }
  return b.finish(scan.temps, scan.issues);
}

export function unpackEntries(p: PackedScan): Entry[] {
  const parts = p.names === '' ? [] : p.names.split('\0');
  const entries: Entry[] = [];
  const inos = p.inos;
  let j = 0;
  for (let i = 0; i < p.count; i++) {
    const kind = KINDS[p.nums[i * 4]!]!;
    const name = parts[j++]!;
    const size = p.nums[i * 4 + 1]!;
    const mtimeMs = p.nums[i * 4 + 2]!;
    const mode = p.nums[i * 4 + 3]!;
    // One object per entry, and no `ino: undefined` where the inode is unknown.
    const ino = inos?.[i];
    if (kind === 'symlink') {
      const target = parts[j++]!;
      entries.push(
        knownIno(ino)
          ? { name, kind, size, mtimeMs, mode, target, ino }
          : { name, kind, size, mtimeMs, mode, target },
      );
    } else {
      entries.push(
        knownIno(ino) ? { name, kind, size, mtimeMs, mode, ino } : { name, kind, size, mtimeMs, mode },
      );
    }
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
 * fifo, socket or device: those are reported by the planner. Inode numbers are not compared: the
 * two sides never share them, and sshfs may renumber files on every mount.
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
 * run that lists the same bytes knows the records still hold without reading them. Inode numbers
 * (`inos`) are left out, on purpose and for good: sshfs may renumber files on every mount, and a
 * digest that changed with them would make every stored digest stale, and every no-op run redo
 * all its work. The bytes digested must stay as they are for the same reason.
 */
export function listingDigest(p: PackedScan): string {
  const h = createHash('sha1');
  h.update(p.names);
  h.update(new Uint8Array(p.nums.buffer, p.nums.byteOffset, p.nums.byteLength));
  return h.digest('base64');
}
