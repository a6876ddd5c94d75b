// The baseline store's contract as one table of cases, run against every store (SQLite in
// test/baseline.test.ts, MariaDB in test/baseline.integration.test.ts), so the two cannot drift.
// Each case opens its own pair, so cases share a backing file or database without seeing each
// other's records.
import { afterEach, describe, expect, it } from 'vitest';
import { isHaSyncError } from '../src/errors.js';
import type { BaseEntry, BaseRecord, BaselineChange, BaselineStore } from '../src/baseline/index.js';
import { moveTree } from '../src/baseline/index.js';

export interface StoreFixture {
  /** Opens a store for `pair` on the fixture's backing file or database (again, when reopened). */
  open(pair: string): Promise<BaselineStore>;
  /** False for a store that is gone on close (in memory): the reopen checks are skipped. */
  persistent: boolean;
}

/** A fractional mtime whose decimal form has no exact double: the stored double must come back. */
export const MTIME = Number('1764889200123.4567');

export function entry(over: Partial<BaseEntry> = {}): BaseEntry {
  return { kind: 'file', size: 10, mtimeMs: MTIME, ...over };
}

export function rec(name: string, over: Partial<BaseRecord> = {}): BaseRecord {
  const a = entry();
  return { name, a, b: a, md5: null, ...over };
}

export const set = (dir: string, r: BaseRecord): BaselineChange => ({ dir, name: r.name, rec: r });
export const drop = (dir: string, name: string): BaselineChange => ({ dir, name, rec: null });

/** Names that break naive stores: normalization, LIKE wildcards, escapes, astral characters, length. */
export const HOSTILE_NAMES: readonly string[] = [
  'plain.txt',
  'caf\u00e9', // NFC
  'cafe\u0301', // NFD: a different name on Linux, and must stay one
  'with space',
  'trailing space ',
  ' leading space',
  '100%',
  '%',
  '_',
  'a_b',
  'back\\slash',
  '\\',
  'quote\'"`',
  'semi;colon -- DROP TABLE sync_baseline',
  'tab\tand\nnewline',
  'emoji \u{1F600}.txt',
  '\u{1F600}',
  '\uE000private',
  '\uFFFDreplacement',
  'Zupper',
  'alower',
  '-dash',
  '.hidden',
  '0',
  'x'.repeat(255), // 255 bytes
  '\u00e9'.repeat(127) + 'a', // 255 bytes, 128 characters
  '\u{1F600}'.repeat(63) + 'abc', // 255 bytes of 4-byte characters
];

/** A directory path of about 4000 bytes, 40 levels deep, with hostile segments. */
export const DEEP_DIR = Array.from(
  { length: 40 },
  (_, i) => `${i % 2 ? '%_' : 'd\u00e9'}${'s'.repeat(95)}`,
).join('/');

/** The bits of a double, so "bit-exact" means bit-exact (distinguishes -0 and NaN payloads too). */
export function bits(x: number): string {
  return Buffer.from(new Float64Array([x]).buffer).toString('hex');
}

