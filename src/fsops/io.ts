// The filesystem calls fsops makes, behind one small interface with two implementations:
// - `syncIo`: synchronous calls. On a local disk a metadata call costs about a microsecond and a
//   round trip through libuv's thread pool costs ten times that, so plain sync calls are fastest.
// - `asyncIo`: callback-API calls through the thread pool, for network filesystems where each
//   call is a round trip (~ms) and many must be in flight (UV_THREADPOOL_SIZE is raised at startup).
// Both return the same values; code written against `Io` awaits either (awaiting a plain value
// costs a microtask, not a thread hop). Copies of files over SYNC_COPY_MAX_BYTES are always
// asynchronous.
//
// Writes are made relative to open directories: `openDir` opens a parent once, without following
// a symlink, and returns a path naming the open directory (`/proc/self/fd/<n>`); the entry, its
// temp file, the rename, unlink, mkdir and times are then reached through it, so a parent swapped
// for a symlink after the check cannot carry a write outside the root (see anchor.ts).
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { loadFastscan } from './native.js';
import type { FileopsAddon } from './native-io.js';
import { nativeIo } from './native-io.js';

export interface Io {
  readonly kind: 'sync' | 'async';
  /** lstat, or null when the path does not exist (ENOENT / ENOTDIR). */
  lstat(path: string): fs.Stats | null | Promise<fs.Stats | null>;
  readdir(path: string): fs.Dirent<Buffer>[] | Promise<fs.Dirent<Buffer>[]>;
  /** Names as UTF-8 strings (invalid bytes become U+FFFD: callers re-read as bytes then). */
  readdirNames(path: string): string[] | Promise<string[]>;
  /** The real path (symlinks resolved), or null when it does not exist. */
  realpath(path: string): string | null | Promise<string | null>;
  /**
   * Copies the regular file `from` to `to` (which must not exist), with its permission bits.
   * `from` is opened with O_NOFOLLOW and O_NONBLOCK and checked with fstat against `want` (size
   * and mtime, as `mismatch` compares them) before anything is created: `copied: false` with what
   * was seen (null: nothing there) when it does not match, is a symlink, is gone or is not a
   * regular file. The bytes copied are those of the file opened, never of a name looked up again.
   */
  copyChecked(from: string, to: string, want: Want): Copied | Promise<Copied>;
  readlink(path: string): Buffer | Promise<Buffer>;
  rename(from: string, to: string): void | Promise<void>;
  /**
   * rename(2) that never replaces: EEXIST when `to` exists (renameat2 RENAME_NOREPLACE); EINVAL
   * (or ENOSYS) where the filesystem cannot. Absent where the Io has no such call (node:fs).
   */
  renameNoReplace?(from: string, to: string): void | Promise<void>;
  /** link(2): never follows a symlink (links the symlink itself); fails if `to` exists. */
  link(from: string, to: string): void | Promise<void>;
  unlink(path: string): void | Promise<void>;
  rmdir(path: string): void | Promise<void>;
  mkdir(path: string, mode: number): void | Promise<void>;
  /** Sets the permission bits of a file or directory; never through a symlink (ELOOP). */
  chmod(path: string, mode: number): void | Promise<void>;
  /** Sets a file's or directory's times, following a symlink: use `lutimes` for anything written. */
  utimes(path: string, atimeS: number, mtimeS: number): void | Promise<void>;
  lutimes(path: string, atimeS: number, mtimeS: number): void | Promise<void>;
  /** lchown(2): sets the owner of the entry itself, never of a symlink's target. */
  lchown(path: string, uid: number, gid: number): void | Promise<void>;
  symlink(target: Buffer | string, path: string): void | Promise<void>;
  /**
   * Opens `root/rel` ('' for the root itself) as a directory and returns a path that names the
   * open directory itself (`/proc/self/fd/<n>`, or the addon's equivalent): names below it are
   * looked up in that directory, whatever is renamed or swapped for a symlink at `root/rel`
   * afterwards. Nothing below `root` is followed if it is a symlink. Throws like open(2): ENOENT,
   * ENOTDIR or ELOOP (a component is missing, not a directory, or a symlink); `atRoot: true` on the
   * error when the root itself could not be opened. Absent where the platform has no way to name
   * an open directory (no /proc): callers then check the parents by their real path (see anchor.ts).
   */
  openDir?(root: string, rel: string): string | Promise<string>;
  /** Closes a directory `openDir` returned. Never throws. */
  closeDir?(handle: string): void | Promise<void>;
}

