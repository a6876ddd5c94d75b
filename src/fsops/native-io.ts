// The Io of the addon (native/fileops.c): the calls of fsops made relative to open directories
// with the *at system calls, so they do not depend on /proc being mounted, and the parents are
// opened component by component with O_NOFOLLOW. Chosen by io.ts wherever the addon is built.
//
// A directory `openDir` opened is named `/proc/self/fd/<n>`, as node:fs names one (io.ts): a path
// `/proc/self/fd/<n>/<name>` whose descriptor this Io opened is taken apart and reached as
// (fd n, name); any other path is used as it is (relative to the working directory). Reading a
// directory and real paths (scans, path checks) stay with node:fs (`base`).
//
// Synchronous calls where `base` is (local disks: one call costs a microsecond, a thread hop ten);
// thread pool calls where it is asynchronous (network filesystems), and for copies of more than
// SYNC_COPY_MAX_BYTES, which stream in chunks on a pool thread whatever their size.
import * as fs from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import type { Copied, Io, OpenDirError, Want } from './io.js';

type Result = Float64Array | Buffer;

export interface FileopsAddon {
  fileop(
    op: number,
    async: boolean,
    fd1: number,
    name1: string | Buffer | null,
    fd2: number,
    name2: string | Buffer | null,
    nums: Float64Array | null,
  ): Result | Promise<Result>;
  fileopSyscalls: string[];
}

/** The addon's operation numbers (native/fileops.c OP_*). */
const OP = {
  openDir: 0,
  close: 1,
  lstat: 2,
  readlink: 3,
  symlink: 4,
  mkdir: 5,
  rename: 6,
  link: 7,
  unlink: 8,
  rmdir: 9,
  chmod: 10,
  utimes: 11,
  chown: 12,
  copy: 13,
} as const;

const AT_FDCWD = -100;
const HANDLE = '/proc/self/fd/';

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFBLK, S_IFCHR } = fs.constants;

/**
 * What lstat answers, from the addon's numbers (out[3..12]): the fields and kind tests fsops reads,
 * in a class of its own (fs.Stats' constructor is deprecated and its internals vary by version).
 */
class NativeStats {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev = 0;
  readonly size: number;
  readonly blksize = 0;
  readonly blocks = 0;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs = 0;
  constructor(out: Float64Array) {
    this.mode = out[3]!;
    this.size = out[4]!;
    this.mtimeMs = out[5]!;
    this.uid = out[6]!;
    this.gid = out[7]!;
    this.ino = out[8]!;
    this.dev = out[9]!;
    this.nlink = out[10]!;
    this.atimeMs = out[11]!;
    this.ctimeMs = out[12]!;
  }
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  private is(type: number): boolean {
    return (this.mode & S_IFMT) === type;
  }
  isFile(): boolean {
    return this.is(S_IFREG);
  }
  isDirectory(): boolean {
    return this.is(S_IFDIR);
  }
  isSymbolicLink(): boolean {
    return this.is(S_IFLNK);
  }
  isFIFO(): boolean {
    return this.is(S_IFIFO);
  }
  isSocket(): boolean {
    return this.is(S_IFSOCK);
  }
  isBlockDevice(): boolean {
    return this.is(S_IFBLK);
  }
  isCharacterDevice(): boolean {
    return this.is(S_IFCHR);
  }
}

function statsOf(out: Float64Array): fs.Stats {
  return new NativeStats(out);
}

/**
 * An Io over the addon. `base` answers what is not a write (readdir, realpath) and decides sync or
 * async; `syncCopyMax`: larger copies go to the thread pool (io.ts SYNC_COPY_MAX_BYTES).
 */
