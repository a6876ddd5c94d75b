// Issue 12's promises, through the live path: real temp roots, the in-process bus, the real
// applier (fsops, file lock, SQLite audit and baseline) fed either by two pollers (one per side,
// as `run` wires them) or by events published by hand where the order of events is the point.
// The last block drives `ha-sync run` in process, stops it and starts it again.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Applier, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { openMemoryBaseline } from '../src/baseline/index.js';
import { MemoryBus, type ChangeEvent } from '../src/bus/index.js';
import { runCommand } from '../src/cli/run.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import type * as LogModule from '../src/log.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { eventFor, fileLockOptions, mtimeOf, read, tempRoots, until } from './applier.helpers.js';

// `run` builds its own logger: every logger of this file writes JSON lines here instead of stdout,
// so the run test can wait for "following changes live" (and a failing test can print them).
const captured = vi.hoisted(() => ({ lines: [] as string[] }));
vi.mock('../src/log.js', async (importOriginal) => {
  const m = await importOriginal<typeof LogModule>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured.lines.push(chunk.toString());
      if (process.env.TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  return {
    ...m,
    createLogger: (o: LogModule.LogOptions = {}) =>
      m.createLogger({ ...o, pretty: false, destination: sink }),
  };
});

const PAIR = 'promise';
const log = createLogger({ silent: !process.env.TEST_LOG });
const POLL_MS = 100;

interface Live {
  a: string;
  b: string;
  base: string;
  applier: Applier;
  bus: MemoryBus;
  pub: (ev: ChangeEvent) => Promise<void>;
  /** Every published event settled (acked or terminated). */
  drained: () => Promise<void>;
  stop: () => Promise<void>;
}

let live: Live | undefined;

afterEach(async () => {
  await live?.stop().catch(() => undefined);
  live = undefined;
});

/**
 * A pair dell=a, hp=b with --delete-missing. `watch`: a poller per side publishes the changes
 * (the live path as `run` and the watch pods wire it); otherwise the test publishes them.
 */
async function startLive(watch: boolean, pollIntervalMs = POLL_MS): Promise<Live> {
  const t = tempRoots('promise', PAIR);
  // Both roots hold the same marker, so neither looks unmounted (empty beside a full one).
  writeFileSync(join(t.a, 'marker'), 'm');
  writeFileSync(join(t.b, 'marker'), 'm');
  const m = new Date(Date.now() - 60_000);
  utimesSync(join(t.a, 'marker'), m, m);
  utimesSync(join(t.b, 'marker'), m, m);
  const ac = new AbortController();
  const bus = new MemoryBus({ kind: 'memory' });
  let watching: Promise<unknown> = Promise.resolve();
  if (watch) {
    const wopts = { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs, hotMs: 2000 };
    const watchers = [
      new RootWatcher({ pair: PAIR, side: 'dell', root: t.a }, wopts, {
        bus,
        clock: systemClock,
        logger: log,
      }),
      new RootWatcher({ pair: PAIR, side: 'hp', root: t.b }, wopts, { bus, clock: systemClock, logger: log }),
    ];
    await Promise.all(watchers.map((w) => w.start(ac.signal)));
    watching = Promise.all(watchers.map((w) => w.run(ac.signal)));
  }
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(PAIR, t.logs, log));
  const baseline = openMemoryBaseline(PAIR);
  const applier = new Applier(
    {
      pair: PAIR,
      a: { label: 'dell', root: t.a },
      b: { label: 'hp', root: t.b },
      deleteMissing: true,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: 'test/promise',
      idleReleaseMs: 1000,
    },
    { bus, lock, audit, fs: fsOpsAdapter(), clock: systemClock, log, baseline },
  );
  const applying = applier.run(ac.signal);
  return {
    a: t.a,
    b: t.b,
    base: t.base,
    applier,
    bus,
    pub: (ev) => bus.publish(ev),
    drained: () => until('every event settled', async () => (await bus.pending(PAIR)) === 0),
    stop: async () => {
      ac.abort();
      await Promise.all([watching, applying]);
      await audit.close();
      await bus.close();
      await baseline.close();
      t.cleanup();
    },
  };
}

