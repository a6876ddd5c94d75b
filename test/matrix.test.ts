// The change matrix (test/matrix.cases.ts) through every caller of the one decision: the two-way
// reconcile run, the seed's two one-way CronJobs (run in turn), the live applier (an event for
// every path that changed) and run's start (equalize). Real temp directories, real SQLite
// baseline; each case first syncs its baseline with a two-way run.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Applier, equalize, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { openBaseline, orientedBaseline } from '../src/baseline/index.js';
import { MemoryBus, type ChangeEvent } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import { runReconcile, verifyRoots, type ReconcileConfig } from '../src/reconciler/index.js';
import { fileLockOptions, until } from './applier.helpers.js';
import { CASES, T0, type MatrixCase, type State } from './matrix.cases.js';
import { captureLogger, config, freeLock, memoryAudit, sink, tempRoot } from './reconcile.helpers.js';

type Dirs = ReturnType<typeof tempRoot>;
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

/** Makes `root` hold `state` (only the paths it names; null removes). */
function apply(root: string, state: State): void {
  // Removals deepest first, then creations shallowest first.
  const paths = Object.keys(state).sort();
  for (const p of [...paths].reverse()) {
    if (state[p] !== null) continue;
    fs.rmSync(join(root, p), { recursive: true, force: true });
  }
  for (const p of paths) {
    const v = state[p];
    if (v === null || v === undefined) continue;
    const abs = join(root, p);
    fs.rmSync(abs, { recursive: true, force: true });
    if (v === 'dir') fs.mkdirSync(abs, { recursive: true });
    else if (v.startsWith('->')) fs.symlinkSync(v.slice(2), abs);
    else {
      const at = v.lastIndexOf('@');
      fs.writeFileSync(abs, v.slice(0, at));
      const t = T0 + Number(v.slice(at + 1));
      fs.utimesSync(abs, t, t);
    }
  }
}

/** What `root` holds, in the cases' notation (conflict-copy times as '*'). */
function read(root: string): State {
  const out: State = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(join(root, rel)).sort()) {
      if (rel === '' && name === '.ha-sync') continue;
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      const st = fs.lstatSync(abs);
      const key = r.replace(/\.sync-conflict-\d{8}-\d{6}-/, '.sync-conflict-*-');
      if (st.isDirectory()) {
        out[key] = 'dir';
        walk(r);
      } else if (st.isSymbolicLink()) out[key] = `->${fs.readlinkSync(abs)}`;
      else out[key] = `${fs.readFileSync(abs, 'utf8')}@${Math.round(st.mtimeMs / 1000 - T0)}`;
    }
  };
  walk('');
  return out;
}

/** The contents of every version kept under `root` (symlinks as '->target'), sorted. */
function kept(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const name of fs.readdirSync(dir)) {
      const abs = join(dir, name);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) walk(abs);
      else out.push(st.isSymbolicLink() ? `->${fs.readlinkSync(abs)}` : fs.readFileSync(abs, 'utf8'));
    }
  };
  walk(join(root, '.ha-sync', 'versions'));
  return out.sort();
}

async function reconcile(d: Dirs, over: Partial<ReconcileConfig>): Promise<number> {
  const r = await runReconcile(config(d, { keepVersionsDays: 30, ...over }), {
    log: captureLogger().log,
    openAudit: () => Promise.resolve(memoryAudit()),
    openLock: () => Promise.resolve(freeLock()),
    stdout: sink(),
    stderr: sink(),
    env: {},
  });
  return r.exitCode;
}

const twoWay = (deleteMissing: boolean): Partial<ReconcileConfig> => ({
  sides: { a: 'left', b: 'right' },
  direction: 'left-to-right',
  deleteMissing,
});

