// The two-way reconcile form (`reconcile --a L=DIR --b L=DIR`) and what every writing run now
// does beside the trees: flags, dry run, audit per direction, `.ha-sync/` refusal, expiry of kept
// versions, and safe mode when the baseline cannot be read.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReconcileArgs } from '../src/cli/reconcile.js';
import type { ReconcileConfig } from '../src/reconciler/index.js';
import { runReconcile } from '../src/reconciler/index.js';
import type { MemoryAudit } from './reconcile.helpers.js';
import {
  captureLogger,
  config,
  freeLock,
  memoryAudit,
  put,
  sink,
  snapshot,
  tempRoot,
  versionsOf,
} from './reconcile.helpers.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
function dirs(): ReturnType<typeof tempRoot> {
  const d = tempRoot('ha-two-');
  roots.push(d.root);
  return d;
}

const TWO: Partial<ReconcileConfig> = { sides: { a: 'dell', b: 'hp' }, direction: 'dell-to-hp' };

async function run(
  d: ReturnType<typeof tempRoot>,
  over: Partial<ReconcileConfig> = {},
  audit: MemoryAudit = memoryAudit(),
) {
  const out = sink();
  const cap = captureLogger();
  const r = await runReconcile(config(d, { ...TWO, ...over }), {
    log: cap.log,
    openAudit: () => Promise.resolve(audit),
    openLock: () => Promise.resolve(freeLock()),
    stdout: out,
    stderr: sink(),
    env: {},
  });
  return { r, audit, stdout: out.text(), logs: cap.lines() };
}

describe('parseReconcileArgs: the two-way form', () => {
  it('--a/--b name the sides; the direction and audit rows follow the labels', () => {
    const c = parseReconcileArgs(['--a=dell=/mnt/dell/m', '--b', 'hp=/mnt/hp/m', '--pair=m'], {});
    expect(c).toMatchObject({
      src: '/mnt/dell/m',
      dest: '/mnt/hp/m',
      sides: { a: 'dell', b: 'hp' },
      direction: 'dell-to-hp',
      keepVersionsDays: 30,
    });
  });
  it.each([
    [['--a=dell=/x', '--src=/y', '--pair=m'], /cannot be combined/],
    [['--a=dell=/x', '--pair=m'], /--b is required/],
    [['--a=dell=/x', '--b=dell=/y', '--pair=m'], /different labels/],
    [['--a=Dell=/x', '--b=hp=/y', '--pair=m'], /--a: expected lowercase/],
    [['--a=/x', '--b=hp=/y', '--pair=m'], /--a: expected label=path/],
    [['--src=/x', '--dest=/y', '--pair=m', '--keep-versions-days=-1'], /--keep-versions-days/],
    [['--src=/x', '--dest=/y', '--pair=m', '--keep-versions-days=1.5'], /--keep-versions-days/],
    [['--src=/x', '--dest=/y', '--pair=m', '--keep-versions-days=ten'], /--keep-versions-days/],
  ])('%j: one line naming the flag', (argv, msg) => {
    expect(() => parseReconcileArgs(argv, {})).toThrow(msg);
  });
  it('--keep-versions-days 0 keeps none', () => {
    expect(
      parseReconcileArgs(['--src=/x', '--dest=/y', '--pair=m', '--keep-versions-days=0'], {})
        .keepVersionsDays,
    ).toBe(0);
  });
});

