// Which operation rows belong to the history of a path (src/audit/history.ts), as plain data: the
// stores select candidates by prefix, and these rules decide.
import { describe, expect, it } from 'vitest';
import { historyKeys, isConflictCopyOf, isVersionOf, relatesTo } from '../src/audit/history.js';

describe('historyKeys', () => {
  it.each([
    ['photos/a.jpg', 'photos/a.sync-conflict-', '.ha-sync/versions/photos/a~', '.jpg'],
    ['a.tar.gz', 'a.tar.sync-conflict-', '.ha-sync/versions/a.tar~', '.gz'],
    ['home/.bashrc', 'home/.bashrc.sync-conflict-', '.ha-sync/versions/home/.bashrc~', ''],
    ['Makefile', 'Makefile.sync-conflict-', '.ha-sync/versions/Makefile~', ''],
    ['d.x/noext', 'd.x/noext.sync-conflict-', '.ha-sync/versions/d.x/noext~', ''],
  ])('%s', (path, conflictPrefix, versionPrefix, ext) => {
    expect(historyKeys(path)).toEqual({ path, conflictPrefix, versionPrefix, ext });
  });
});

describe('copies of a path', () => {
  const k = historyKeys('photos/a.jpg');
  it.each([
    ['photos/a.sync-conflict-20261204-231500-hp.jpg', true],
    ['photos/a.sync-conflict-20261204-231500-1-hp.jpg', true],
    ['photos/a.sync-conflict-20261204-231500-old-dell.jpg', true],
    ['photos/a.sync-conflict-20261204-231500-hp~2.jpg', true],
    ['photos/a.sync-conflict-20261204-231500-hp~0.jpg', false],
    ['photos/a.sync-conflict-20261204-231500-hp~.jpg', false],
    ['photos/a.sync-conflict-20261204-231500-hp.png', false],
    ['photos/a.sync-conflict-20261204-231500.jpg', false],
    ['photos/a.sync-conflict-notes.jpg', false],
    ['photos/a.sync-conflict-20261204-231500-hp/b.jpg', false],
    ['photos/ab.sync-conflict-20261204-231500-hp.jpg', false],
    ['other/a.sync-conflict-20261204-231500-hp.jpg', false],
    [null, false],
  ])('conflict copy %s: %s', (candidate, yes) => {
    expect(isConflictCopyOf(candidate, k)).toBe(yes);
  });
  it.each([
    ['.ha-sync/versions/photos/a~20261204-231500.jpg', true],
    ['.ha-sync/versions/photos/a~20261204-231500-2.jpg', true],
    ['.ha-sync/versions/photos/a~20261204-2315.jpg', false],
    ['.ha-sync/versions/photos/a~20261340-231500.jpg', false],
    ['.ha-sync/versions/photos/a~20261204-231500.jpg.bak', false],
    ['.ha-sync/versions/photos/a-old~20261204-231500.jpg', false],
    ['.ha-sync/versions/a~20261204-231500.jpg', false],
    ['photos/a~20261204-231500.jpg', false],
  ])('version %s: %s', (candidate, yes) => {
    expect(isVersionOf(candidate, k)).toBe(yes);
  });
  it('a name without an extension does not claim the copies of one with it', () => {
    const bare = historyKeys('photos/a');
    expect(isVersionOf('.ha-sync/versions/photos/a~20261204-231500', bare)).toBe(true);
    expect(isVersionOf('.ha-sync/versions/photos/a~20261204-231500.jpg', bare)).toBe(false);
    expect(isConflictCopyOf('photos/a.sync-conflict-20261204-231500-hp', bare)).toBe(true);
    expect(isConflictCopyOf('photos/a.sync-conflict-20261204-231500-hp.jpg', bare)).toBe(false);
  });
  it('relatesTo: the file, its conflict copies, and the versions or copies kept of it', () => {
    const rel = (filepath: string, keptPath: string | null = null): boolean =>
      relatesTo({ filepath, keptPath }, k);
    expect(rel('photos/a.jpg')).toBe(true);
    expect(rel('photos/a.jpg ')).toBe(false);
    expect(rel('photos/a.sync-conflict-20261204-231500-hp.jpg')).toBe(true);
    expect(rel('elsewhere.jpg', '.ha-sync/versions/photos/a~20261204-231500.jpg')).toBe(true);
    expect(rel('elsewhere.jpg', 'photos/a.sync-conflict-20261204-231500-hp.jpg')).toBe(true);
    expect(rel('elsewhere.jpg', 'photos/a.jpg')).toBe(true);
    expect(rel('photos/b.jpg', '.ha-sync/versions/photos/b~20261204-231500.jpg')).toBe(false);
  });
});
