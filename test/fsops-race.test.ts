// Parents swapped for symlinks while fsops writes: nothing may ever be written or deleted outside
// the roots. A worker thread loops, renaming a directory of dest (and of src, and of the versions
// area) away, putting a symlink to an outside directory in its place, then putting the directory
// back, while this thread copies (files, directories, symlinks, with and without keeping the
// version replaced), touches, deletes (with and without keep), and moves entries aside in that
// directory. Outside, sentinel files must stay as they were, nothing new may appear, and nothing
// read from outside may land in dest. Run for the addon's Io (when built), node:fs through
// /proc/self/fd, and, for the single-check window that remains without /proc, a swap made before
// the call.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERSIONS_DIR } from '../src/core/index.js';
import type { Expected } from '../src/core/index.js';
import type { Io } from '../src/fsops/index.js';
import {
  asyncIo,
  copyEntry,
  deleteEntry,
  loadFastscan,
  moveAside,
  nodeAsyncIo,
  touchEntry,
  nodeSyncIo,
  pathOnly,
  syncIo,
} from '../src/fsops/index.js';

let root: string;
let src: string;
let dest: string;
let outside: string;

beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'ha-race-'));
  src = join(root, 'src');
  dest = join(root, 'dest');
  outside = join(root, 'outside');
  for (const d of [src, dest, outside, join(src, 'd'), join(dest, 'd'), join(dest, VERSIONS_DIR, 'd')]) {
    fs.mkdirSync(d, { recursive: true });
  }
  // Sentinels with the names the operations use, so a delete or a replace through the symlink
  // would hit them.
  for (const name of ['sentinel', 'f0', 'old0', 'k0', 'r0', 'm0', 'x']) {
    fs.writeFileSync(join(outside, name), `outside ${name}`);
  }
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every entry under `dir`: path, kind, size, mtime and (files) contents. */
function snapshot(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((rel) => {
    const st = fs.lstatSync(join(dir, rel));
    const body = st.isFile() ? fs.readFileSync(join(dir, rel), 'utf8') : '';
    return `${rel} ${st.mode} ${st.size} ${st.mtimeMs} ${body}`;
  });
}

