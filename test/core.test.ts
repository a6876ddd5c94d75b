// Core planning tables: named fixture directories -> expected ops, descends and problems.
import { describe, expect, it } from 'vitest';
import type { Entry, PlanOptions } from '../src/core/index.js';
import { compareEntries, deleteGuard, planDir } from '../src/core/index.js';
import { T, d, f, l, sp } from './entries.helpers.js';

const keep: PlanOptions = { mtimeThresholdMs: 2000, deleteMissing: false };
const mirror: PlanOptions = { mtimeThresholdMs: 2000, deleteMissing: true };

interface Case {
  name: string;
  src: Entry[];
  dest: Entry[];
  opts?: PlanOptions;
  mode?: 'both' | 'src-only' | 'dest-only';
  ops: string[];
  descend?: string[];
  problems?: string[];
  replace?: string[];
}

const cases: Case[] = [
  {
    name: 'identical trees',
    src: [f('a', 1), d('s')],
    dest: [f('a', 1), d('s')],
    ops: [],
    descend: ['s:both'],
  },
  {
    name: 'missing in dest: create',
    src: [f('a', 3), l('ln', 'a')],
    dest: [],
    ops: ['create a', 'create ln'],
  },
  {
    name: 'new dir: create and descend src-only',
    src: [d('s')],
    dest: [],
    ops: ['create s'],
    descend: ['s:src-only'],
  },
  {
    name: 'src newer, size differs: update',
    src: [f('a', 5, T + 10_000)],
    dest: [f('a', 3)],
    ops: ['update a'],
  },
  { name: 'src newer, same size: hash', src: [f('a', 3, T + 10_000)], dest: [f('a', 3)], ops: ['hash a'] },
  { name: 'dest newer: leave it', src: [f('a', 5)], dest: [f('a', 3, T + 10_000)], ops: [] },
  { name: 'within threshold, same size: equal', src: [f('a', 3, T + 1500)], dest: [f('a', 3)], ops: [] },
  {
    name: 'within threshold, sizes differ, src not older: update',
    src: [f('a', 4, T + 1000)],
    dest: [f('a', 3)],
    ops: ['update a'],
  },
  {
    name: 'within threshold, sizes differ, src older: leave',
    src: [f('a', 4)],
    dest: [f('a', 3, T + 1000)],
    ops: [],
  },
  { name: 'dest-only without --delete-missing: kept', src: [], dest: [f('a', 1), d('s')], ops: [] },
  {
    name: 'dest-only with --delete-missing: delete, descend dest-only',
    src: [],
    dest: [f('a', 1), d('s'), l('ln', 'x')],
    opts: mirror,
    ops: ['delete a', 'delete ln', 'delete s'],
    descend: ['s:dest-only'],
  },
  {
    name: 'dir in dest where src has a file, keep mode: failed problem, nothing destroyed',
    src: [f('a', 1)],
    dest: [d('a')],
    ops: [],
    problems: ['type-conflict a fails'],
  },
  {
    name: 'file in dest where src has a dir, keep mode: failed problem',
    src: [d('a')],
    dest: [f('a', 1)],
    ops: [],
    problems: ['type-conflict a fails'],
  },
  {
    name: 'dir in dest where src has a file, mirror: delete dir tree then replace',
    src: [f('a', 1)],
    dest: [d('a')],
    opts: mirror,
    ops: ['delete a'],
    descend: ['a:dest-only'],
    replace: ['a'],
  },
  {
    name: 'file in dest where src has a dir, mirror: delete then replace',
    src: [d('a')],
    dest: [f('a', 1)],
    opts: mirror,
    ops: ['delete a'],
    replace: ['a'],
  },
  {
    name: 'symlink target changed, src newer: update',
    src: [l('ln', 'b', T + 5000)],
    dest: [l('ln', 'a')],
    ops: ['update ln'],
  },
  { name: 'symlink same target: nothing', src: [l('ln', 'a', T + 99_000)], dest: [l('ln', 'a')], ops: [] },
  {
    name: 'file replaces symlink when newer',
    src: [f('x', 1, T + 5000)],
    dest: [l('x', 'y')],
    ops: ['update x'],
  },
  {
    name: 'special files are skipped with a warning, never deleted',
    src: [sp('fifo')],
    dest: [sp('sock')],
    opts: mirror,
    ops: [],
    problems: ['special fifo warns', 'special sock warns'],
  },
  {
    name: 'NFC and NFD forms are two different names',
    src: [f('caf\u00e9', 1), f('cafe\u0301', 2)],
    dest: [f('caf\u00e9', 1)],
    ops: ['create cafe\u0301'],
  },
  {
    name: 'src-only mode ignores dest',
    src: [f('a', 1)],
    dest: [f('a', 1)],
    mode: 'src-only',
    ops: ['create a'],
  },
  {
    name: 'dest-only mode deletes everything',
    src: [f('a', 1)],
    dest: [f('a', 1), d('s')],
    opts: mirror,
    mode: 'dest-only',
    ops: ['delete a', 'delete s'],
    descend: ['s:dest-only'],
  },
];

