// The applier on a mount whose attributes are cached (an NFS client's actimeo, a FUSE mount's
// attribute and entry timeouts): the watcher lists directories, which are never cached, so its
// event can arrive while the applier's stat still shows the path as it was. Real temp roots, the
// in-process bus, the real applier; side dell's stats go through a cache the test holds.
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FsOps } from '../src/applier/index.js';
import { eventFor, lastSeen, read, until } from './applier.helpers.js';
import { startLiveRig, type LiveRig } from './live.rig.js';

const PAIR = 'stale';

interface Rig extends LiveRig {
  /** Dell's stat of each `rels` keeps showing what it shows now for `ms`. */
  hold: (rels: string[], ms: number) => Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.stop().catch(() => undefined);
  rig = undefined;
});

async function start(): Promise<Rig> {
  const cached = new Map<string, { st: Awaited<ReturnType<FsOps['stat']>>; until: number }>();
  let real: FsOps | undefined;
  const r = await startLiveRig(PAIR, (fs, t) => {
    real = fs;
    return {
      ...fs,
      stat: async (root, rel) => {
        const c = root === t.a ? cached.get(rel) : undefined;
        return c && Date.now() < c.until ? c.st : fs.stat(root, rel);
      },
    };
  });
  return {
    ...r,
    hold: async (rels, ms) => {
      for (const rel of rels) cached.set(rel, { st: await real!.stat(r.a, rel), until: Date.now() + ms });
    },
  };
}

describe('an event its own side does not show yet (a cached view)', () => {
  it('a delete whose path dell still shows for a second reaches hp', async () => {
    const r = (rig = await start());
    writeFileSync(join(r.a, 'f.txt'), 'contents');
    await r.pub(eventFor(PAIR, 'dell', r.a, 'f.txt'));
    await until('f on hp', () => read(join(r.b, 'f.txt')) === 'contents');
    await r.pub(eventFor(PAIR, 'hp', r.b, 'f.txt')); // hp's watcher reports the copy (its echo)
    await r.drained();
    expect(r.applier.stats.echoes).toBe(1);
    const was = lastSeen(r.a, 'f.txt');
    await r.hold(['f.txt'], 1000);
    rmSync(join(r.a, 'f.txt'));
    const retried = r.applier.stats.retried;
    await r.pub(eventFor(PAIR, 'dell', r.a, 'f.txt', 'delete', was));
    // Decided at once, dell's cached view and hp would agree: "nothing to do".
    await until('f gone on hp', () => !existsSync(join(r.b, 'f.txt')));
    expect(r.applier.stats.retried).toBeGreaterThan(retried);
    await r.drained();
  });

  it('a folder moved on dell, its old place still shown for a second: one rename on hp, nothing copied', async () => {
    const r = (rig = await start());
    const files = ['p1.jpg', 'p2.jpg', 'p3.jpg'];
    mkdirSync(join(r.a, 'photos/2019'), { recursive: true });
    mkdirSync(join(r.a, 'albums'));
    for (const f of files) writeFileSync(join(r.a, 'photos/2019', f), `photo ${f} `.repeat(50));
    for (const p of ['photos', 'photos/2019', 'albums', ...files.map((f) => `photos/2019/${f}`)])
      await r.pub(eventFor(PAIR, 'dell', r.a, p));
    await until('the folder on hp', () => files.every((f) => existsSync(join(r.b, 'photos/2019', f))));
    for (const p of ['photos', 'photos/2019', 'albums', ...files.map((f) => `photos/2019/${f}`)])
      await r.pub(eventFor(PAIR, 'hp', r.b, p)); // the echoes
    await r.drained();
    const ino = lstatSync(join(r.b, 'photos/2019/p2.jpg')).ino;
    const gone = ['photos/2019', ...files.map((f) => `photos/2019/${f}`)];
    const seen = new Map(gone.map((p) => [p, lastSeen(r.a, p)]));
    await r.hold(gone, 1000);
    renameSync(join(r.a, 'photos/2019'), join(r.a, 'albums/2019'));
    // As the poller publishes it: the old folder's deletes first, then the new folder and its files.
    for (const p of [...gone].reverse()) await r.pub(eventFor(PAIR, 'dell', r.a, p, 'delete', seen.get(p)));
    for (const p of ['albums/2019', ...files.map((f) => `albums/2019/${f}`)])
      await r.pub(eventFor(PAIR, 'dell', r.a, p));
    await until(
      'moved on hp',
      () => existsSync(join(r.b, 'albums/2019/p2.jpg')) && !existsSync(join(r.b, 'photos/2019')),
    );
    await r.drained();
    expect(lstatSync(join(r.b, 'albums/2019/p2.jpg')).ino).toBe(ino);
    expect(readdirSync(join(r.b, 'albums/2019')).sort()).toEqual(files);
    expect(existsSync(join(r.b, '.ha-sync/versions'))).toBe(false);
  });
});
