// The filesystem calls fsops makes, behind one small interface with two implementations:
// - `syncIo`: synchronous calls. On a local disk a metadata call costs about a microsecond and a
//   round trip through libuv's thread pool costs ten times that, so plain sync calls are fastest.
// - `asyncIo`: callback-API calls through the thread pool, for network filesystems where each
//   call is a round trip (~ms) and many must be in flight (UV_THREADPOOL_SIZE is raised at startup).
// Both return the same values; code written against `Io` awaits either (awaiting a plain value
// costs a microtask, not a thread hop). Data copies (copyFile) are always asynchronous.
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export interface Io {
  readonly kind: 'sync' | 'async';
  /** lstat, or null when the path does not exist (ENOENT / ENOTDIR). */
  lstat(path: string): fs.Stats | null | Promise<fs.Stats | null>;
  readdir(path: string): fs.Dirent<Buffer>[] | Promise<fs.Dirent<Buffer>[]>;
  /** Names as UTF-8 strings (invalid bytes become U+FFFD: callers re-read as bytes then). */
  readdirNames(path: string): string[] | Promise<string[]>;
  /** The real path (symlinks resolved), or null when it does not exist. */
  realpath(path: string): string | null | Promise<string | null>;
  /** Copies a regular file's bytes and permission bits; fails if `to` exists. */
  copyFile(from: string, to: string, size: number): void | Promise<void>;
  readlink(path: string): Buffer | Promise<Buffer>;
  rename(from: string, to: string): void | Promise<void>;
  unlink(path: string): void | Promise<void>;
  rmdir(path: string): void | Promise<void>;
  mkdir(path: string, mode: number): void | Promise<void>;
  chmod(path: string, mode: number): void | Promise<void>;
  utimes(path: string, atimeS: number, mtimeS: number): void | Promise<void>;
  lutimes(path: string, atimeS: number, mtimeS: number): void | Promise<void>;
  symlink(target: Buffer | string, path: string): void | Promise<void>;
}

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Files up to this size are copied with a synchronous call by `syncIo`. */
export const SYNC_COPY_MAX_BYTES = 256 * 1024;

export const syncIo: Io = {
  kind: 'sync',
  lstat: (p) => fs.lstatSync(p, { throwIfNoEntry: false }) ?? null,
  readdir: (p) => fs.readdirSync(p, { encoding: 'buffer', withFileTypes: true }),
  readdirNames: (p) => fs.readdirSync(p),
  realpath: (p) => {
    try {
      return fs.realpathSync.native(p);
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  },
  // Small files are copied synchronously (a thread-pool round trip costs more than the copy);
  // large ones asynchronously so the process stays responsive (signals, progress).
  copyFile: (a, b, size) =>
    size <= SYNC_COPY_MAX_BYTES
      ? fs.copyFileSync(a, b, fs.constants.COPYFILE_EXCL)
      : fs.promises.copyFile(a, b, fs.constants.COPYFILE_EXCL),
  readlink: (p) => fs.readlinkSync(p, { encoding: 'buffer' }),
  rename: (a, b) => fs.renameSync(a, b),
  unlink: (p) => fs.unlinkSync(p),
  rmdir: (p) => fs.rmdirSync(p),
  mkdir: (p, m) => {
    fs.mkdirSync(p, { mode: m });
  },
  chmod: (p, m) => fs.chmodSync(p, m),
  utimes: (p, a, m) => fs.utimesSync(p, a, m),
  lutimes: (p, a, m) => fs.lutimesSync(p, a, m),
  symlink: (t, p) => fs.symlinkSync(t, p),
};

const lstatCb = promisify(fs.lstat);
const readdirCb = promisify(fs.readdir);
const readlinkCb = promisify(fs.readlink);
const realpathCb = promisify(fs.realpath.native);

export const asyncIo: Io = {
  kind: 'async',
  lstat: async (p) => {
    try {
      return await lstatCb(p);
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  },
  readdir: (p) => readdirCb(p, { encoding: 'buffer', withFileTypes: true }),
  readdirNames: (p) => readdirCb(p),
  realpath: async (p) => {
    try {
      return await realpathCb(p);
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  },
  copyFile: (a, b) => fs.promises.copyFile(a, b, fs.constants.COPYFILE_EXCL),
  readlink: (p) => readlinkCb(p, { encoding: 'buffer' }),
  rename: promisify(fs.rename),
  unlink: promisify(fs.unlink),
  rmdir: promisify(fs.rmdir),
  mkdir: async (p, m) => {
    await fs.promises.mkdir(p, { mode: m });
  },
  chmod: promisify(fs.chmod),
  utimes: promisify(fs.utimes),
  lutimes: promisify(fs.lutimes),
  symlink: (t, p) => fs.promises.symlink(t, p),
};
