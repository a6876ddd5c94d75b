// Kept versions on real temp directories: copy and delete with `keep`, collisions, the rename
// fallback, check-before-write around the keep, the state directory's safety, expiry and listing,
// and conflict copies (moveAside).
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Expected } from '../src/core/index.js';
import { VERSIONS_DIR, versionName } from '../src/core/index.js';
import type { Io, KeepIo } from '../src/fsops/index.js';
import {
  asyncIo,
  checkStateDir,
  copyEntry,
  deleteEntry,
  expireVersions,
  TEMP_RE,
  keepPath,
  listVersions,
  moveAside,
  moveEntry,
  restoreEntry,
  syncIo,
} from '../src/fsops/index.js';

type Rename = (from: string, to: string) => void | Promise<void>;

/**
 * `io` whose renames (plain and no-replace, whichever the code under test uses) go through
 * `hook`, given the matching real call.
 */
function racingRenames(io: Io, hook: (from: string, to: string, real: Rename) => void | Promise<void>): Io {
  const noReplace = io.renameNoReplace;
  return {
    ...io,
    rename: (a, b) => hook(a, b, (x, y) => io.rename(x, y)),
    ...(noReplace
      ? { renameNoReplace: (a: string, b: string) => hook(a, b, (x, y) => noReplace(x, y)) }
      : {}),
  };
}

const NOW = Date.UTC(2026, 11, 4, 23, 15, 0, 250);
const DAY = 86_400_000;

let tmp: string;
let src: string;
let dest: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(join(tmpdir(), 'ha-versions-'));
  src = join(tmp, 'src');
  dest = join(tmp, 'dest');
  fs.mkdirSync(src);
  fs.mkdirSync(dest);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const exp = (p: string): Expected => {
  const st = fs.lstatSync(p);
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  return { kind, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
};
const put = (root: string, rel: string, body: string, mtimeS = 1_700_000_000): void => {
  fs.mkdirSync(join(root, rel, '..'), { recursive: true });
  fs.writeFileSync(join(root, rel), body);
  fs.utimesSync(join(root, rel), mtimeS, mtimeS);
};
const read = (root: string, rel: string): string => fs.readFileSync(join(root, rel), 'utf8');
/** Every file under `dir` (relative), sorted; symlinks listed, never followed. */
const tree = (dir: string): string[] => {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => !fs.lstatSync(join(dir, p)).isDirectory())
    .sort();
};
const noTemps = (dir: string): void =>
  expect(
    (fs.readdirSync(dir, { recursive: true }) as string[]).filter((p) => TEMP_RE.test(p.split('/').pop()!)),
  ).toEqual([]);
const errno = (code: string): NodeJS.ErrnoException =>
  Object.assign(new Error(code), { code, syscall: 'link' });

