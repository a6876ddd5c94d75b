// fsops on real temp directories: check-before-write, temp + rename, path safety, scanning.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Expected } from '../src/core/index.js';
import type { Io } from '../src/fsops/index.js';
import {
  asyncIo,
  copyEntry,
  deleteEntry,
  fsTypeOf,
  isNetworkFs,
  isTempName,
  Limiter,
  md5File,
  moveAside,
  nodeAsyncIo,
  nodeSyncIo,
  pack,
  pathOnly,
  parseMountinfo,
  scanDir,
  unpack,
  syncIo,
  tempName,
  TEMP_RE,
  touchEntry,
  unsafeRelPath,
} from '../src/fsops/index.js';

const ROOT_ID = '0123456789abcdef';
let root: string;
let src: string;
let dest: string;

beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'ha-fsops-'));
  src = join(root, 'src');
  dest = join(root, 'dest');
  fs.mkdirSync(src);
  fs.mkdirSync(dest);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const exp = (p: string): Expected => {
  const st = fs.lstatSync(p);
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  return { kind, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
};
const noTemps = (dir: string): void => expect(fs.readdirSync(dir).filter((n) => TEMP_RE.test(n))).toEqual([]);

describe.each([
  ['sync', syncIo],
  ['async', asyncIo],
  // The fallback without the addon (node:fs through /proc/self/fd), and without /proc either.
  ['node:fs sync', nodeSyncIo],
  ['node:fs async', nodeAsyncIo],
  ['node:fs by path', pathOnly(nodeSyncIo)],
] as const)('copyEntry (%s io)', (_n, io) => {
  it('copies a file with mode and mtime through a temp file', async () => {
    fs.writeFileSync(join(src, 'a'), 'hello');
    fs.chmodSync(join(src, 'a'), 0o640);
    fs.utimesSync(join(src, 'a'), 1000, 1_600_000_000.5);
    const r = await copyEntry(src, dest, 'a', { src: exp(join(src, 'a')), dest: null }, { io });
    expect(r).toEqual({ ok: true, bytes: 5 });
    const st = fs.statSync(join(dest, 'a'));
    expect(fs.readFileSync(join(dest, 'a'), 'utf8')).toBe('hello');
    expect(st.mode & 0o7777).toBe(0o640);
    expect(Math.abs(st.mtimeMs - 1_600_000_000_500)).toBeLessThan(1);
    noTemps(dest);
  });

  it('refuses when dest appeared since the plan (create must not clobber)', async () => {
    fs.writeFileSync(join(src, 'a'), 'new');
    fs.writeFileSync(join(dest, 'a'), 'someone else wrote this');
    const r = await copyEntry(src, dest, 'a', { src: exp(join(src, 'a')), dest: null }, { io });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(fs.readFileSync(join(dest, 'a'), 'utf8')).toBe('someone else wrote this');
    noTemps(dest);
  });

  it('refuses an update when dest changed since the plan', async () => {
    fs.writeFileSync(join(src, 'a'), 'new contents');
    fs.writeFileSync(join(dest, 'a'), 'old');
    const planned = exp(join(dest, 'a'));
    fs.writeFileSync(join(dest, 'a'), 'edited meanwhile');
    const r = await copyEntry(src, dest, 'a', { src: exp(join(src, 'a')), dest: planned }, { io });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(fs.readFileSync(join(dest, 'a'), 'utf8')).toBe('edited meanwhile');
  });

  it('refuses when src changed since the plan', async () => {
    fs.writeFileSync(join(src, 'a'), 'v1');
    const planned = exp(join(src, 'a'));
    fs.writeFileSync(join(src, 'a'), 'version 2');
    const r = await copyEntry(src, dest, 'a', { src: planned, dest: null }, { io });
    expect(r).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(fs.existsSync(join(dest, 'a'))).toBe(false);
  });

  it('copies a symlink as a symlink (same target text, never followed)', async () => {
    fs.symlinkSync('/etc/passwd', join(src, 'ln'));
    const r = await copyEntry(src, dest, 'ln', { src: exp(join(src, 'ln')), dest: null }, { io });
    expect(r.ok).toBe(true);
    expect(fs.readlinkSync(join(dest, 'ln'))).toBe('/etc/passwd');
    expect(fs.lstatSync(join(dest, 'ln')).isSymbolicLink()).toBe(true);
  });

  it('removes its temp file when a call after the copy throws (no temp left by a long-lived writer)', async () => {
    fs.writeFileSync(join(src, 'a'), 'data');
    fs.symlinkSync('/x', join(src, 'ln'));
    const failing: Io = {
      ...io,
      lstat: (p) => {
        if (p.startsWith(dest)) throw Object.assign(new Error('EIO'), { code: 'EIO', syscall: 'lstat' });
        return io.lstat(p);
      },
    };
    for (const name of ['a', 'ln']) {
      const r = await copyEntry(src, dest, name, { src: exp(join(src, name)), dest: null }, { io: failing });
      expect(r).toMatchObject({ ok: false, code: 'IO' });
    }
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  it('creates a directory with its mode', async () => {
    fs.mkdirSync(join(src, 'd'), { mode: 0o750 });
    fs.chmodSync(join(src, 'd'), 0o750);
    const r = await copyEntry(src, dest, 'd', { src: exp(join(src, 'd')), dest: null }, { io });
    expect(r.ok).toBe(true);
    expect(fs.statSync(join(dest, 'd')).mode & 0o7777).toBe(0o750);
  });

  it('never writes through a symlinked directory inside dest', async () => {
    const outside = join(root, 'outside');
    fs.mkdirSync(outside);
    fs.mkdirSync(join(src, 'd'));
    fs.writeFileSync(join(src, 'd', 'f'), 'x');
    fs.symlinkSync(outside, join(dest, 'd'));
    const r = await copyEntry(src, dest, 'd/f', { src: exp(join(src, 'd', 'f')), dest: null }, { io });
    expect(r).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('never reads through a symlinked directory inside src', async () => {
    fs.mkdirSync(join(root, 'secret'));
    fs.writeFileSync(join(root, 'secret', 'f'), 'x');
    fs.symlinkSync(join(root, 'secret'), join(src, 'd'));
    fs.mkdirSync(join(dest, 'd'));
    const r = await copyEntry(src, dest, 'd/f', { src: exp(join(root, 'secret', 'f')), dest: null }, { io });
    expect(r).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
  });
});

describe('a lost lock', () => {
  it('makes copy, touch and delete leave everything alone, with no temp file left', async () => {
    const ac = new AbortController();
    ac.abort(new Error('lease lost'));
    const lost = ac.signal;
    fs.writeFileSync(join(src, 'new.txt'), 'new');
    fs.writeFileSync(join(src, 'upd.txt'), 'version two');
    fs.writeFileSync(join(dest, 'upd.txt'), 'version one');
    fs.writeFileSync(join(dest, 'gone.txt'), 'x');
    fs.mkdirSync(join(src, 'dir'));
    const created = await copyEntry(
      src,
      dest,
      'new.txt',
      { src: exp(join(src, 'new.txt')), dest: null },
      { lost },
    );
    const updated = await copyEntry(
      src,
      dest,
      'upd.txt',
      { src: exp(join(src, 'upd.txt')), dest: exp(join(dest, 'upd.txt')) },
      { lost },
    );
    const dir = await copyEntry(src, dest, 'dir', { src: exp(join(src, 'dir')), dest: null }, { lost });
    const deleted = await deleteEntry(dest, 'gone.txt', exp(join(dest, 'gone.txt')), { lost });
    const touched = await touchEntry(
      src,
      dest,
      'upd.txt',
      { src: exp(join(src, 'upd.txt')), dest: exp(join(dest, 'upd.txt')) },
      { lost },
    );
    for (const r of [created, updated, dir, deleted, touched]) {
      expect(r).toMatchObject({
        ok: false,
        code: 'CHANGED_UNDER_US',
        reason: expect.stringMatching(/lock lost/),
      });
    }
    expect(fs.readdirSync(dest).sort()).toEqual(['gone.txt', 'upd.txt']);
    expect(fs.readFileSync(join(dest, 'upd.txt'), 'utf8')).toBe('version one');
  });
});

describe('unsafe paths', () => {
  it.each(['', '/etc/passwd', 'a/../b', '..', 'a//b', 'a/./b', 'a\0b', 'a/'])('%j is refused', (p) => {
    expect(unsafeRelPath(p)).not.toBeNull();
  });
  it.each(['a', 'a/b/c', '-rf', ' spaced ', 'new\nline', '...'])('%j is fine', (p) => {
    expect(unsafeRelPath(p)).toBeNull();
  });
  it('copyEntry and deleteEntry refuse them without touching anything', async () => {
    fs.writeFileSync(join(root, 'victim'), 'x');
    const e: Expected = { kind: 'file', size: 1, mtimeMs: 0 };
    expect(await copyEntry(src, dest, '../victim', { src: e, dest: null })).toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(await deleteEntry(dest, '../victim', exp(join(root, 'victim')))).toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(await deleteEntry(dest, join(root, 'victim'), exp(join(root, 'victim')))).toMatchObject({
      code: 'UNSAFE_PATH',
    });
    expect(fs.existsSync(join(root, 'victim'))).toBe(true);
  });
});

describe('moving aside never replaces a name taken at the last instant', () => {
  it.skipIf(!syncIo.renameNoReplace)('through the addon (RENAME_NOREPLACE)', async () => {
    fs.mkdirSync(join(dest, 'd'));
    fs.writeFileSync(join(dest, 'd', 'a'), 'mine');
    // Someone takes the conflict copy's name after the check, right before the rename.
    const racing: Io = {
      ...syncIo,
      renameNoReplace: (from, to) => {
        fs.writeFileSync(join(dest, 'd', 'a.conflict'), 'theirs');
        return syncIo.renameNoReplace!(from, to);
      },
    };
    const r = await moveAside(dest, 'd/a', exp(join(dest, 'd', 'a')), 'd/a.conflict', { io: racing });
    expect(r).toEqual({
      ok: false,
      code: 'CHANGED_UNDER_US',
      reason: "'d/a.conflict' already exists; not replacing it",
    });
    expect(fs.readFileSync(join(dest, 'd', 'a'), 'utf8')).toBe('mine');
    expect(fs.readFileSync(join(dest, 'd', 'a.conflict'), 'utf8')).toBe('theirs');
  });
});

describe('deleteEntry', () => {
  it('deletes a file that still matches', async () => {
    fs.writeFileSync(join(dest, 'a'), 'x');
    expect(await deleteEntry(dest, 'a', exp(join(dest, 'a')))).toEqual({ ok: true, bytes: 0 });
    expect(fs.existsSync(join(dest, 'a'))).toBe(false);
  });
  it('leaves a file that changed since the plan', async () => {
    fs.writeFileSync(join(dest, 'a'), 'x');
    const planned = exp(join(dest, 'a'));
    fs.writeFileSync(join(dest, 'a'), 'changed');
    expect(await deleteEntry(dest, 'a', planned)).toMatchObject({ ok: false, code: 'CHANGED_UNDER_US' });
    expect(fs.existsSync(join(dest, 'a'))).toBe(true);
  });
  it('removes a directory only when empty', async () => {
    fs.mkdirSync(join(dest, 'd'));
    fs.writeFileSync(join(dest, 'd', 'f'), 'x');
    expect(await deleteEntry(dest, 'd', exp(join(dest, 'd')))).toMatchObject({ ok: false });
    expect(fs.existsSync(join(dest, 'd', 'f'))).toBe(true);
  });
  it('deletes a symlink, not its target', async () => {
    fs.writeFileSync(join(root, 'target'), 'x');
    fs.symlinkSync(join(root, 'target'), join(dest, 'ln'));
    expect((await deleteEntry(dest, 'ln', exp(join(dest, 'ln')))).ok).toBe(true);
    expect(fs.existsSync(join(root, 'target'))).toBe(true);
  });
});

describe('touchEntry and md5File', () => {
  it('sets the mtime only when both sides still match', async () => {
    fs.writeFileSync(join(src, 'a'), 'same');
    fs.writeFileSync(join(dest, 'a'), 'same');
    fs.utimesSync(join(src, 'a'), 1, 1_700_000_100);
    fs.utimesSync(join(dest, 'a'), 1, 1_700_000_000);
    expect(await md5File(join(src, 'a'))).toBe(await md5File(join(dest, 'a')));
    expect(await md5File(join(src, 'a'))).toBe(createHash('md5').update('same').digest('hex'));
    const r = await touchEntry(src, dest, 'a', { src: exp(join(src, 'a')), dest: exp(join(dest, 'a')) });
    expect(r.ok).toBe(true);
    expect(fs.statSync(join(dest, 'a')).mtimeMs).toBe(1_700_000_100_000);
  });
  it('md5File refuses to follow a symlink', async () => {
    fs.writeFileSync(join(root, 't'), 'x');
    fs.symlinkSync(join(root, 't'), join(src, 'ln'));
    await expect(md5File(join(src, 'ln'))).rejects.toThrow();
  });
});

describe('scanDir', () => {
  it('reports non-UTF-8 names, sets temp files apart, lstat-s symlinks', async () => {
    fs.writeFileSync(join(src, 'ok'), 'x');
    fs.writeFileSync(Buffer.from(`${src}/bad\xff.txt`, 'latin1'), 'x');
    fs.writeFileSync(join(src, tempName(ROOT_ID)), 'partial');
    fs.symlinkSync('/nonexistent', join(src, 'dangling'));
    for (const io of [syncIo, asyncIo]) {
      const s = await scanDir(src, io, undefined, ROOT_ID);
      expect(s.entries.map((e) => `${e.name}:${e.kind}`).sort()).toEqual(['dangling:symlink', 'ok:file']);
      expect(s.entries.find((e) => e.name === 'dangling')?.target).toBe('/nonexistent');
      expect(s.temps).toHaveLength(1);
      expect(s.issues).toEqual([expect.objectContaining({ kind: 'bad-name', name: 'bad\\xff.txt' })]);
    }
  });
  it('listings survive packing for a trip between threads', async () => {
    fs.writeFileSync(join(src, 'a\nb'), 'x');
    fs.symlinkSync('t\u00e9', join(src, 'ln'));
    fs.mkdirSync(join(src, 'd'));
    const s = await scanDir(src, syncIo);
    const round = unpack(pack(s));
    expect(round.entries).toEqual(s.entries);
    expect(unpack(pack({ entries: [], temps: [], issues: [] })).entries).toEqual([]);
  });
  it("temp names carry the root's id: only the root's own are temps", async () => {
    const n = tempName(ROOT_ID);
    expect(n).toMatch(/^\.ha-sync-0123456789abcdef-[0-9a-f]{16}\.tmp$/);
    expect(isTempName(n, ROOT_ID)).toBe(true);
    expect(isTempName(n, 'fedcba9876543210')).toBe(false);
    expect(isTempName(n, null)).toBe(false);
    expect(isTempName('.ha-sync-zz.tmp', ROOT_ID)).toBe(false);
    // The old form, and another root's temp: a user's file, listed like any other.
    fs.writeFileSync(join(src, '.ha-sync-0123456789abcdef.tmp'), 'mine');
    fs.writeFileSync(join(src, tempName('fedcba9876543210')), 'mine too');
    const s = await scanDir(src, syncIo, undefined, ROOT_ID);
    expect(s.temps).toEqual([]);
    expect(s.entries).toHaveLength(2);
  });
});

describe('filesystem type', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '40 22 0:50 / /mnt/dell\\040media rw - nfs4 192.168.2.100:/data/media rw',
    '41 22 0:51 / /mnt/hp rw - fuse.sshfs u@h:/x rw',
  ].join('\n');
  it('parses mountinfo with escaped spaces', () => {
    expect(parseMountinfo(info).map((m) => m.mountPoint)).toEqual(['/', '/mnt/dell media', '/mnt/hp']);
  });
  it('knows network filesystems', () => {
    expect(isNetworkFs('nfs4')).toBe(true);
    expect(isNetworkFs('fuse.sshfs')).toBe(true);
    expect(isNetworkFs('ext4')).toBe(false);
    expect(fsTypeOf('/', info)).toBe('ext4');
  });
});

describe('Limiter', () => {
  it('never runs more than n tasks, even when a caller arrives while a slot is handed over', async () => {
    const lim = new Limiter(1);
    let active = 0;
    let peak = 0;
    const track = async (): Promise<void> => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
    };
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const a = lim.run(() => first);
    const b = lim.run(track);
    // Runs right after `a` finishes, before the woken `b` resumes.
    const c = first.then(() => lim.run(track));
    release();
    await Promise.all([a, b, c]);
    expect(peak).toBe(1);
  });
});