/** Every path a side's change names, with its parents (the events its watcher would send). */
function changedPaths(state: State | undefined): string[] {
  const out = new Set<string>();
  for (const p of Object.keys(state ?? {})) {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return [...out].sort();
}

/** The live applier over `d` (memory bus, the log dir's SQLite baseline); `fn` drives it. */
async function withApplier(
  d: Dirs,
  deleteMissing: boolean,
  fn: (a: Applier, bus: MemoryBus, tempIds: { a: string; b: string }) => Promise<void>,
): Promise<void> {
  const cap = captureLogger(true);
  const log = cap.log;
  const bus = new MemoryBus({ kind: 'memory' });
  const audit = await openAudit({ dsn: undefined, logDir: d.logDir, log, clock: systemClock });
  const lock = await openLock(fileLockOptions('t', d.logDir, log));
  const store = await openBaseline({ pair: 't', dsn: null, logDir: d.logDir, log });
  const baseline = orientedBaseline(store, 'left', 'right');
  const applier = new Applier(
    {
      pair: 't',
      a: { label: 'left', root: d.src },
      b: { label: 'right', root: d.dest },
      deleteMissing,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: 'test/matrix',
      idleReleaseMs: 1000,
      keepVersionsDays: 30,
    },
    { bus, lock, audit, fs: fsOpsAdapter(), clock: systemClock, log, baseline },
  );
  try {
    // The roots hold their markers (a first meeting marks them, as the first CronJob would).
    const v = await verifyRoots('t', [applier.config.a, applier.config.b], baseline, { dryRun: false, log });
    if (!v.ok) throw new Error(v.why);
    await fn(applier, bus, { a: v.ids[0]!, b: v.ids[1]! });
  } catch (err) {
    // What the applier said, to tell a real defect from a slow machine.
    throw new Error(
      `${String(err)}\n${JSON.stringify(applier.stats)}\n${cap
        .lines()
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    );
  } finally {
    if (process.env.MATRIX_DEBUG)
      console.log(
        cap
          .lines()
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );
    await applier.close();
    await bus.close();
    await store.close();
    await audit.close();
  }
}

async function live(d: Dirs, c: MatrixCase): Promise<void> {
  await withApplier(d, c.deleteMissing === true, async (applier, bus) => {
    const ac = new AbortController();
    const running = applier.run(ac.signal);
    const publish = async (side: string, root: string, paths: string[]): Promise<void> => {
      for (const path of paths) {
        const st =
          fs.existsSync(join(root, path)) || isLink(join(root, path)) ? fs.lstatSync(join(root, path)) : null;
        const ev: ChangeEvent = {
          v: 1,
          pair: 't',
          side,
          type: st ? 'upsert' : 'delete',
          kind: st?.isDirectory() ? 'dir' : st?.isSymbolicLink() ? 'symlink' : 'file',
          path,
          size: st && !st.isDirectory() ? st.size : 0,
          mtimeMs: st?.mtimeMs ?? 0,
          observedAt: Date.now(),
        };
        await bus.publish(ev);
      }
    };
    await publish('left', d.src, changedPaths(c.a));
    await publish('right', d.dest, changedPaths(c.b));
    // Generous: an event that arrives as the lock is released after idle can wait 20 s (issue 13).
    await until('events settled', async () => (await bus.pending('t')) === 0, 45_000);
    ac.abort();
    await running;
  });
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const CALLERS: Record<string, (d: Dirs, c: MatrixCase) => Promise<void>> = {
  'two-way reconcile': async (d, c) => {
    await reconcile(d, twoWay(c.deleteMissing === true));
  },
  'one-way CronJob pair': async (d, c) => {
    const one = (src: string, dest: string, direction: string): Promise<number> =>
      reconcile({ ...d, src, dest }, { direction, deleteMissing: c.deleteMissing === true });
    // Each job writes only into its dest; in turn they converge (a conflict copy made on one
    // side reaches the other on the next job).
    await one(d.src, d.dest, 'left-to-right');
    await one(d.dest, d.src, 'right-to-left');
    await one(d.src, d.dest, 'left-to-right');
  },
  'live applier': live,
  "run's start": async (d, c) => {
    await withApplier(d, c.deleteMissing === true, async (applier, _bus, tempIds) => {
      const cap = captureLogger();
      const log = cap.log;
      await equalize(applier, { clock: systemClock, log }, new AbortController().signal, tempIds);
      if (process.env.MATRIX_DEBUG)
        console.log(
          cap
            .lines()
            .map((l) => JSON.stringify(l))
            .join('\n'),
        );
    });
  },
};

describe.each(Object.keys(CALLERS))('change matrix: %s', (caller) => {
  it.each(CASES.filter((c) => !c.skip?.includes(caller)))('$name', async (c) => {
    const d = tempRoot('ha-matrix-');
    roots.push(d.root);
    if (c.base) {
      apply(d.src, c.base);
      apply(d.dest, c.base);
      expect(await reconcile(d, twoWay(false))).toBe(0);
      expect(kept(d.src)).toEqual([]);
    }
    apply(d.src, c.a ?? {});
    apply(d.dest, c.b ?? {});
    await CALLERS[caller]!(d, c);
    expect({ a: read(d.src), b: read(d.dest) }).toEqual(c.want);
    expect({ a: kept(d.src), b: kept(d.dest) }).toEqual({ a: c.versions?.a ?? [], b: c.versions?.b ?? [] });
  });
});
