// Core tables: the one decision (decidePath) from (baseline, side a, side b), and one directory
// planned (planPairDir). Named fixtures in, decisions out; the same situations on real disks
// through every caller are in test/matrix.test.ts.
import { describe, expect, it } from 'vitest';
import type { BaseEntry, BaseRecord, Decision, Entry, PlanOptions } from '../src/core/index.js';
import {
  RACY_WINDOW_MS,
  agreed,
  baseEntry,
  decidePath,
  deleteGuard,
  isRacy,
  planPairDir,
  settle,
  writesInto,
} from '../src/core/index.js';
import { T, d, f, l, sp } from './entries.helpers.js';

const keep: PlanOptions = { mtimeThresholdMs: 2000, deleteMissing: false };
const mirror: PlanOptions = { mtimeThresholdMs: 2000, deleteMissing: true };

/** A decision as one line: `copy a>b`, `delete b`, `conflict a>b`, `agree`, ... */
function word(x: Decision): string {
  switch (x.type) {
    case 'copy':
    case 'touch':
      return `${x.type} ${x.from}>${x.to}`;
    case 'delete':
      return `delete ${x.on}`;
    case 'conflict':
      return `conflict ${x.winner}>${x.loser}`;
    case 'dir-one-side':
      return `dir ${x.then} ${x.on}`;
    case 'problem':
      return `problem ${x.problem.kind}`;
    case 'dir-over-file':
      return `dir-over-file ${x.dir}`;
    default:
      return x.type;
  }
}

const rec = (e: Entry): BaseRecord => agreed(e.name, e, e);

interface Case {
  name: string;
  base?: Entry;
  a?: Entry;
  b?: Entry;
  opts?: PlanOptions;
  hashes?: { a: string; b: string };
  want: string;
}

