// The dashboard's rules as plain data: when a pair and direction is stale, failed or fine.
import { describe, expect, it } from 'vitest';
import type { IterationRow, IterationStatus, PairSummary } from '../src/audit/index.js';
import { pairView, pairViews, type Schedule } from '../src/ui/index.js';
import { describeQueryIssue, oneLine } from '../src/ui/query.js';
import {
  historyViews,
  humanBytes,
  moveText,
  notCopiedText,
  operationViews,
  restoreCommand,
  shellWord,
} from '../src/ui/view.js';

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);
const MIN = 60_000;
const schedule: Schedule = { defaultMinutes: 15, perPairMinutes: { media: 60 } };

function row(
  status: IterationStatus,
  startedMinAgo: number,
  endedMinAgo: number | null,
  dryRun = false,
): IterationRow {
  return {
    id: 1,
    syncPair: 'photos',
    direction: 'dell-to-hp',
    src: '/a',
    dest: '/b',
    startedAt: new Date(NOW - startedMinAgo * MIN).toISOString(),
    endedAt: endedMinAgo === null ? null : new Date(NOW - endedMinAgo * MIN).toISOString(),
    status,
    dryRun,
    filesCreated: 0,
    filesUpdated: 0,
    filesDeleted: 0,
    filesSkipped: 0,
    filesFailed: 0,
    filesMoved: 0,
    totalBytesTransferred: 0,
    errorMessage: null,
  };
}

function summary(p: Partial<PairSummary>): PairSummary {
  return {
    pair: 'photos',
    direction: 'dell-to-hp',
    lastReal: null,
    lastRealSuccess: null,
    lastDryRun: null,
    ...p,
  };
}

describe('pairView', () => {
  const ok = row('success', 12, 10);
  it.each([
    ['a recent success is ok', summary({ lastReal: ok, lastRealSuccess: ok }), 'ok', false, 600],
    [
      'exactly twice the schedule is not yet stale',
      summary({ lastReal: row('success', 31, 30), lastRealSuccess: row('success', 31, 30) }),
      'ok',
      false,
      1800,
    ],
    [
      'past twice the schedule is stale',
      summary({ lastReal: row('success', 32, 31), lastRealSuccess: row('success', 32, 31) }),
      'stale',
      true,
      1860,
    ],
    [
      'never synced for real is stale, even with dry runs',
      summary({ lastDryRun: row('success', 1, 0, true) }),
      'stale',
      true,
      null,
    ],
    [
      'a failed last real sync is failed',
      summary({ lastReal: row('failed', 2, 1), lastRealSuccess: ok }),
      'failed',
      false,
      600,
    ],
    [
      'a partial failure is failed, even when stale',
      summary({ lastReal: row('partial_failure', 62, 61), lastRealSuccess: row('success', 92, 91) }),
      'failed',
      true,
      91 * 60,
    ],
    [
      'a running sync after a recent success is running',
      summary({ lastReal: row('running', 1, null), lastRealSuccess: ok }),
      'running',
      false,
      600,
    ],
    [
      'a running sync does not hide staleness',
      summary({ lastReal: row('running', 1, null), lastRealSuccess: row('success', 45, 44) }),
      'stale',
      true,
      44 * 60,
    ],
    [
      'a success without an end time counts from its start',
      summary({ lastReal: row('success', 40, null), lastRealSuccess: row('success', 40, null) }),
      'stale',
      true,
      2400,
    ],
  ])('%s', (_name, s, health, stale, since) => {
    const v = pairView(s, schedule, NOW);
    expect(v.health).toBe(health);
    expect(v.stale).toBe(stale);
    expect(v.secondsSinceSuccess).toBe(since);
    expect(v.staleAfterSeconds).toBe(1800);
  });
  it('uses the per-pair schedule when there is one', () => {
    const old = row('success', 100, 100);
    const v = pairView(summary({ pair: 'media', lastReal: old, lastRealSuccess: old }), schedule, NOW);
    expect(v.staleAfterSeconds).toBe(7200);
    expect(v.stale).toBe(false);
  });
  it('a clock behind the database never gives negative ages', () => {
    const future = row('success', -5, -4);
    expect(
      pairView(summary({ lastReal: future, lastRealSuccess: future }), schedule, NOW).secondsSinceSuccess,
    ).toBe(0);
  });
  it('sorts by pair, then direction', () => {
    const vs = pairViews(
      [
        summary({ pair: 'b', direction: 'x' }),
        summary({ pair: 'a', direction: 'y' }),
        summary({ pair: 'a', direction: 'x' }),
      ],
      schedule,
      NOW,
    );
    expect(vs.map((v) => `${v.pair}/${v.direction}`)).toEqual(['a/x', 'a/y', 'b/x']);
  });
});