let tmpSeq = 0;
/** Writes a file whole, with its mtime already set, by a rename (no half-written state is seen). */
function put(l: Live, root: string, rel: string, content: string, mtimeMs?: number): void {
  const tmp = join(l.base, `put-${tmpSeq++}`);
  writeFileSync(tmp, content);
  if (mtimeMs !== undefined) utimesSync(tmp, new Date(mtimeMs), new Date(mtimeMs));
  renameSync(tmp, join(root, rel));
}

/** Waits until the other side's watcher reported `n` more of the applier's own writes. */
async function echoed(l: Live, before: number, n = 1): Promise<void> {
  await until(`${n} echo(es) seen`, () => l.applier.stats.echoes >= before + n);
  await l.drained();
}

/** A few poll ticks with nothing to do: whatever was going to bounce back has. */
async function quiet(l: Live): Promise<void> {
  await l.drained();
  await new Promise((r) => setTimeout(r, POLL_MS * 6));
  await l.drained();
}

/** Names in `<root>/.ha-sync/versions/<dir>` that are kept versions of `<stem><ext>`. */
function keptVersions(root: string, dir: string, stem: string, ext: string): string[] {
  const at = join(root, '.ha-sync/versions', dir);
  if (!existsSync(at)) return [];
  const re = new RegExp(`^${stem}~\\d{8}-\\d{6}(-\\d+)?${ext.replace('.', '\\.')}$`);
  return readdirSync(at).filter((n) => re.test(n));
}

function conflictCopies(root: string, dir: string, stem: string, ext: string, label: string): string[] {
  const re = new RegExp(`^${stem}\\.sync-conflict-\\d{8}-\\d{6}-${label}${ext.replace('.', '\\.')}$`);
  return readdirSync(join(root, dir)).filter((n) => re.test(n));
}

/** Spins on the event loop (no timer) until `cond`: reacts before a poller's next tick can. */
async function spinUntil(cond: () => boolean): Promise<void> {
  const end = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out spinning');
    await new Promise((r) => setImmediate(r));
  }
}

const sleepUntil = async (atMs: number): Promise<void> => {
  const left = atMs - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left));
};

