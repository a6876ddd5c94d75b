// The applier's view of the filesystem: one relative path at a time. Reads (lstat, parent walk)
// live here; every write goes through `src/fsops` (copyEntry / deleteEntry: temp file + rename,
// mode and mtime preserved, re-stat of source and destination right before the rename or unlink).
// fsops reports per-file failures as results; this adapter turns them into HaSyncErrors (or errno
// errors) so the applier can tell "retry later" from "never".
import * as fs from 'node:fs';
import type { Stat } from './decide.js';
import { HaSyncError } from '../errors.js';
import {
  asyncIo,
  copyEntry,
  deleteEntry,
  splitRel,
  unsafeRelPath,
  type Io,
  type OpResult,
} from '../fsops/index.js';

export interface CopyResult {
  bytes: number;
  /** What the destination holds now (cached to recognise the echo). */
  size: number;
  mtimeMs: number;
  /** Parent directories created on the destination first (audited as creates). */
  createdDirs: string[];
}

export interface FsOps {
  /** lstat of `rel` under `root`; null when absent. Throws 'UNSAFE_PATH' for a bad path or a symlinked parent. */
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
  ): Promise<CopyResult>;
  /** Removes `rel` only if it still matches `expect` (a directory only when empty). */
  remove(
    root: string,
    rel: string,
    expect: Stat,
    lost?: AbortSignal,
  ): Promise<'removed' | 'not-empty' | 'missing'>;
  /** 'missing' | 'empty' | 'ok': how the root looks (for the unmounted guard). */
  rootState(root: string): Promise<'missing' | 'empty' | 'ok'>;
}

const toStat = (st: fs.Stats): Stat => ({
  kind: st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'special',
  size: st.isDirectory() ? 0 : st.size,
  mtimeMs: st.mtimeMs,
});

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

export function fsOpsAdapter(io: Io = asyncIo): FsOps {
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
        return null;
      }
      i = rel.indexOf('/', i + 1);
    }
    const st = await io.lstat(`${root}/${rel}`);
    return st ? toStat(st) : null;
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
        const r = await copyEntry(srcRoot, destRoot, dir, { src: s, dest: null }, { io, lost });
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
    async copy(srcRoot, destRoot, rel, expect, lost) {
      const createdDirs = await ensureParents(srcRoot, destRoot, rel, lost);
      const r = await copyEntry(srcRoot, destRoot, rel, { src: expect.src, dest: expect.dest }, { io, lost });
      if (!r.ok) raise(r);
      // The path was just checked by copyEntry: a plain lstat (no parent walk) reads what landed.
      const st = await io.lstat(`${destRoot}/${rel}`);
      const after = st && toStat(st);
      return {
        createdDirs,
        bytes: r.bytes,
        size: after?.size ?? expect.src.size,
        mtimeMs: after?.mtimeMs ?? expect.src.mtimeMs,
      };
    },
    async remove(root, rel, expect, lost) {
      const r = await deleteEntry(root, rel, expect, { io, lost });
      if (r.ok) return 'removed';
      if (r.code === 'CHANGED_UNDER_US' && /not empty/.test(r.reason)) return 'not-empty';
      if (r.code === 'CHANGED_UNDER_US' && /no longer exists/.test(r.reason)) return 'missing';
      raise(r);
    },
    async rootState(root) {
      try {
        const st = await fs.promises.lstat(root);
        if (!st.isDirectory() && !st.isSymbolicLink()) return 'missing';
        // Reads entries only until the first real one: a root with 100k entries costs one batch.
        const dir = await fs.promises.opendir(root, { bufferSize: 32 });
        try {
          for await (const e of dir) if (!e.name.startsWith('.ha-sync')) return 'ok';
        } finally {
          await dir.close().catch(() => undefined);
        }
        return 'empty';
      } catch {
        return 'missing';
      }
    },
  };
}