const v1 = f('x', 3);
const cases: Case[] = [
  { name: 'unchanged on both', base: v1, a: v1, b: v1, want: 'none' },
  { name: 'new on a', a: f('x', 1), want: 'copy a>b' },
  { name: 'new on b', b: f('x', 1), want: 'copy b>a' },
  { name: 'new dir on a', a: d('x'), want: 'dir create a' },
  { name: 'edited on a (newer)', base: v1, a: f('x', 4, T + 9000), b: v1, want: 'copy a>b' },
  { name: 'edited on a with an OLDER mtime', base: v1, a: f('x', 4, T - 9000), b: v1, want: 'copy a>b' },
  { name: 'edited on b', base: v1, a: v1, b: f('x', 4, T + 9000), want: 'copy b>a' },
  {
    name: 'same size, within the threshold, on a only: hash first',
    base: v1,
    a: f('x', 3, T + 1000),
    b: v1,
    want: 'hash',
  },
  {
    name: '... contents differ: copied',
    base: v1,
    a: f('x', 3, T + 1000),
    b: v1,
    hashes: { a: '1', b: '2' },
    want: 'copy a>b',
  },
  {
    name: '... contents equal: touch',
    base: v1,
    a: f('x', 3, T + 1000),
    b: v1,
    hashes: { a: '1', b: '1' },
    want: 'touch a>b',
  },
  { name: 'deleted on a, --delete-missing', base: v1, b: v1, opts: mirror, want: 'delete b' },
  { name: 'deleted on a, no --delete-missing: comes back', base: v1, b: v1, want: 'copy b>a' },
  { name: 'dir deleted on a, --delete-missing', base: d('x'), b: d('x'), opts: mirror, want: 'dir remove b' },
  { name: 'dir deleted on a, no --delete-missing', base: d('x'), b: d('x'), want: 'dir create b' },
  {
    name: 'edited on a, deleted on b: the edit comes back',
    base: v1,
    a: f('x', 4, T + 9000),
    opts: mirror,
    want: 'copy a>b',
  },
  {
    name: 'deleted on a, edited on b: the edit comes back',
    base: v1,
    b: f('x', 4, T + 9000),
    opts: mirror,
    want: 'copy b>a',
  },
  { name: 'deleted on both', base: v1, opts: mirror, want: 'drop' },
  {
    name: 'both edited, a newer',
    base: v1,
    a: f('x', 5, T + 9000),
    b: f('x', 4, T + 5000),
    want: 'conflict a>b',
  },
  {
    name: 'both edited, b newer',
    base: v1,
    a: f('x', 5, T + 5000),
    b: f('x', 4, T + 9000),
    want: 'conflict b>a',
  },
  {
    name: 'both edited, same size, mtimes within the threshold: hash (never assumed equal)',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 6000),
    want: 'hash',
  },
  {
    name: 'both edited, same size and the very same mtime: hash',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 5000),
    want: 'hash',
  },
  {
    name: '... equal MD5 (within the threshold): agree',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 6000),
    hashes: { a: '1', b: '1' },
    want: 'agree',
  },
  {
    name: 'both edited, same size, mtimes apart: hash',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 60000),
    want: 'hash',
  },
  {
    name: '... equal MD5: agree',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 60000),
    hashes: { a: '1', b: '1' },
    want: 'agree',
  },
  {
    name: '... different MD5: conflict',
    base: v1,
    a: f('x', 4, T + 5000),
    b: f('x', 4, T + 60000),
    hashes: { a: '1', b: '2' },
    want: 'conflict b>a',
  },
  {
    name: 'no baseline, a newer: newest wins (no conflict)',
    a: f('x', 5, T + 9000),
    b: f('x', 4),
    want: 'copy a>b',
  },
  { name: 'no baseline, only on b, --delete-missing: copied', b: f('x', 4), opts: mirror, want: 'copy b>a' },
  {
    name: 'no baseline, same size and the very same mtime: agree (quick check)',
    a: f('x', 4),
    b: f('x', 4),
    want: 'agree',
  },
  {
    name: 'no baseline, same size, mtimes within the threshold: hash',
    a: f('x', 4),
    b: f('x', 4, T + 100),
    want: 'hash',
  },
  {
    name: 'no baseline, equal MD5, mtimes apart: touch the older',
    a: f('x', 4),
    b: f('x', 4, T + 9000),
    hashes: { a: '1', b: '1' },
    want: 'touch b>a',
  },
  {
    name: 'symlink retargeted on a',
    base: l('x', 'one'),
    a: l('x', 'two'),
    b: l('x', 'one'),
    want: 'copy a>b',
  },
  { name: 'both dirs', base: d('x'), a: d('x'), b: d('x'), want: 'descend' },
  {
    name: 'dir replaced by a file on a: the directory wins',
    base: d('x'),
    a: f('x', 1, T + 9000),
    b: d('x'),
    opts: mirror,
    want: 'dir-over-file b',
  },
  { name: "file replaced by a dir on a: b's file goes (kept)", base: v1, a: d('x'), b: v1, want: 'delete b' },
  {
    name: 'dir against file, no baseline: the directory wins',
    a: d('x'),
    b: f('x', 1),
    want: 'dir-over-file a',
  },
  {
    name: 'file edited on a, replaced by a dir on b: the directory wins',
    base: v1,
    a: f('x', 9, T + 9000),
    b: d('x'),
    want: 'dir-over-file b',
  },
  { name: 'a fifo is never touched', base: v1, a: sp('x'), b: v1, opts: mirror, want: 'problem special' },
];

describe('decidePath', () => {
  it.each(cases)('$name', (c) => {
    const got = decidePath(c.base && rec(c.base), c.a, c.b, c.opts ?? keep, c.hashes);
    expect(word(got)).toBe(c.want);
  });

  it('is symmetric: swapping the sides swaps the answer', () => {
    const swap = (w: string): string => w.replace(/\b([ab])\b/g, (m) => (m === 'a' ? 'b' : 'a'));
    for (const c of cases) {
      const r = c.base && rec(c.base);
      const h = c.hashes && { a: c.hashes.b, b: c.hashes.a };
      // Ties go to a (documented): only cases without an exact tie are symmetric.
      if (c.name.includes('mtimes within the threshold: hash') && !c.hashes) continue;
      expect(word(decidePath(r, c.b, c.a, c.opts ?? keep, h)), c.name).toBe(swap(c.want));
    }
  });

  it('one-way runs keep only what writes into dest', () => {
    const conflict = decidePath(rec(v1), f('x', 5, T + 9000), f('x', 4, T + 5000), keep);
    expect(writesInto(conflict, 'b')).toBe(true); // dest lost: its version is moved aside there
    expect(writesInto(decidePath(rec(v1), f('x', 5, T + 1), f('x', 4, T + 9000), keep), 'b')).toBe(false);
    expect(writesInto(decidePath(rec(v1), v1, undefined, mirror), 'b')).toBe(false); // dest deleted
    expect(writesInto(decidePath(undefined, undefined, f('x', 1), mirror), 'b')).toBe(false); // new on dest
  });
});