describe('a delete made right after a sync stays deleted (--delete-missing)', () => {
  it('synced dell -> hp, deleted on hp a moment later: gone on both, and stays gone', async () => {
    const l = (live = await startLive(true));
    const e0 = l.applier.stats.echoes;
    writeFileSync(join(l.a, 'x.txt'), 'fresh');
    await until('x on hp', () => read(join(l.b, 'x.txt')) === 'fresh');
    await echoed(l, e0);
    rmSync(join(l.b, 'x.txt'));
    await until('the delete reached dell', () => !existsSync(join(l.a, 'x.txt')));
    await quiet(l);
    expect(existsSync(join(l.a, 'x.txt'))).toBe(false);
    expect(existsSync(join(l.b, 'x.txt'))).toBe(false);
    // Nothing is lost: dell's copy went to its kept versions.
    expect(keptVersions(l.a, '', 'x', '.txt')).toHaveLength(1);
  });

  // The same delete, made the instant the copy lands, before hp's poller (every 500 ms here) has
  // looked: hp's watcher never indexed the file, so its next listing matches its index and no
  // delete event is ever published.
  it('deleted on hp the instant the copy lands: not undone (hp stays without it)', async () => {
    const l = (live = await startLive(true, 500));
    writeFileSync(join(l.a, 'x.txt'), 'fresh');
    await spinUntil(() => existsSync(join(l.b, 'x.txt')));
    rmSync(join(l.b, 'x.txt'));
    await quiet(l);
    await new Promise((r) => setTimeout(r, 1500));
    await l.drained();
    expect(existsSync(join(l.b, 'x.txt'))).toBe(false);
  });

  // hp's watcher never sees the file, so no event will ever name it: the applier decides a write
  // whose echo did not come within 5 s again from the disk (and the baseline records what it
  // wrote even when the file is gone before it could look).
  it('deleted on hp the instant the copy lands: the delete reaches dell (the write is re-checked when its echo never comes)', async () => {
    const l = (live = await startLive(true, 500));
    writeFileSync(join(l.a, 'x.txt'), 'fresh');
    await spinUntil(() => existsSync(join(l.b, 'x.txt')));
    rmSync(join(l.b, 'x.txt'));
    await until('the delete reached dell', () => !existsSync(join(l.a, 'x.txt')), 12_000);
    expect(existsSync(join(l.b, 'x.txt'))).toBe(false);
  });

  it('edited on dell, synced, deleted on hp within a second of the edit: the delete stands', async () => {
    const l = (live = await startLive(true));
    let e = l.applier.stats.echoes;
    writeFileSync(join(l.a, 'x.txt'), 'v1');
    await until('v1 on hp', () => read(join(l.b, 'x.txt')) === 'v1');
    await echoed(l, e);
    e = l.applier.stats.echoes;
    const editedAt = Date.now();
    writeFileSync(join(l.a, 'x.txt'), 'v2, edited on dell');
    await until('the edit on hp', () => read(join(l.b, 'x.txt')) === 'v2, edited on dell');
    await echoed(l, e);
    rmSync(join(l.b, 'x.txt'));
    expect(Date.now() - editedAt, 'the delete came within a second of the edit').toBeLessThan(1000);
    await until('the delete reached dell', () => !existsSync(join(l.a, 'x.txt')));
    await quiet(l);
    expect(existsSync(join(l.a, 'x.txt'))).toBe(false);
    expect(existsSync(join(l.b, 'x.txt'))).toBe(false);
  });

  it("the seed's bug: edited on hp, synced, deleted on dell a second later: not copied back to dell", async () => {
    // The edit was synced, so dell deleted the version both sides agreed on: the delete is the
    // only change since the baseline (decidePath: one side changed) and it wins on hp too. The
    // edit is not lost: hp's copy goes to hp's kept versions.
    const l = (live = await startLive(true));
    let e = l.applier.stats.echoes;
    writeFileSync(join(l.a, 'x.txt'), 'v1');
    await until('v1 on hp', () => read(join(l.b, 'x.txt')) === 'v1');
    await echoed(l, e);
    e = l.applier.stats.echoes;
    const editedAt = Date.now();
    writeFileSync(join(l.b, 'x.txt'), 'v2, edited on hp');
    await until('the edit on dell', () => read(join(l.a, 'x.txt')) === 'v2, edited on hp');
    await echoed(l, e);
    await sleepUntil(editedAt + 1000);
    rmSync(join(l.a, 'x.txt'));
    await until('the delete reached hp', () => !existsSync(join(l.b, 'x.txt')));
    await quiet(l);
    expect(existsSync(join(l.a, 'x.txt')), 'copied back to dell').toBe(false);
    expect(existsSync(join(l.b, 'x.txt'))).toBe(false);
    const kept = keptVersions(l.b, '', 'x', '.txt');
    expect(kept).toHaveLength(1);
    expect(read(join(l.b, '.ha-sync/versions', kept[0]!))).toBe('v2, edited on hp');
  });

  it("the seed's bug with the seed's stale event: a delete event carrying the pre-edit state decides nothing", async () => {
    // The seed's watcher reported the delete with its stale "last known" state (v1). The event
    // only names the path now: both sides are stat'ed and the baseline (v2, synced) decides.
    const l = (live = await startLive(false));
    writeFileSync(join(l.a, 'x.txt'), 'v1');
    await l.pub(eventFor(PAIR, 'dell', l.a, 'x.txt'));
    await until('v1 on hp', () => read(join(l.b, 'x.txt')) === 'v1');
    const v1 = { size: 2, mtimeMs: mtimeOf(join(l.a, 'x.txt')) };
    put(l, l.b, 'x.txt', 'v2, edited on hp', Date.now() + 1000);
    await l.pub(eventFor(PAIR, 'hp', l.b, 'x.txt'));
    await until('the edit on dell', () => read(join(l.a, 'x.txt')) === 'v2, edited on hp');
    await l.drained();
    rmSync(join(l.a, 'x.txt'));
    await l.pub(eventFor(PAIR, 'dell', l.a, 'x.txt', 'delete', v1));
    await until('the delete reached hp', () => !existsSync(join(l.b, 'x.txt')));
    await l.drained();
    expect(existsSync(join(l.a, 'x.txt'))).toBe(false);
  });

  for (const order of ['delete event first', 'edit event first'] as const) {
    it(`an edit on hp not synced yet when dell deleted the file: the edit wins, on both sides (${order})`, async () => {
      const l = (live = await startLive(false));
      writeFileSync(join(l.a, 'x.txt'), 'v1');
      await l.pub(eventFor(PAIR, 'dell', l.a, 'x.txt'));
      await until('v1 on hp', () => read(join(l.b, 'x.txt')) === 'v1');
      await l.drained();
      const v1 = { size: 2, mtimeMs: mtimeOf(join(l.a, 'x.txt')) };
      // Both happen before the applier hears of either: dell deleted v1, hp holds an edit.
      put(l, l.b, 'x.txt', 'v2, edited on hp');
      rmSync(join(l.a, 'x.txt'));
      const del = eventFor(PAIR, 'dell', l.a, 'x.txt', 'delete', v1);
      const edit = eventFor(PAIR, 'hp', l.b, 'x.txt');
      for (const ev of order === 'delete event first' ? [del, edit] : [edit, del]) await l.pub(ev);
      await until('the edit back on dell', () => read(join(l.a, 'x.txt')) === 'v2, edited on hp');
      await l.drained();
      expect(read(join(l.b, 'x.txt'))).toBe('v2, edited on hp');
    });
  }
});

