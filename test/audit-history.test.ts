// Which operation rows belong to the history of a path (src/audit/history.ts), as plain data: the
// stores select candidates by prefix, and these rules decide.
import { describe, expect, it } from 'vitest';
import {
  MAX_HISTORY_LOOKUPS,
  MAX_MOVE_HOPS,
  ancestorsOf,
  historyKeys,
  isAtOrBelow,
  isConflictCopyOf,
  isVersionOf,
  movedAway,
  movedInto,
  pathBefore,
  relatesTo,
  walkHistory,
  type HistoryStep,
} from '../src/audit/history.js';
import type { HistoryRow } from '../src/audit/index.js';

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

describe('paths across moves', () => {
  it('ancestorsOf: the directories above a path, outermost first', () => {
    expect(ancestorsOf('a/b/c.jpg')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('c.jpg')).toEqual([]);
    expect(ancestorsOf('a/b/')).toEqual(['a', 'a/b']);
  });
  it('isAtOrBelow: the path itself or below it, never a sibling that shares a prefix', () => {
    expect(isAtOrBelow('photos/2019/a.jpg', 'photos/2019')).toBe(true);
    expect(isAtOrBelow('photos/2019', 'photos/2019')).toBe(true);
    expect(isAtOrBelow('photos/2019-old/a.jpg', 'photos/2019')).toBe(false);
    expect(isAtOrBelow('photos', 'photos/2019')).toBe(false);
  });
  const dirMove = { operation: 'move' as const, filepath: 'albums/2019', movedFrom: 'photos/2019' };
  it('movedInto / movedAway / pathBefore', () => {
    expect(movedInto(dirMove, 'albums/2019/a.jpg')).toBe(true);
    expect(movedInto(dirMove, 'albums/2019')).toBe(true);
    expect(movedInto(dirMove, 'albums/20190/a.jpg')).toBe(false);
    expect(movedAway(dirMove, 'photos/2019/a.jpg')).toBe(true);
    expect(movedAway(dirMove, 'albums/2019/a.jpg')).toBe(false);
    expect(movedInto({ ...dirMove, operation: 'create', movedFrom: null }, 'albums/2019/a.jpg')).toBe(false);
    expect(pathBefore(dirMove, 'albums/2019/x/a.jpg')).toBe('photos/2019/x/a.jpg');
    expect(pathBefore(dirMove, 'albums/2019')).toBe('photos/2019');
  });
});