/** What a copy expects of its source: `mismatch`'s size and mtime (milliseconds). */
export interface Want {
  readonly size: number;
  readonly mtimeMs: number;
}

/** `copyChecked`'s outcome: the source's fstat (or lstat when it could not be opened). */
export type Copied = { copied: true; st: fs.Stats } | { copied: false; st: fs.Stats | null };

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Files up to this size are copied with a synchronous call by `syncIo`. */
export const SYNC_COPY_MAX_BYTES = 256 * 1024;

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY, COPYFILE_EXCL } = fs.constants;
/**
 * Where an open descriptor can be named by a path (Linux with /proc mounted): the kernel resolves
 * `/proc/self/fd/<n>` to the open file or directory itself, never by its name again.
 */
const PROC_FD = process.platform === 'linux' && fs.existsSync('/proc/self/fd') ? '/proc/self/fd' : null;
/** O_PATH (Linux, where its value is 0o10000000): a handle that needs no read permission. */
const O_PATH =
  process.platform === 'linux' &&
  ['x64', 'arm64', 'arm', 'ia32', 'ppc64', 's390x', 'riscv64'].includes(process.arch)
    ? 0o10000000
    : O_RDONLY;
/** Opening a source to copy: never through a symlink, never waiting on a fifo for a writer. */
const SRC_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const DIR_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW;

/** An error of `openDir`: `atRoot` when the root itself could not be opened. */
export type OpenDirError = NodeJS.ErrnoException & { atRoot?: boolean };

function errnoError(code: string, syscall: string, path: string, atRoot = false): OpenDirError {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, atRoot });
}

/** Does an fstat match what a copy expects (a regular file, size, mtime within a millisecond)? */
function wanted(st: fs.Stats, want: Want): boolean {
  return st.isFile() && st.size === want.size && Math.abs(st.mtimeMs - want.mtimeMs) < 1;
}

/** open(2) errors that mean the source is not a regular file where the plan saw one. */
function notAFile(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO';
}

/**
 * openDir through node:fs: the directory is opened with O_NOFOLLOW on its last component, and
 * the real path of what was opened (the kernel's name for the descriptor) must be the real root
 * plus `rel`. Had any component been a symlink, the real path would differ, so the descriptor held
 * is the directory an O_NOFOLLOW walk would reach, in two calls rather than one per component (on
 * NFS each call is a round trip). A root whose real path changed (a volume's symlink re-pointed)
 * is looked up again once.
 */
function realRoots(): { get(root: string, fresh: boolean): string | null } {
  const cache = new Map<string, string>();
  return {
    get(root, fresh) {
      let r = fresh ? undefined : cache.get(root);
      if (r === undefined) {
        try {
          r = fs.realpathSync.native(root);
        } catch {
          return null;
        }
        if (cache.size > 64) cache.clear();
        cache.set(root, r);
      }
      return r;
    },
  };
}

function under(realRoot: string, rel: string): string {
  return rel === '' ? realRoot : (realRoot === '/' ? '' : realRoot) + '/' + rel;
}

