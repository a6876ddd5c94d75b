// Seeded random edits on both sides between two-way reconcile runs. After every run: both sides
// hold the same tree (nothing in the way of it: no type conflicts are generated), and no contents
// that a side held when the run started is lost: each is still on a side, in a conflict copy or
// in a kept version (what the user overwrote or deleted before a run saw it is the user's doing).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReconcileConfig } from '../src/reconciler/index.js';
import { runReconcile } from '../src/reconciler/index.js';
import {
  captureLogger,
  config,
  freeLock,
  memoryAudit,
  sink,
  snapshot,
  tempRoot,
} from './reconcile.helpers.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every file's contents under `root`, `.ha-sync/versions` included. */
function everything(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const abs = join(dir, name);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) out.push(fs.readFileSync(abs, 'utf8'));
    }
  };
  walk(root);
  return out;
}

const SEEDS = Array.from({ length: 16 }, (_, i) => i * 7919 + 1);
const FORMS = ['two-way', 'one-way pair'] as const;

describe.each(SEEDS.flatMap((seed) => FORMS.map((form) => ({ seed, form }))))(
  'seeded random edits on both sides (seed $seed, $form)',
  ({ seed, form }) => {
    it('both sides end equal after each run, and no contents is ever lost', async () => {
      const d = tempRoot('ha-random-');
      roots.push(d.root);
      const rand = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const names = ['a.txt', 'b.txt', 'c.txt', 'd/x.txt', 'd/y.txt', 'e/f/z.txt'];
      let clock = 1_700_000_000;
      let n = 0;
      const over: Partial<ReconcileConfig> = {
        sides: { a: 'left', b: 'right' },
        deleteMissing: true,
        // The guards have their own tests: here a side emptied by chance is a real emptying.
        force: true,
      };
      for (let round = 0; round < 12; round++) {
        for (const root of [d.src, d.dest]) {
          for (let k = Math.floor(rand() * 3); k > 0; k--) {
            const rel = pick(names);
            const abs = join(root, rel);
            const op = rand();
            if (op < 0.6) {
              const text = `${seed}:${n++}:${'x'.repeat(Math.floor(rand() * 4))}`;
              fs.mkdirSync(join(abs, '..'), { recursive: true });
              fs.writeFileSync(abs, text);
              // Sometimes an older mtime (a restore), sometimes the same second as another.
              // (fractional: two different files never share size and mtime to the nanosecond here,
              // as they practically never do on a filesystem with nanosecond mtimes).
              const t =
                clock + Math.floor(rand() * 5) - (rand() < 0.2 ? 1000 : 0) + Math.floor(rand() * 1000) / 1000;
              fs.utimesSync(abs, t, t);
            } else if (op < 0.85) {
              fs.rmSync(abs, { force: true });
            } else {
              const to = join(root, pick(names));
              if (fs.existsSync(abs) && !fs.existsSync(to)) {
                fs.mkdirSync(join(to, '..'), { recursive: true });
                fs.renameSync(abs, to);
              }
            }
          }
        }
        clock += 10;
        const before = new Set([...everything(d.src), ...everything(d.dest)]);
        const run = (o: Partial<ReconcileConfig>, src = d.src, dest = d.dest) =>
          runReconcile(config({ ...d, src, dest }, o), {
            log: captureLogger().log,
            openAudit: () => Promise.resolve(memoryAudit()),
            openLock: () => Promise.resolve(freeLock()),
            stdout: sink(),
            stderr: sink(),
            env: {},
          });
        // The one-way CronJobs converge in three runs (a conflict copy made on one side reaches the
        // other on the next run of the opposite direction).
        const oneWay = { deleteMissing: true, force: true };
        const oneWayPair = async (): Promise<Awaited<ReturnType<typeof run>>> => {
          for (const [src, dest, direction] of [
            [d.src, d.dest, 'left-to-right'],
            [d.dest, d.src, 'right-to-left'],
          ] as const) {
            const x = await run({ ...oneWay, direction }, src, dest);
            if (x.exitCode !== 0) return x;
          }
          return run({ ...oneWay, direction: 'left-to-right' });
        };
        const r = form === 'two-way' ? await run(over) : await oneWayPair();
        expect(r.exitCode, `round ${round}: ${r.errorMessage}`).toBe(0);
        expect(snapshot(d.dest), `round ${round}`).toEqual(snapshot(d.src));
        const kept = new Set([...everything(d.src), ...everything(d.dest)]);
        for (const text of before) expect(kept.has(text), `round ${round}: '${text}' lost`).toBe(true);
      }
    });
  },
);