describe('events are hints: the same state seen again is never dropped as a duplicate', () => {
  it('a rename and a rename back, a cp -p restore, and a create-delete-create with one mtime all reach hp', async () => {
    const l = (live = await startLive(true));
    const t = Date.now() - 60_000;
    const e = l.applier.stats.echoes;
    put(l, l.a, 'report.txt', 'quarterly', t);
    await until('report on hp', () => read(join(l.b, 'report.txt')) === 'quarterly');
    await echoed(l, e);
    // Rename away and back: the last upsert shows exactly the first one's path, size and mtime.
    renameSync(join(l.a, 'report.txt'), join(l.a, 'report-old.txt'));
    await until(
      'renamed on hp',
      () => existsSync(join(l.b, 'report-old.txt')) && !existsSync(join(l.b, 'report.txt')),
    );
    await l.drained();
    renameSync(join(l.a, 'report-old.txt'), join(l.a, 'report.txt'));
    await until(
      'renamed back on hp',
      () => read(join(l.b, 'report.txt')) === 'quarterly' && !existsSync(join(l.b, 'report-old.txt')),
    );
    await quiet(l);
    // Deleted, then restored with cp -p (the same size and mtime as before the delete).
    rmSync(join(l.a, 'report.txt'));
    await until('deleted on hp', () => !existsSync(join(l.b, 'report.txt')));
    await l.drained();
    put(l, l.a, 'report.txt', 'quarterly', t);
    await until('restored on hp', () => read(join(l.b, 'report.txt')) === 'quarterly');
    await quiet(l);
    expect(read(join(l.b, 'report.txt'))).toBe('quarterly');
    expect(existsSync(join(l.b, 'report-old.txt'))).toBe(false);
  });
});

