// The applier's view of the filesystem: one relative path at a time. Reads (lstat, parent walk)
// live here; every write goes through `src/fsops` (copyEntry / deleteEntry: temp file + rename,
// mode and mtime preserved, re-stat of source and destination right before the rename or unlink).
// fsops reports per-file failures as results; this adapter turns them into HaSyncErrors (or errno
// errors) so the applier can tell "retry later" from "never".
import type * as fs from 'node:fs';
import type { EntryKind } from '../core/index.js';
import { HaSyncError } from '../errors.js';
import {
  UNMARKED_ROOT_ID,
  asyncIo,
  copyEntry,
  isTempName,
  removeTemp,
  decodeName,
  deleteEntry,
  knownIno,
  md5File,
  moveAside,
  moveEntry,
  Owners,
  Limiter,
  scanDir,
  splitRel,
  touchEntry,
  unsafeRelPath,
  type Io,
  type OpResult,
  type OwnerChange,
} from '../fsops/index.js';

/** What the applier knows of one path on one side (lstat; symlinks are never followed). */
export interface Stat {
  kind: EntryKind;
  /** Bytes (files), target length (symlinks), 0 for directories. */
  size: number;
  mtimeMs: number;
  /** The link's target text (symlinks whose target is valid UTF-8). */
  target?: string;
  /**
   * Set (with kind 'special') when a parent of the path is a file on this side: the path lies
   * below a directory replaced by a file, which the core leaves alone (never decided per path).
   */
  below?: string;
  /** The inode number (move detection only; never compared to decide a change). */
  ino?: number;
}

/** Keep the version a write replaces or removes (fsops `keep`). */
export interface Keep {
  nowMs: number;
}

export interface CopyResult {
  bytes: number;
  /** Where the version it replaced was kept (relative to the destination root). */
  kept?: string;
  /** What the destination holds now (cached to recognise the echo; `after` for the baseline). */
  size: number;
  mtimeMs: number;
  after?: Stat;
  /** Parent directories created on the destination first (audited as creates). */
  createdDirs: string[];
  /** The owner change the copy made ("uid:gid" before and after), when there was one. */
  owner?: OwnerChange;
}

export interface FsOps {
  /**
   * lstat of `rel` under `root`; null when absent; `below` set when a parent is a file. Throws
   * 'UNSAFE_PATH' for a bad path or a symlinked parent.
   */
  stat(root: string, rel: string): Promise<Stat | null>;
  /**
   * Makes dest's `rel` a copy of src's (file, symlink or directory), creating missing parent
   * directories from the source's. Throws 'CHANGED_UNDER_US' when either side moved.
   */
  copy(
    srcRoot: string,
    destRoot: string,
    rel: string,
    expect: { src: Stat; dest: Stat | null },
    /** The lock's `lost` signal: checked right before the write (see fsops OpOptions.lost). */
    lost?: AbortSignal,
    keep?: Keep,
  ): Promise<CopyResult>;
  /**
   * Removes `rel` only if it still matches `expect` (a directory only when empty; a file or
   * symlink is kept as a version with `keep`; `kept` says where).
   */
  remove(
    root: string,
    rel: string,
    expect: Stat,
    lost?: AbortSignal,
    keep?: Keep,
  ): Promise<{ state: 'removed' | 'not-empty' | 'missing'; kept?: string }>;
  /** Sets dest's mtime to src's (contents known equal). Throws 'CHANGED_UNDER_US' when either moved. */
  touch(
    srcRoot: string,
    destRoot: string,
    rel: string,
    expect: { src: Stat; dest: Stat },
    lost?: AbortSignal,
  ): Promise<void>;
  /** Renames `rel` to `toRel` in the same directory (a conflict copy), never over an existing entry. */
  moveAside(root: string, rel: string, expect: Stat, toRel: string, lost?: AbortSignal): Promise<void>;
  /**
   * A move carried out on `root` (moveEntry: one rename, `rel` checked against `expect`, never
   * over an existing entry). Missing parents of `toRel` are made as copies of `fromRoot`'s.
   */
  move(
    fromRoot: string,
    root: string,
    rel: string,
    expect: Stat,
    toRel: string,
    lost?: AbortSignal,
  ): Promise<{ createdDirs: string[] }>;
  /** What `root` holds directly in `rel` (names, kinds, sizes, mtimes), or null if unreadable. */
  list(
    root: string,
    rel: string,
  ): Promise<{ name: string; kind: EntryKind; size: number; mtimeMs: number; ino?: number }[] | null>;
  /** MD5 of a regular file (never follows a symlink). */
  md5(root: string, rel: string): Promise<string>;
  /**
   * The id of `root` from its marker (see fsops marker.ts): temp files written there carry it.
   * Set by the mount watch after each good check; until then writes use UNMARKED_ROOT_ID.
   */
  useRootId(root: string, rootId: string): void;
  /**
   * Removes our temp files (named with `root`'s id) directly in `dir` ('' = the root); only call
   * it while no write of this process is in flight there. Returns how many were removed.
   */
  sweepTemps(root: string, dir: string): Promise<number>;
  /**
   * Removes the one temp file `rel` if it is ours (named with `root`'s id) and untouched for
   * `minAgeMs`. True when removed.
   */
  removeStaleTemp(root: string, rel: string, minAgeMs: number, nowMs: number): Promise<boolean>;
}

