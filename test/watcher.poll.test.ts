// The poller on real temp directories, driven tick by tick with a manual clock (no sleeping), and
// the outbox as plain data.
import {
  mkdtempSync,
  mkdirSync,
  rmSync,
  writeFileSync,
  renameSync,
  unlinkSync,
  symlinkSync,
  utimesSync,
  lstatSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/bus/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { Outbox, Poller, scanTree } from '../src/watcher/index.js';
import { FsIo } from '../src/watcher/fsio.js';
import { ScanError, scanDir } from '../src/watcher/tree.js';
import { tempName } from '../src/fsops/index.js';
import { markRootSync } from './applier.helpers.js';

let root: string;
let rootId: string;
let events: ChangeEvent[];
let logs: string[];
let clock: ManualClock;

function makePoller(sweepRate = 100_000): Poller {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  return new Poller({
    pair: 'media',
    side: 'dell',
    root,
    pollIntervalMs: 1000,
    sweepRate,
    statTimeoutMs: 5000,
    statConcurrency: 4,
    hotMs: 3000,
    clock,
    logger: createLogger({ destination: sink }),
    emit: (ev) => events.push(ev),
  });
}

/** Advances time past the hot window and runs one tick; returns the events it emitted. */
async function tick(
  p: Poller,
  ms = 5000,
): Promise<{ type: string; kind: string; path: string; size: number; prev?: unknown }[]> {
  await clock.advance(ms);
  events = [];
  await p.tick();
  return events.map(({ type, kind, path, size, prev }) => ({
    type,
    kind,
    path,
    size,
    ...(prev ? { prev } : {}),
  }));
}

const sorted = <T extends { path: string; type: string }>(a: T[]): T[] =>
  [...a].sort((x, y) => (x.path + x.type).localeCompare(y.path + y.type));

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hasync-poll-'));
  rootId = markRootSync(root, 'media', 'dell');
  mkdirSync(join(root, 'a'));
  writeFileSync(join(root, 'a', 'one.txt'), '1');
  writeFileSync(join(root, 'top.txt'), 'top');
  events = [];
  logs = [];
  clock = new ManualClock(Date.now());
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Poller', () => {
  it('publishes nothing for the initial scan, then sees creates, modifications, renames and deletes', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    expect(events).toEqual([]);
    expect(await tick(p)).toEqual([]);

    writeFileSync(join(root, 'a', 'two.txt'), '22');
    expect(await tick(p)).toEqual([{ type: 'upsert', kind: 'file', path: 'a/two.txt', size: 2 }]);

    // In place: no directory mtime moves; the sweep finds it.
    writeFileSync(join(root, 'a', 'one.txt'), '1111');
    utimesSync(join(root, 'a', 'one.txt'), new Date(), new Date(Date.now() + 5000));
    const mod = await tick(p);
    expect(mod).toEqual([
      {
        type: 'upsert',
        kind: 'file',
        path: 'a/one.txt',
        size: 4,
        prev: expect.objectContaining({ size: 1 }),
      },
    ]);

    renameSync(join(root, 'a', 'two.txt'), join(root, 'a', 'deux.txt'));
    expect(sorted(await tick(p))).toEqual([
      { type: 'upsert', kind: 'file', path: 'a/deux.txt', size: 2 },
      { type: 'delete', kind: 'file', path: 'a/two.txt', size: 2 },
    ]);

    unlinkSync(join(root, 'top.txt'));
    expect(await tick(p)).toEqual([{ type: 'delete', kind: 'file', path: 'top.txt', size: 3 }]);
  });

  it('announces a new directory tree parents first and a removed one children first', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    mkdirSync(join(root, 'n', 'm'), { recursive: true });
    writeFileSync(join(root, 'n', 'm', 'f.txt'), 'ff');
    symlinkSync('/etc/passwd', join(root, 'n', 'link'));
    // A level at a time: a new folder is announced before its contents are listed.
    const added = (await tick(p)).map((e) => `${e.type} ${e.kind} ${e.path}`);
    expect(added[0]).toBe('upsert dir n');
    expect(events[0]!.mtimeMs).toBe(lstatSync(join(root, 'n')).mtimeMs);
    expect(added.slice(1, 3).sort()).toEqual(['upsert dir n/m', 'upsert symlink n/link']);
    expect(added.slice(3)).toEqual(['upsert file n/m/f.txt']);
    expect(await tick(p)).toEqual([]);

    rmSync(join(root, 'n'), { recursive: true });
    const removed = await tick(p);
    expect(removed.map((e) => `${e.type} ${e.path}`)).toContain('delete n');
    expect(removed.at(-1)!.path).toBe('n');
    expect(removed.findIndex((e) => e.path === 'n/m/f.txt')).toBeLessThan(
      removed.findIndex((e) => e.path === 'n/m'),
    );
    expect(p.dirCount).toBe(2); // root and a
  });

  it('finds where a folder moved from in the same pass, though its old parent looks unchanged', async () => {
    // A network mount's cached attributes can hide the old parent's change for a while: here its
    // mtime is set back after the move. The folder's names lead to it, and its listing (never
    // cached) shows the folder gone: both halves go out in one pass, the old folder's first.
    mkdirSync(join(root, 'x', 'album', 'sub'), { recursive: true });
    mkdirSync(join(root, 'y'));
    writeFileSync(join(root, 'x', 'album', 'p1.jpg'), 'one');
    writeFileSync(join(root, 'x', 'album', 'p2.jpg'), 'two');
    utimesSync(join(root, 'x'), 1_000_000, 1_000_000); // whole seconds: set back exactly below
    const p = makePoller(0); // no sweep: only the directory pass looks
    await p.start(new AbortController().signal);
    await tick(p);
    renameSync(join(root, 'x', 'album'), join(root, 'y', 'album'));
    utimesSync(join(root, 'x'), 1_000_000, 1_000_000);
    const evs = (await tick(p)).map((e) => `${e.type} ${e.path}`);
    expect(evs.slice(3, 5)).toEqual(['delete x/album', 'upsert y/album']);
    expect(evs.slice(0, 3).sort()).toEqual([
      'delete x/album/p1.jpg',
      'delete x/album/p2.jpg',
      'delete x/album/sub',
    ]);
    expect(evs.slice(5).sort()).toEqual([
      'upsert y/album/p1.jpg',
      'upsert y/album/p2.jpg',
      'upsert y/album/sub',
    ]);
    // A copy (the old folder still there) is only a new folder.
    mkdirSync(join(root, 'z'));
    mkdirSync(join(root, 'z', 'album'));
    writeFileSync(join(root, 'z', 'album', 'p1.jpg'), 'one');
    writeFileSync(join(root, 'z', 'album', 'p2.jpg'), 'two');
    mkdirSync(join(root, 'z', 'album', 'sub'));
    expect((await tick(p)).map((e) => `${e.type} ${e.path}`).slice(0, 2)).toEqual([
      'upsert z',
      'upsert z/album',
    ]);
  });

  it('a folder moved away right after its old parent was listed in the same pass: both halves in that pass', async () => {
    mkdirSync(join(root, 'x', 'album'), { recursive: true });
    mkdirSync(join(root, 'y'));
    writeFileSync(join(root, 'x', 'album', 'p1.jpg'), 'one');
    const p = makePoller();
    await p.start(new AbortController().signal);
    await tick(p);
    writeFileSync(join(root, 'x', 'other.txt'), 'o'); // x is listed by this pass's directory pass
    const readdir = p.io.readdir.bind(p.io);
    const statMany = p.io.statMany.bind(p.io);
    const cached = lstatSync(join(root, 'x', 'album'));
    let moved = false;
    p.io.readdir = async (abs: string) => {
      const names = await readdir(abs);
      if (abs === join(root, 'x') && !moved) {
        moved = true; // the move lands right after x was listed
        renameSync(join(root, 'x', 'album'), join(root, 'y', 'album'));
      }
      return names;
    };
    // ... and x's stat of it is answered from a cache (a network mount's): still there.
    p.io.statMany = async (dir: string, names: string[], aborted: () => boolean) => {
      const out = await statMany(dir, names, aborted);
      if (dir === join(root, 'x') && moved) {
        const i = names.indexOf('album');
        if (i >= 0 && out[i] === undefined) out[i] = cached;
      }
      return out;
    };
    const evs = (await tick(p)).map((e) => `${e.type} ${e.path}`);
    expect(moved).toBe(true);
    expect(evs).toContain('delete x/album');
    expect(evs).toContain('upsert y/album');
    expect(evs).toContain('upsert x/other.txt');
    expect(evs.indexOf('delete x/album')).toBeLessThan(evs.indexOf('upsert y/album'));
    p.io.readdir = readdir;
    p.io.statMany = statMany;
    expect(await tick(p)).toEqual([]);
  });

  it('a new directory whose listing fails is announced, not retried in a loop, and listed by a later pass', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    mkdirSync(join(root, 'n'));
    writeFileSync(join(root, 'n', 'f.txt'), 'ff');
    const readdir = p.io.readdir.bind(p.io);
    p.io.readdir = (abs: string) =>
      abs === join(root, 'n')
        ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EACCES' }))
        : readdir(abs);
    // The manual clock stands still within the tick: a failed listing must not be tried forever.
    expect((await tick(p)).map((e) => `${e.type} ${e.path}`)).toEqual(['upsert n']);
    p.io.readdir = readdir;
    expect((await tick(p)).map((e) => `${e.type} ${e.path}`)).toEqual(['upsert n/f.txt']);
  });

  it("never announces its root's temp files; a user's file of a similar name is announced", async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    const temp = tempName(rootId);
    writeFileSync(join(root, 'a', temp), 'x');
    expect(await tick(p)).toEqual([]);
    renameSync(join(root, 'a', temp), join(root, 'a', 'final.txt'));
    expect(await tick(p)).toEqual([{ type: 'upsert', kind: 'file', path: 'a/final.txt', size: 1 }]);
    const other = tempName('fedcba9876543210');
    writeFileSync(join(root, '.ha-sync-0123456789abcdef.tmp'), 'mine');
    writeFileSync(join(root, other), 'mine too');
    expect(sorted(await tick(p))).toEqual(
      sorted([
        { type: 'upsert', kind: 'file', path: '.ha-sync-0123456789abcdef.tmp', size: 4 },
        { type: 'upsert', kind: 'file', path: other, size: 8 },
      ]),
    );
  });

  it('reports a temp file of its root untouched for 10 minutes (for the applier to remove), once', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    const temp = tempName(rootId);
    writeFileSync(join(root, 'a', temp), 'partial');
    expect(await tick(p)).toEqual([]);
    expect(await tick(p, 11 * 60_000)).toEqual([
      { type: 'upsert', kind: 'file', path: `a/${temp}`, size: 7 },
    ]);
    expect(await tick(p)).toEqual([]); // not again within 10 minutes
    expect(await tick(p, 11 * 60_000)).toEqual([
      { type: 'upsert', kind: 'file', path: `a/${temp}`, size: 7 },
    ]);
  });

  it('publishes nothing while the root lacks its marker (a bare mount point), and resumes after', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    const aside = root + '.aside';
    renameSync(root, aside);
    mkdirSync(root); // a bare mount point: same path, a stale file, no marker
    writeFileSync(join(root, 'stale.txt'), 'stale');
    expect(await tick(p)).toEqual([]);
    expect(await tick(p)).toEqual([]);
    expect(p.healthy).toBe(false);
    expect(logs.filter((l) => l.includes('root looks unmounted'))).toHaveLength(1);
    expect(logs.find((l) => l.includes('root looks unmounted'))).toContain('has no .ha-sync/root.json');

    rmSync(root, { recursive: true });
    expect(await tick(p)).toEqual([]);
    renameSync(aside, root);
    writeFileSync(join(root, 'a', 'later.txt'), 'L');
    expect(await tick(p)).toEqual([{ type: 'upsert', kind: 'file', path: 'a/later.txt', size: 1 }]);
    expect(p.healthy).toBe(true);
    expect(logs.filter((l) => l.includes('root is back'))).toHaveLength(1);
  });

  it('a marker of another pair or side counts as not mounted; an emptied root that keeps its marker is a real emptying', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal);
    markRootSync(root, 'media', 'hp');
    expect(await tick(p)).toEqual([]);
    expect(p.healthy).toBe(false);
    writeFileSync(
      join(root, '.ha-sync', 'root.json'),
      JSON.stringify({ v: 1, pair: 'media', side: 'dell', rootId, createdAt: '' }),
    );
    rmSync(join(root, 'a'), { recursive: true });
    rmSync(join(root, 'top.txt'));
    expect(sorted(await tick(p))).toEqual(
      sorted([
        { type: 'delete', kind: 'dir', path: 'a', size: 0 },
        { type: 'delete', kind: 'file', path: 'a/one.txt', size: 1 },
        { type: 'delete', kind: 'file', path: 'top.txt', size: 3 },
      ]),
    );
    expect(p.healthy).toBe(true);
  });

  it('re-announces upserts with --initial-sync and scanTree snapshots parents first', async () => {
    const p = makePoller();
    await p.start(new AbortController().signal, true);
    expect(events.map((e) => e.path).sort()).toEqual(['a', 'a/one.txt', 'top.txt']);
    const snap = await scanTree(root);
    expect(snap.map((e) => `${e.kind} ${e.path} ${e.size}`).sort()).toEqual([
      'dir a 0',
      'file a/one.txt 1',
      'file top.txt 3',
    ]);
    expect(snap.findIndex((e) => e.path === 'a')).toBeLessThan(snap.findIndex((e) => e.path === 'a/one.txt'));
    await expect(scanTree(join(root, 'nope'))).rejects.toMatchObject({ code: 'TREE_UNAVAILABLE' });
  });

  it('a scan whose listing step throws fails as a ScanError, not as an unhandled rejection', async () => {
    writeFileSync(join(root, 'a', 'back\\slash'), 'x'); // no event can carry it: the hook is called
    const scan = scanDir(new FsIo(4, 5000), root, '', lstatSync(root), {
      onUnannounceable: () => {
        throw new Error('hook failed');
      },
    });
    await expect(scan).rejects.toBeInstanceOf(ScanError);
  });
});