describe('query messages', () => {
  it('name the parameter, what it accepts and what was sent, on one bounded line', () => {
    expect(
      describeQueryIssue({ keyword: 'pattern', instancePath: '/limit', params: {} }, { limit: '0' }),
    ).toBe("limit: expected an integer from 1 to 500, got '0'");
    expect(
      describeQueryIssue(
        { keyword: 'required', instancePath: '', params: { missingProperty: 'iteration_id' } },
        {},
      ),
    ).toBe('iteration_id is required: a positive integer');
    expect(describeQueryIssue(undefined, {})).toBe('invalid query string');
    expect(oneLine('a\nb\u0000c')).toBe('a?b?c');
    expect(oneLine('x'.repeat(100))).toBe(`${'x'.repeat(80)}...`);
  });
});

describe('restore commands', () => {
  const base = {
    id: 1,
    iterationId: 1,
    dryRun: false,
    operation: 'update' as const,
    filepath: 'photos/a.jpg',
    sizeBefore: 1,
    sizeAfter: 2,
    md5Before: null,
    md5After: null,
    startedAt: new Date(NOW).toISOString(),
    endedAt: null,
    status: 'success' as const,
    errorMessage: null,
    keptPath: '.ha-sync/versions/photos/a~20261204-231500.jpg',
    keptKind: 'version' as const,
    movedFrom: null,
    bytesNotCopied: null,
    syncPair: 'photos',
    direction: 'hp-to-dell',
    src: '/mnt/hp/photos',
    dest: '/mnt/dell/photos',
  };
  it('names the root written to, the path and the version file', () => {
    expect(restoreCommand(base)).toBe(
      "ha-sync restore --root /mnt/dell/photos --path photos/a.jpg --version 'a~20261204-231500.jpg'",
    );
  });
  it('quotes what the shell would read otherwise, and never lets a value read as a flag', () => {
    expect(shellWord("it's $HOME `x` *")).toBe(`'it'\\''s $HOME \`x\` *'`);
    expect(shellWord('')).toBe("''");
    expect(shellWord('~root')).toBe("'~root'");
    expect(
      restoreCommand({
        ...base,
        dest: '/mnt/my photos',
        filepath: '-x/a b.jpg',
        keptPath: '.ha-sync/versions/-x/-a b~20261204-231500.jpg',
      }),
    ).toBe(
      "ha-sync restore --root '/mnt/my photos' '--path=-x/a b.jpg' '--version=-a b~20261204-231500.jpg'",
    );
  });
  it.each([
    ['a conflict copy (an ordinary file beside the original)', { keptKind: 'conflict' as const }],
    ['nothing kept', { keptKind: null, keptPath: null }],
    ['a dry run', { dryRun: true }],
    ['a failed operation', { status: 'fail' as const }],
  ])('is null for %s', (_n, over) => {
    expect(restoreCommand({ ...base, ...over })).toBeNull();
  });
});

describe('moves as the page shows them', () => {
  const move = {
    operation: 'move' as const,
    filepath: 'albums/<b>2019</b>',
    movedFrom: "photos/it's 2019",
    bytesNotCopied: 7_340_032,
  };
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [7_340_032, '7.00 MiB'],
    [50 * 1024 ** 3, '50.0 GiB'],
    [300 * 1024 ** 4, '300 TiB'],
    [3 * 1024 ** 6, '3072 PiB'],
  ])('humanBytes(%d) is %s', (n, text) => {
    expect(humanBytes(n)).toBe(text);
  });
  it('a move reads "moved from <old> to <new>", names as they are (the page inserts text)', () => {
    expect(moveText(move)).toBe("moved from photos/it's 2019 to albums/<b>2019</b>");
    expect(notCopiedText(move)).toBe('7.00 MiB not copied');
    expect(notCopiedText({ ...move, bytesNotCopied: null })).toBeNull();
  });
  it('any other operation has no move words', () => {
    for (const operation of ['create', 'update', 'delete'] as const) {
      expect(moveText({ ...move, operation, movedFrom: null })).toBeNull();
      expect(notCopiedText({ ...move, operation, bytesNotCopied: null })).toBeNull();
    }
  });
  it('operation and history views carry them, nothing else changes', () => {
    const base = {
      id: 1,
      iterationId: 1,
      dryRun: false,
      filepath: 'a.jpg',
      sizeBefore: 5,
      sizeAfter: 5,
      md5Before: null,
      md5After: null,
      startedAt: new Date(NOW).toISOString(),
      endedAt: null,
      status: 'success' as const,
      errorMessage: null,
      keptPath: null,
      keptKind: null,
    };
    const op = { ...base, ...move };
    expect(operationViews([op])).toEqual([
      { ...op, moveText: moveText(move), notCopiedText: '7.00 MiB not copied' },
    ]);
    const plain = { ...base, operation: 'create' as const, movedFrom: null, bytesNotCopied: null };
    expect(operationViews([plain])).toEqual([{ ...plain, moveText: null, notCopiedText: null }]);
    const where = { syncPair: 'p', direction: 'a-to-b', src: '/a', dest: '/b', followedPath: 'x' };
    expect(historyViews([{ ...op, ...where }])).toEqual([
      {
        ...op,
        ...where,
        restoreCommand: null,
        moveText: moveText(move),
        notCopiedText: '7.00 MiB not copied',
      },
    ]);
  });
});