const toStat = (st: fs.Stats): Stat => ({
  kind: st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'special',
  size: st.isDirectory() ? 0 : st.size,
  mtimeMs: st.mtimeMs,
  ...(knownIno(st.ino) ? { ino: st.ino } : {}),
});

async function lstatQuiet(io: Io, abs: string): Promise<fs.Stats | null> {
  try {
    return await io.lstat(abs);
  } catch {
    return null;
  }
}

/** `toStat`, with a symlink's target read (the baseline compares it). */
async function statOf(io: Io, abs: string, st: fs.Stats): Promise<Stat> {
  const s = toStat(st);
  if (!st.isSymbolicLink()) return s;
  const target = decodeName(await io.readlink(abs));
  return target === null ? s : { ...s, target };
}

/** Turns an fsops failure into an error the applier classifies (errno code kept when there is one). */
function raise(r: Exclude<OpResult, { ok: true }>): never {
  if (r.code === 'IO') {
    const err = new Error(r.reason) as NodeJS.ErrnoException;
    const code = /^(E[A-Z]+):/.exec(r.reason)?.[1];
    if (code) err.code = code;
    throw err;
  }
  // A parent that vanished between the check and the write is a race, not an attack.
  if (r.code === 'UNSAFE_PATH' && /does not exist|not a directory/.test(r.reason)) {
    throw new HaSyncError('CHANGED_UNDER_US', r.reason);
  }
  throw new HaSyncError(r.code, r.reason);
}

/**
 * The applier's FsOps over fsops. `warn`: where the one line a process writes when it may not keep
 * owners (chown refused) goes; default stderr.
 */