describe.each([
  ['sync', syncIo],
  ['async', asyncIo],
] as const)('copyEntry with keep (%s io)', (_n, io) => {
  it('keeps the replaced file under its folder, hard-linked, with its own mtime', async () => {
    put(src, 'docs/a.txt', 'new!', 1_800_000_000);
    put(dest, 'docs/a.txt', 'old', 1_700_000_000);
    const inode = fs.statSync(join(dest, 'docs/a.txt')).ino;
    const r = await copyEntry(
      src,
      dest,
      'docs/a.txt',
      { src: exp(join(src, 'docs/a.txt')), dest: exp(join(dest, 'docs/a.txt')) },
      { io, keep: { nowMs: NOW } },
    );
    const kept = `${VERSIONS_DIR}/docs/a~20261204-231500.txt`;
    expect(r).toEqual({ ok: true, bytes: 4, kept });
    expect(read(dest, 'docs/a.txt')).toBe('new!');
    expect(read(dest, kept)).toBe('old');
    const st = fs.statSync(join(dest, kept));
    expect(st.ino).toBe(inode); // the same file, moved by name: no bytes copied
    expect(st.nlink).toBe(1);
    expect(st.mtimeMs).toBe(1_700_000_000_000);
    noTemps(dest);
  });

  it('keeps nothing for a create, and nothing without keep', async () => {
    put(src, 'a', 'x');
    expect(
      await copyEntry(src, dest, 'a', { src: exp(join(src, 'a')), dest: null }, { io, keep: { nowMs: NOW } }),
    ).toEqual({ ok: true, bytes: 1 });
    put(src, 'a', 'yy', 1_800_000_000);
    const r = await copyEntry(
      src,
      dest,
      'a',
      { src: exp(join(src, 'a')), dest: exp(join(dest, 'a')) },
      { io },
    );
    expect(r).toEqual({ ok: true, bytes: 2 });
    expect(fs.existsSync(join(dest, '.ha-sync'))).toBe(false);
  });

  it('keeps a replaced symlink as a symlink (never its target)', async () => {
    fs.symlinkSync('new-target', join(src, 'l'));
    fs.symlinkSync('old-target', join(dest, 'l'));
    const r = await copyEntry(
      src,
      dest,
      'l',
      { src: exp(join(src, 'l')), dest: exp(join(dest, 'l')) },
      { io, keep: { nowMs: NOW } },
    );
    expect(r).toMatchObject({ ok: true, kept: `${VERSIONS_DIR}/l~20261204-231500` });
    expect(fs.readlinkSync(join(dest, 'l'))).toBe('new-target');
    expect(fs.readlinkSync(join(dest, `${VERSIONS_DIR}/l~20261204-231500`))).toBe('old-target');
  });

  it('adds -1, -2 to versions of one path kept in the same second, never overwriting one', async () => {
    const kept: string[] = [];
    for (let i = 0; i < 3; i++) {
      put(src, 'a.txt', `v${i + 1}`, 1_700_000_100 + i);
      if (i === 0) put(dest, 'a.txt', 'v0', 1_700_000_000);
      const r = await copyEntry(
        src,
        dest,
        'a.txt',
        { src: exp(join(src, 'a.txt')), dest: exp(join(dest, 'a.txt')) },
        { io, keep: { nowMs: NOW + i } },
      );
      expect(r.ok).toBe(true);
      if (r.ok) kept.push(r.kept!);
    }
    expect(kept).toEqual([
      `${VERSIONS_DIR}/a~20261204-231500.txt`,
      `${VERSIONS_DIR}/a~20261204-231500-1.txt`,
      `${VERSIONS_DIR}/a~20261204-231500-2.txt`,
    ]);
    expect(kept.map((k) => read(dest, k))).toEqual(['v0', 'v1', 'v2']);
  });

  it('falls back to a rename when the filesystem refuses the hard link', async () => {
    const noLink: KeepIo = {
      ...io,
      link: () => {
        throw errno('EPERM');
      },
    };
    put(src, 'a.txt', 'new!', 1_800_000_000);
    put(dest, 'a.txt', 'old', 1_700_000_000);
    const r = await copyEntry(
      src,
      dest,
      'a.txt',
      { src: exp(join(src, 'a.txt')), dest: exp(join(dest, 'a.txt')) },
      { io: noLink, keep: { nowMs: NOW } },
    );
    expect(r).toEqual({ ok: true, bytes: 4, kept: `${VERSIONS_DIR}/a~20261204-231500.txt` });
    expect(read(dest, 'a.txt')).toBe('new!');
    expect(read(dest, `${VERSIONS_DIR}/a~20261204-231500.txt`)).toBe('old');
    noTemps(dest);
  });

  it('takes the next name when one is claimed first, and remakes a folder expiry just removed', async () => {
    put(src, 'd/a.txt', 'new!', 1_800_000_000);
    put(dest, 'd/a.txt', 'old', 1_700_000_000);
    let calls = 0;
    const racing = racingRenames(io, (a, b, real) => {
      if (b.includes('/.ha-sync/') || b.includes('/proc/self/fd/')) {
        if (a.endsWith('a.txt') && !a.includes('.ha-sync-')) {
          calls++;
          // Expiry removed the empty folder (reached through its open directory: its real path).
          if (calls === 1) fs.rmdirSync(fs.realpathSync(join(b, '..')));
          if (calls === 2) fs.writeFileSync(b, 'claimed by someone else');
        }
      }
      return real(a, b);
    });
    const r = await copyEntry(
      src,
      dest,
      'd/a.txt',
      { src: exp(join(src, 'd/a.txt')), dest: exp(join(dest, 'd/a.txt')) },
      { io: racing, keep: { nowMs: NOW } },
    );
    expect(r).toEqual({ ok: true, bytes: 4, kept: `${VERSIONS_DIR}/d/a~20261204-231500-1.txt` });
    expect(calls).toBe(3);
    expect(read(dest, `${VERSIONS_DIR}/d/a~20261204-231500.txt`)).toBe('claimed by someone else');
    expect(read(dest, `${VERSIONS_DIR}/d/a~20261204-231500-1.txt`)).toBe('old');
  });

  it('a file another writer creates right before a copy lands is never replaced', async () => {
    put(src, 'n.txt', 'ours', 1_800_000_000);
    const racing = racingRenames(io, (a, b, real) => {
      if (b.endsWith('n.txt')) fs.writeFileSync(join(dest, 'n.txt'), 'theirs, made meanwhile');
      return real(a, b);
    });
    const noLinkRace: Io = {
      ...racing,
      link: (a, b) => {
        if (b.endsWith('n.txt')) fs.writeFileSync(join(dest, 'n.txt'), 'theirs, made meanwhile');
        return io.link(a, b);
      },
    };
    const r = await copyEntry(
      src,
      dest,
      'n.txt',
      { src: exp(join(src, 'n.txt')), dest: null },
      { io: noLinkRace },
    );
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'n.txt')).toBe('theirs, made meanwhile');
    noTemps(dest);
  });

  it('a save that lands between the keep and the final rename is never replaced: both are kept', async () => {
    put(src, 'a.txt', 'new!', 1_800_000_000);
    put(dest, 'a.txt', 'old', 1_700_000_000);
    const planned = exp(join(dest, 'a.txt'));
    let once = true;
    const racing = racingRenames(io, (a, b, real) => {
      const r = real(a, b);
      // Right after the old entry went to the versions area, another writer saves the file.
      if (once && b.includes('a~')) {
        once = false;
        return Promise.resolve(r).then(() => fs.writeFileSync(join(dest, 'a.txt'), 'a save by the user'));
      }
      return r;
    });
    const r = await copyEntry(
      src,
      dest,
      'a.txt',
      { src: exp(join(src, 'a.txt')), dest: planned },
      { io: racing, keep: { nowMs: NOW } },
    );
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'a.txt')).toBe('a save by the user');
    expect(tree(join(dest, VERSIONS_DIR))).toEqual(['a~20261204-231500.txt']);
    expect(read(dest, `${VERSIONS_DIR}/a~20261204-231500.txt`)).toBe('old');
    noTemps(dest);
  });

  it('moves back a file that changed while renamed aside (rename fallback)', async () => {
    put(src, 'a.txt', 'new!', 1_800_000_000);
    put(dest, 'a.txt', 'old', 1_700_000_000);
    const planned = exp(join(dest, 'a.txt'));
    let once = true;
    const racing: KeepIo = {
      ...io,
      ...racingRenames(io, (a, b, real) => {
        if (once && a === join(dest, 'a.txt')) {
          once = false;
          fs.writeFileSync(a, 'a save by the user, longer');
        }
        return real(a, b);
      }),
      link: () => {
        throw errno('EXDEV');
      },
    };
    const r = await copyEntry(
      src,
      dest,
      'a.txt',
      { src: exp(join(src, 'a.txt')), dest: planned },
      { io: racing, keep: { nowMs: NOW } },
    );
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'a.txt')).toBe('a save by the user, longer');
    expect(tree(join(dest, VERSIONS_DIR))).toEqual([]);
    noTemps(dest);
  });

  it('does not keep or write once the lock is lost', async () => {
    put(src, 'a', 'new!', 1_800_000_000);
    put(dest, 'a', 'old');
    const ac = new AbortController();
    ac.abort();
    const r = await copyEntry(
      src,
      dest,
      'a',
      { src: exp(join(src, 'a')), dest: exp(join(dest, 'a')) },
      { io, keep: { nowMs: NOW }, lost: ac.signal },
    );
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'a')).toBe('old');
    expect(fs.existsSync(join(dest, '.ha-sync'))).toBe(false);
  });
});

