// The fastscan addon on real temp directories: every listing it makes must mean what scanDir's
// means (same entries, values equal to fs.lstatSync's, same temps and issues for hostile names),
// and errors must look like node:fs errors.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DirScan, FastscanAddon, Io, PackedScan } from '../src/fsops/index.js';
import {
  Limiter,
  asyncIo,
  fastScanDirs,
  fastScanner,
  listingDigest,
  loadFastscan,
  nodeAsyncIo,
  nodeSyncIo,
  scanDir,
  pack,
  sameListing,
  syncIo,
  tempName,
  unpackEntries,
} from '../src/fsops/index.js';

const addon = loadFastscan({});
const compiler = spawnSync('cc', ['--version']).status === 0;

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'ha-fastscan-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

it('the addon is built where a C compiler is available (npm ci builds it)', () => {
  if (!compiler) return; // a machine without a compiler runs on node:fs listings
  expect(addon, 'run `npm run build:native`').not.toBeNull();
});

it('HA_SYNC_FASTSCAN=0 turns it off', () => {
  expect(loadFastscan({ HA_SYNC_FASTSCAN: '0' })).toBeNull();
});

const byName = <T extends { name: string }>(a: T[]): T[] => [...a].sort((x, y) => (x.name < y.name ? -1 : 1));

async function one(a: FastscanAddon, dir: string): Promise<PackedScan> {
  const [r] = await fastScanDirs(a, [dir]);
  if (r instanceof Error) throw r;
  return r!;
}

/** A directory with everything a listing must get right. */
function hostile(dir: string): void {
  const t = new Date('2025-03-04T05:06:07.123Z');
  const files = [
    'plain.txt',
    'with space',
    'new\nline',
    'tab\there',
    '"quoted\'',
    '-leading-dash',
    'caf\u00e9',
    'cafe\u0301',
    'x'.repeat(255),
    'real\ufffdreplacement',
    '.hidden',
  ];
  for (const [i, n] of files.entries()) {
    fs.writeFileSync(join(dir, n), 'y'.repeat(i));
    fs.utimesSync(join(dir, n), t, new Date(t.getTime() + i * 1001.5));
  }
  fs.chmodSync(join(dir, 'plain.txt'), 0o640);
  fs.mkdirSync(join(dir, 'sub'));
  fs.symlinkSync('plain.txt', join(dir, 'ln'));
  fs.symlinkSync('/nonexistent/target', join(dir, 'dangling'));
  fs.symlinkSync(Buffer.from('bad\xfftarget', 'latin1'), Buffer.from(join(dir, 'badlink'), 'utf8'));
  fs.writeFileSync(Buffer.from(`${dir}/bad\xfename`, 'latin1'), 'z');
  fs.writeFileSync(join(dir, tempName('0123456789abcdef')), 'partial');
  spawnSync('mkfifo', [join(dir, 'fifo')]);
}

const TEMP_ID = '0123456789abcdef';

/** A file, a directory, a symlink and a temp file of ours, with fixed times. */
function inodeTree(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(join(dir, 'file'), 'x');
  fs.mkdirSync(join(dir, 'sub'));
  fs.writeFileSync(join(dir, 'sub', 'inner'), 'y');
  fs.symlinkSync('file', join(dir, 'ln'));
  fs.writeFileSync(join(dir, tempName(TEMP_ID)), 'partial');
  for (const n of ['file', 'sub', 'ln']) fs.lutimesSync(join(dir, n), 1_700_000_000, 1_700_000_000.5);
}

describe('inode numbers from the JS listers', () => {
  const ios: [string, Io, Limiter | undefined][] = [
    ['syncIo', syncIo, undefined],
    ['asyncIo', asyncIo, new Limiter(4)],
    ['node:fs sync', nodeSyncIo, undefined],
    ['node:fs async', nodeAsyncIo, new Limiter(4)],
  ];
  it.each(ios)('%s: lstat’s, for files, directories and symlinks', async (_, io, limiter) => {
    inodeTree(root);
    const s = await scanDir(root, io, limiter, TEMP_ID);
    expect(s.entries.map((e) => e.kind).sort()).toEqual(['dir', 'file', 'symlink']);
    for (const e of s.entries) {
      expect(e.ino, e.name).toBe(fs.lstatSync(join(root, e.name)).ino);
      expect(e.ino! > 0).toBe(true);
    }
    // The same after a trip through a worker's packing.
    expect(unpackEntries(pack(s)).map((e) => [e.name, e.ino])).toEqual(
      [...s.entries].sort((x, y) => (x.name < y.name ? -1 : 1)).map((e) => [e.name, e.ino]),
    );
  });
});