describe('a second same-size save within 2 s arrives', () => {
  it('two real saves of one size on dell, under 2 s apart: hp ends with the second', async () => {
    const l = (live = await startLive(true));
    const e = l.applier.stats.echoes;
    writeFileSync(join(l.a, 's.txt'), 'aaaa');
    const first = mtimeOf(join(l.a, 's.txt'));
    await until('aaaa on hp', () => read(join(l.b, 's.txt')) === 'aaaa');
    await echoed(l, e);
    writeFileSync(join(l.a, 's.txt'), 'bbbb');
    const second = mtimeOf(join(l.a, 's.txt'));
    expect(second - first, 'the saves are within the 2 s threshold').toBeLessThan(2000);
    await until('bbbb on hp', () => read(join(l.b, 's.txt')) === 'bbbb');
    await quiet(l);
    expect(read(join(l.a, 's.txt'))).toBe('bbbb');
    expect(read(join(l.b, 's.txt'))).toBe('bbbb');
    expect(mtimeOf(join(l.b, 's.txt'))).toBeCloseTo(mtimeOf(join(l.a, 's.txt')), 0);
  });

  it('the second save stamped within the same second as the first (utimes): hp ends with it', async () => {
    const l = (live = await startLive(true));
    const second = Math.floor(Date.now() / 1000) * 1000 - 10_000;
    const e = l.applier.stats.echoes;
    put(l, l.a, 's.txt', 'aaaa', second + 100);
    await until('aaaa on hp', () => read(join(l.b, 's.txt')) === 'aaaa');
    await echoed(l, e);
    // An in-place save whose mtime differs from the baseline's by 0.5 s only (coarse clocks,
    // an editor that restores the mtime, a copy tool's rounding).
    writeFileSync(join(l.a, 's.txt'), 'bbbb');
    utimesSync(join(l.a, 's.txt'), new Date(second + 600), new Date(second + 600));
    await until('bbbb on hp', () => read(join(l.b, 's.txt')) === 'bbbb');
    await until(
      'hp has the second mtime too',
      () => Math.abs(mtimeOf(join(l.b, 's.txt')) - (second + 600)) < 1,
    );
    await quiet(l);
    expect(read(join(l.a, 's.txt'))).toBe('bbbb');
    expect(read(join(l.b, 's.txt'))).toBe('bbbb');
  });
});

describe('a moved file survives a stale delete', () => {
  it('y (older) moved onto x on dell while hp deletes the old x: the moved content ends on both', async () => {
    const l = (live = await startLive(true));
    const now = Date.now();
    const e = l.applier.stats.echoes;
    put(l, l.a, 'x.txt', 'x, the old version', now - 3_600_000);
    put(l, l.a, 'y.txt', 'y, moved onto x', now - 7_200_000);
    await until(
      'x and y on hp',
      () => read(join(l.b, 'x.txt')) !== null && read(join(l.b, 'y.txt')) !== null,
    );
    await echoed(l, e, 2);
    renameSync(join(l.a, 'y.txt'), join(l.a, 'x.txt'));
    rmSync(join(l.b, 'x.txt')); // hp deletes the version it had: the old x
    await until(
      'the move on both sides',
      () =>
        read(join(l.a, 'x.txt')) === 'y, moved onto x' &&
        read(join(l.b, 'x.txt')) === 'y, moved onto x' &&
        !existsSync(join(l.b, 'y.txt')),
    );
    await quiet(l);
    expect(read(join(l.a, 'x.txt'))).toBe('y, moved onto x');
    expect(read(join(l.b, 'x.txt'))).toBe('y, moved onto x');
    expect(existsSync(join(l.a, 'y.txt'))).toBe(false);
    expect(existsSync(join(l.b, 'y.txt'))).toBe(false);
  });

  it('the stale delete arrives first (events by hand): the move still wins', async () => {
    const l = (live = await startLive(false));
    const now = Date.now();
    put(l, l.a, 'x.txt', 'x, the old version', now - 3_600_000);
    put(l, l.a, 'y.txt', 'y, moved onto x', now - 7_200_000);
    await l.pub(eventFor(PAIR, 'dell', l.a, 'x.txt'));
    await l.pub(eventFor(PAIR, 'dell', l.a, 'y.txt'));
    await until(
      'x and y on hp',
      () => read(join(l.b, 'x.txt')) !== null && read(join(l.b, 'y.txt')) !== null,
    );
    await l.drained();
    const oldX = { size: 18, mtimeMs: mtimeOf(join(l.b, 'x.txt')) };
    const y = { size: 15, mtimeMs: mtimeOf(join(l.a, 'y.txt')) };
    renameSync(join(l.a, 'y.txt'), join(l.a, 'x.txt'));
    rmSync(join(l.b, 'x.txt'));
    await l.pub(eventFor(PAIR, 'hp', l.b, 'x.txt', 'delete', oldX));
    await l.pub(eventFor(PAIR, 'dell', l.a, 'y.txt', 'delete', y));
    await l.pub(eventFor(PAIR, 'dell', l.a, 'x.txt'));
    await until('the move on both sides', () => read(join(l.b, 'x.txt')) === 'y, moved onto x');
    await until('y gone on hp', () => !existsSync(join(l.b, 'y.txt')));
    await l.drained();
    expect(read(join(l.a, 'x.txt'))).toBe('y, moved onto x');
    expect(existsSync(join(l.a, 'y.txt'))).toBe(false);
  });
});