export function fsOpsAdapter(
  io: Io = asyncIo,
  warn: (line: string) => void = (line) => void process.stderr.write(`ha-sync: ${line}\n`),
): FsOps {
  const owners = new Owners(warn);
  const rootIds = new Map<string, string>();
  const tempIdOf = (root: string): string => rootIds.get(root) ?? UNMARKED_ROOT_ID;
  /** lstat, refusing paths that are unsafe or go through a symlinked directory. */
  async function stat(root: string, rel: string): Promise<Stat | null> {
    const bad = unsafeRelPath(rel);
    if (bad) throw new HaSyncError('UNSAFE_PATH', `${bad}: '${rel.replace(/\0/g, '\\0')}'`);
    let i = rel.indexOf('/');
    while (i >= 0) {
      const st = await io.lstat(`${root}/${rel.slice(0, i)}`);
      if (!st || !st.isDirectory()) {
        if (st?.isSymbolicLink()) {
          throw new HaSyncError(
            'UNSAFE_PATH',
            `'${rel}' goes through a symlink ('${rel.slice(0, i)}'); refusing to follow it`,
          );
        }
        // A file stands where a parent directory was: the path is below a kind change.
        return st ? { kind: 'special', size: 0, mtimeMs: 0, below: rel.slice(0, i) } : null;
      }
      i = rel.indexOf('/', i + 1);
    }
    const st = await io.lstat(`${root}/${rel}`);
    return st ? statOf(io, `${root}/${rel}`, st) : null;
  }

  /** Creates dest's missing parent directories as copies of the source's (mode kept). */
  async function ensureParents(
    srcRoot: string,
    destRoot: string,
    rel: string,
    lost: AbortSignal | undefined,
  ): Promise<string[]> {
    // Usual case: the parent is there, and one lstat says so (on NFS each walk step is a round
    // trip). copyEntry re-checks the whole parent chain for symlinks right before it writes.
    const { parent } = splitRel(rel);
    if (parent === '' || (await io.lstat(`${destRoot}/${parent}`))?.isDirectory()) return [];
    const created: string[] = [];
    let i = rel.indexOf('/');
    while (i >= 0) {
      const dir = rel.slice(0, i);
      const d = await stat(destRoot, dir);
      if (d === null) {
        const s = await stat(srcRoot, dir);
        if (s?.kind !== 'dir') throw new HaSyncError('CHANGED_UNDER_US', `source parent '${dir}' is gone`);
        const r = await copyEntry(srcRoot, destRoot, dir, { src: s, dest: null }, { io, lost, owners });
        if (r.ok) created.push(dir);
        else if ((await stat(destRoot, dir))?.kind !== 'dir') raise(r);
      } else if (d.kind !== 'dir') {
        throw new HaSyncError(
          'CHANGED_UNDER_US',
          `destination parent '${dir}' is a ${d.kind}, not a directory`,
        );
      }
      i = rel.indexOf('/', i + 1);
    }
    return created;
  }

  return {
    stat,
    async copy(srcRoot, destRoot, rel, expect, lost, keep) {
      const createdDirs = await ensureParents(srcRoot, destRoot, rel, lost);
      const r = await copyEntry(
        srcRoot,
        destRoot,
        rel,
        { src: expect.src, dest: expect.dest },
        { io, lost, owners, tempId: tempIdOf(destRoot), ...(keep && expect.dest ? { keep } : {}) },
      );
      if (!r.ok) raise(r);
      // The path was just checked by copyEntry: a plain lstat (no parent walk) reads what landed.
      const st = await io.lstat(`${destRoot}/${rel}`);
      const after = st && (await statOf(io, `${destRoot}/${rel}`, st));
      return {
        createdDirs,
        bytes: r.bytes,
        ...(r.kept ? { kept: r.kept } : {}),
        ...(r.owner ? { owner: r.owner } : {}),
        size: after?.size ?? expect.src.size,
        mtimeMs: after?.mtimeMs ?? expect.src.mtimeMs,
        ...(after ? { after } : {}),
      };
    },
    async remove(root, rel, expect, lost, keep) {
      const r = await deleteEntry(root, rel, expect, {
        io,
        lost,
        ...(keep && expect.kind !== 'dir' ? { keep } : {}),
      });
      if (r.ok) return { state: 'removed', ...(r.kept ? { kept: r.kept } : {}) };
      if (r.code === 'CHANGED_UNDER_US') {
        const now = await lstatQuiet(io, `${root}/${rel}`);
        if (!now) return { state: 'missing' };
        if (expect.kind === 'dir' && now.isDirectory()) return { state: 'not-empty' };
      }
      raise(r);
    },
    async touch(srcRoot, destRoot, rel, expect, lost) {
      const r = await touchEntry(srcRoot, destRoot, rel, expect, { io, lost });
      if (!r.ok) raise(r);
    },
    async moveAside(root, rel, expect, toRel, lost) {
      const r = await moveAside(root, rel, expect, toRel, { io, lost });
      if (!r.ok) raise(r);
    },
    async move(fromRoot, root, rel, expect, toRel, lost) {
      const createdDirs = await ensureParents(fromRoot, root, toRel, lost);
      const r = await moveEntry(root, rel, expect, toRel, { io, lost });
      if (!r.ok) raise(r);
      return { createdDirs };
    },
    async list(root, rel) {
      if (unsafeRelPath(rel) !== null || (rel !== '' && (await stat(root, rel))?.kind !== 'dir')) return null;
      try {
        const scan = await scanDir(
          rel === '' ? root : `${root}/${rel}`,
          io,
          new Limiter(8),
          rootIds.get(root) ?? null,
        );
        return scan.entries.map((e) => ({
          name: e.name,
          kind: e.kind,
          size: e.size,
          mtimeMs: e.mtimeMs,
          ...(e.ino === undefined ? {} : { ino: e.ino }),
        }));
      } catch {
        return null;
      }
    },
    md5: (root, rel) => md5File(`${root}/${rel}`),
    useRootId(root, rootId) {
      rootIds.set(root, rootId);
    },
    async sweepTemps(root, dir) {
      const id = rootIds.get(root);
      if (id === undefined) return 0;
      const abs = dir === '' ? root : `${root}/${dir}`;
      let names: string[];
      try {
        names = await io.readdirNames(abs);
      } catch {
        return 0; // gone or unreadable: nothing of ours to remove there
      }
      let removed = 0;
      for (const n of names)
        if (isTempName(n, id) && (await removeTemp(root, dir === '' ? n : `${dir}/${n}`, io))) removed++;
      return removed;
    },
    async removeStaleTemp(root, rel, minAgeMs, nowMs) {
      const id = rootIds.get(root);
      const { name } = splitRel(rel);
      if (id === undefined || !isTempName(name, id) || unsafeRelPath(rel) !== null) return false;
      if ((await stat(root, rel)) === null) return false; // also refuses a symlinked parent
      const st = await lstatQuiet(io, `${root}/${rel}`);
      if (!st?.isFile() || nowMs - st.ctimeMs < minAgeMs) return false;
      return removeTemp(root, rel, io);
    },
  };
}