const exp = (p: string): Expected => {
  const st = fs.lstatSync(p);
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  return { kind, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
};

// The swapper. flags: [0] stop, [1] pause requested, [2] paused (everything back in place).
const SWAPPER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const flags = new Int32Array(workerData.flags);
let swaps = 0;
while (Atomics.load(flags, 0) === 0) {
  if (Atomics.load(flags, 1) === 1) {
    Atomics.store(flags, 2, 1);
    Atomics.notify(flags, 2);
    while (Atomics.load(flags, 1) === 1 && Atomics.load(flags, 0) === 0) Atomics.wait(flags, 1, 1, 50);
    Atomics.store(flags, 2, 0);
    continue;
  }
  for (const d of workerData.dirs) {
    const away = d + '.away';
    try { fs.renameSync(d, away); } catch { continue; }
    try { fs.symlinkSync(workerData.outside, d); } catch {}
    for (let i = 0; i < 1000; i++);
    try { fs.unlinkSync(d); } catch {}
    // ha-sync may have made a new folder (the versions area's) while the old one was away.
    for (let n = 0; ; n++) {
      try { fs.renameSync(away, d); break; } catch { fs.renameSync(d, d + '.made' + n + '-' + swaps); }
    }
    swaps++;
  }
}
new Int32Array(workerData.count)[0] = swaps;
`;

class Swapper {
  private readonly flags = new Int32Array(new SharedArrayBuffer(12));
  private readonly count = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  constructor(dirs: string[], target: string) {
    this.worker = new Worker(SWAPPER, {
      eval: true,
      workerData: { dirs, outside: target, flags: this.flags.buffer, count: this.count.buffer },
    });
  }
  /** Resolves once the worker runs. */
  started(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.worker.once('online', () => resolve());
      this.worker.once('error', reject);
    });
  }
  /** Waits until the worker has put everything back and stopped swapping. */
  pause(): void {
    Atomics.store(this.flags, 1, 1);
    const until = Date.now() + 10_000;
    while (Atomics.load(this.flags, 2) !== 1) {
      if (Date.now() > until) throw new Error('the swapper did not pause');
      Atomics.wait(this.flags, 2, 0, 50);
    }
  }
  resume(): void {
    Atomics.store(this.flags, 1, 0);
    Atomics.notify(this.flags, 1);
  }
  async stop(): Promise<number> {
    Atomics.store(this.flags, 0, 1);
    Atomics.notify(this.flags, 1);
    await new Promise((r) => this.worker.once('exit', r));
    return this.count[0]!;
  }
}

const put = (p: string, body: string, mtimeS: number): void => {
  fs.writeFileSync(p, body);
  fs.utimesSync(p, mtimeS, mtimeS);
};

/** One round: sets up (swapper paused), then runs every kind of write while it swaps. */
async function round(io: Io, i: number, sw: Swapper): Promise<number> {
  sw.pause();
  const s = (n: string): string => join(src, 'd', n);
  const t = (n: string): string => join(dest, 'd', n);
  put(s(`f${i}`), `new ${i}`, 1_700_000_000 + i);
  fs.mkdirSync(s(`sub${i}`));
  fs.symlinkSync('target', s(`ln${i}`));
  put(s(`r${i}`), `replacement ${i}`, 1_700_000_500 + i);
  put(t(`r${i}`), `replaced ${i}`, 1_600_000_000);
  put(t(`old${i}`), 'old', 1_600_000_000);
  put(t(`k${i}`), 'kept', 1_600_000_000);
  put(t(`m${i}`), 'aside', 1_600_000_000);
  put(s(`t${i}`), 'same', 1_700_000_900);
  put(t(`t${i}`), 'same', 1_600_000_000);
  const e = (p: string): Expected => exp(p);
  const plan = {
    f: e(s(`f${i}`)),
    sub: e(s(`sub${i}`)),
    ln: e(s(`ln${i}`)),
    r: { src: e(s(`r${i}`)), dest: e(t(`r${i}`)) },
    old: e(t(`old${i}`)),
    k: e(t(`k${i}`)),
    m: e(t(`m${i}`)),
    t: { src: e(s(`t${i}`)), dest: e(t(`t${i}`)) },
  };
  sw.resume();
  const keep = { nowMs: 1_800_000_000_000 + i * 1000 };
  const results = [
    await copyEntry(src, dest, `d/f${i}`, { src: plan.f, dest: null }, { io }),
    await copyEntry(src, dest, `d/sub${i}`, { src: plan.sub, dest: null }, { io }),
    await copyEntry(src, dest, `d/ln${i}`, { src: plan.ln, dest: null }, { io }),
    await copyEntry(src, dest, `d/r${i}`, plan.r, { io, keep }),
    await deleteEntry(dest, `d/old${i}`, plan.old, { io }),
    await deleteEntry(dest, `d/k${i}`, plan.k, { io, keep }),
    await moveAside(dest, `d/m${i}`, plan.m, `d/m${i}.conflict`, { io }),
    await touchEntry(src, dest, `d/t${i}`, plan.t, { io }),
  ];
  return results.filter((r) => r.ok).length;
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

const variants: [string, Io | null][] = [
  ['the addon, synchronous', loadFastscan({}) ? syncIo : null],
  ['the addon, thread pool', loadFastscan({}) ? asyncIo : null],
  ['node:fs through /proc/self/fd, synchronous', nodeSyncIo],
  ['node:fs through /proc/self/fd, thread pool', nodeAsyncIo],
];

describe.each(variants)('parents swapped for symlinks while writing: %s', (_name, io) => {
  it.skipIf(io === null || !fs.existsSync('/proc/self/fd'))(
    'never writes or deletes outside the roots, and leaks no descriptor',
    async () => {
      expect(io!.openDir, 'this Io opens directories').toBeDefined();
      const before = snapshot(outside);
      const fds = openFds();
      const sw = new Swapper([join(dest, 'd'), join(dest, VERSIONS_DIR, 'd'), join(src, 'd')], outside);
      let done = 0;
      await sw.started();
      try {
        for (let i = 0; i < 150; i++) done += await round(io!, i, sw);
      } finally {
        const swaps = await sw.stop();
        expect(swaps).toBeGreaterThan(100);
      }
      expect(snapshot(outside)).toEqual(before);
      // Nor was anything read from outside through a swapped source parent.
      expect(snapshot(dest).filter((l) => l.includes(' outside '))).toEqual([]);
      expect(openFds()).toBeLessThanOrEqual(fds + 2);
      // Some writes went through (into the real directory, wherever it was at the time).
      expect(done).toBeGreaterThan(0);
    },
    60_000,
  );
});

describe('without /proc (parents checked by real path)', () => {
  it('refuses a parent swapped for a symlink before the call, writing nothing outside', async () => {
    const io = pathOnly(nodeSyncIo);
    put(join(src, 'd', 'x'), 'new', 1_700_000_000);
    put(join(dest, 'd', 'y'), 'old', 1_600_000_000);
    const planned = { x: exp(join(src, 'd', 'x')), y: exp(join(dest, 'd', 'y')) };
    const before = snapshot(outside);
    fs.renameSync(join(dest, 'd'), join(dest, 'd.away'));
    fs.symlinkSync(outside, join(dest, 'd'));
    const rs = [
      await copyEntry(src, dest, 'd/x', { src: planned.x, dest: null }, { io }),
      await deleteEntry(dest, 'd/sentinel', exp(join(outside, 'sentinel')), { io }),
      await moveAside(dest, 'd/sentinel', exp(join(outside, 'sentinel')), 'd/s2', { io }),
    ];
    for (const r of rs) expect(r).toMatchObject({ ok: false, code: 'UNSAFE_PATH' });
    expect(snapshot(outside)).toEqual(before);
  });
});