describe.skipIf(!addon)('fastScanDirs', () => {
  const a = addon!;

  it('lists exactly what scanDir lists, hostile names and all', async () => {
    hostile(root);
    const fast = await one(a, root);
    const slow: DirScan = await scanDir(root, syncIo);
    expect(byName(unpackEntries(fast))).toEqual(byName(slow.entries));
    expect(fast.temps).toEqual(slow.temps);
    expect(byName(fast.issues)).toEqual(byName(slow.issues));
    expect(fast.issues.map((i) => i.name).sort()).toEqual(['bad\\xfename', 'badlink']);
    expect(fast).toMatchObject({ count: slow.entries.length, special: true });
    expect(fast.files).toBe(slow.entries.filter((e) => e.kind !== 'dir').length);
  });

  it('gives the same values as fs.lstatSync, to the last bit of mtimeMs', async () => {
    for (let i = 0; i < 200; i++) {
      const p = join(root, `f${i}`);
      fs.writeFileSync(p, 'x'.repeat(i));
      fs.utimesSync(p, 1, 1_700_000_000 + i / 7);
    }
    const entries = unpackEntries(await one(a, root));
    expect(entries).toHaveLength(200);
    for (const e of entries) {
      const st = fs.lstatSync(join(root, e.name));
      expect([e.size, e.mtimeMs, e.mode]).toEqual([st.size, st.mtimeMs, st.mode & 0o7777]);
    }
  });

  it('a plain directory comes back packed as pack(scanDir) packs it (bar the name order)', async () => {
    for (const n of ['b', 'a', 'c']) fs.writeFileSync(join(root, n), n);
    fs.mkdirSync(join(root, 'd'));
    const fast = await one(a, root);
    const js = pack(await scanDir(root, syncIo));
    expect(fast.names).toBe(js.names);
    expect(Array.from(fast.nums)).toEqual(Array.from(js.nums));
    expect(Array.from(fast.inos!)).toEqual(Array.from(js.inos!));
    expect(listingDigest(fast)).toBe(listingDigest(js));
  });

  it('reports the inode numbers lstat reports, on the packed fast path and the slow one', async () => {
    // Only files and directories: the addon's buffers are used as they are.
    fs.mkdirSync(join(root, 'plain'));
    for (const n of ['a', 'b']) fs.writeFileSync(join(root, 'plain', n), n);
    fs.mkdirSync(join(root, 'plain', 'sub'));
    // A symlink (and a temp file) send it through PackedBuilder.
    inodeTree(join(root, 'mixed'));
    for (const dir of ['plain', 'mixed']) {
      const abs = join(root, dir);
      const entries = unpackEntries(await one(a, abs));
      expect(entries.length).toBeGreaterThanOrEqual(3);
      for (const e of entries) expect(e.ino, e.name).toBe(fs.lstatSync(join(abs, e.name)).ino);
    }
    const kinds = unpackEntries(await one(a, join(root, 'mixed'))).map((e) => e.kind);
    expect(new Set(kinds)).toEqual(new Set(['file', 'dir', 'symlink']));
  });

  it('an addon built before inode numbers (three elements) lists as before, without them', async () => {
    inodeTree(root);
    fs.writeFileSync(join(root, 'plain-only'), 'x');
    const old: FastscanAddon = {
      scan: async (paths) =>
        (await a.scan(paths)).map((r) =>
          r instanceof Error ? r : ([r[0], r[1], r[2]] as unknown as typeof r),
        ),
    };
    for (const dir of [root, join(root, 'sub')]) {
      const now = await one(a, dir);
      const before = await one(old, dir);
      expect(before.inos).toBeUndefined();
      expect(unpackEntries(before).some((e) => Object.hasOwn(e, 'ino'))).toBe(false);
      expect(unpackEntries(before)).toEqual(unpackEntries(now).map(({ ino: _, ...e }) => e));
      expect(sameListing(before, now)).toBe(true);
      expect(listingDigest(before)).toBe(listingDigest(now));
    }
  });

  it('a listing of another copy of a tree is the same listing, whatever the inode numbers', async () => {
    inodeTree(join(root, 'x'));
    inodeTree(join(root, 'y'));
    const [x, y] = (await fastScanDirs(a, [join(root, 'x'), join(root, 'y')], TEMP_ID)) as PackedScan[];
    expect(x!.temps).toHaveLength(1);
    expect(unpackEntries(x!).map((e) => e.ino)).not.toEqual(unpackEntries(y!).map((e) => e.ino));
    expect(sameListing(x!, y!)).toBe(true);
    expect(listingDigest(x!)).toBe(listingDigest(y!));
  });

  it('lists large and empty directories', async () => {
    fs.mkdirSync(join(root, 'big'));
    fs.mkdirSync(join(root, 'empty'));
    for (let i = 0; i < 5000; i++) fs.writeFileSync(join(root, 'big', `n${i}`), '');
    const [big, empty] = await fastScanDirs(a, [join(root, 'big'), join(root, 'empty')]);
    expect((big as PackedScan).count).toBe(5000);
    expect(empty).toMatchObject({ count: 0, names: '', files: 0 });
  });

  it('fails per directory, like readdir, without failing the others', async () => {
    fs.writeFileSync(join(root, 'file'), 'x');
    const [missing, notDir, fine] = await fastScanDirs(a, [join(root, 'nope'), join(root, 'file'), root]);
    expect(missing).toBeInstanceOf(Error);
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'scandir' });
    expect((missing as Error).message).toBe(
      `ENOENT: no such file or directory, scandir '${join(root, 'nope')}'`,
    );
    expect(notDir).toMatchObject({ code: 'ENOTDIR' });
    expect(fine).toMatchObject({ count: 1 });
  });

  it('refuses bad arguments with a TypeError, not a crash', () => {
    const raw = a as unknown as { scan(x: unknown): unknown };
    expect(() => raw.scan('not-an-array')).toThrow(TypeError);
    expect(() => raw.scan([1])).toThrow(TypeError);
    expect(() => raw.scan(['a\0b'])).toThrow(/NUL/);
  });
});

describe.skipIf(!addon)('fastScanner', () => {
  it('serves prefetched and direct requests, and rejects a missing directory with its code', async () => {
    for (let i = 0; i < 40; i++) fs.mkdirSync(join(root, `d${i}`));
    const s = fastScanner(addon!, 8, 2);
    for (let i = 0; i < 40; i++) s.prefetch(join(root, `d${i}`));
    const scans = await Promise.all(Array.from({ length: 40 }, (_, i) => s.scan(join(root, `d${i}`))));
    expect(scans.every((x) => x.entries.length === 0)).toBe(true);
    const top = (await s.scan(root)).entries;
    expect(top).toHaveLength(40);
    for (const e of top) expect(e.ino).toBe(fs.lstatSync(join(root, e.name)).ino);
    await expect(s.scan(join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await s.close();
  });
});