describe('walkHistory', () => {
  let nextId = 0;
  const row = (min: number, over: Partial<HistoryRow>): HistoryRow => ({
    id: ++nextId,
    iterationId: 1,
    dryRun: false,
    operation: 'create',
    filepath: 'x',
    sizeBefore: null,
    sizeAfter: 1,
    md5Before: null,
    md5After: null,
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, min)).toISOString(),
    endedAt: null,
    status: 'success',
    errorMessage: null,
    keptPath: null,
    keptKind: null,
    movedFrom: null,
    bytesNotCopied: null,
    syncPair: 'p',
    direction: 'a-to-b',
    src: '/a',
    dest: '/b',
    ...over,
  });
  const mv = (min: number, from: string, to: string): HistoryRow =>
    row(min, { operation: 'move', filepath: to, movedFrom: from, bytesNotCopied: 1 });

  /** A lookup over a plain table, as a store answers (index candidates, newest first). */
  function table(rows: HistoryRow[], log: HistoryStep[] = [], honourTime = true) {
    return (step: HistoryStep, limit: number): Promise<HistoryRow[]> => {
      log.push(step);
      const found = rows.filter(
        (r) =>
          (!honourTime ||
            step.before === null ||
            r.startedAt < step.before.startedAt ||
            (r.startedAt === step.before.startedAt && r.id < step.before.id)) &&
          (step.pair === undefined || r.syncPair === step.pair) &&
          (relatesTo(r, step.keys) || movedInto(r, step.path) || movedAway(r, step.path)),
      );
      return Promise.resolve(
        found
          .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id - a.id))
          .slice(0, limit),
      );
    };
  }
  const names = (rows: HistoryRow[]): string[] =>
    rows.map(
      (r) => `${r.operation} ${r.movedFrom ? `${r.movedFrom} -> ` : ''}${r.filepath} @${r.followedPath}`,
    );

  it("follows a file move back, in the move's pair, and only before it", async () => {
    const rows = [
      row(0, { filepath: 'a.txt' }),
      row(1, { filepath: 'a.txt', syncPair: 'q' }),
      mv(2, 'a.txt', 'b.txt'),
      row(3, { filepath: 'a.txt' }),
      row(4, { filepath: 'b.txt', operation: 'update' }),
    ];
    const log: HistoryStep[] = [];
    expect(names(await walkHistory({ path: 'b.txt', limit: 10 }, table(rows, log)))).toEqual([
      'update b.txt @b.txt',
      'move a.txt -> b.txt @b.txt',
      'create a.txt @a.txt',
    ]);
    expect(log.map((s) => [s.path, s.pair ?? '*', s.before?.id ?? null])).toEqual([
      ['b.txt', '*', null],
      ['a.txt', 'p', rows[2]!.id],
    ]);
  });

  it('shows a directory move only where the file was in the directory before it', async () => {
    const rows = [row(0, { filepath: 'photos/2019/a.jpg' }), mv(1, 'photos/2019', 'albums/2019')];
    rows.push(row(2, { filepath: 'albums/2019/new.jpg' }));
    const walk = (path: string) => walkHistory({ path, limit: 10 }, table(rows));
    expect(names(await walk('albums/2019/a.jpg'))).toEqual([
      'move photos/2019 -> albums/2019 @albums/2019/a.jpg',
      'create photos/2019/a.jpg @photos/2019/a.jpg',
    ]);
    expect(names(await walk('albums/2019/new.jpg'))).toEqual([
      'create albums/2019/new.jpg @albums/2019/new.jpg',
    ]);
    expect(names(await walk('photos/2019/a.jpg'))).toEqual([
      'move photos/2019 -> albums/2019 @photos/2019/a.jpg',
      'create photos/2019/a.jpg @photos/2019/a.jpg',
    ]);
    // Nothing of the file in the old directory: the move is not its story.
    expect(names(await walk('photos/2019/never.jpg'))).toEqual([]);
  });

  it("follows a directory moved twice, the file's path rebuilt at each hop", async () => {
    const rows = [
      row(0, { filepath: 'a/x/f.txt' }),
      mv(1, 'a/x', 'b/x'),
      mv(2, 'b', 'c'),
      row(3, { filepath: 'c/x/f.txt', operation: 'update' }),
    ];
    expect(names(await walkHistory({ path: 'c/x/f.txt', limit: 10 }, table(rows)))).toEqual([
      'update c/x/f.txt @c/x/f.txt',
      'move b -> c @c/x/f.txt',
      'move a/x -> b/x @b/x/f.txt',
      'create a/x/f.txt @a/x/f.txt',
    ]);
  });

  it('ends on a cycle even when a store ignored the time bound: each move is followed once', async () => {
    const rows = [row(0, { filepath: 'a' }), mv(1, 'a', 'b'), mv(2, 'b', 'a'), mv(3, 'a', 'b')];
    const log: HistoryStep[] = [];
    const got = await walkHistory({ path: 'b', limit: 50 }, table(rows, log, false));
    expect(got.map((r) => r.id).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(log.length).toBeLessThanOrEqual(rows.length + 1);
  });

  it(`follows at most ${MAX_MOVE_HOPS} moves back, and at most ${MAX_HISTORY_LOOKUPS} lookups`, async () => {
    const chain = [row(0, { filepath: 'f0' })];
    for (let i = 1; i <= 40; i++) chain.push(mv(i, `f${i - 1}`, `f${i}`));
    const log: HistoryStep[] = [];
    const got = await walkHistory({ path: 'f40', limit: 500 }, table(chain, log));
    expect(log).toHaveLength(MAX_MOVE_HOPS + 1);
    expect(got.map((r) => r.filepath)).toEqual(
      Array.from({ length: MAX_MOVE_HOPS + 1 }, (_, i) => `f${40 - i}`),
    );

    // Many moves into one path: the lookups stop at the bound.
    const fan = [row(0, { filepath: 'z' })];
    for (let i = 1; i <= 100; i++) fan.push(mv(i, `src${i}`, 'z'));
    const log2: HistoryStep[] = [];
    await walkHistory({ path: 'z', limit: 500 }, table(fan, log2));
    expect(log2).toHaveLength(MAX_HISTORY_LOOKUPS);
  });

  it('keeps the newest `limit` rows', async () => {
    const rows = [
      row(0, { filepath: 'a' }),
      row(1, { filepath: 'a' }),
      mv(2, 'a', 'b'),
      row(3, { filepath: 'b' }),
    ];
    expect((await walkHistory({ path: 'b', limit: 2 }, table(rows))).map((r) => r.id)).toEqual([
      rows[3]!.id,
      rows[2]!.id,
    ]);
  });
});