describe('planDir', () => {
  it.each(cases)('$name', (c) => {
    const plan = planDir('', c.src, c.dest, c.opts ?? keep, c.mode ?? 'both');
    expect(plan.ops.map((o) => `${o.kind} ${o.path}`)).toEqual(c.ops);
    expect(plan.descend.map((x) => `${x.path}:${x.mode}`)).toEqual(c.descend ?? []);
    expect(plan.problems.map((p) => `${p.kind} ${p.path} ${p.fails ? 'fails' : 'warns'}`).sort()).toEqual(
      (c.problems ?? []).sort(),
    );
    expect(plan.replace).toEqual(c.replace ?? []);
  });

  it('prefixes paths with the directory', () => {
    const plan = planDir('x/y', [f('a', 1), d('s')], [], keep);
    expect(plan.ops.map((o) => o.path)).toEqual(['x/y/a', 'x/y/s']);
    expect(plan.descend).toEqual([{ path: 'x/y/s', mode: 'src-only' }]);
  });

  it('never deletes a dest entry whose name src listed but could not read', () => {
    const plan = planDir(
      '',
      [f('k', 1)],
      [f('k', 1), f('gone', 1), f('ln', 1), d('sub')],
      mirror,
      'both',
      new Set(['ln', 'sub']),
    );
    expect(plan.ops.map((o) => `${o.kind} ${o.path}`)).toEqual(['delete gone']);
    expect(plan.descend).toEqual([]);
  });

  it('carries the entries it saw for check-before-write', () => {
    const plan = planDir('', [f('a', 5, T + 9000)], [f('a', 3)], keep);
    expect(plan.ops[0]).toMatchObject({ src: { size: 5 }, dest: { size: 3 } });
  });
});

describe('compareEntries', () => {
  it('uses the threshold in both directions', () => {
    expect(compareEntries(f('a', 1, T + 2000), f('a', 1), 2000)).toBeNull();
    expect(compareEntries(f('a', 1, T + 2001), f('a', 1), 2000)).toBe('hash');
    expect(compareEntries(f('a', 1, T + 2001), f('a', 1), 0)).toBe('hash');
    expect(compareEntries(f('a', 1), f('a', 1, T + 2001), 2000)).toBeNull();
  });
});

describe('deleteGuard', () => {
  const base = {
    srcEmpty: false,
    destEntries: 10,
    destFiles: 10,
    fileDeletes: 0,
    maxDeletePercent: 50,
    force: false,
  };
  it.each([
    ['no deletes', base, null],
    ['empty source, non-empty dest', { ...base, srcEmpty: true }, /source is empty/],
    ['empty source and dest', { ...base, srcEmpty: true, destEntries: 0, destFiles: 0 }, null],
    [
      'empty source even with max-delete 100',
      { ...base, srcEmpty: true, maxDeletePercent: 100 },
      /source is empty/,
    ],
    ['at the limit', { ...base, fileDeletes: 5 }, null],
    ['over the limit', { ...base, fileDeletes: 6 }, /would delete 6 of 10 .*60\.0%.*--max-delete 50%/],
    ['force overrides max-delete', { ...base, fileDeletes: 10, force: true }, null],
    ['force overrides empty source', { ...base, srcEmpty: true, force: true }, null],
  ] as const)('%s', (_n, g, expected) => {
    const r = deleteGuard(g);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });
});