export function nativeIo(addon: FileopsAddon, base: Io, syncCopyMax: number): Io {
  const ours = new Set<number>();
  const pool = base.kind === 'async';
  const syscalls = addon.fileopSyscalls;

  /** (descriptor, name) for a path: through a directory this Io opened, else the path itself. */
  const at = (p: string): [number, string] => {
    if (p.startsWith(HANDLE)) {
      const slash = p.indexOf('/', HANDLE.length);
      const fd = Number(p.slice(HANDLE.length, slash < 0 ? undefined : slash));
      if (slash > 0 && ours.has(fd)) return [fd, p.slice(slash + 1)];
    }
    return [AT_FDCWD, p];
  };

  /** The error node:fs would throw; openDir's says whether the root itself failed (out[3]). */
  const failed = (op: number, out: Float64Array, path: string): OpenDirError => {
    const errno = out[0]!;
    const syscall = syscalls[out[1]!] || 'fs';
    const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'error'];
    return Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}'`), {
      errno: -errno,
      code,
      syscall,
      path,
      ...(op === OP.openDir && out[3] === 1 ? { atRoot: true } : {}),
    });
  };

  /** Runs one operation (on the pool when `inPool`), throwing its error like node:fs. */
  function call<T>(
    inPool: boolean,
    op: number,
    path: string,
    args: [number, string | Buffer | null, number, string | Buffer | null, number[] | null],
    then: (r: Result) => T,
  ): T | Promise<T> {
    const nums = args[4] ? Float64Array.from(args[4]) : null;
    const done = (r: Result): T => {
      if (!Buffer.isBuffer(r) && r[0] !== 0) throw failed(op, r, path);
      return then(r);
    };
    const r = addon.fileop(op, inPool, args[0], args[1], args[2], args[3], nums);
    return r instanceof Promise ? r.then(done) : done(r);
  }

  const on = (op: number, p: string, nums: number[] | null = null): void | Promise<void> => {
    const [fd, name] = at(p);
    return call(pool, op, p, [fd, name, AT_FDCWD, null, nums], () => undefined);
  };
  const pair = (op: number, a: string, b: string, nums: number[] | null = null): void | Promise<void> => {
    const [fa, na] = at(a);
    const [fb, nb] = at(b);
    return call(pool, op, a, [fa, na, fb, nb, nums], () => undefined);
  };

  return {
    kind: base.kind,
    lstat: (p) => {
      const [fd, name] = at(p);
      return call(pool, OP.lstat, p, [fd, name, AT_FDCWD, null, null], (r) =>
        (r as Float64Array)[2] === 0 ? null : statsOf(r as Float64Array),
      );
    },
    readdir: (p) => base.readdir(p),
    readdirNames: (p) => base.readdirNames(p),
    realpath: (p) => base.realpath(p),
    copyChecked: (from: string, to: string, want: Want) => {
      const [sfd, sname] = at(from);
      const [dfd, dname] = at(to);
      return call(
        pool || want.size > syncCopyMax,
        OP.copy,
        from,
        [sfd, sname, dfd, dname, [want.size, want.mtimeMs]],
        (r): Copied => {
          const out = r as Float64Array;
          if (out[2] === 2) return { copied: true, st: statsOf(out) };
          return { copied: false, st: out[2] === 0 ? null : statsOf(out) };
        },
      );
    },
    readlink: (p) => {
      const [fd, name] = at(p);
      return call(pool, OP.readlink, p, [fd, name, AT_FDCWD, null, null], (r) => r as Buffer);
    },
    rename: (a, b) => pair(OP.rename, a, b),
    renameNoReplace: (a, b) => pair(OP.rename, a, b, [1]),
    link: (a, b) => pair(OP.link, a, b),
    unlink: (p) => on(OP.unlink, p),
    rmdir: (p) => on(OP.rmdir, p),
    mkdir: (p, mode) => on(OP.mkdir, p, [mode]),
    chmod: (p, mode) => on(OP.chmod, p, [mode]),
    utimes: (p, a, m) => on(OP.utimes, p, [a, m, 0]),
    lutimes: (p, a, m) => on(OP.utimes, p, [a, m, 1]),
    lchown: (p, uid, gid) => on(OP.chown, p, [uid, gid]),
    symlink: (target, p) => {
      const [fd, name] = at(p);
      const t = typeof target === 'string' ? Buffer.from(target) : target;
      return call(pool, OP.symlink, p, [fd, name, AT_FDCWD, t, null], () => undefined);
    },
    openDir: (root, rel) =>
      call(pool, OP.openDir, `${root}/${rel}`, [AT_FDCWD, root, AT_FDCWD, rel, null], (r) => {
        const fd = (r as Float64Array)[2]!;
        ours.add(fd);
        return `${HANDLE}${fd}`;
      }),
    closeDir: (h) => {
      const fd = Number(h.slice(HANDLE.length));
      if (!ours.delete(fd)) return;
      // Closing an O_PATH handle asks nothing of the filesystem (not even NFS): done in place.
      void addon.fileop(OP.close, false, fd, null, AT_FDCWD, null, null);
    },
  };
}
