// Reading one directory into Entries. Symlinks are never followed (lstat). Names are read as
// bytes and decoded strictly: a name that is not valid UTF-8 is reported, never renamed or
// guessed at. Our own temp files are set apart (never synced, never counted).
import { isUtf8 } from 'node:buffer';
import type { Stats } from 'node:fs';
import type { Entry, EntryKind } from '../core/index.js';
import type { Io } from './io.js';
import type { PackedScan } from './packed.js';
import { knownIno } from './packed.js';
import { isTempName } from './paths.js';

/**
 * Decodes a name or symlink target; null when it is not valid UTF-8. (isUtf8 is the same strict
 * check a fatal TextDecoder makes, without an exception per bad name.)
 */
export function decodeName(b: Buffer): string | null {
  return isUtf8(b) ? b.toString('utf8') : null;
}

/** Shows undecodable bytes as \xNN, for messages only. */
export function showBytes(b: Buffer): string {
  let out = '';
  for (const byte of b) {
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The issue for a name that is not valid UTF-8 (raw bytes). */
export function badNameIssue(raw: Buffer): ScanIssue {
  return {
    name: showBytes(raw),
    kind: 'bad-name',
    message: 'name is not valid UTF-8; skipped (rename it to sync it)',
  };
}

/** The issue for a symlink whose target is not valid UTF-8. */
export function badTargetIssue(name: string): ScanIssue {
  return { name, kind: 'bad-name', message: 'symlink target is not valid UTF-8; skipped' };
}

export interface ScanIssue {
  /** The entry's name (decoded, or shown with \xNN escapes when not valid UTF-8). */
  readonly name: string;
  readonly kind: 'bad-name' | 'unreadable';
  readonly message: string;
}

export interface DirScan {
  readonly entries: Entry[];
  /** Our temp files found here (names). */
  readonly temps: string[];
  readonly issues: ScanIssue[];
  /** The same listing packed, when it came from a listing worker (compared without unpacking). */
  readonly packed?: PackedScan;
}

export function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'special';
}

/**
 * The Entry lstat's answer describes. `ino` only where lstat gave a usable inode number (see
 * `knownIno`): never `ino: undefined`, never a rounded one.
 */
export function entryFromStats(name: string, st: Stats, target?: string): Entry {
  const kind = kindOf(st);
  return {
    name,
    kind,
    size: kind === 'file' || kind === 'symlink' ? st.size : 0,
    mtimeMs: st.mtimeMs,
    mode: st.mode & 0o7777,
    ...(target !== undefined ? { target } : {}),
    ...(knownIno(st.ino) ? { ino: st.ino } : {}),
  };
}

/** A counting semaphore: at most `n` tasks in flight (network filesystems). */
export class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(task: () => T | Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter (`active` stays as it is), so
    // a caller arriving before the waiter resumes cannot take the same slot too.
    if (this.active < this.n) this.active++;
    else await new Promise<void>((r) => this.waiters.push(r));
    try {
      return await task();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Scans one directory. Throws when the directory itself cannot be read (the caller decides what
 * that means); per-entry trouble becomes an issue. With `limiter` (async io) the lstats of the
 * entries go out concurrently.
 */
export async function scanDir(
  absDir: string,
  io: Io,
  limiter?: Limiter,
  /** The root's id (its marker): names of our temp files carry it. Null: nothing is a temp. */
  tempId: string | null = null,
): Promise<DirScan> {
  // Names are read as strings first (cheap). Only when one holds U+FFFD (an invalid byte, or a
  // real U+FFFD) is the directory read again as bytes to tell them apart.
  const names = await io.readdirNames(absDir);
  let raw: (string | Buffer)[] = names;
  if (names.some((n) => n.includes('\ufffd'))) raw = (await io.readdir(absDir)).map((d) => d.name);
  const entries: Entry[] = [];
  const temps: string[] = [];
  const issues: ScanIssue[] = [];
  const decode = (r: string | Buffer): string | null => {
    if (typeof r === 'string') return r;
    const name = decodeName(r);
    if (name === null) {
      issues.push(badNameIssue(r));
    }
    return name;
  };
  const add = (name: string, st: Stats | null, target?: Buffer): void => {
    if (!st) return; // vanished between readdir and lstat
    let t: string | undefined;
    if (target !== undefined) {
      const decoded = decodeName(target);
      if (decoded === null) {
        issues.push(badTargetIssue(name));
        return;
      }
      t = decoded;
    }
    entries.push(entryFromStats(name, st, t));
  };
  const unreadable = (name: string, err: unknown): void => {
    issues.push({ name, kind: 'unreadable', message: `cannot stat: ${(err as Error).message}` });
  };

  if (io.kind === 'sync') {
    // The local-disk fast path: plain synchronous calls, no promise per entry.
    for (const r of raw) {
      const name = decode(r);
      if (name === null) continue;
      if (isTempName(name, tempId)) {
        temps.push(name);
        continue;
      }
      const abs = `${absDir}/${name}`;
      try {
        const st = io.lstat(abs) as Stats | null;
        add(name, st, st?.isSymbolicLink() ? (io.readlink(abs) as Buffer) : undefined);
      } catch (err) {
        unreadable(name, err);
      }
    }
    return { entries, temps, issues };
  }
  const one = async (r: string | Buffer): Promise<void> => {
    const name = decode(r);
    if (name === null) return;
    if (isTempName(name, tempId)) {
      temps.push(name);
      return;
    }
    const abs = `${absDir}/${name}`;
    try {
      const st = await io.lstat(abs);
      add(name, st, st?.isSymbolicLink() ? await io.readlink(abs) : undefined);
    } catch (err) {
      unreadable(name, err);
    }
  };
  if (limiter) await Promise.all(raw.map((r) => limiter.run(() => one(r))));
  else for (const r of raw) await one(r);
  return { entries, temps, issues };
}
