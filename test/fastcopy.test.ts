// The addon's batched copier (native/fastcopy.c through fsops/batch.ts) on real temp directories.
// It must give the same results as copyEntry, in the same words, for every way a copy can go
// (done, src or dest not as planned, lock lost, unsafe parent), keep mode and mtime, and never
// leave a temp file or write through a symlinked directory.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Expected } from '../src/core/index.js';
import type { BatchCopier, CopyItem, FailCode, OpResult } from '../src/fsops/index.js';
import { TEMP_RE, copyEntry, loadFastscan, nativeCopier } from '../src/fsops/index.js';

const addon = loadFastscan({});
const run = addon ? describe : describe.skip;

let root: string;
let src: string;
let dest: string;
beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'ha-fastcopy-'));
  src = join(root, 'src');
  dest = join(root, 'dest');
  fs.mkdirSync(src);
  fs.mkdirSync(dest);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const OLD = 1_600_000_000;

function put(base: string, rel: string, content: string, mtimeS = OLD, mode = 0o644): void {
  const p = join(base, rel);
  fs.mkdirSync(join(p, '..'), { recursive: true });
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
  fs.utimesSync(p, mtimeS, mtimeS);
}

function expectedOf(p: string): Expected | null {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return null;
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  return { kind, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
}

/** Every temp file left anywhere under `base`. */
function temps(base: string): string[] {
  return (fs.readdirSync(base, { recursive: true }) as string[]).filter((p) =>
    TEMP_RE.test(p.split('/').pop()!),
  );
}

function copier(signals: { lost?: AbortSignal; stop?: AbortSignal } = {}): BatchCopier {
  const c = nativeCopier(addon!, signals);
  expect(c, 'the addon has copy()').not.toBeNull();
  return c!;
}

run('batched copies (fastcopy addon)', () => {
  it('copies files: bytes, permission bits, the exact mtime (to the nanosecond); no temp file left', async () => {
    put(src, 'd/a.txt', 'alpha', OLD, 0o600);
    put(src, 'd/run.sh', '#!/bin/sh\n', OLD + 0.123456789, 0o755);
    put(src, 'd/empty', '', OLD);
    fs.mkdirSync(join(dest, 'd'));
    const items: CopyItem[] = ['a.txt', 'run.sh', 'empty'].map((name) => ({
      name,
      src: expectedOf(join(src, 'd', name))!,
      dest: null,
    }));
    const r = await copier()(src, dest, 'd', items);
    // Each result names the copy's own inode (move detection records it in the baseline).
    const ino = (name: string): number => fs.lstatSync(join(dest, 'd', name)).ino;
    expect(r).toEqual([
      { ok: true, bytes: 5, ino: ino('a.txt') },
      { ok: true, bytes: 10, ino: ino('run.sh') },
      { ok: true, bytes: 0, ino: ino('empty') },
    ]);
    for (const name of ['a.txt', 'run.sh', 'empty']) {
      const a = fs.lstatSync(join(src, 'd', name), { bigint: true });
      const b = fs.lstatSync(join(dest, 'd', name), { bigint: true });
      expect(fs.readFileSync(join(dest, 'd', name))).toEqual(fs.readFileSync(join(src, 'd', name)));
      expect(b.mode).toBe(a.mode);
      expect(b.mtimeNs).toBe(a.mtimeNs);
    }
    expect(temps(dest)).toEqual([]);
  });

  it('copies into the root itself, and a file of 1 MiB across filesystems (read/write fallback)', async () => {
    const big = Buffer.alloc(1 << 20, 7);
    fs.writeFileSync(join(src, 'big.bin'), big);
    const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/ha-fastcopy-') : null;
    try {
      for (const to of [dest, shm].filter((x): x is string => x !== null)) {
        const r = await copier()(src, to, '', [
          { name: 'big.bin', src: expectedOf(join(src, 'big.bin'))!, dest: null },
        ]);
        expect(r).toEqual([{ ok: true, bytes: 1 << 20, ino: fs.lstatSync(join(to, 'big.bin')).ino }]);
        expect(fs.readFileSync(join(to, 'big.bin')).equals(big)).toBe(true);
        expect(temps(to)).toEqual([]);
      }
    } finally {
      if (shm) fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('copies hostile names exactly', async () => {
    const names = [
      ' lead',
      'new\nline',
      'tab\there',
      '"q\'',
      '-dash',
      'caf\u00e9',
      'cafe\u0301',
      'x'.repeat(255),
    ];
    for (const n of names) put(src, n, n);
    const r = await copier()(
      src,
      dest,
      '',
      names.map((name) => ({ name, src: expectedOf(join(src, name))!, dest: null })),
    );
    expect(r.every((x) => x?.ok === true)).toBe(true);
    expect(fs.readdirSync(dest).sort()).toEqual([...names].sort());
    for (const n of names) expect(fs.readFileSync(join(dest, n), 'utf8')).toBe(n);
  });

  it('a name or path it must not take is refused before anything is touched', async () => {
    put(src, 'a', 'a');
    const item = { name: 'a', src: expectedOf(join(src, 'a'))!, dest: null };
    for (const name of ['', '.', '..', 'x/y']) {
      await expect(copier()(src, dest, '', [{ ...item, name }])).rejects.toThrow(/bad name/);
    }
    expect(await copier()(src, dest, '../x', [item])).toEqual([
      { ok: false, code: 'UNSAFE_PATH', reason: "path contains '..'" },
    ]);
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  it('the argument checks of the addon itself', () => {
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const copy = addon!.copy!;
    const one = new Float64Array(5);
    const z = Buffer.from('a\0');
    expect(() => copy(src, dest, '', Buffer.from('a\0b\0'), z, one, flag)).toThrow(/bad arguments/);
    expect(() => copy(src, dest, '', z, z, new Float64Array(4), flag)).toThrow(/bad arguments/);
    expect(() => copy(src, dest, '', z, z, one, new Int32Array(new SharedArrayBuffer(4)))).toThrow(
      /bad arguments/,
    );
    expect(() => copy(src, `${dest}\0x`, '', z, z, one, flag)).toThrow(/bad arguments/);
  });

  it('once the lock is lost nothing is renamed into place', async () => {
    put(src, 'a', 'a');
    const ac = new AbortController();
    const c = copier({ lost: ac.signal });
    ac.abort();
    const r = await c(src, dest, '', [{ name: 'a', src: expectedOf(join(src, 'a'))!, dest: null }]);
    expect(r).toEqual([
      { ok: false, code: 'CHANGED_UNDER_US', reason: 'lock lost before the write; left alone' },
    ]);
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  it('once the run is stopping no file of a batch starts (not started: null, nothing written)', async () => {
    put(src, 'a', 'a');
    put(src, 'b', 'b');
    const ac = new AbortController();
    const c = copier({ stop: ac.signal });
    const items = ['a', 'b'].map((name) => ({ name, src: expectedOf(join(src, name))!, dest: null }));
    expect(await c(src, dest, '', items)).toEqual([
      { ok: true, bytes: 1, ino: fs.lstatSync(join(dest, 'a')).ino },
      { ok: true, bytes: 1, ino: fs.lstatSync(join(dest, 'b')).ino },
    ]);
    fs.rmSync(dest, { recursive: true });
    fs.mkdirSync(dest);
    ac.abort();
    expect(await c(src, dest, '', items)).toEqual([null, null]);
    expect(fs.readdirSync(dest)).toEqual([]);
  });

  it('never writes through a symlinked directory in dest, nor reads through one in src', async () => {
    const outside = join(root, 'outside');
    fs.mkdirSync(outside);
    put(src, 'd/a', 'a');
    fs.symlinkSync(outside, join(dest, 'd'));
    const item = { name: 'a', src: expectedOf(join(src, 'd', 'a'))!, dest: null };
    const viaCopier = await copier()(src, dest, 'd', [item]);
    const viaEntry = await copyEntry(src, dest, 'd/a', item);
    expect(viaCopier).toEqual([viaEntry]);
    expect(viaEntry).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(fs.readdirSync(outside)).toEqual([]);

    fs.rmSync(join(dest, 'd'));
    fs.mkdirSync(join(dest, 'e'));
    fs.symlinkSync(join(src, 'd'), join(src, 'e'));
    const viaLink = { name: 'a', src: expectedOf(join(src, 'd', 'a'))!, dest: null };
    expect(await copier()(src, dest, 'e', [viaLink])).toEqual([await copyEntry(src, dest, 'e/a', viaLink)]);
    expect(fs.readdirSync(join(dest, 'e'))).toEqual([]);
  });
});

// The same situations through copyEntry and through the batched copier: same results, same words.
interface Case {
  name: string;
  /** Sets up src and dest (src/d/f and dest/d/f), returns what the plan saw. */
  setup: () => CopyItem;
  /** Changes made after the plan, before the copy. */
  after?: () => void;
  /** What both give. */
  expect: { ok: true } | { code: FailCode; reason: RegExp };
}

const f = (): string => join(src, 'd', 'f');
const g = (): string => join(dest, 'd', 'f');
const plain = (): CopyItem => {
  put(src, 'd/f', 'new contents', OLD + 100);
  fs.mkdirSync(join(dest, 'd'), { recursive: true });
  return { name: 'f', src: expectedOf(f())!, dest: expectedOf(g()) };
};

const cases: Case[] = [
  { name: 'create', setup: plain, expect: { ok: true } },
  {
    name: 'update over an older file',
    setup: () => {
      put(dest, 'd/f', 'old', OLD);
      return plain();
    },
    expect: { ok: true },
  },
  {
    name: 'update over a symlink',
    setup: () => {
      fs.mkdirSync(join(dest, 'd'), { recursive: true });
      fs.symlinkSync('/nowhere', g());
      return plain();
    },
    expect: { ok: true },
  },
  {
    name: 'dest appeared after the plan',
    setup: plain,
    after: () => put(dest, 'd/f', 'someone else'),
    expect: {
      code: 'CHANGED_UNDER_US',
      reason: /^destination changed since planned: now exists \(a file\); left alone$/,
    },
  },
  {
    name: 'dest changed after the plan',
    setup: () => {
      put(dest, 'd/f', 'old', OLD);
      return plain();
    },
    after: () => put(dest, 'd/f', 'edited meanwhile', OLD),
    expect: {
      code: 'CHANGED_UNDER_US',
      reason: /^destination changed since planned: size is now 16, expected 3; left alone$/,
    },
  },
  {
    name: 'dest became a directory',
    setup: plain,
    after: () => fs.mkdirSync(g()),
    expect: { code: 'CHANGED_UNDER_US', reason: /now exists \(a dir\)/ },
  },
  {
    name: 'src changed after the plan',
    setup: plain,
    after: () => put(src, 'd/f', 'longer contents now', OLD + 100),
    expect: {
      code: 'CHANGED_UNDER_US',
      reason:
        /^source changed since planned or while copying \(size is now 19, expected 12\); copy discarded$/,
    },
  },
  {
    name: 'src mtime changed after the plan',
    setup: plain,
    after: () => fs.utimesSync(f(), OLD + 200, OLD + 200),
    expect: { code: 'CHANGED_UNDER_US', reason: /\(mtime changed\); copy discarded$/ },
  },
  {
    name: 'src replaced by a symlink',
    setup: plain,
    after: () => {
      fs.rmSync(f());
      fs.symlinkSync('/etc/hostname', f());
    },
    expect: { code: 'CHANGED_UNDER_US', reason: /is now a symlink, expected a file/ },
  },
  {
    name: 'src replaced by a fifo (never opened to wait for a writer)',
    setup: plain,
    after: () => {
      fs.rmSync(f());
      execFileSync('mkfifo', [f()]);
    },
    expect: { code: 'CHANGED_UNDER_US', reason: /is now a special, expected a file/ },
  },
  {
    name: 'src gone',
    setup: plain,
    after: () => fs.rmSync(f()),
    expect: { code: 'CHANGED_UNDER_US', reason: /\(no longer exists\); copy discarded$/ },
  },
  {
    name: 'dest directory gone',
    setup: plain,
    after: () => fs.rmSync(join(dest, 'd'), { recursive: true }),
    expect: { code: 'UNSAFE_PATH', reason: /^destination: parent directory 'd' does not exist$/ },
  },
];

run('batched copier and copyEntry agree', () => {
  it.each(cases)('$name', async (c) => {
    const results: OpResult[] = [];
    for (const how of ['entry', 'native'] as const) {
      fs.rmSync(src, { recursive: true, force: true });
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(src);
      fs.mkdirSync(dest);
      const item = c.setup();
      c.after?.();
      const before = fs.lstatSync(g(), { throwIfNoEntry: false });
      const r =
        how === 'entry'
          ? await copyEntry(src, dest, 'd/f', { src: item.src, dest: item.dest })
          : (await copier()(src, dest, 'd', [item]))[0]!;
      // The batch also names the copy's inode (copyEntry's caller lstats the path instead); the
      // rest of the result is the same both ways.
      const { ino, ...same } = r as OpResult & { ino?: number };
      results.push(same);
      const want = c.expect;
      if ('ok' in want) {
        expect(same).toEqual({ ok: true, bytes: item.src.size });
        expect(ino).toBe(how === 'entry' ? undefined : fs.lstatSync(g()).ino);
        expect(fs.readFileSync(g(), 'utf8')).toBe('new contents');
        expect(fs.lstatSync(g()).mtimeMs).toBe(item.src.mtimeMs);
      } else {
        expect(r).toMatchObject({ ok: false, code: want.code });
        expect((r as { reason: string }).reason).toMatch(want.reason);
        // dest's entry is what it was
        const now = fs.lstatSync(g(), { throwIfNoEntry: false });
        expect(now?.mtimeMs).toBe(before?.mtimeMs);
        expect(now?.size).toBe(before?.size);
      }
      if (fs.existsSync(dest)) expect(temps(dest)).toEqual([]);
    }
    expect(results[1]).toEqual(results[0]);
  });
});