describe('kept versions and conflict copies, live', () => {
  it("an update keeps hp's old version, a delete keeps the deleted file, under .ha-sync/versions/<folder>", async () => {
    const l = (live = await startLive(true));
    mkdirSync(join(l.a, 'docs'));
    let e = l.applier.stats.echoes;
    put(l, l.a, 'docs/report.txt', 'report, first draft', Date.now() - 60_000);
    await until('report on hp', () => read(join(l.b, 'docs/report.txt')) === 'report, first draft');
    await echoed(l, e, 2); // the folder and the file
    e = l.applier.stats.echoes;
    writeFileSync(join(l.a, 'docs/report.txt'), 'report, second draft (longer)');
    await until('update on hp', () => read(join(l.b, 'docs/report.txt')) === 'report, second draft (longer)');
    await echoed(l, e);
    const afterUpdate = keptVersions(l.b, 'docs', 'report', '.txt');
    expect(afterUpdate).toHaveLength(1);
    expect(read(join(l.b, '.ha-sync/versions/docs', afterUpdate[0]!))).toBe('report, first draft');

    rmSync(join(l.a, 'docs/report.txt'));
    await until('delete on hp', () => !existsSync(join(l.b, 'docs/report.txt')));
    await quiet(l);
    const afterDelete = keptVersions(l.b, 'docs', 'report', '.txt');
    expect(afterDelete).toHaveLength(2);
    const contents = afterDelete.map((n) => read(join(l.b, '.ha-sync/versions/docs', n))).sort();
    expect(contents).toEqual(['report, first draft', 'report, second draft (longer)']);
    // The versions area is ha-sync's own: never synced to the other side.
    expect(existsSync(join(l.a, '.ha-sync/versions/docs'))).toBe(false);
  });

  it('both edited between syncs: the newer keeps the name, a conflict copy of the other on both sides', async () => {
    const l = (live = await startLive(true));
    const now = Date.now();
    const e = l.applier.stats.echoes;
    put(l, l.a, 'notes.md', 'notes v1', now - 60_000);
    await until('notes on hp', () => read(join(l.b, 'notes.md')) === 'notes v1');
    await echoed(l, e);
    // Both edits land before either watcher looks again.
    put(l, l.b, 'notes.md', 'edited on hp, older', now - 5_000);
    put(l, l.a, 'notes.md', 'edited on dell, newer one', now);
    await until(
      'a conflict copy on both sides',
      () =>
        conflictCopies(l.a, '', 'notes', '.md', 'hp').length === 1 &&
        conflictCopies(l.b, '', 'notes', '.md', 'hp').length === 1,
    );
    await quiet(l);
    expect(read(join(l.a, 'notes.md'))).toBe('edited on dell, newer one');
    expect(read(join(l.b, 'notes.md'))).toBe('edited on dell, newer one');
    const [copyA] = conflictCopies(l.a, '', 'notes', '.md', 'hp');
    const [copyB] = conflictCopies(l.b, '', 'notes', '.md', 'hp');
    expect(copyA).toBe(copyB);
    expect(read(join(l.a, copyA!))).toBe('edited on hp, older');
    expect(read(join(l.b, copyB!))).toBe('edited on hp, older');
    // No conflict copy under the winner's label, and no other stray file.
    const files = (root: string): string[] =>
      readdirSync(root)
        .filter((n) => n !== '.ha-sync')
        .sort();
    expect(files(l.a)).toEqual([copyA, 'marker', 'notes.md'].sort());
    expect(files(l.b)).toEqual([copyB, 'marker', 'notes.md'].sort());
  });
});

