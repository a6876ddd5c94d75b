// Names of kept versions and conflict copies (core/names.ts): a pure table.
import { describe, expect, it } from 'vitest';
import {
  conflictName,
  isConflictName,
  parseVersionName,
  splitExt,
  STATE_DIR,
  timeTag,
  VERSIONS_DIR,
  versionName,
} from '../src/core/index.js';

const T = Date.UTC(2026, 11, 4, 23, 15, 0, 789); // 2026-12-04 23:15:00.789 UTC
const SEC = Date.UTC(2026, 11, 4, 23, 15, 0);

describe('splitExt', () => {
  it.each([
    ['a.txt', 'a', '.txt'],
    ['a.tar.gz', 'a.tar', '.gz'],
    ['notes', 'notes', ''],
    ['.bashrc', '.bashrc', ''],
    ['.config.json', '.config', '.json'],
    ['..x', '.', '.x'],
    ['a.', 'a', '.'],
    ['photo.JPG', 'photo', '.JPG'],
  ])('%s -> stem %j, ext %j', (name, stem, ext) => {
    expect(splitExt(name)).toEqual({ stem, ext });
  });
});

describe('timeTag', () => {
  it('is the UTC second, zero-padded', () => {
    expect(timeTag(T)).toBe('20261204-231500');
    expect(timeTag(Date.UTC(2001, 0, 2, 3, 4, 5, 999))).toBe('20010102-030405');
  });
  it('rejects a time it cannot write with a 4-digit year', () => {
    expect(() => timeTag(NaN)).toThrow(RangeError);
    expect(() => timeTag(Date.UTC(10000, 0, 1))).toThrow(RangeError);
  });
});

describe('versionName', () => {
  it.each([
    ['a.txt', 0, `${VERSIONS_DIR}/a~20261204-231500.txt`],
    ['docs/report.pdf', 0, `${VERSIONS_DIR}/docs/report~20261204-231500.pdf`],
    ['docs/report.pdf', 2, `${VERSIONS_DIR}/docs/report~20261204-231500-2.pdf`],
    ['x/y/a.tar.gz', 0, `${VERSIONS_DIR}/x/y/a.tar~20261204-231500.gz`],
    ['.bashrc', 0, `${VERSIONS_DIR}/.bashrc~20261204-231500`],
    ['home/.bashrc', 1, `${VERSIONS_DIR}/home/.bashrc~20261204-231500-1`],
    ['Makefile', 0, `${VERSIONS_DIR}/Makefile~20261204-231500`],
    ['ünï cödé/naïve file.txt', 0, `${VERSIONS_DIR}/ünï cödé/naïve file~20261204-231500.txt`],
  ])('%s (n=%i) -> %s', (rel, n, want) => {
    expect(versionName(rel, T, n)).toBe(want);
    expect(parseVersionName(want)).toEqual({ rel, keptAtMs: SEC, n });
  });
  it('lives under .ha-sync/versions', () => {
    expect(VERSIONS_DIR).toBe(`${STATE_DIR}/versions`);
    expect(STATE_DIR).toBe('.ha-sync');
  });
  it('rejects a negative or fractional counter', () => {
    expect(() => versionName('a', T, -1)).toThrow(RangeError);
    expect(() => versionName('a', T, 1.5)).toThrow(RangeError);
  });
});

describe('parseVersionName', () => {
  it('round-trips names that hold tildes, digits and dots of their own', () => {
    for (const rel of [
      'a~20200101-000000.txt',
      'a~20200101-000000-3',
      'b~c.d~e',
      'a.sync-conflict-20261204-231500-hp~1.txt',
      'dir.with.dots/x',
      'weird\nname.txt',
    ]) {
      for (const n of [0, 1, 12]) {
        expect(parseVersionName(versionName(rel, T, n)), `${rel} n=${n}`).toEqual({ rel, keptAtMs: SEC, n });
      }
    }
  });
  it.each([
    ['not under the versions area', 'a~20261204-231500.txt'],
    ['another state folder', `${STATE_DIR}/other/a~20261204-231500.txt`],
    ['no tag', `${VERSIONS_DIR}/a.txt`],
    ['tag without a stem', `${VERSIONS_DIR}/~20261204-231500.txt`],
    ['short date', `${VERSIONS_DIR}/a~2026124-231500.txt`],
    ['month 13', `${VERSIONS_DIR}/a~20261304-231500.txt`],
    ['second 61', `${VERSIONS_DIR}/a~20261204-231561.txt`],
    ['counter 0', `${VERSIONS_DIR}/a~20261204-231500-0.txt`],
    ['counter with a leading zero', `${VERSIONS_DIR}/a~20261204-231500-01.txt`],
    ['something after the tag that is not an extension', `${VERSIONS_DIR}/a~20261204-231500x`],
    // `a.txt` has the extension `.txt`, so its version is `a~TAG.txt`, never `a.txt~TAG`.
    ['a tag after the extension', `${VERSIONS_DIR}/a.txt~20261204-231500`],
  ])('null for %s', (_why, rel) => {
    expect(parseVersionName(rel)).toBeNull();
  });
});

describe('conflictName', () => {
  it.each([
    ['a.txt', 'hp', 0, 'a.sync-conflict-20261204-231500-hp.txt'],
    ['docs/a.txt', 'dell', 0, 'docs/a.sync-conflict-20261204-231500-dell.txt'],
    ['docs/a.txt', 'node-2', 0, 'docs/a.sync-conflict-20261204-231500-node-2.txt'],
    ['docs/a.txt', 'node-2', 3, 'docs/a.sync-conflict-20261204-231500-node-2~3.txt'],
    ['.bashrc', 'hp', 0, '.bashrc.sync-conflict-20261204-231500-hp'],
    ['x/a.tar.gz', 'hp', 1, 'x/a.tar.sync-conflict-20261204-231500-hp~1.gz'],
    ['Makefile', '1', 0, 'Makefile.sync-conflict-20261204-231500-1'],
  ])('%s, %s, n=%i -> %s', (rel, label, n, want) => {
    expect(conflictName(rel, label, T, n)).toBe(want);
    expect(isConflictName(want)).toBe(true);
  });
  it('keeps the counter apart from a label that ends in digits', () => {
    expect(conflictName('a.txt', 'hp-2', T)).not.toBe(conflictName('a.txt', 'hp', T, 2));
  });
  it.each(['', 'HP', 'a/b', 'a~b', 'a.b', '-x', 'x-'])('rejects the label %j', (label) => {
    expect(() => conflictName('a.txt', label, T)).toThrow(RangeError);
  });
});

describe('isConflictName', () => {
  it.each([
    ['a.sync-conflict-20261204-231500-hp.txt', true],
    ['dir/a.sync-conflict-20261204-231500-hp.txt', true],
    ['a.sync-conflict-20261204-231500-ABCDEFG.txt', true], // Syncthing's, labelled by device id
    ['a.sync-conflict-20261204-231500-hp.sync-conflict-20261205-000000-dell.txt', true],
    ['a.sync-conflict-.txt', false],
    ['a.sync-conflict-2026-hp.txt', false],
    ['a.sync-conflict-20261204-231500-hp.txt/inner.txt', false], // only the last component counts
    ['a.txt', false],
  ])('%s -> %s', (name, want) => {
    expect(isConflictName(name)).toBe(want);
  });
});
