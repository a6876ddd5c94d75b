// Packed listings: the shortcut the engine takes for a directory that is the same on both sides
// (`sameListing` + `subdirNames`) must give exactly what planDir gives for it.
import { describe, expect, it } from 'vitest';
import type { Entry, PlanOptions } from '../src/core/index.js';
import { agreed, planPairDir } from '../src/core/index.js';
import { PackedDirScan, pack, sameListing, subdirNames, unpackEntries } from '../src/fsops/index.js';
import { T, d as dir, f as file, l, sp } from './entries.helpers.js';

const f = (name: string, size = 1, mtimeMs = T + 0.25, mode = 0o644): Entry =>
  file(name, size, mtimeMs, mode);
const d = (name: string, mtimeMs = T + 0.25): Entry => dir(name, mtimeMs);

const listing = (entries: Entry[]) => ({ entries, temps: [], issues: [] });

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