describe('`ha-sync run` restarted', () => {
  it('changes made while it was down are handled like a reconcile run: deletes propagate, concurrent edits give a conflict copy', async () => {
    const t = tempRoots('promise-run');
    const argv = [
      '--a',
      `laptop=${t.a}`,
      '--b',
      `usb=${t.b}`,
      '--log-dir',
      t.logs,
      '--delete-missing',
      '--poll-interval',
      String(POLL_MS),
    ];
    const start = async (): Promise<{ stop: () => Promise<number> }> => {
      captured.lines.length = 0;
      const ac = new AbortController();
      const ctx = {
        stdout: process.stdout,
        stderr: process.stderr,
        env: { HOME: t.base },
        signal: ac.signal,
      };
      const done = runCommand(argv, ctx);
      const exited = done.then(() => true);
      await until(
        'run follows changes live',
        async () =>
          captured.lines.some((s) => s.includes('following changes live')) ||
          (await Promise.race([exited, Promise.resolve(false)])),
        30_000,
      );
      return {
        stop: async () => {
          ac.abort();
          return done;
        },
      };
    };
    const at = (root: string, rel: string): string => join(root, rel);
    try {
      const old = Date.now() - 3_600_000;
      for (const [rel, body] of [
        ['marker', 'm'],
        ['gone.txt', 'deleted on usb while run was down'],
        ['both.txt', 'both v1'],
        ['keep1.txt', 'k1'],
        ['keep2.txt', 'k2'],
      ] as const) {
        writeFileSync(at(t.a, rel), body);
        utimesSync(at(t.a, rel), new Date(old), new Date(old));
      }
      writeFileSync(at(t.b, 'marker'), 'm');
      utimesSync(at(t.b, 'marker'), new Date(old), new Date(old));

      let run = await start();
      expect(read(at(t.b, 'gone.txt'))).toBe('deleted on usb while run was down');
      expect(read(at(t.b, 'both.txt'))).toBe('both v1');
      expect(await run.stop()).toBe(0);
      expect(captured.lines.some((s) => s.includes('stopped cleanly'))).toBe(true);

      // While it is down: usb deletes a file; both sides edit another, laptop's edit newer.
      rmSync(at(t.b, 'gone.txt'));
      const now = Date.now();
      writeFileSync(at(t.a, 'both.txt'), 'edited on laptop while down, newer');
      utimesSync(at(t.a, 'both.txt'), new Date(now), new Date(now));
      writeFileSync(at(t.b, 'both.txt'), 'edited on usb while down');
      utimesSync(at(t.b, 'both.txt'), new Date(now - 10_000), new Date(now - 10_000));

      run = await start();
      try {
        expect(existsSync(at(t.a, 'gone.txt')), 'the offline delete propagated').toBe(false);
        expect(keptVersions(t.a, '', 'gone', '.txt')).toHaveLength(1);
        expect(read(at(t.a, 'both.txt'))).toBe('edited on laptop while down, newer');
        expect(read(at(t.b, 'both.txt'))).toBe('edited on laptop while down, newer');
        const copies = conflictCopies(t.b, '', 'both', '.txt', 'usb');
        expect(copies).toHaveLength(1);
        expect(read(at(t.b, copies[0]!))).toBe('edited on usb while down');
        await until(
          'the conflict copy on laptop too',
          () => read(at(t.a, copies[0]!)) === 'edited on usb while down',
        );
        expect(conflictCopies(t.a, '', 'both', '.txt', 'laptop')).toEqual([]);
        expect(read(at(t.a, 'keep1.txt'))).toBe('k1');
        expect(read(at(t.b, 'keep2.txt'))).toBe('k2');
        // Live again after the restart: a delete made now propagates too.
        rmSync(at(t.a, 'keep1.txt'));
        await until('live delete after restart', () => !existsSync(at(t.b, 'keep1.txt')));
      } finally {
        expect(await run.stop()).toBe(0);
      }
    } finally {
      t.cleanup();
    }
  });
});
