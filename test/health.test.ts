// Live health, pure: heartbeats validated against their subject, and each pair's light judged from
// the last heartbeats (a table of named situations).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  HealthBoard,
  encodeBeat,
  pairHealth,
  parseBeat,
  type ApplierBeat,
  type Beat,
  type WatcherBeat,
} from '../src/health/index.js';
import { createLogger } from '../src/log.js';

const NOW = Date.UTC(2026, 11, 7, 10, 0, 0);
const watcher = (o: Partial<WatcherBeat> = {}): WatcherBeat => ({
  v: 1,
  pair: 'photos',
  component: 'watcher',
  side: 'dell',
  at: NOW,
  everyMs: 5000,
  root: 'ok',
  filesIndexed: 10,
  lastSweepAt: null,
  sweepMs: null,
  pending: 0,
  ...o,
});
const applier = (o: Partial<ApplierBeat> = {}): ApplierBeat => ({
  v: 1,
  pair: 'photos',
  component: 'applier',
  at: NOW,
  everyMs: 5000,
  lockHeld: false,
  pending: 0,
  oldestMs: 0,
  opsPerMin: 0,
  lastError: null,
  conflictsToday: 0,
  keptToday: 0,
  blocked: null,
  ...o,
});

describe('parseBeat', () => {
  const sub = { pair: 'photos', side: 'dell' };
  it('takes a good watcher and applier heartbeat, keeping only known fields', () => {
    expect(parseBeat(JSON.stringify({ ...watcher(), extra: 1 }), sub)).toEqual(watcher());
    expect(parseBeat(encodeBeat(applier()), { pair: 'photos', side: '_apply' })).toEqual(applier());
  });
  it.each([
    ['not JSON', '{', sub, /not JSON/],
    ['too large', 'x'.repeat(5000), sub, /more than 4096/],
    [
      'another pair than its subject',
      JSON.stringify(watcher()),
      { pair: 'media', side: 'dell' },
      /does not match/,
    ],
    [
      'another side than its subject',
      JSON.stringify(watcher()),
      { pair: 'photos', side: 'hp' },
      /does not match/,
    ],
    ['an applier on a side subject', JSON.stringify(applier()), sub, /_apply subject/],
    ['a bad component', JSON.stringify({ ...watcher(), component: 'x' }), sub, /component/],
    ['a bad root state', JSON.stringify({ ...watcher(), root: 'fine' }), sub, /root is not/],
    ['a negative count', JSON.stringify({ ...watcher(), pending: -1 }), sub, /counts/],
    ['a silly period', JSON.stringify({ ...watcher(), everyMs: 1 }), sub, /everyMs/],
    ['version 2', JSON.stringify({ ...watcher(), v: 2 }), sub, /version/],
  ])('refuses %s', (_n, bytes, subject, why) => {
    expect(parseBeat(bytes, subject)).toMatch(why);
  });
  it('drops control characters from text fields', () => {
    const b = parseBeat(JSON.stringify(watcher({ root: 'unmounted', reason: 'a\u0000b\u001b[31mc' })), sub);
    expect(typeof b !== 'string' && b.component === 'watcher' && b.reason).toBe('a b [31mc');
  });
});

describe('pairHealth', () => {
  const judge = (beats: Beat[], ageMs = 0, busUp: boolean | null = true) =>
    pairHealth({ beats: beats.map((b) => ({ ...b, receivedAt: NOW - ageMs })), now: NOW, busUp });
  it.each<[string, Beat[], number, boolean | null, string, RegExp]>([
    ['all fresh and well', [watcher(), applier()], 0, true, 'green', /watching 10 entries/],
    ['a watcher silent for 3 heartbeats', [watcher()], 15_001, true, 'red', /silent for 15 s/],
    ['a watcher silent for 2 heartbeats', [watcher()], 10_000, true, 'green', /watching/],
    [
      'a root not mounted',
      [watcher({ root: 'unmounted', reason: 'no marker' })],
      0,
      true,
      'red',
      /root unmounted: no marker/,
    ],
    ['a backlog at a watcher', [watcher({ pending: 5000 })], 0, true, 'amber', /5000 changes waiting/],
    [
      'an applier blocked',
      [applier({ blocked: 'hp: no marker' })],
      0,
      true,
      'red',
      /applies nothing: hp: no marker/,
    ],
    [
      'live lag over 60 s',
      [applier({ oldestMs: 61_000, pending: 3 })],
      0,
      true,
      'red',
      /lag 61 s, 3 events waiting/,
    ],
    ['a recent error', [applier({ lastError: 'EIO' })], 0, true, 'amber', /last error: EIO/],
    ['NATS unreachable from the dashboard', [watcher()], 0, false, 'red', /NATS unreachable/],
  ])('%s', (_n, beats, age, busUp, light, why) => {
    const [p] = judge(beats, age, busUp);
    expect(p?.light).toBe(light);
    expect(p?.components.map((c) => c.reason).join(' | ')).toMatch(why);
  });
  it('a reconcile run that went silent (or is done) ended: it is not shown', () => {
    const run: Beat = {
      v: 1,
      pair: 'photos',
      component: 'reconcile',
      at: NOW,
      everyMs: 5000,
      phase: 'walking',
      filesSeen: 10,
      direction: 'dell-to-hp',
      etaMs: 3000,
    };
    expect(judge([run])[0]?.components.find((c) => c.component === 'reconcile')?.reason).toMatch(
      /dell-to-hp: walking, 10 files seen, about 3 s left/,
    );
    expect(judge([run], 20_000)).toEqual([]);
    expect(judge([{ ...run, phase: 'done' }])).toEqual([]);
  });
  it("the pair's light is its worst component's", () => {
    const [p] = judge([watcher(), watcher({ side: 'hp', root: 'hung' }), applier()]);
    expect(p?.light).toBe('red');
    expect(p?.components.map((c) => `${c.component}:${c.side}:${c.light}`)).toEqual([
      'applier::green',
      'nats::green',
      'watcher:dell:green',
      'watcher:hp:red',
    ]);
    // The dashboard's own link to NATS stands in every strip.
    const [down] = judge([watcher()], 0, false);
    expect(down?.components.find((c) => c.component === 'nats')).toMatchObject({
      light: 'red',
      reason: 'unreachable from the dashboard',
    });
  });
});

describe('HealthBoard', () => {
  it('keeps the last heartbeat per component, ignores bad ones (logged), and goes red when they stop', async () => {
    const clock = new ManualClock(NOW);
    const board = new HealthBoard(clock, createLogger({ silent: true }));
    board.take('hasync.photos.dell.health', encodeBeat(watcher()));
    board.take('hasync.photos.hp.health', encodeBeat(watcher())); // side does not match: ignored
    board.take('hasync.photos.dell.health', Buffer.from('garbage'));
    expect(board.rejected).toBe(2);
    expect(board.health()[0]?.light).toBe('green');
    await clock.advance(15_001);
    expect(board.health()[0]?.components[0]?.reason).toMatch(/silent/);
    board.take('hasync.photos.dell.health', encodeBeat(watcher({ at: clock.now() })));
    expect(board.health()[0]?.light).toBe('green');
  });
});
