// Packed listings: the shortcut the engine takes for a directory that is the same on both sides
// (`sameListing` + `subdirNames`) must give exactly what planDir gives for it.
import { describe, expect, it } from 'vitest';
import type { Entry, PlanOptions } from '../src/core/index.js';
import { agreed, planPairDir } from '../src/core/index.js';
import {
  PackedDirScan,
  listingDigest,
  pack,
  sameListing,
  subdirNames,
  unpackEntries,
} from '../src/fsops/index.js';
import { PackedBuilder, transferables } from '../src/fsops/packed.js';
import { T, d as dir, f as file, l, sp } from './entries.helpers.js';

const f = (name: string, size = 1, mtimeMs = T + 0.25, mode = 0o644): Entry =>
  file(name, size, mtimeMs, mode);
const d = (name: string, mtimeMs = T + 0.25): Entry => dir(name, mtimeMs);

const listing = (entries: Entry[]) => ({ entries, temps: [], issues: [] });
const ino = (e: Entry, n: number): Entry => ({ ...e, ino: n });

const cases: { name: string; src: Entry[]; dest: Entry[]; same: boolean }[] = [
  { name: 'both empty', src: [], dest: [], same: true },
  {
    name: 'same files and dirs',
    src: [f('a'), d('s'), f('b', 7)],
    dest: [f('b', 7), d('s'), f('a')],
    same: true,
  },
  {
    name: "directories' own mtimes differ",
    src: [d('s', T), f('a')],
    dest: [d('s', T + 5e6), f('a')],
    same: true,
  },
  { name: 'permission bits differ', src: [f('a', 1, T, 0o600)], dest: [f('a', 1, T, 0o644)], same: true },
  { name: 'same symlinks', src: [l('ln', 'x/y')], dest: [l('ln', 'x/y')], same: true },
  {
    name: 'a file mtime differs within any threshold',
    src: [f('a', 1, T)],
    dest: [f('a', 1, T + 1)],
    same: false,
  },
  { name: 'a size differs', src: [f('a', 1)], dest: [f('a', 2)], same: false },
  { name: 'a name differs', src: [f('a')], dest: [f('b')], same: false },
  { name: 'an extra entry', src: [f('a')], dest: [f('a'), f('b')], same: false },
  { name: 'a kind differs', src: [f('a')], dest: [d('a')], same: false },
  { name: 'a symlink target differs', src: [l('ln', 'x')], dest: [l('ln', 'y')], same: false },
  { name: 'file vs symlink with one name', src: [f('ln', 1)], dest: [l('ln', 'x')], same: false },
  { name: 'a fifo on both sides (reported by the planner)', src: [sp('p')], dest: [sp('p')], same: false },
  {
    name: 'names with NUL-free oddities',
    src: [f('a\nb'), f('-x'), f('"q"')],
    dest: [f('"q"'), f('-x'), f('a\nb')],
    same: true,
  },
  {
    name: 'inode numbers differ (or one side has none)',
    src: [ino(f('a'), 11), ino(d('s'), 12), ino(l('ln', 'x'), 13), f('b')],
    dest: [ino(f('a'), 901), ino(d('s'), 902), l('ln', 'x'), ino(f('b'), 903)],
    same: true,
  },
  {
    name: 'NFC and NFD are different names',
    src: [f('caf\u00e9'), f('cafe\u0301')],
    dest: [f('cafe\u0301'), f('caf\u00e9')],
    same: true,
  },
];

describe('sameListing', () => {
  it.each(cases)('$name', (c) => {
    expect(sameListing(pack(listing(c.src)), pack(listing(c.dest)))).toBe(c.same);
  });

  it.each(cases.filter((c) => c.same))('agrees with planPairDir: $name', (c) => {
    // Both sides list the same entries, and the baseline recorded them: nothing to decide, and
    // every subdirectory walked.
    const base = c.src.map((e) => agreed(e.name, e, c.dest.find((x) => x.name === e.name) ?? e));
    for (const opts of [
      { mtimeThresholdMs: 0, deleteMissing: false },
      { mtimeThresholdMs: 2000, deleteMissing: true },
    ] satisfies PlanOptions[]) {
      const plan = planPairDir('p', base, c.src, c.dest, opts);
      expect(plan.paths.map((x) => x.decision.type).filter((t) => t !== 'none' && t !== 'descend')).toEqual(
        [],
      );
      const names = subdirNames(pack(listing(c.src)));
      expect(plan.descend).toEqual(names.map((n) => ({ path: `p/${n}` })));
    }
  });
});

describe('packed listings', () => {
  it('round-trip in name order, symlink targets included', () => {
    const entries = [f('b'), l('ln', 't\u00e9'), d('a'), sp('p')];
    const p = pack(listing(entries));
    expect(unpackEntries(p)).toEqual([d('a'), f('b'), l('ln', 't\u00e9'), sp('p')]);
    expect(p).toMatchObject({ count: 4, files: 3, special: true });
    expect(subdirNames(p)).toEqual(['a']);
  });
  it('unpack lazily', () => {
    const s = new PackedDirScan(pack(listing([f('a'), d('s')])));
    expect(s.temps).toEqual([]);
    expect(s.entries.map((e) => e.name)).toEqual(['a', 's']);
    expect(s.entries).toBe(s.entries);
  });
});