describe('planPairDir', () => {
  it('plans every name of either side or the baseline, in name order, with paths under the dir', () => {
    const plan = planPairDir(
      'p',
      [rec(f('gone', 1)), rec(f('k', 1))],
      [f('k', 1), d('s'), f('n', 2)],
      [f('k', 1), d('s')],
      mirror,
    );
    expect(plan.paths.map((x) => `${x.path} ${word(x.decision)}`)).toEqual([
      'p/gone drop',
      'p/k none',
      'p/n copy a>b',
      'p/s descend',
    ]);
    expect(plan.descend).toEqual([{ path: 'p/s' }]);
  });

  it('walks a directory only one side has, the other side named missing', () => {
    const plan = planPairDir('', [rec(d('old'))], [d('new')], [d('old')], mirror);
    expect(plan.descend).toEqual([
      { path: 'new', missing: 'b' },
      { path: 'old', missing: 'a' },
    ]);
  });

  it('a one-way run turns writes into src into nothing, and skips walking what only src would get', () => {
    const plan = planPairDir('', [], [f('x', 1)], [f('y', 1), d('only-dest')], { ...mirror, writeTo: 'b' });
    expect(plan.paths.map((x) => `${x.path} ${word(x.decision)}`)).toEqual([
      'only-dest none',
      'x copy a>b',
      'y none',
    ]);
    expect(plan.descend).toEqual([]);
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

describe('racy baseline entries (one-second mtimes)', () => {
  const now = 1_800_000_000_000;
  const whole = f('x', 3, now - 1000); // a whole-second mtime, recorded a second later
  const racy = (e: Entry): BaseEntry => ({ ...baseEntry(e), racy: true });
  const racyRec = (ra: boolean, rb: boolean): BaseRecord => ({
    name: 'x',
    a: ra ? racy(whole) : baseEntry(whole),
    b: rb ? racy(whole) : baseEntry(whole),
    md5: null,
  });

  it('marks a whole-second mtime recorded within the window, and nothing else', () => {
    expect(isRacy(baseEntry(whole), now)).toBe(true);
    expect(isRacy(baseEntry(whole), now + RACY_WINDOW_MS)).toBe(false);
    expect(isRacy(baseEntry(f('x', 3, now - 1000 + 0.5)), now)).toBe(false); // sub-second: trusted
    expect(isRacy(baseEntry(f('x', 3, now + 86_400_000)), now)).toBe(false); // far future
    expect(isRacy(baseEntry(d('x')), now)).toBe(false);
    const s = settle(agreed('x', whole, whole), now);
    expect(s.a.racy && s.b.racy).toBe(true);
    expect(settle(s, now + 10_000).a.racy).toBeUndefined();
  });

  it('an entry that looks as recorded is compared by contents', () => {
    expect(word(decidePath(racyRec(true, false), whole, whole, keep))).toBe('hash');
    expect(word(decidePath(racyRec(true, false), whole, whole, keep, { a: '1', b: '1' }))).toBe('agree');
    // Different contents: the racy side was saved again within the recorded second.
    expect(word(decidePath(racyRec(true, false), whole, whole, keep, { a: '1', b: '2' }))).toBe('copy a>b');
    expect(word(decidePath(racyRec(false, true), whole, whole, keep, { a: '1', b: '2' }))).toBe('copy b>a');
    // Both racy: which one changed is unknown, so neither is overwritten.
    expect(word(decidePath(racyRec(true, true), whole, whole, keep, { a: '1', b: '2' }))).toMatch(
      /^conflict/,
    );
    // Not racy: trusted, nothing read.
    expect(word(decidePath(racyRec(false, false), whole, whole, keep))).toBe('none');
  });

  it('a racy side against a real change on the other: the change wins (the racy one is kept as a version)', () => {
    const edited = f('x', 9, now + 5000);
    expect(word(decidePath(racyRec(true, false), whole, edited, keep))).toBe('copy b>a');
  });
});