describe('two-way reconcile run', () => {
  it('syncs both ways, records one audit run per direction named from the labels', async () => {
    const d = dirs();
    put(d.src, 'from-dell', 'd');
    put(d.dest, 'from-hp', 'h');
    const { r, audit } = await run(d);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.src)).toEqual(['from-dell file:d', 'from-hp file:h']);
    expect(snapshot(d.dest)).toEqual(snapshot(d.src));
    expect(
      audit.runs.map(
        (x) => `${x.header.direction}: ${x.ops.map((o) => `${o.operation} ${o.filepath}`).join(', ')}`,
      ),
    ).toEqual(['dell-to-hp: create from-dell', 'hp-to-dell: create from-hp']);
    expect(audit.runs.map((x) => x.end?.counts.created)).toEqual([1, 1]);
  });

  it('a dry run names the side each op writes to and the conflict copy, and changes nothing', async () => {
    const d = dirs();
    put(d.src, 'f.txt', 'v1', 1_700_000_000);
    put(d.dest, 'f.txt', 'v1', 1_700_000_000);
    expect((await run(d)).r.exitCode).toBe(0);
    put(d.src, 'f.txt', 'dell edit', 1_700_000_300);
    put(d.dest, 'f.txt', 'hp', 1_700_000_100);
    put(d.dest, 'new', 'n');
    const before = [snapshot(d.src), snapshot(d.dest)];
    const { r, stdout } = await run(d, { dryRun: true });
    expect(r.exitCode).toBe(0);
    expect([snapshot(d.src), snapshot(d.dest)]).toEqual(before);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^update {2}f\.txt {2}9 {2}on hp {2}\(conflict: the other version kept as f\.sync-conflict-\d{8}-\d{6}-hp\.txt\)$/,
    );
    expect(lines[1]).toBe('create  new  1  on dell');
  });

  it("refuses to run when a side's .ha-sync is a symlink or a file: exit 1, nothing touched", async () => {
    for (const make of [(p: string) => fs.symlinkSync('/tmp', p), (p: string) => fs.writeFileSync(p, 'x')]) {
      const d = dirs();
      put(d.src, 'a', 'a');
      make(join(d.dest, '.ha-sync'));
      const { r } = await run(d);
      expect(r.exitCode).toBe(1);
      expect(r.errorMessage).toMatch(/hp: .*\.ha-sync/);
      expect(snapshot(d.dest)).toEqual([]);
    }
  });

  it('.ha-sync is never synced, and a side holding only it counts as empty for the guards', async () => {
    const d = dirs();
    put(d.src, 'f', 'f');
    put(d.src, 'g', 'g');
    expect((await run(d)).r.exitCode).toBe(0);
    fs.rmSync(join(d.src, 'f'));
    fs.rmSync(join(d.src, 'g'));
    fs.mkdirSync(join(d.src, '.ha-sync', 'versions'), { recursive: true });
    put(d.src, '.ha-sync/versions/kept~20261204-101010.txt', 'mine');
    const { r } = await run(d, { deleteMissing: true });
    expect(r.exitCode).toBe(1);
    expect(r.errorMessage).toMatch(/dell is empty but hp is not/);
    expect(snapshot(d.dest)).toEqual(['f file:f', 'g file:g']);
    expect(fs.existsSync(join(d.dest, '.ha-sync', 'versions', 'kept~20261204-101010.txt'))).toBe(false);
  });

  it('expires kept versions older than --keep-versions-days after the run; 0 keeps none', async () => {
    const d = dirs();
    put(d.src, 'f', 'v1');
    expect((await run(d)).r.exitCode).toBe(0);
    put(d.dest, '.ha-sync/versions/old~20200101-000000.txt', 'ancient');
    put(d.src, 'f', 'v2 longer');
    expect((await run(d)).r.exitCode).toBe(0);
    expect(versionsOf(d.dest)).toEqual(['f~T file:v1']);
    put(d.src, 'f', 'v3 longest!');
    expect((await run(d, { keepVersionsDays: 0 })).r.exitCode).toBe(0);
    expect(versionsOf(d.dest)).toEqual([]);
    expect(snapshot(d.dest)).toEqual(['f file:v3 longest!']);
  });

  it('an unreadable baseline: safe mode, newest wins and nothing is deleted', async () => {
    const d = dirs();
    put(d.src, 'f', 'f');
    put(d.src, 'g', 'g');
    put(d.src, 'h', 'h');
    expect((await run(d)).r.exitCode).toBe(0);
    fs.rmSync(join(d.src, 'f'));
    fs.writeFileSync(join(d.logDir, 'baseline.sqlite'), 'not a database');
    const { r, logs } = await run(d, { deleteMissing: true });
    expect(r.exitCode).toBe(0);
    expect(logs.some((l) => String(l.msg).includes('baseline unavailable'))).toBe(true);
    expect(snapshot(d.src)).toEqual(['f file:f', 'g file:g', 'h file:h']);
    expect(snapshot(d.dest)).toEqual(snapshot(d.src));
  });
});

describe('one-second mtimes (netfs, sshfs): a save within the recorded second is not missed', () => {
  it('a same-size edit that keeps the whole-second mtime of the copy is seen, and nothing is lost', async () => {
    const d = dirs();
    const sec = Math.floor(Date.now() / 1000); // what a one-second filesystem shows right now
    put(d.src, 'doc.txt', 'version 1', sec);
    expect((await run(d)).r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(['doc.txt file:version 1']);
    // Saved again on hp within the same second: same size, and the same whole-second mtime.
    put(d.dest, 'doc.txt', 'version 2', sec);
    const { r } = await run(d);
    expect(r.exitCode).toBe(0);
    // Both entries were recorded within their second, so either side may have been saved again:
    // neither is overwritten (a conflict copy), and both sides hold both versions.
    const conflictCopy = (l: string): string =>
      l.replace(/\.sync-conflict-\d{8}-\d{6}-/, '.sync-conflict-*-');
    const want = ['doc.sync-conflict-*-hp.txt file:version 2', 'doc.txt file:version 1'];
    expect(snapshot(d.src).map(conflictCopy)).toEqual(want);
    expect(snapshot(d.dest).map(conflictCopy)).toEqual(want);
  });

  it('after the window the entry is trusted again: a no-op reads nothing', async () => {
    const d = dirs();
    put(d.src, 'old.txt', 'old', 1_700_000_000);
    expect((await run(d)).r.exitCode).toBe(0);
    const { r, stdout } = await run(d, { dryRun: true });
    expect(r.exitCode).toBe(0);
    expect(stdout).not.toMatch(/old\.txt/);
  });
});