describe('inode numbers in packed listings', () => {
  // Digests the baseline stores, as the code before inode numbers made them: a listing must digest
  // to these bytes for good, or every stored digest goes stale and a no-op run redoes all its work.
  const fixed = (): Entry[] => [
    f('b', 7, T + 0.25, 0o640),
    d('a', T + 5),
    l('ln', 't\u00e9'),
    sp('p'),
    f('caf\u00e9', 0, T),
  ];
  const FIXED_DIGEST = 'DxVTpC3ZEv+Ny2Wxighu7O7u03I=';
  const EMPTY_DIGEST = '2jmj7l5rSw0yVb/vlWAYkK/YBwk=';

  it('leave the digest as it was before inode numbers', () => {
    expect(listingDigest(pack(listing(fixed())))).toBe(FIXED_DIGEST);
    expect(listingDigest(pack(listing(fixed().map((e, i) => ino(e, 1000 + i)))))).toBe(FIXED_DIGEST);
    expect(listingDigest(pack(listing([])))).toBe(EMPTY_DIGEST);
  });

  it('are neither compared nor digested', () => {
    const entries = [f('a'), d('s'), l('ln', 'x'), f('z', 3)];
    const x = pack(listing(entries.map((e, i) => ino(e, 10 + i))));
    const y = pack(listing(entries.map((e, i) => ino(e, 5_000_000 + i))));
    const none = pack(listing(entries));
    expect(Array.from(x.inos!)).toEqual([10, 12, 11, 13]); // in name order: a, ln, s, z
    expect(none.inos).toBeUndefined();
    for (const [p, q] of [
      [x, y],
      [x, none],
    ] as const) {
      expect(sameListing(p, q)).toBe(true);
      expect(listingDigest(p)).toBe(listingDigest(q));
      expect(Array.from(p.nums)).toEqual(Array.from(q.nums));
    }
    // Something else differing still shows, inode numbers or not.
    const other = pack(listing([f('a'), d('s'), l('ln', 'x'), f('z', 4)].map((e, i) => ino(e, 10 + i))));
    expect(sameListing(x, other)).toBe(false);
    expect(listingDigest(other)).not.toBe(listingDigest(x));
  });

  it('round-trip, and an unknown one is no property at all', () => {
    const entries = [
      ino(f('b'), 7),
      l('ln', 'x'),
      ino(d('a'), 2 ** 40),
      ino(l('lm', 'y'), 9),
      ino(sp('p'), 3),
    ];
    const back = unpackEntries(pack(listing(entries)));
    expect(back).toEqual([
      ino(d('a'), 2 ** 40),
      ino(f('b'), 7),
      ino(l('lm', 'y'), 9),
      l('ln', 'x'),
      ino(sp('p'), 3),
    ]);
    expect(back.find((e) => e.name === 'ln')).not.toHaveProperty('ino');
  });

  it('leave out 0, NaN and numbers past 2^53 (rounded, they could name another file)', () => {
    const b = new PackedBuilder(1);
    b.add('a', 'file', 1, T, 0o644, undefined, 0);
    b.add('b', 'file', 1, T, 0o644, undefined, NaN);
    b.add('c', 'file', 1, T, 0o644, undefined, 2 ** 53 + 2);
    b.add('d', 'file', 1, T, 0o644, undefined, Number.MAX_SAFE_INTEGER);
    const back = unpackEntries(b.finish([], []));
    expect(back.map((e) => Object.hasOwn(e, 'ino'))).toEqual([false, false, false, true]);
    expect(back[3]!.ino).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('stay with their entries as the builder grows', () => {
    const b = new PackedBuilder(1);
    for (let i = 0; i < 100; i++) {
      const name = `n${String(i).padStart(3, '0')}`;
      if (i % 2 === 0) b.add(name, 'file', i, T, 0o644, undefined, 1000 + i);
      else b.add(name, 'symlink', 1, T, 0o777, 't', i % 3 === 0 ? undefined : 1000 + i);
    }
    const p = b.finish([], []);
    expect(p.inos).toHaveLength(100);
    expect(p.nums).toHaveLength(400);
    unpackEntries(p).forEach((e, i) => {
      expect(e.ino).toBe(i % 2 === 1 && i % 3 === 0 ? undefined : 1000 + i);
    });
  });

  it('a listing without any is packed as before: no inos array', () => {
    const b = new PackedBuilder(4);
    b.add('a', 'file', 1, T, 0o644);
    expect(b.finish([], []).inos).toBeUndefined();
  });

  it('travel between threads moved, not copied, with the numbers', () => {
    const p = pack(listing([ino(f('a'), 5), ino(d('s'), 6)]));
    const moved = structuredClone(p, { transfer: transferables(p) });
    expect(p.nums.length).toBe(0); // detached: moved away
    expect(p.inos!.length).toBe(0);
    expect(unpackEntries(moved)).toEqual([ino(f('a'), 5), ino(d('s'), 6)]);
    expect(transferables(pack(listing([f('a')])))).toHaveLength(1);
  });
});
