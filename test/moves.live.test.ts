// Moves on the live path, by inode (issue 16): the real applier over real temp roots, the
// watcher's events published by hand in the order the poller sends them (the old place's deletes
// first, then the new place). A rename keeps the inode, so the applier knows the moved file
// without reading it, and knows a moved folder even when it changed inside.
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveMoves, PAIR_WAIT_MS } from '../src/applier/moves.js';
import { agreed } from '../src/core/index.js';
import { d } from './entries.helpers.js';
import { eventFor, lastSeen, read, until } from './applier.helpers.js';
import { startLiveRig, type LiveRig } from './live.rig.js';

const PAIR = 'livemove';

let rig: LiveRig | undefined;
afterEach(async () => {
  await rig?.stop().catch(() => undefined);
  rig = undefined;
});

/** Syncs `paths` (already written on dell) to hp, echoes included. */
async function synced(r: LiveRig, paths: string[], check: string): Promise<void> {
  for (const p of paths) await r.pub(eventFor(PAIR, 'dell', r.a, p));
  await until('synced to hp', () => read(join(r.b, check)) !== null);
  for (const p of paths) await r.pub(eventFor(PAIR, 'hp', r.b, p));
  await r.drained();
}

/** The versions kept on a side: files below `.ha-sync/versions` (a folder left empty is none). */
const versionsOn = (root: string): string[] => {
  const dir = join(root, '.ha-sync/versions');
  try {
    return readdirSync(dir, { recursive: true })
      .map(String)
      .filter((p) => !lstatSync(join(dir, p)).isDirectory())
      .sort();
  } catch {
    return [];
  }
};

describe('live moves by inode', () => {
  it('a large file moved on dell: renamed on hp, and neither copy is read (no MD5)', async () => {
    let hashed = 0;
    const r = (rig = await startLiveRig(PAIR, (fs) => ({
      ...fs,
      md5: (root, rel) => {
        hashed++;
        return fs.md5(root, rel);
      },
    })));
    mkdirSync(join(r.a, 'in'));
    mkdirSync(join(r.a, 'out'));
    writeFileSync(join(r.a, 'in/movie.mkv'), Buffer.alloc(3 << 20, 7));
    await synced(r, ['in', 'out', 'in/movie.mkv'], 'in/movie.mkv');
    const ino = lstatSync(join(r.b, 'in/movie.mkv')).ino;
    const was = lastSeen(r.a, 'in/movie.mkv');
    hashed = 0;
    renameSync(join(r.a, 'in/movie.mkv'), join(r.a, 'out/movie.mkv'));
    await r.pub(eventFor(PAIR, 'dell', r.a, 'in/movie.mkv', 'delete', was));
    await r.pub(eventFor(PAIR, 'dell', r.a, 'out/movie.mkv'));
    await until(
      'moved on hp',
      () => read(join(r.b, 'in/movie.mkv')) === null && read(join(r.b, 'out/movie.mkv')) !== null,
    );
    await r.drained();
    expect(lstatSync(join(r.b, 'out/movie.mkv')).ino).toBe(ino);
    expect(hashed).toBe(0);
    expect(versionsOn(r.b)).toEqual([]);
  });

  it('a folder moved on dell and then changed inside: one rename on hp, then the changes follow', async () => {
    const r = (rig = await startLiveRig(PAIR));
    const eps = ['e1.mkv', 'e2.mkv', 'e3.mkv'];
    mkdirSync(join(r.a, 'shows/s1'), { recursive: true });
    mkdirSync(join(r.a, 'library'));
    for (const e of eps) writeFileSync(join(r.a, 'shows/s1', e), `episode ${e} `.repeat(50));
    await synced(r, ['shows', 'shows/s1', 'library', ...eps.map((e) => `shows/s1/${e}`)], 'shows/s1/e3.mkv');
    const ino = lstatSync(join(r.b, 'shows/s1/e2.mkv')).ino;
    const gone = ['shows/s1', ...eps.map((e) => `shows/s1/${e}`)];
    const seen = new Map(gone.map((p) => [p, lastSeen(r.a, p)]));
    renameSync(join(r.a, 'shows/s1'), join(r.a, 'library/s1'));
    writeFileSync(join(r.a, 'library/s1/e1.mkv'), 'a new cut');
    writeFileSync(join(r.a, 'library/s1/e4.mkv'), 'a new episode');
    rmSync(join(r.a, 'library/s1/e3.mkv'));
    for (const p of [...gone].reverse()) await r.pub(eventFor(PAIR, 'dell', r.a, p, 'delete', seen.get(p)));
    for (const p of ['library/s1', 'library/s1/e1.mkv', 'library/s1/e2.mkv', 'library/s1/e4.mkv'])
      await r.pub(eventFor(PAIR, 'dell', r.a, p));
    await until(
      'moved and changed on hp',
      () =>
        read(join(r.b, 'library/s1/e4.mkv')) === 'a new episode' &&
        read(join(r.b, 'library/s1/e1.mkv')) === 'a new cut' &&
        read(join(r.b, 'library/s1/e3.mkv')) === null &&
        read(join(r.b, 'shows/s1/e2.mkv')) === null,
    );
    await r.drained();
    expect(lstatSync(join(r.b, 'library/s1/e2.mkv')).ino).toBe(ino);
    expect(readdirSync(join(r.b, 'library/s1')).sort()).toEqual(['e1.mkv', 'e2.mkv', 'e4.mkv']);
    // Kept: the replaced and the deleted episode, nothing else (the rest was renamed, not copied).
    expect(versionsOn(r.b).filter((v) => v.endsWith('.mkv'))).toEqual([
      expect.stringMatching(/^library\/s1\/e1~.*\.mkv$/),
      expect.stringMatching(/^library\/s1\/e3~.*\.mkv$/),
    ]);
  });
});

describe('LiveMoves.waitMs: how long a half of a move waits for the other', () => {
  const dirRec = (name: string) => agreed(name, d(name), d(name));
  const made = { type: 'dir-one-side', on: 'a', then: 'create' } as const;
  const removed = { type: 'dir-one-side', on: 'b', then: 'remove' } as const;

  it('a new folder waits for a delete on its side that waits for its second look, even with a gone folder known', () => {
    const m = new LiveMoves(true);
    // A subfolder's delete came first and is known as gone; the folder's own delete is still
    // waiting for its second look (its side showed it for a moment longer).
    expect(m.waitMs('old/sub', removed, dirRec('sub'), true, 1000)).toBe(PAIR_WAIT_MS);
    m.notePending('a', 3000);
    expect(m.waitMs('new', made, undefined, true, 1100)).toBe(1900);
    expect(m.waitMs('new', made, undefined, false, 3000)).toBe(0);
  });

  it('never past 5 s from its first look, and not at all without --delete-missing', () => {
    const m = new LiveMoves(true);
    m.notePending('a', 60_000);
    expect(m.waitMs('new', made, undefined, true, 1000)).toBe(5000);
    expect(m.waitMs('new', made, undefined, false, 6000)).toBe(0);
    expect(new LiveMoves(false).waitMs('new', made, undefined, true, 1000)).toBe(0);
  });
});