const codeUnitSort = (names: readonly string[]): string[] =>
  [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

async function expectUnavailable(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(
    isHaSyncError(err, 'BASELINE_UNAVAILABLE'),
    `expected BASELINE_UNAVAILABLE, got ${String(err)}`,
  ).toBe(true);
  return err as Error;
}

export function baselineContract(fixture: () => StoreFixture): void {
  let seq = 0;
  const opened: BaselineStore[] = [];
  const newPair = (): string => `p${process.pid}-${++seq}`;
  const open = async (pair = newPair()): Promise<BaselineStore> => {
    const s = await fixture().open(pair);
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  describe('baseline contract', () => {
    it('starts empty', async () => {
      const s = await open();
      expect(await s.readDir('')).toEqual([]);
      expect(await s.readDir('a/b')).toEqual([]);
      expect(await s.readPath('a')).toBeNull();
      expect(await s.readPath('')).toBeNull();
      expect(await s.dirDigest('')).toBeNull();
      await s.write([]);
    });

    it('round-trips hostile names in root, nested and deep dirs, in code-unit order', async () => {
      const s = await open();
      expect(Buffer.byteLength(DEEP_DIR)).toBeGreaterThan(3900);
      for (const dir of ['', 'n\u00e9/%_/\\', DEEP_DIR]) {
        await s.write(HOSTILE_NAMES.map((n) => set(dir, rec(n))));
        const got = await s.readDir(dir);
        expect(got.map((r) => r.name)).toEqual(codeUnitSort(HOSTILE_NAMES));
        for (const n of HOSTILE_NAMES) {
          expect(await s.readPath(dir === '' ? n : `${dir}/${n}`)).toEqual(rec(n));
        }
      }
      // NFC and NFD are two paths: dropping one leaves the other.
      await s.write([drop('', 'caf\u00e9')]);
      expect(await s.readPath('caf\u00e9')).toBeNull();
      expect(await s.readPath('cafe\u0301')).toEqual(rec('cafe\u0301'));
      // A name that is another's prefix, or differs by a trailing space, is another record.
      expect(await s.readPath('trailing space')).toBeNull();
      expect(await s.readPath('emoji')).toBeNull();
    });

    it('keeps mtimes bit-exact and sizes exact', async () => {
      const s = await open();
      const mtimes = [
        MTIME,
        0,
        0.1 + 0.2,
        1764889200123,
        -86_400_000.5, // before 1970
        4102444800000.999, // 2100
        Number.MAX_SAFE_INTEGER,
        2 ** -1074, // the smallest subnormal
        1.7976931348623157e308,
      ];
      await s.write(
        mtimes.map((m, i) =>
          set(
            't',
            rec(`f${i}`, {
              a: entry({ mtimeMs: m, size: i }),
              b: entry({ mtimeMs: m + 1e-3, size: 2 ** 53 - 1 }),
            }),
          ),
        ),
      );
      const got = await s.readDir('t');
      expect(got).toHaveLength(mtimes.length);
      for (const [i, m] of mtimes.entries()) {
        const r = got.find((x) => x.name === `f${i}`)!;
        expect(bits(r.a.mtimeMs)).toBe(bits(m));
        expect(bits(r.b.mtimeMs)).toBe(bits(m + 1e-3));
        expect(r.a.size).toBe(i);
        expect(r.b.size).toBe(2 ** 53 - 1);
      }
    });

    it('round-trips kinds, symlink targets, md5 and sides that differ', async () => {
      const s = await open();
      const link = entry({ kind: 'symlink', size: 13, target: '../x y/%_\u{1F600}' });
      const emptyLink = entry({ kind: 'symlink', size: 0, target: '' });
      const recs: BaseRecord[] = [
        rec('link', { a: link, b: link }),
        rec('link-differs', { a: link, b: entry({ kind: 'symlink', size: 1, target: 'z' }) }),
        rec('link-empty-target', { a: emptyLink, b: emptyLink }),
        rec('dir', { a: entry({ kind: 'dir', size: 0 }), b: entry({ kind: 'dir', size: 0, mtimeMs: 5 }) }),
        rec('fifo', { a: entry({ kind: 'special', size: 0 }) }),
        rec('kind-differs', { a: entry({ kind: 'file' }), b: entry({ kind: 'dir', size: 0 }) }),
        rec('hashed', { md5: 'd41d8cd98f00b204e9800998ecf8427e' }),
        rec('unhashed', { md5: null }),
        rec('b-has-target', { a: entry(), b: entry({ target: 'only-b' }) }),
        rec('racy-both', { a: entry({ racy: true }), b: entry({ racy: true }) }),
        rec('racy-b', { a: entry(), b: entry({ racy: true }) }),
      ];
      await s.write(recs.map((r) => set('k', r)));
      const got = await s.readDir('k');
      expect(got).toEqual(codeUnitSort(recs.map((r) => r.name)).map((n) => recs.find((r) => r.name === n)));
      const plain = got.find((r) => r.name === 'unhashed')!;
      expect(Object.hasOwn(plain.a, 'target')).toBe(false);
      expect((await s.readPath('k/link-empty-target'))!.a.target).toBe('');
    });

    it("round-trips each side's inode, whether or not the sides are otherwise equal", async () => {
      const s = await open();
      const link = (ino: number): BaseEntry => entry({ kind: 'symlink', size: 3, target: 'a b', ino });
      const recs: BaseRecord[] = [
        rec('both', { a: entry({ ino: 1234 }), b: entry({ ino: 98_765 }) }),
        rec('both-differ', { a: entry({ ino: 1, size: 5 }), b: entry({ ino: 2, size: 6, mtimeMs: 7 }) }),
        rec('only-a', { a: entry({ ino: 7 }), b: entry() }),
        rec('only-b', { a: entry(), b: entry({ ino: 8 }) }),
        rec('only-b-differs', { a: entry({ size: 1 }), b: entry({ ino: 9 }) }),
        rec('same-ino', { a: entry({ ino: 5 }), b: entry({ ino: 5 }) }),
        rec('extremes', { a: entry({ ino: 0 }), b: entry({ ino: Number.MAX_SAFE_INTEGER }) }),
        rec('link', { a: link(11), b: link(12) }),
        rec('racy', { a: entry({ racy: true, ino: 3 }), b: entry({ racy: true, ino: 4 }) }),
        rec('dir', {
          a: entry({ kind: 'dir', size: 0, ino: 2 ** 40 }),
          b: entry({ kind: 'dir', size: 0, ino: 2 ** 52 + 1 }),
          md5: null,
        }),
      ];
      await s.write(recs.map((r) => set('i', r)));
      const got = await s.readDir('i');
      expect(got).toEqual(codeUnitSort(recs.map((r) => r.name)).map((n) => recs.find((r) => r.name === n)));
      for (const r of recs) expect(await s.readPath(`i/${r.name}`), r.name).toEqual(r);
      const onlyA = got.find((r) => r.name === 'only-a')!;
      expect(onlyA.a.ino).toBe(7);
      expect(Object.hasOwn(onlyA.b, 'ino')).toBe(false);
      const onlyB = (await s.readPath('i/only-b'))!;
      expect(Object.hasOwn(onlyB.a, 'ino')).toBe(false);
      expect(onlyB.b.ino).toBe(8);
      // Overwriting a record without inodes drops the old ones.
      await s.write([set('i', rec('both'))]);
      expect(await s.readPath('i/both')).toEqual(rec('both'));
    });

    it('decodes a record without inodes with no ino property, one object for equal sides', async () => {
      const s = await open();
      await s.write([set('', rec('plain')), set('', rec('differs', { b: entry({ size: 3 }) }))]);
      const plain = (await s.readPath('plain'))!;
      expect(Object.hasOwn(plain.a, 'ino')).toBe(false);
      expect(plain.b).toBe(plain.a);
      const [differs] = await s.readDir('');
      expect(differs!.name).toBe('differs');
      expect(Object.hasOwn(differs!.a, 'ino')).toBe(false);
      expect(Object.hasOwn(differs!.b, 'ino')).toBe(false);
    });

    it('refuses a bad inode, and nothing of its batch is written', async () => {
      const s = await open();
      await s.write([set('d', rec('keep', { a: entry({ ino: 1 }), b: entry({ ino: 2 }) }))]);
      const bad: unknown[] = [-1, 1.5, Number.NaN, 2 ** 60, Number.POSITIVE_INFINITY, '5', null];
      for (const ino of bad) {
        for (const side of ['a', 'b'] as const) {
          const good = Array.from({ length: 20 }, (_, i) =>
            set('d', rec(`n${i}`, { a: entry({ ino: 100 + i }), b: entry({ ino: 200 + i }) })),
          );
          const wrong = set('d', rec('bad', { [side]: entry({ ino: ino as number }) }));
          const err = await expectUnavailable(s.write([drop('d', 'keep'), ...good, wrong]));
          expect(err.message, `${side} ${String(ino)}`).toMatch(/refused.*bad ino/);
        }
      }
      expect(await s.readDir('d')).toEqual([rec('keep', { a: entry({ ino: 1 }), b: entry({ ino: 2 }) })]);
    });

    it('overwrites a record, and the last change per path wins within one write', async () => {
      const s = await open();
      await s.write([set('', rec('x')), set('', rec('y'))]);
      await s.write([set('', rec('x', { md5: '0123456789abcdef0123456789abcdef' }))]);
      expect((await s.readPath('x'))!.md5).toBe('0123456789abcdef0123456789abcdef');
      await s.write([drop('', 'x'), set('', rec('x', { a: entry({ size: 99 }) }))]);
      expect((await s.readPath('x'))!.a.size).toBe(99);
      await s.write([set('', rec('y', { a: entry({ size: 5 }) })), drop('', 'y')]);
      expect(await s.readPath('y')).toBeNull();
      await s.write([drop('', 'never-existed')]);
      expect((await s.readDir('')).map((r) => r.name)).toEqual(['x']);
    });

    it('applies a write in one transaction: a refused change rolls all of it back', async () => {
      const s = await open();
      await s.write([set('d', rec('keep'))]);
      await s.setDigest('d', 'digest-d');
      const many = Array.from({ length: 3000 }, (_, i) => set(`m${i % 7}`, rec(`n${i}`)));
      const bad = set('d', rec('bad', { a: entry({ mtimeMs: Number.NaN }) }));
      await expectUnavailable(s.write([drop('d', 'keep'), ...many, bad]));
      expect(await s.readPath('d/keep')).toEqual(rec('keep'));
      for (let i = 0; i < 7; i++) expect(await s.readDir(`m${i}`)).toEqual([]);
      expect(await s.dirDigest('d')).toBe('digest-d');
      // The same changes without the bad one go through whole.
      await s.write([drop('d', 'keep'), ...many]);
      expect(await s.readPath('d/keep')).toBeNull();
      expect((await s.readDir('m0')).length).toBe(429);
      expect(await s.dirDigest('d')).toBeNull();
    });

    it('refuses changes it could not keep exactly', async () => {
      const s = await open();
      const refused: BaselineChange[] = [
        set('', rec('a/b')),
        set('/abs', rec('x')),
        set('a/', rec('x')),
        set('', rec('.')),
        set('', rec('')),
        set('', rec('nul\0')),
        set('', rec('lone\uD800')),
        set('', rec('x'.repeat(1025))),
        set('d'.repeat(4097), rec('x')),
        { dir: '', name: 'x', rec: rec('y') },
        set('', rec('x', { md5: 'D41D8CD98F00B204E9800998ECF8427E' })),
        set('', rec('x', { a: entry({ size: -1 }) })),
        set('', rec('x', { b: entry({ size: 1.5 }) })),
        set('', rec('x', { a: entry({ kind: 'socket' as never }) })),
        set('', rec('x', { a: entry({ mtimeMs: Number.POSITIVE_INFINITY }) })),
      ];
      for (const c of refused) {
        const err = await expectUnavailable(s.write([c]));
        expect(err.message).toMatch(/refused/);
      }
      await expectUnavailable(s.setDigest('', ''));
      await expectUnavailable(s.setDigest('/x', 'h'));
      expect(await s.readDir('')).toEqual([]);
    });

    it('stores digests per dir; a write clears the digest of every dir it touches', async () => {
      const s = await open();
      for (const d of ['', 'a', 'a/b', 'c', DEEP_DIR]) await s.setDigest(d, `h:${d.length}`);
      expect(await s.dirDigest('a')).toBe('h:1');
      await s.setDigest('a', 'h2');
      expect(await s.dirDigest('a')).toBe('h2');
      expect(await s.dirDigest(DEEP_DIR)).toBe(`h:${DEEP_DIR.length}`);
      await s.write([set('a', rec('x')), drop('c', 'never-existed'), set(DEEP_DIR, rec('y'))]);
      expect(await s.dirDigest('a')).toBeNull();
      expect(await s.dirDigest('c')).toBeNull(); // a drop touches its dir even when nothing was there
      expect(await s.dirDigest(DEEP_DIR)).toBeNull();
      expect(await s.dirDigest('')).toBe('h:0');
      expect(await s.dirDigest('a/b')).toBe('h:3');
    });

    it('drops a tree: the path, everything below it, and those digests; nothing beside it', async () => {
      const s = await open();
      // Siblings chosen around the byte range 'a/b/' .. 'a/b0' and around LIKE's wildcards.
      const dirs = [
        'a/b',
        'a/b/c',
        'a/b/c/d',
        'a/bc',
        'a/b0',
        'a/b.',
        'a/b-',
        'a/b%',
        'a/b_',
        'a/b\\',
        'a/b c',
        'ab',
        'a',
      ];
      await s.write(dirs.map((d) => set(d, rec('f'))));
      await s.write(['b', 'bc', 'b0', 'b%', 'b_', 'b.txt'].map((n) => set('a', rec(n))));
      for (const d of [...dirs, '']) await s.setDigest(d, `h-${d}`);
      await s.dropTree('a/b');
      for (const d of ['a/b', 'a/b/c', 'a/b/c/d']) {
        expect(await s.readDir(d)).toEqual([]);
        expect(await s.dirDigest(d)).toBeNull();
      }
      for (const d of ['a/bc', 'a/b0', 'a/b.', 'a/b-', 'a/b%', 'a/b_', 'a/b\\', 'a/b c', 'ab']) {
        expect(await s.readDir(d), d).toEqual([rec('f')]);
        expect(await s.dirDigest(d), d).toBe(`h-${d}`);
      }
      expect((await s.readDir('a')).map((r) => r.name)).toEqual(['b%', 'b.txt', 'b0', 'b_', 'bc', 'f']);
      expect(await s.dirDigest('a')).toBeNull(); // its record of 'b' is gone
      expect(await s.dirDigest('')).toBe('h-');
      // A file's tree is the file alone.
      await s.dropTree('a/b.txt');
      expect(await s.readPath('a/b.txt')).toBeNull();
      expect(await s.readPath('a/b0')).toEqual(rec('b0'));
      await s.dropTree('does/not/exist');
    });

    it('moves a tree: the record, everything below it, nothing beside it; what stood there goes', async () => {
      const s = await open();
      await s.write([set('', rec('photos')), set('photos', rec('2019')), set('photos', rec('keep'))]);
      await s.write([set('photos/2019', rec('a.jpg')), set('photos/2019/x', rec('b.jpg'))]);
      await s.write([set('photos/2019 b', rec('beside')), set('albums/2019', rec('stale'))]);
      expect((await s.treeDirs('photos/2019')).sort()).toEqual(['photos/2019', 'photos/2019/x']);
      expect((await moveTree(s, 'photos/2019', 'albums/2019')).records).toBe(3);
      expect(await s.readPath('albums/2019')).toEqual(rec('2019'));
      expect(await s.readDir('albums/2019')).toEqual([rec('a.jpg')]);
      expect(await s.readDir('albums/2019/x')).toEqual([rec('b.jpg')]);
      expect(await s.readPath('photos/2019')).toBeNull();
      expect(await s.treeDirs('photos/2019')).toEqual([]);
      expect(await s.readDir('photos/2019 b')).toEqual([rec('beside')]);
      expect(await s.readDir('photos')).toEqual([rec('keep')]);
      // A file's move is its record alone; into its own subtree is refused.
      expect((await moveTree(s, 'photos/keep', 'kept')).records).toBe(1);
      expect(await s.readPath('kept')).toEqual(rec('kept'));
      await expect(moveTree(s, 'albums', 'albums/2019/in')).rejects.toThrow(RangeError);
    });

    it('moves a tree with its inodes', async () => {
      const s = await open();
      const withIno = (name: string, a: number, b: number): BaseRecord =>
        rec(name, { a: entry({ ino: a }), b: entry({ ino: b }) });
      const dirA = entry({ kind: 'dir', size: 0, ino: 10 });
      const dirB = entry({ kind: 'dir', size: 0, ino: 20 });
      await s.write([
        set('', rec('from', { a: dirA, b: dirB })),
        set('from', withIno('x', 11, 21)),
        set('from', rec('no-ino')),
        set('from/sub', withIno('y', 12, 22)),
        set('from/sub', rec('only-b', { b: entry({ ino: 23 }) })),
      ]);
      expect((await moveTree(s, 'from', 'to')).records).toBe(5);
      expect(await s.readPath('to')).toEqual(rec('to', { a: dirA, b: dirB }));
      expect(await s.readDir('to')).toEqual([rec('no-ino'), withIno('x', 11, 21)]);
      expect(await s.readDir('to/sub')).toEqual([
        rec('only-b', { b: entry({ ino: 23 }) }),
        withIno('y', 12, 22),
      ]);
      expect(Object.hasOwn((await s.readPath('to/no-ino'))!.a, 'ino')).toBe(false);
      expect(await s.treeDirs('from')).toEqual([]);
    });

    it('drops a whole pair with the root path, and no other pair', async () => {
      const s = await open();
      const other = await open();
      await s.write([set('', rec('x')), set('d/e', rec('y'))]);
      await other.write([set('', rec('x')), set('d/e', rec('y'))]);
      await s.setDigest('d', 'h');
      await other.setDigest('d', 'h');
      await s.dropTree('');
      expect(await s.readDir('')).toEqual([]);
      expect(await s.readDir('d/e')).toEqual([]);
      expect(await s.dirDigest('d')).toBeNull();
      expect(await other.readDir('d/e')).toEqual([rec('y')]);
      expect(await other.dirDigest('d')).toBe('h');
    });

    it('keeps pairs apart', async () => {
      const s = await open();
      const other = await open();
      await s.write([set('', rec('mine'))]);
      await s.setDigest('', 'h');
      expect(await other.readDir('')).toEqual([]);
      expect(await other.readPath('mine')).toBeNull();
      expect(await other.dirDigest('')).toBeNull();
      await other.write([set('', rec('mine', { md5: 'ffffffffffffffffffffffffffffffff' }))]);
      expect((await s.readPath('mine'))!.md5).toBeNull();
      expect(await s.dirDigest('')).toBe('h');
    });

    it('reads a dir of 5000 records in order, and a reopened store sees them', async () => {
      const pair = newPair();
      const s = await open(pair);
      const names = Array.from({ length: 5000 }, (_, i) => `file-${(i * 7919) % 5000}-\u{1F600}`);
      await s.write(names.map((n) => set('big', rec(n))));
      await s.setDigest('big', 'h');
      let again = s;
      if (fixture().persistent) {
        await s.close();
        again = await open(pair);
      }
      const got = await again.readDir('big');
      expect(got.map((r) => r.name)).toEqual(codeUnitSort(names));
      expect(await again.dirDigest('big')).toBe('h');
    });

    it('fails every call after close with BASELINE_UNAVAILABLE; close is idempotent', async () => {
      const s = await open();
      await s.close();
      await s.close();
      await expectUnavailable(s.readDir(''));
      await expectUnavailable(s.readPath('x'));
      await expectUnavailable(s.write([set('', rec('x'))]));
      await expectUnavailable(s.dropTree('x'));
      await expectUnavailable(s.dirDigest(''));
      await expectUnavailable(s.setDigest('', 'h'));
    });
  });
}

export { expectUnavailable };