describe('Outbox', () => {
  const ev = (path: string, type: 'upsert' | 'delete' = 'upsert', size = 1): ChangeEvent => ({
    v: 1,
    pair: 'p',
    side: 's',
    type,
    kind: 'file',
    path,
    size,
    mtimeMs: 1,
    observedAt: 1,
  });

  it('coalesces per path (latest wins) and hands out oldest first', () => {
    const o = new Outbox(100);
    o.put(ev('a', 'upsert', 1));
    o.put(ev('b'));
    o.put(ev('a', 'delete', 2));
    expect(o.size).toBe(2);
    expect(o.take(10).map((e) => `${e.path}:${e.type}`)).toEqual(['b:upsert', 'a:delete']);
  });

  it("hands out directories' events first (a moved folder's two events before its files')", () => {
    const o = new Outbox(100);
    for (let i = 0; i < 5; i++) o.put(ev(`old/f${i}`, 'delete'));
    o.put({ ...ev('old', 'delete'), kind: 'dir' });
    for (let i = 0; i < 5; i++) o.put(ev(`new/f${i}`));
    o.put({ ...ev('new'), kind: 'dir' });
    expect(o.take(3).map((e) => e.path)).toEqual(['old', 'new', 'old/f0']);
    expect(o.take(100)).toHaveLength(9);
    expect(o.take(100)).toEqual([]);
  });

  it('does not put back a failed event over a newer one', () => {
    const o = new Outbox(100);
    const old = ev('a', 'upsert', 1);
    o.put(ev('a', 'upsert', 2));
    o.putBack(old);
    expect(o.take(10)[0]!.size).toBe(2);
  });

  it('collapses the busiest directory into a rescan when over its bound', () => {
    const o = new Outbox(10);
    for (let i = 0; i < 8; i++) o.put(ev(`big/f${i}`, i === 0 ? 'delete' : 'upsert'));
    o.put(ev('small/x'));
    o.put(ev('top'));
    o.put(ev('big/f9'));
    expect(o.rescanDirs).toEqual(new Set(['big']));
    expect(o.take(100).map((e) => e.path)).toEqual(['small/x', 'top']);
    expect(o.takeDroppedDeletes()).toBe(1);
  });

  it('collapses as many directories as it takes, busiest first, in one go', () => {
    const o = new Outbox(100);
    for (let i = 0; i < 5; i++) o.put(ev(`busy/f${i}`));
    for (let i = 0; i < 96; i++) o.put(ev(`d${i}/f`));
    // 101 > 100: 'busy' (5) then d0..d5 (first seen first) bring it down to 90.
    expect(o.size).toBe(90);
    expect(o.rescanDirs).toEqual(new Set(['busy', 'd0', 'd1', 'd2', 'd3', 'd4', 'd5']));
  });
});