describe.each([
  ['sync', syncIo],
  ['async', asyncIo],
] as const)('deleteEntry with keep (%s io)', (_n, io) => {
  it('moves a deleted file into the versions area', async () => {
    put(dest, 'x/y/a.txt', 'bye');
    const r = await deleteEntry(dest, 'x/y/a.txt', exp(join(dest, 'x/y/a.txt')), {
      io,
      keep: { nowMs: NOW },
    });
    expect(r).toEqual({ ok: true, bytes: 0, kept: `${VERSIONS_DIR}/x/y/a~20261204-231500.txt` });
    expect(fs.existsSync(join(dest, 'x/y/a.txt'))).toBe(false);
    expect(read(dest, `${VERSIONS_DIR}/x/y/a~20261204-231500.txt`)).toBe('bye');
  });

  it('removes an empty directory as before (directories are never versioned)', async () => {
    fs.mkdirSync(join(dest, 'd'));
    const r = await deleteEntry(dest, 'd', exp(join(dest, 'd')), { io, keep: { nowMs: NOW } });
    expect(r).toEqual({ ok: true, bytes: 0 });
    expect(fs.existsSync(join(dest, 'd'))).toBe(false);
    expect(fs.existsSync(join(dest, '.ha-sync'))).toBe(false);
  });

  it('puts back a file that changed between the check and the move', async () => {
    put(dest, 'a.txt', 'bye');
    const planned = exp(join(dest, 'a.txt'));
    const racing = racingRenames(io, (a, b, real) => {
      if (a === join(dest, 'a.txt')) fs.writeFileSync(a, 'edited at the last moment');
      return real(a, b);
    });
    const r = await deleteEntry(dest, 'a.txt', planned, { io: racing, keep: { nowMs: NOW } });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'a.txt')).toBe('edited at the last moment');
    expect(tree(join(dest, VERSIONS_DIR))).toEqual([]);
  });

  it('keeps both when the name is taken again while the changed file is aside', async () => {
    put(dest, 'a.txt', 'bye');
    const planned = exp(join(dest, 'a.txt'));
    let step = 0;
    const racing = racingRenames(io, async (a, b, real) => {
      if (step++ === 0) {
        fs.writeFileSync(a, 'edited at the last moment');
        await real(a, b);
        fs.writeFileSync(a, 'and a new file saved under the name');
        return;
      }
      return real(a, b);
    });
    const r = await deleteEntry(dest, 'a.txt', planned, { io: racing, keep: { nowMs: NOW } });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    if (!r.ok) expect(r.reason).toMatch(/kept as '\.ha-sync\/versions\/a~20261204-231500\.txt'/);
    expect(read(dest, 'a.txt')).toBe('and a new file saved under the name');
    expect(read(dest, `${VERSIONS_DIR}/a~20261204-231500.txt`)).toBe('edited at the last moment');
  });

  it('refuses a path inside .ha-sync/', async () => {
    put(dest, '.ha-sync/versions/a~20261204-231500', 'v');
    const r = await deleteEntry(
      dest,
      '.ha-sync/versions/a~20261204-231500',
      exp(join(dest, '.ha-sync/versions/a~20261204-231500')),
      {
        io,
        keep: { nowMs: NOW },
      },
    );
    expect(r).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
  });
});