function openDirSyncVia(roots: ReturnType<typeof realRoots>, root: string, rel: string): string {
  const abs = rel === '' ? root : `${root}/${rel}`;
  let fd: number;
  try {
    fd = fs.openSync(abs, rel === '' ? O_PATH | O_DIRECTORY : DIR_FLAGS);
  } catch (err) {
    const e = err as OpenDirError;
    if (rel === '' || !fs.existsSync(root)) e.atRoot = true;
    throw e;
  }
  const handle = `${PROC_FD}/${fd}`;
  if (rel === '') return handle;
  try {
    const real = fs.readlinkSync(handle);
    if (real === under(roots.get(root, false) ?? '', rel)) return handle;
    if (real === under(roots.get(root, true) ?? '', rel)) return handle;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  fs.closeSync(fd);
  throw errnoError('ELOOP', 'open', abs);
}

async function openDirAsyncVia(
  roots: ReturnType<typeof realRoots>,
  root: string,
  rel: string,
): Promise<string> {
  const abs = rel === '' ? root : `${root}/${rel}`;
  let fd: number;
  try {
    fd = await openCb(abs, rel === '' ? O_PATH | O_DIRECTORY : DIR_FLAGS);
  } catch (err) {
    const e = err as OpenDirError;
    if (rel === '' || (await lstatCb(root).catch(() => null)) === null) e.atRoot = true;
    throw e;
  }
  const handle = `${PROC_FD}/${fd}`;
  if (rel === '') return handle;
  let ok = false;
  try {
    // The kernel's name for a descriptor comes from memory (procfs), never from the server.
    const real = fs.readlinkSync(handle);
    ok =
      real === under(roots.get(root, false) ?? '', rel) || real === under(roots.get(root, true) ?? '', rel);
  } finally {
    if (!ok) await closeCb(fd).catch(() => undefined);
  }
  if (!ok) throw errnoError('ELOOP', 'open', abs);
  return handle;
}

function fdOf(handle: string): number {
  return Number(handle.slice(handle.lastIndexOf('/') + 1));
}

function copyCheckedSync(from: string, to: string, want: Want): Copied | Promise<Copied> {
  let fd: number;
  try {
    fd = fs.openSync(from, SRC_FLAGS);
  } catch (err) {
    if (notAFile(err)) return { copied: false, st: fs.lstatSync(from, { throwIfNoEntry: false }) ?? null };
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!wanted(st, want)) return { copied: false, st };
    // Through /proc the copy reads the file opened and checked; elsewhere it opens `from` again.
    const bytes = PROC_FD ? `${PROC_FD}/${fd}` : from;
    if (want.size <= SYNC_COPY_MAX_BYTES) {
      fs.copyFileSync(bytes, to, COPYFILE_EXCL);
      return { copied: true, st };
    }
    // Large files: asynchronously, so the process stays responsive; the descriptor stays open.
    const opened = fd;
    fd = -1;
    return fs.promises.copyFile(bytes, to, COPYFILE_EXCL).then(
      (): Copied => {
        fs.closeSync(opened);
        return { copied: true, st };
      },
      (err: unknown) => {
        fs.closeSync(opened);
        throw err;
      },
    );
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

async function copyCheckedAsync(from: string, to: string, want: Want): Promise<Copied> {
  let fd: number;
  try {
    fd = await openCb(from, SRC_FLAGS);
  } catch (err) {
    if (notAFile(err)) return { copied: false, st: await lstatCb(from).catch(() => null) };
    throw err;
  }
  try {
    const st = await fstatCb(fd);
    if (!wanted(st, want)) return { copied: false, st };
    await fs.promises.copyFile(PROC_FD ? `${PROC_FD}/${fd}` : from, to, COPYFILE_EXCL);
    return { copied: true, st };
  } finally {
    await closeCb(fd).catch(() => undefined);
  }
}

/** chmod without following: the entry opened with O_NOFOLLOW, then changed through its descriptor. */
function chmodSync(p: string, mode: number): void {
  const fd = fs.openSync(p, PROC_FD ? O_PATH | O_NOFOLLOW : O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    if (fs.fstatSync(fd).isSymbolicLink()) throw errnoError('ELOOP', 'chmod', p);
    if (PROC_FD) fs.chmodSync(`${PROC_FD}/${fd}`, mode);
    else fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
}

async function chmodAsync(p: string, mode: number): Promise<void> {
  const fd = await openCb(p, PROC_FD ? O_PATH | O_NOFOLLOW : O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    if ((await fstatCb(fd)).isSymbolicLink()) throw errnoError('ELOOP', 'chmod', p);
    if (PROC_FD) await chmodCb(`${PROC_FD}/${fd}`, mode);
    else await fchmodCb(fd, mode);
  } finally {
    await closeCb(fd).catch(() => undefined);
  }
}

const lstatCb = promisify(fs.lstat);
const readdirCb = promisify(fs.readdir);
const readlinkCb = promisify(fs.readlink);
const realpathCb = promisify(fs.realpath.native);
const openCb = promisify(fs.open);
const closeCb = promisify(fs.close);
const fstatCb = promisify(fs.fstat);
const chmodCb = promisify(fs.chmod);
const fchmodCb = promisify(fs.fchmod);

const syncRoots = realRoots();
const asyncRoots = realRoots();

/** node:fs, synchronous: local disks (see the top of this file). */
export const nodeSyncIo: Io = {
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
  copyChecked: copyCheckedSync,
  readlink: (p) => fs.readlinkSync(p, { encoding: 'buffer' }),
  rename: (a, b) => fs.renameSync(a, b),
  link: (a, b) => fs.linkSync(a, b),
  unlink: (p) => fs.unlinkSync(p),
  rmdir: (p) => fs.rmdirSync(p),
  mkdir: (p, m) => {
    fs.mkdirSync(p, { mode: m });
  },
  chmod: chmodSync,
  utimes: (p, a, m) => fs.utimesSync(p, a, m),
  lutimes: (p, a, m) => fs.lutimesSync(p, a, m),
  lchown: (p, u, g) => fs.lchownSync(p, u, g),
  symlink: (t, p) => fs.symlinkSync(t, p),
  ...(PROC_FD
    ? {
        openDir: (root: string, rel: string) => openDirSyncVia(syncRoots, root, rel),
        closeDir: (h: string) => {
          try {
            fs.closeSync(fdOf(h));
          } catch {
            // Never opened by us, or closed already: nothing to release.
          }
        },
      }
    : {}),
};

/** node:fs through the thread pool: network filesystems (see the top of this file). */
export const nodeAsyncIo: Io = {
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
  copyChecked: copyCheckedAsync,
  readlink: (p) => readlinkCb(p, { encoding: 'buffer' }),
  rename: promisify(fs.rename),
  link: promisify(fs.link),
  unlink: promisify(fs.unlink),
  rmdir: promisify(fs.rmdir),
  mkdir: async (p, m) => {
    await fs.promises.mkdir(p, { mode: m });
  },
  chmod: chmodAsync,
  utimes: promisify(fs.utimes),
  lutimes: promisify(fs.lutimes),
  lchown: promisify(fs.lchown),
  symlink: (t, p) => fs.promises.symlink(t, p),
  ...(PROC_FD
    ? {
        openDir: (root: string, rel: string) => openDirAsyncVia(asyncRoots, root, rel),
        // Closing a path handle asks nothing of the filesystem (not even NFS): done in place.
        closeDir: (h: string) => {
          try {
            fs.closeSync(fdOf(h));
          } catch {
            // Never opened by us, or closed already: nothing to release.
          }
        },
      }
    : {}),
};

/** Io without `openDir`: parents checked by real path before each call (no /proc; tests). */
export function pathOnly(io: Io): Io {
  const rest = { ...io };
  delete rest.openDir;
  delete rest.closeDir;
  return rest;
}

// The addon's Io where it is built (native-io.ts: *at calls, parents walked with O_NOFOLLOW, no
// need for /proc); node:fs otherwise. HA_SYNC_FASTSCAN=0 turns the addon off.
const addon = loadFastscan();
const fileops = addon && typeof addon.fileop === 'function' ? (addon as unknown as FileopsAddon) : null;

export const syncIo: Io = fileops ? nativeIo(fileops, nodeSyncIo, SYNC_COPY_MAX_BYTES) : nodeSyncIo;
export const asyncIo: Io = fileops ? nativeIo(fileops, nodeAsyncIo, SYNC_COPY_MAX_BYTES) : nodeAsyncIo;