describe('RootWatcher while the bus is down', () => {
  it('collapses an overflowing outbox into a rescan and re-announces the directory when the bus is back', async () => {
    const { RootWatcher, DEFAULT_WATCHER_OPTIONS } = await import('../src/watcher/index.js');
    const { MemoryBus } = await import('../src/bus/index.js');
    const { HaSyncError } = await import('../src/errors.js');
    const { systemClock } = await import('../src/clock.js');
    const inner = new MemoryBus();
    let down = true;
    const got: ChangeEvent[] = [];
    // The real in-process bus behind a switch that makes it unreachable, as NATS would be.
    const bus = Object.assign(Object.create(inner) as typeof inner, {
      publish: async (e: ChangeEvent): Promise<void> => {
        if (down) throw new HaSyncError('BUS_UNAVAILABLE', 'down');
        got.push(e);
        await inner.publish(e);
      },
    });
    mkdirSync(join(root, 'big'));
    const w = new RootWatcher(
      { pair: 'media', side: 'dell', root },
      { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs: 100, maxPending: 5 },
      { bus, clock: systemClock, logger: createLogger({ silent: true }) },
    );
    const stop = new AbortController();
    await w.start(stop.signal);
    const running = w.run(stop.signal);
    for (let i = 0; i < 12; i++) writeFileSync(join(root, 'big', `f${i}.txt`), String(i));
    writeFileSync(join(root, 'top.txt'), 'changed');
    for (let i = 0; i < 100 && w.outbox.rescanDirs.size === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(w.outbox.rescanDirs.has('big')).toBe(true);
    expect(w.outbox.size).toBeLessThanOrEqual(5);
    down = false;
    for (let i = 0; i < 300 && got.filter((e) => e.path.startsWith('big/')).length < 12; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(
      'DEBUG',
      got.map((e) => e.path),
      w.outbox.size,
      [...w.outbox.rescanDirs],
      w.published,
    );
    stop.abort();
    await running;
    expect(new Set(got.filter((e) => e.path.startsWith('big/')).map((e) => e.path)).size).toBe(12);
    expect(got.some((e) => e.path === 'top.txt')).toBe(true);
  });
});