describe('the state directory must be a real directory', () => {
  const outside = (): string => {
    const o = join(tmp, 'outside');
    fs.mkdirSync(o, { recursive: true });
    return o;
  };

  it('checkStateDir: absent or a directory is fine; a symlink or a file is refused', async () => {
    expect(await checkStateDir(dest)).toBeNull();
    fs.mkdirSync(join(dest, '.ha-sync/versions'), { recursive: true });
    expect(await checkStateDir(dest)).toBeNull();
    fs.rmSync(join(dest, '.ha-sync'), { recursive: true });
    fs.symlinkSync(outside(), join(dest, '.ha-sync'));
    expect(await checkStateDir(dest)).toMatch(/\.ha-sync' is a symlink, not a directory/);
    fs.unlinkSync(join(dest, '.ha-sync'));
    fs.writeFileSync(join(dest, '.ha-sync'), '');
    expect(await checkStateDir(dest)).toMatch(/\.ha-sync' is a file/);
    fs.unlinkSync(join(dest, '.ha-sync'));
    fs.mkdirSync(join(dest, '.ha-sync'));
    fs.symlinkSync(outside(), join(dest, '.ha-sync/versions'));
    expect(await checkStateDir(dest)).toMatch(/\.ha-sync\/versions' is a symlink/);
    expect(await checkStateDir(dest, asyncIo)).toMatch(/\.ha-sync\/versions' is a symlink/);
  });

  it.each([
    ['.ha-sync is a symlink', '.ha-sync'],
    ['.ha-sync/versions is a symlink', '.ha-sync/versions'],
    ['a folder of the versions area is a symlink', '.ha-sync/versions/docs'],
  ])('%s: copy and delete with keep write nothing, through it or to dest', async (_w, link) => {
    const o = outside();
    fs.mkdirSync(join(dest, link, '..'), { recursive: true });
    fs.symlinkSync(o, join(dest, link));
    put(src, 'docs/a.txt', 'new!', 1_800_000_000);
    put(dest, 'docs/a.txt', 'old');
    put(dest, 'docs/b.txt', 'b');
    const c = await copyEntry(
      src,
      dest,
      'docs/a.txt',
      { src: exp(join(src, 'docs/a.txt')), dest: exp(join(dest, 'docs/a.txt')) },
      { keep: { nowMs: NOW } },
    );
    expect(c).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    const d = await deleteEntry(dest, 'docs/b.txt', exp(join(dest, 'docs/b.txt')), { keep: { nowMs: NOW } });
    expect(d).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(read(dest, 'docs/a.txt')).toBe('old');
    expect(read(dest, 'docs/b.txt')).toBe('b');
    expect(tree(o)).toEqual([]);
    noTemps(join(dest, 'docs'));
  });

  it('expireVersions and listVersions refuse a symlinked .ha-sync (and read nothing behind it)', async () => {
    const o = outside();
    put(o, `versions/a~20000101-000000.txt`, 'not ours to delete');
    fs.symlinkSync(o, join(dest, '.ha-sync'));
    await expect(expireVersions(dest, 0, NOW)).rejects.toMatchObject({ code: 'STATE_DIR_UNSAFE' });
    await expect(listVersions(dest)).rejects.toMatchObject({ code: 'STATE_DIR_UNSAFE' });
    await expect(keepPath(dest, 'a.txt', NOW)).rejects.toMatchObject({ code: 'STATE_DIR_UNSAFE' });
    expect(tree(o)).toEqual(['versions/a~20000101-000000.txt']);
  });

  it('keepPath creates the folders (0755) and offers the first free name', async () => {
    expect(await keepPath(dest, 'x/y/a.txt', NOW)).toBe(`${VERSIONS_DIR}/x/y/a~20261204-231500.txt`);
    expect(fs.statSync(join(dest, VERSIONS_DIR, 'x/y')).mode & 0o777).toBe(0o755 & ~process.umask());
    put(dest, `${VERSIONS_DIR}/x/y/a~20261204-231500.txt`, 'taken');
    fs.mkdirSync(join(dest, `${VERSIONS_DIR}/x/y/a~20261204-231500-1.txt`)); // a folder by that name
    expect(await keepPath(dest, 'x/y/a.txt', NOW + 700)).toBe(`${VERSIONS_DIR}/x/y/a~20261204-231500-2.txt`);
    await expect(keepPath(dest, '../a', NOW)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });
});

describe('expireVersions', () => {
  const at = (rel: string, ms: number, body = 'v', n = 0): string => {
    const v = versionName(rel, ms, n);
    put(dest, v, body);
    return v;
  };

  it('removes by the time in the name, empties folders, leaves names it cannot parse', async () => {
    const old1 = at('docs/a.txt', NOW - 31 * DAY, 'old');
    const old2 = at('deep/er/b', NOW - 40 * DAY);
    const fresh = at('docs/a.txt', NOW - 29 * DAY, 'fresh!');
    const future = at('c', NOW + DAY);
    put(dest, `${VERSIONS_DIR}/docs/notes.txt`, 'not a version name'); // mtime 2023: still left
    put(dest, `${VERSIONS_DIR}/stray/a~20261304-000000.txt`, 'month 13');
    fs.mkdirSync(join(dest, `${VERSIONS_DIR}/empty/already`), { recursive: true });
    const r = await expireVersions(dest, 30, NOW);
    expect(r).toEqual({
      removed: 2,
      files: 4,
      bytes: 'fresh!'.length + 1 + 'not a version name'.length + 'month 13'.length,
      oldestMs: Math.floor((NOW - 29 * DAY) / 1000) * 1000,
    });
    for (const gone of [old1, old2]) expect(fs.existsSync(join(dest, gone))).toBe(false);
    for (const kept of [fresh, future]) expect(fs.existsSync(join(dest, kept))).toBe(true);
    expect(fs.existsSync(join(dest, `${VERSIONS_DIR}/deep`))).toBe(false);
    expect(fs.existsSync(join(dest, `${VERSIONS_DIR}/empty`))).toBe(false);
    expect(tree(join(dest, VERSIONS_DIR))).toEqual(
      [
        'c~20261205-231500',
        'docs/a~20261105-231500.txt',
        'docs/notes.txt',
        'stray/a~20261304-000000.txt',
      ].sort(),
    );
  });

  it('0 keeps none; the versions root itself stays', async () => {
    at('a', NOW - 1);
    at('b/c', NOW + 5 * DAY);
    expect(await expireVersions(dest, 0, NOW, asyncIo)).toEqual({
      removed: 2,
      files: 0,
      bytes: 0,
      oldestMs: null,
    });
    expect(fs.readdirSync(join(dest, VERSIONS_DIR))).toEqual([]);
  });

  it('no versions area: nothing to do', async () => {
    expect(await expireVersions(dest, 30, NOW)).toEqual({ removed: 0, files: 0, bytes: 0, oldestMs: null });
    expect(fs.existsSync(join(dest, '.ha-sync'))).toBe(false);
  });

  it('never follows a symlink: a linked folder is left, a kept symlink is removed as a link', async () => {
    const o = join(tmp, 'outside');
    put(o, 'a~20000101-000000.txt', 'outside');
    fs.mkdirSync(join(dest, VERSIONS_DIR), { recursive: true });
    fs.symlinkSync(o, join(dest, VERSIONS_DIR, 'linked'));
    fs.symlinkSync(join(o, 'a~20000101-000000.txt'), join(dest, versionName('l', NOW - 100 * DAY)));
    const r = await expireVersions(dest, 30, NOW);
    expect(r.removed).toBe(1);
    expect(read(o, 'a~20000101-000000.txt')).toBe('outside');
    expect(fs.lstatSync(join(dest, VERSIONS_DIR, 'linked')).isSymbolicLink()).toBe(true);
  });

  it('walks a wide and deep tree one folder at a time', async () => {
    for (let i = 0; i < 300; i++) at(`d${i % 7}/e${i % 3}/f${i}.bin`, NOW - (i % 2 ? 60 : 1) * DAY);
    const r = await expireVersions(dest, 30, NOW);
    expect(r.removed).toBe(150);
    expect(r.files).toBe(150);
    expect(tree(join(dest, VERSIONS_DIR))).toHaveLength(150);
  });

  it('rejects a negative or fractional keepDays', async () => {
    await expect(expireVersions(dest, -1, NOW)).rejects.toThrow(RangeError);
    await expect(expireVersions(dest, 1.5, NOW)).rejects.toThrow(RangeError);
  });
});

describe('listVersions', () => {
  it('lists newest first (the counter breaks ties), filtered by path or folder', async () => {
    const v1 = versionName('docs/a.txt', NOW - DAY);
    const v2 = versionName('docs/a.txt', NOW);
    const v3 = versionName('docs/a.txt', NOW, 1);
    const v4 = versionName('docs/sub/b.txt', NOW - 2 * DAY);
    const v5 = versionName('other', NOW - 3 * DAY);
    for (const v of [v1, v2, v3, v4, v5]) put(dest, v, 'x');
    put(dest, `${VERSIONS_DIR}/docs/README`, 'not a version');
    fs.symlinkSync('t', join(dest, versionName('docs/ln', NOW - 5 * DAY)));
    const all = await listVersions(dest);
    expect(all.map((k) => k.version)).toEqual([v3, v2, v1, v4, v5, versionName('docs/ln', NOW - 5 * DAY)]);
    expect(all[0]).toMatchObject({
      path: 'docs/a.txt',
      name: 'a~20261204-231500-1.txt',
      keptAtMs: Math.floor(NOW / 1000) * 1000,
      n: 1,
      kind: 'file',
      size: 1,
    });
    expect(all.at(-1)).toMatchObject({ path: 'docs/ln', kind: 'symlink', size: 1 });
    expect((await listVersions(dest, 'docs/a.txt')).map((k) => k.version)).toEqual([v3, v2, v1]);
    expect((await listVersions(dest, 'docs')).map((k) => k.path)).toEqual([
      'docs/a.txt',
      'docs/a.txt',
      'docs/a.txt',
      'docs/sub/b.txt',
      'docs/ln',
    ]);
    expect(await listVersions(dest, 'nothing/here')).toEqual([]);
    await expect(listVersions(dest, '/etc/passwd')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });
});

describe('moveAside (conflict copies)', () => {
  const aside = 'docs/a.sync-conflict-20261204-231500-hp.txt';

  it('renames within the folder when the file is as expected and the name is free', async () => {
    put(dest, 'docs/a.txt', 'loser');
    const r = await moveAside(dest, 'docs/a.txt', exp(join(dest, 'docs/a.txt')), aside);
    expect(r).toEqual({ ok: true, bytes: 0 });
    expect(read(dest, aside)).toBe('loser');
    expect(fs.existsSync(join(dest, 'docs/a.txt'))).toBe(false);
  });

  it('never clobbers the new name, and leaves a changed file alone', async () => {
    put(dest, 'docs/a.txt', 'loser');
    put(dest, aside, 'someone else');
    const planned = exp(join(dest, 'docs/a.txt'));
    expect(await moveAside(dest, 'docs/a.txt', planned, aside)).toMatchObject({
      ok: false,
      code: 'CHANGED_UNDER_US',
    });
    expect(read(dest, aside)).toBe('someone else');
    fs.unlinkSync(join(dest, aside));
    fs.writeFileSync(join(dest, 'docs/a.txt'), 'edited since planned');
    expect(await moveAside(dest, 'docs/a.txt', planned, aside)).toMatchObject({
      ok: false,
      code: 'CHANGED_UNDER_US',
    });
    expect(read(dest, 'docs/a.txt')).toBe('edited since planned');
    expect(fs.existsSync(join(dest, aside))).toBe(false);
  });

  it('moves back a file that changed between the check and the rename', async () => {
    put(dest, 'docs/a.txt', 'loser');
    const planned = exp(join(dest, 'docs/a.txt'));
    let once = true;
    const racing = racingRenames(syncIo, (a, b, real) => {
      if (once) fs.writeFileSync(a, 'a last-moment save');
      once = false;
      return real(a, b);
    });
    const r = await moveAside(dest, 'docs/a.txt', planned, aside, { io: racing });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(read(dest, 'docs/a.txt')).toBe('a last-moment save');
    expect(fs.existsSync(join(dest, aside))).toBe(false);
  });

  it('refuses another folder, a directory and the state directory', async () => {
    put(dest, 'docs/a.txt', 'x');
    fs.mkdirSync(join(dest, 'd'));
    const e = exp(join(dest, 'docs/a.txt'));
    expect(await moveAside(dest, 'docs/a.txt', e, 'a.sync-conflict-20261204-231500-hp.txt')).toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(await moveAside(dest, 'd', exp(join(dest, 'd')), 'd2')).toMatchObject({ ok: false, code: 'IO' });
    expect(await moveAside(dest, 'docs/a.txt', e, '../a')).toMatchObject({ code: 'UNSAFE_PATH' });
    expect(read(dest, 'docs/a.txt')).toBe('x');
  });
});

describe('restoreEntry', () => {
  it('copies a version back with the given mtime, keeping the file it replaces; the version stays', async () => {
    const v = versionName('a.txt', NOW - DAY);
    put(dest, v, 'the good one', 1_600_000_000);
    put(dest, 'a.txt', 'damaged', 1_700_000_000);
    const r = await restoreEntry(
      dest,
      v,
      'a.txt',
      { src: exp(join(dest, v)), dest: exp(join(dest, 'a.txt')) },
      { keep: { nowMs: NOW }, mtimeMs: NOW },
    );
    expect(r).toEqual({ ok: true, bytes: 12, kept: `${VERSIONS_DIR}/a~20261204-231500.txt` });
    expect(read(dest, 'a.txt')).toBe('the good one');
    expect(fs.statSync(join(dest, 'a.txt')).mtimeMs).toBe(NOW);
    expect(read(dest, v)).toBe('the good one');
    expect(read(dest, `${VERSIONS_DIR}/a~20261204-231500.txt`)).toBe('damaged');
  });

  it('refuses a source that is not a kept version', async () => {
    put(dest, 'b.txt', 'x');
    const r = await restoreEntry(
      dest,
      'b.txt',
      'a.txt',
      { src: exp(join(dest, 'b.txt')), dest: null },
      { mtimeMs: NOW },
    );
    expect(r).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(fs.existsSync(join(dest, 'a.txt'))).toBe(false);
  });
});

describe('moveEntry where the filesystem has no RENAME_NOREPLACE (NFS)', () => {
  /** syncIo as NFS shows it: no RENAME_NOREPLACE, and a stat of `hidden` answered from a cache. */
  const nfsLike = (hidden: string): Io => ({
    ...syncIo,
    renameNoReplace: () => {
      throw Object.assign(new Error('EINVAL: invalid argument'), { code: 'EINVAL' });
    },
    lstat: (p: string) => (p === hidden ? null : syncIo.lstat(p)),
  });
  const names = (dir: string): string[] => fs.readdirSync(dir).sort();

  it('moves a file, and leaves no other name behind', async () => {
    fs.writeFileSync(join(dest, 'a.txt'), 'moved');
    const r = await moveEntry(dest, 'a.txt', exp(join(dest, 'a.txt')), 'b.txt', { io: nfsLike('') });
    expect(r.ok).toBe(true);
    expect(names(dest)).toEqual(['b.txt']);
    expect(fs.readFileSync(join(dest, 'b.txt'), 'utf8')).toBe('moved');
  });

  it('never replaces a file another host made at the new name, though a cached stat hides it', async () => {
    fs.writeFileSync(join(dest, 'a.txt'), 'moved');
    fs.writeFileSync(join(dest, 'b.txt'), "another host's");
    const io = nfsLike(join(dest, 'b.txt'));
    const r = await moveEntry(dest, 'a.txt', exp(join(dest, 'a.txt')), 'b.txt', { io });
    expect(r.ok).toBe(false);
    expect(fs.readFileSync(join(dest, 'b.txt'), 'utf8')).toBe("another host's");
    expect(fs.readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('moved');
    expect(names(dest)).toEqual(['a.txt', 'b.txt']);
  });
});
