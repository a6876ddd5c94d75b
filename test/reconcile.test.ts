// The reconcile run on real temp directories, driven through runReconcile (no process spawn).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lock } from '../src/lock/index.js';
import { HaSyncError } from '../src/errors.js';
import type { EngineOptions, ReconcileConfig } from '../src/reconciler/index.js';
import type { Logger } from '../src/log.js';
import { newRunId, runEngine, runReconcile, quotePath, Progress } from '../src/reconciler/index.js';
import { ManualClock, systemClock } from '../src/clock.js';
import { loadFastscan, scanDir, syncIo, tempName } from '../src/fsops/index.js';
import type { MemoryAudit } from './reconcile.helpers.js';
import {
  anyTemp,
  captureLogger,
  markRoot,
  config,
  freeLock,
  heldLock,
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
  const d = tempRoot();
  roots.push(d.root);
  return d;
}

async function run(
  d: ReturnType<typeof tempRoot>,
  over: Partial<ReconcileConfig> = {},
  o: { audit?: MemoryAudit; lock?: Lock; signal?: AbortSignal; io?: 'sync' | 'async' } = {},
) {
  const audit = o.audit ?? memoryAudit();
  const cap = captureLogger(true);
  const stdout = sink();
  const r = await runReconcile(config(d, over), {
    log: cap.log,
    openAudit: () => Promise.resolve(audit),
    openLock: () => Promise.resolve(o.lock ?? freeLock()),
    stdout,
    stderr: sink(),
    env: {},
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.io ? { io: o.io } : {}),
  });
  return { r, audit, stdout: stdout.text(), logs: cap.lines(), ops: audit.runs.at(-1)?.ops ?? [] };
}

/** runEngine's options for a local run of `d` (no deletes, nothing recorded); override per test. */
function engineOptions(d: ReturnType<typeof tempRoot>, log: Logger): EngineOptions {
  return {
    srcRoot: d.src,
    destRoot: d.dest,
    plan: { mtimeThresholdMs: 2000, deleteMissing: false },
    workers: 4,
    dryRun: false,
    maxDeletePercent: 50,
    force: false,
    srcIo: syncIo,
    destIo: syncIo,
    opIo: syncIo,
    dirConcurrency: 1,
    statConcurrency: 8,
    signal: new AbortController().signal,
    clock: systemClock,
    log,
    onOp: () => undefined,
  };
}

const OLD = 1_600_000_000;
const NEW = 1_700_000_000;

describe.each(['sync', 'async'] as const)('reconcile (%s io)', (io) => {
  it('copies a tree: files, empty dirs, symlinks, modes and mtimes; skips fifos with a warning', async () => {
    const d = dirs();
    put(d.src, 'a.txt', 'alpha', OLD);
    put(d.src, 'sub/deep/b.txt', 'beta');
    fs.chmodSync(join(d.src, 'a.txt'), 0o600);
    fs.mkdirSync(join(d.src, 'empty'));
    fs.symlinkSync('../a.txt', join(d.src, 'sub', 'ln'));
    fs.symlinkSync('/does/not/exist', join(d.src, 'dangling'));
    const srcId = await markRoot(d.src);
    await markRoot(d.dest);
    fs.writeFileSync(join(d.src, tempName(srcId)), 'a temp file of a writer into src: never synced');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(d.src, 'fifo')]);
    const { r, ops, logs } = await run(d, {}, { io });
    expect(r.exitCode).toBe(0);
    expect(r.outcome).toBe('success');
    expect(snapshot(d.dest)).toEqual([
      'a.txt file:alpha',
      'dangling -> /does/not/exist',
      'empty dir',
      'sub dir',
      'sub/deep dir',
      'sub/deep/b.txt file:beta',
      'sub/ln -> ../a.txt',
    ]);
    const st = fs.statSync(join(d.dest, 'a.txt'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.mtimeMs).toBe(OLD * 1000);
    expect(r.counts).toMatchObject({ created: 7, failed: 0, skipped: 1, bytesTransferred: 9 });
    expect(ops.find((o) => o.filepath === 'a.txt')).toMatchObject({
      operation: 'create',
      sizeBefore: null,
      sizeAfter: 5,
      status: 'success',
    });
    expect(logs.some((l) => l.path === 'fifo' && l.level === 40)).toBe(true);
    expect(logs.filter((l) => l.level === 20).length).toBe(7); // --verbose: one line per op

    const again = await run(d, {}, { io });
    expect(again.r.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 0 });
    expect(again.ops).toEqual([]);
  });

  it('updates when src is newer, leaves dest when dest is newer', async () => {
    const d = dirs();
    put(d.src, 'newer-in-src', 'src version', NEW);
    put(d.dest, 'newer-in-src', 'old', OLD);
    put(d.src, 'newer-in-dest', 'src', OLD);
    put(d.dest, 'newer-in-dest', 'dest edit', NEW);
    const { r, ops } = await run(d, {}, { io });
    expect(r.counts).toMatchObject({ updated: 1, failed: 0 });
    expect(snapshot(d.dest)).toEqual(['newer-in-dest file:dest edit', 'newer-in-src file:src version']);
    expect(ops).toEqual([
      expect.objectContaining({
        operation: 'update',
        filepath: 'newer-in-src',
        sizeBefore: 3,
        sizeAfter: 11,
      }),
    ]);
  });

  it('same size, mtimes apart: MD5; equal contents only get the mtime, different ones are copied', async () => {
    const d = dirs();
    put(d.src, 'same', 'abc', NEW);
    put(d.dest, 'same', 'abc', OLD);
    put(d.src, 'diff', 'xyz', NEW);
    put(d.dest, 'diff', 'abc', OLD);
    const { r, ops } = await run(d, {}, { io });
    expect(r.counts).toMatchObject({ updated: 2, bytesTransferred: 3 });
    expect(fs.statSync(join(d.dest, 'same')).mtimeMs).toBe(NEW * 1000);
    expect(fs.readFileSync(join(d.dest, 'diff'), 'utf8')).toBe('xyz');
    const same = ops.find((o) => o.filepath === 'same')!;
    expect(same.md5Before).toBe(same.md5After);
    expect(same.md5Before).toMatch(/^[0-9a-f]{32}$/);
    const diff = ops.find((o) => o.filepath === 'diff')!;
    expect(diff.md5Before).not.toBe(diff.md5After);
    expect((await run(d, {}, { io })).ops).toEqual([]); // no hashing again
  });
});

describe('delete-missing', () => {
  it('without it, dest-only entries stay', async () => {
    const d = dirs();
    put(d.src, 'keep', 'k');
    put(d.dest, 'keep', 'k');
    put(d.dest, 'extra/x', 'x');
    const { r } = await run(d);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toContain('extra/x file:x');
  });

  it('with it, deletes what src deleted since the last run: files, symlinks (not their targets), directories once empty', async () => {
    const d = dirs();
    for (const n of ['a', 'b', 'c', 'd']) put(d.src, n, n);
    put(d.src, 'gone/deeper/x', 'x');
    fs.writeFileSync(join(d.root, 'target'), 't');
    fs.symlinkSync(join(d.root, 'target'), join(d.src, 'ln'));
    expect((await run(d)).r.exitCode).toBe(0); // both sides equal: the baseline knows them
    fs.rmSync(join(d.src, 'gone'), { recursive: true });
    fs.rmSync(join(d.src, 'ln'));
    const { r, ops } = await run(d, { deleteMissing: true });
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(['a file:a', 'b file:b', 'c file:c', 'd file:d']);
    expect(fs.existsSync(join(d.root, 'target'))).toBe(true);
    expect(ops.map((o) => `${o.operation} ${o.filepath}`).sort()).toEqual([
      'delete gone',
      'delete gone/deeper',
      'delete gone/deeper/x',
      'delete ln',
    ]);
    expect(r.counts.deleted).toBe(4);
    // Every file deleted is kept (the directories are not).
    expect(versionsOf(d.dest)).toEqual([`gone/deeper/x~T file:x`, `ln~T -> ${join(d.root, 'target')}`]);
  });

  it('never deletes a file that is new on dest, nor re-creates one dest deleted', async () => {
    const d = dirs();
    put(d.src, 'both', 'b');
    put(d.src, 'dest-deletes', 'd');
    expect((await run(d, { deleteMissing: true })).r.exitCode).toBe(0);
    put(d.dest, 'new-on-dest', 'n');
    fs.rmSync(join(d.dest, 'dest-deletes'));
    const { r, ops } = await run(d, { deleteMissing: true });
    expect(r.exitCode).toBe(0);
    expect(ops).toEqual([]);
    expect(snapshot(d.dest)).toEqual(['both file:b', 'new-on-dest file:n']);
  });
});

describe('entries src could not read', () => {
  it('a src entry that cannot be read is not "missing": dest keeps its own, even with --delete-missing', async () => {
    const d = dirs();
    put(d.src, 'keep', 'k');
    put(d.dest, 'keep', 'k');
    // A symlink whose target is not UTF-8 is reported and skipped, never synced...
    fs.symlinkSync(Buffer.from('/elsewhere/\xe9', 'latin1'), join(d.src, 'ln'));
    // ...and dest's entry of the same name (the copy of an earlier version) must survive it.
    put(d.dest, 'ln', 'the only copy left');
    fs.mkdirSync(join(d.src, 'dir'));
    fs.symlinkSync(Buffer.from('\xff', 'latin1'), join(d.src, 'dir', 'sub'));
    put(d.dest, 'dir/sub/deep', 'deep');
    const { r, ops } = await run(d, { deleteMissing: true, maxDeletePercent: 100 });
    expect(snapshot(d.dest)).toEqual([
      'dir dir',
      'dir/sub dir',
      'dir/sub/deep file:deep',
      'keep file:k',
      'ln file:the only copy left',
    ]);
    expect(ops.filter((o) => o.operation === 'delete')).toEqual([]);
    expect(r.counts.skipped).toBe(2);
  });
});

describe('guards', () => {
  it('empty src with a non-empty dest fails before deleting anything, whatever --max-delete says', async () => {
    const d = dirs();
    put(d.dest, 'precious/1', '1');
    put(d.dest, 'precious/2', '2');
    const before = snapshot(d.dest);
    const { r, audit } = await run(d, { deleteMissing: true, maxDeletePercent: 100 });
    expect(r.exitCode).toBe(1);
    expect(r.outcome).toBe('failed');
    expect(r.errorMessage).toMatch(/source is empty/);
    expect(audit.runs[0]!.end).toMatchObject({ status: 'failed' });
    expect(snapshot(d.dest)).toEqual(before);
  });

  it('--force overrides the empty-source guard', async () => {
    const d = dirs();
    put(d.src, 'x', '1');
    expect((await run(d)).r.exitCode).toBe(0);
    fs.rmSync(join(d.src, 'x'));
    expect((await run(d, { deleteMissing: true })).r.errorMessage).toMatch(/source is empty/);
    const { r } = await run(d, { deleteMissing: true, force: true });
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual([]);
  });

  it('more than --max-delete percent of dest files fails before deleting anything; less passes', async () => {
    const d = dirs();
    for (let i = 0; i < 10; i++) put(d.src, `f${i}`, 'x');
    expect((await run(d)).r.exitCode).toBe(0);
    for (let i = 4; i < 10; i++) fs.rmSync(join(d.src, `f${i}`));
    const before = snapshot(d.dest);
    const { r } = await run(d, { deleteMissing: true });
    expect(r.exitCode).toBe(1);
    expect(r.errorMessage).toMatch(/would delete 6 of 10 .*--max-delete 50%/);
    expect(snapshot(d.dest)).toEqual(before);
    const ok = await run(d, { deleteMissing: true, maxDeletePercent: 60 });
    expect(ok.r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toHaveLength(4);
  });
});

describe('directory versus file', () => {
  it("a directory wins over a file: dest's file is kept beside it; src's file waits for the opposite run", async () => {
    const d = dirs();
    put(d.src, 'x', 'file in src');
    put(d.dest, 'x/inner', 'dir in dest');
    fs.mkdirSync(join(d.src, 'y'));
    put(d.src, 'y/z', 'z');
    put(d.dest, 'y', 'file in dest');
    put(d.src, 'ok', 'fine');
    const { r, ops } = await run(d);
    expect(r.exitCode).toBe(0);
    const conflictCopy = (l: string): string =>
      l.replace(/\.sync-conflict-\d{8}-\d{6}-[^ ]*/, '.sync-conflict-*');
    expect(snapshot(d.dest).map(conflictCopy)).toEqual([
      'ok file:fine',
      'x dir',
      'x/inner file:dir in dest',
      'y dir',
      'y.sync-conflict-* file:file in dest',
      'y/z file:z',
    ]);
    // x: src's file loses to dest's directory, which a one-way run into dest cannot carry out.
    expect(snapshot(d.src).map(conflictCopy)).toContain('x file:file in src');
    expect(ops.filter((o) => o.status === 'fail')).toEqual([]);
    expect(ops.find((o) => o.filepath === 'y' && o.keptKind === 'conflict')).toBeDefined();
  });

  it('with --delete-missing too, a directory is never replaced by a file; a file src replaced by a directory is kept as a version', async () => {
    // (src's file x loses to dest's directory: the opposite direction's run moves it aside.)
    const d = dirs();
    put(d.src, 'x/inner', 'dir in src');
    put(d.src, 'y', 'file in src');
    put(d.src, 'k', 'k');
    expect((await run(d)).r.exitCode).toBe(0);
    fs.rmSync(join(d.src, 'x'), { recursive: true });
    put(d.src, 'x', 'file now');
    fs.rmSync(join(d.src, 'y'));
    put(d.src, 'y/z', 'z');
    const { r, ops } = await run(d, { deleteMissing: true, maxDeletePercent: 100 });
    expect(ops.filter((o) => o.status === 'fail').map((o) => o.filepath)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(['k file:k', 'x dir', 'x/inner file:dir in src', 'y dir', 'y/z file:z']);
    expect(versionsOf(d.dest)).toEqual(['y~T file:file in src']);
  });
});

describe('symlinks', () => {
  it('a symlinked directory in dest never carries a write outside --dest', async () => {
    const d = dirs();
    const outside = join(d.root, 'outside');
    fs.mkdirSync(outside);
    put(d.src, 'd/f', 'payload');
    fs.symlinkSync(outside, join(d.dest, 'd'));
    // The directory wins: the symlink is moved aside (not followed), a real directory takes its
    // place, and the payload lands inside dest.
    const r1 = await run(d);
    expect(r1.r.exitCode).toBe(0);
    expect(fs.readdirSync(outside)).toEqual([]);
    const r2 = await run(d, { deleteMissing: true, maxDeletePercent: 100 });
    expect(r2.r.exitCode).toBe(0);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(
      snapshot(d.dest).map((l) => l.replace(/\.sync-conflict-\d{8}-\d{6}-[^ ]*/, '.sync-conflict-*')),
    ).toEqual(['d dir', `d.sync-conflict-* -> ${outside}`, 'd/f file:payload']);
  });

  it('a symlinked directory in src is copied as a symlink, not followed', async () => {
    const d = dirs();
    fs.mkdirSync(join(d.root, 'elsewhere'));
    put(d.root, 'elsewhere/secret', 's');
    fs.symlinkSync(join(d.root, 'elsewhere'), join(d.src, 'd'));
    await run(d);
    expect(snapshot(d.dest)).toEqual([`d -> ${join(d.root, 'elsewhere')}`]);
  });
});

describe('names', () => {
  it('copies hostile names exactly; reports and skips names that are not UTF-8', async () => {
    const d = dirs();
    const names = [
      'with space',
      'new\nline',
      'tab\there',
      `quote"s'`,
      '-rf',
      '--delete-missing',
      'caf\u00e9',
      'cafe\u0301',
      'x'.repeat(255),
      '\u00e9'.repeat(127), // 254 bytes of UTF-8
      ' leading and trailing ',
    ];
    for (const n of names) put(d.src, n, n);
    const deep = Array.from({ length: 40 }, (_, i) => `level${i}`).join('/');
    put(d.src, `${deep}/bottom`, 'deep');
    fs.writeFileSync(Buffer.from(`${d.src}/latin1-\xe9.txt`, 'latin1'), 'x');
    const { r, logs } = await run(d);
    expect(r.exitCode).toBe(0);
    for (const n of names) expect(fs.readFileSync(join(d.dest, n), 'utf8')).toBe(n);
    expect(fs.readFileSync(join(d.dest, deep, 'bottom'), 'utf8')).toBe('deep');
    expect(fs.readdirSync(d.dest).filter((n) => n.startsWith('caf'))).toHaveLength(2);
    expect(fs.readdirSync(d.dest, { encoding: 'buffer' }).some((b) => b.includes(0xe9))).toBe(false);
    expect(logs.some((l) => String(l.msg).includes('not valid UTF-8'))).toBe(true);
    expect(r.counts.skipped).toBe(1);
  });
});

describe('temp files and changes during the run', () => {
  it('removes stale temp files in dest and never copies or counts them', async () => {
    const d = dirs();
    await markRoot(d.src);
    const id = await markRoot(d.dest);
    put(d.dest, `sub/${tempName(id)}`, 'partial');
    put(d.dest, tempName(id), 'partial');
    put(d.src, 'sub/a', 'a');
    const { r, logs } = await run(d);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(['sub dir', 'sub/a file:a']);
    expect(logs.some((l) => l.msg === 'removed stale temp files')).toBe(true);
  });

  it("a user's file named like a temp (the old form, or another root's id) is synced like any other", async () => {
    const d = dirs();
    const other = tempName('fedcba9876543210');
    put(d.src, '.ha-sync-0123456789abcdef.tmp', 'mine');
    put(d.src, `sub/${other}`, 'mine too');
    const { r } = await run(d);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual([
      '.ha-sync-0123456789abcdef.tmp file:mine',
      'sub dir',
      `sub/${other} file:mine too`,
    ]);
  });

  it('a dest file changed after the plan is not clobbered (recorded as failed, exit 3)', async () => {
    const d = dirs();
    put(d.src, 'a', 'new a', NEW);
    put(d.dest, 'a', 'old a', OLD);
    put(d.src, 'b', 'new b!', NEW);
    put(d.dest, 'b', 'old b', OLD);
    const audit = memoryAudit();
    const inner = audit.beginRun.bind(audit);
    audit.beginRun = async (h) => {
      const rec = await inner(h);
      return {
        ...rec,
        record: async (op) => {
          // After the first op finishes, someone edits the other file in dest.
          if (op.filepath === 'a') fs.writeFileSync(join(d.dest, 'b'), 'user edit in dest');
          await rec.record(op);
        },
      };
    };
    const { r, ops } = await run(d, { workers: 1 }, { audit });
    expect(r.exitCode).toBe(3);
    expect(fs.readFileSync(join(d.dest, 'b'), 'utf8')).toBe('user edit in dest');
    expect(ops.find((o) => o.filepath === 'b')).toMatchObject({ status: 'fail' });
    expect(ops.find((o) => o.filepath === 'b')!.errorMessage).toMatch(/destination changed/);
    expect(fs.readdirSync(d.dest).filter(anyTemp)).toEqual([]);
  });
});

describe('dry run', () => {
  it('prints one line per op and a summary, changes nothing, records dry-run ops; a repeat is "already current"', async () => {
    const d = dirs();
    put(d.src, 'old', 'o');
    put(d.src, 'keep', 'k');
    expect((await run(d)).r.exitCode).toBe(0);
    fs.rmSync(join(d.src, 'old'));
    put(d.src, 'new\nfile', '12345');
    put(d.src, 'dir/x', 'x');
    const before = snapshot(d.dest);
    const audit = memoryAudit();
    const first = await run(d, { dryRun: true, deleteMissing: true }, { audit });
    expect(first.r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(before);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toEqual([
      'create  dir  dir',
      'create  dir/x  1',
      'create  "new\\nfile"  5',
      'delete  old  1',
      expect.stringMatching(/^Dry run: 3 to create, 0 to update, 0 mtime-only, 1 to delete, 0 failing/),
    ]);
    expect(audit.runs[0]!.header.dryRun).toBe(true);
    expect(audit.runs[0]!.ops.map((o) => o.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(fs.existsSync(join(d.dest, '.ha-sync/versions'))).toBe(false); // a dry run keeps no versions
    const second = await run(d, { dryRun: true, deleteMissing: true }, { audit });
    expect(second.stdout).toMatch(/^Dry-run already current as of \d{4}-.*Z\. Nothing has changed\.\n$/);
    expect(audit.runs).toHaveLength(1);
    put(d.src, 'another', 'a');
    const third = await run(d, { dryRun: true, deleteMissing: true }, { audit });
    expect(third.stdout).toContain('create  another  1');
    expect(audit.runs).toHaveLength(2);
  });
});

describe('lock and stop', () => {
  it('a held lock: one line, exit 0, nothing touched', async () => {
    const d = dirs();
    put(d.src, 'a', 'a');
    const { r, logs, audit } = await run(d, {}, { lock: heldLock() });
    expect(r.exitCode).toBe(0);
    expect(r.outcome).toBe('lock_held');
    expect(snapshot(d.dest)).toEqual([]);
    expect(audit.runs).toEqual([]);
    expect(logs.some((l) => String(l.msg).includes('held by pod-x/run-1'))).toBe(true);
  });

  it('terminated: no new operations, status failed, exit 1, lock released', async () => {
    const d = dirs();
    for (let i = 0; i < 20; i++) put(d.src, `f${i}`, 'x');
    const ac = new AbortController();
    ac.abort(new HaSyncError('TERMINATED', 'terminated by SIGTERM'));
    const lock = freeLock();
    const { r, audit } = await run(d, {}, { signal: ac.signal, lock });
    expect(r.exitCode).toBe(1);
    expect(r.errorMessage).toMatch(/^terminated/);
    expect(audit.runs[0]!.end).toMatchObject({ status: 'failed' });
    expect(snapshot(d.dest)).toEqual([]);
    expect(lock.released).toBe(1);
  });

  it('lease lost mid-run: stops starting operations, no deletes, exit 1', async () => {
    const d = dirs();
    // More files than one batch of the addon's copier (64): the first batch's records lose the
    // lease, so the next batch never starts (copies through copyEntry stop after the first file).
    for (let i = 0; i < 200; i++) put(d.src, `f${String(i).padStart(3, '0')}`, 'x');
    put(d.dest, 'extra', 'e');
    const lost = new AbortController();
    const audit = memoryAudit();
    const inner = audit.beginRun.bind(audit);
    audit.beginRun = async (h) => {
      const rec = await inner(h);
      return {
        ...rec,
        record: async (op) => {
          lost.abort(new HaSyncError('LOCK_LOST', 'lease taken by other/run'));
          await rec.record(op);
        },
      };
    };
    const { r } = await run(
      d,
      { workers: 1, deleteMissing: true, force: true },
      { audit, lock: freeLock(lost.signal) },
    );
    expect(r.exitCode).toBe(1);
    expect(r.errorMessage).toMatch(/^lease lost/);
    expect(fs.existsSync(join(d.dest, 'extra'))).toBe(true);
    expect(fs.readdirSync(d.dest).length).toBeLessThan(100);
  });
});

describe('recording', () => {
  it('an opslog that cannot be written never stops the sync, and each op it lost is in the log', async () => {
    const d = dirs();
    for (let i = 0; i < 5; i++) put(d.src, `f${i}`, 'x');
    const audit = memoryAudit();
    const inner = audit.beginRun.bind(audit);
    audit.beginRun = async (h) => ({
      ...(await inner(h)),
      record: () => Promise.reject(new Error('ENOSPC: no space left on device')),
    });
    const { r, logs } = await run(d, {}, { audit });
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toHaveLength(5);
    const lost = logs.filter((l) => String(l.msg).startsWith('could not write the opslog'));
    expect(lost.map((l) => l.filepath).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    expect(lost[0]).toMatchObject({
      operation: 'create',
      status: 'success',
      err: expect.stringMatching(/ENOSPC/),
    });
    expect(logs.find((l) => l.msg === 'reconcile finished')).toMatchObject({ unrecorded: 5 });
  });

  it('an onOp that throws stops the run (no deletes), waits for copies in flight, and logs the record', async () => {
    const d = dirs();
    for (let i = 0; i < 40; i++) put(d.src, `f${String(i).padStart(2, '0')}`, 'x');
    put(d.dest, 'extra', 'e');
    const cap = captureLogger();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    let calls = 0;
    try {
      const res = await runEngine({
        ...engineOptions(d, cap.log),
        plan: { mtimeThresholdMs: 2000, deleteMissing: true },
        maxDeletePercent: 100,
        force: true,
        onOp: () => {
          calls++;
          if (calls === 1) throw new Error('audit callback broke');
        },
      });
      await new Promise((r) => setImmediate(r));
      expect(res.failure).toMatch(/^could not record create of 'f\d+': audit callback broke/);
      expect(fs.existsSync(join(d.dest, 'extra'))).toBe(true);
      expect(fs.readdirSync(d.dest).filter(anyTemp)).toEqual([]);
      expect(fs.readdirSync(d.dest).length).toBeLessThan(41);
      // Every op that finished was reported (none dropped), the broken one in the log.
      expect(calls).toBe(res.counts.created);
      expect(fs.readdirSync(d.dest).length).toBe(res.counts.created + 1);
      const line = cap.lines().find((l) => l.msg === 'operation not recorded; stopping the run');
      expect(line).toMatchObject({ operation: 'create', status: 'success', err: 'audit callback broke' });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('a crashing file operation', () => {
  it('stops the run without deletes, after the copies in flight, and leaves no rejection unhandled', async () => {
    const d = dirs();
    for (let i = 0; i < 40; i++) put(d.src, `f${String(i).padStart(2, '0')}`, 'x');
    put(d.dest, 'extra', 'e');
    const cap = captureLogger(true);
    const debug = cap.log.debug.bind(cap.log);
    cap.log.debug = (obj: { path?: string }, msg?: string) => {
      if (obj.path === 'f05') throw new Error('logger exploded');
      debug(obj, msg);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const res = await runEngine({
        ...engineOptions(d, cap.log),
        plan: { mtimeThresholdMs: 2000, deleteMissing: true },
        maxDeletePercent: 100,
        force: true,
      });
      await new Promise((r) => setImmediate(r));
      expect(res.failure).toBe('internal error: logger exploded');
      expect(fs.existsSync(join(d.dest, 'extra'))).toBe(true);
      expect(fs.readdirSync(d.dest).filter(anyTemp)).toEqual([]);
      expect(fs.readdirSync(d.dest).length).toBeLessThan(41);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('lease lost while scanning', () => {
  it("stale temp files are not removed once the lock is lost (they may be the new holder's copies)", async () => {
    const d = dirs();
    put(d.src, 'a', 'a');
    const temp = tempName('0123456789abcdef');
    put(d.dest, temp, 'a copy of the new holder, in flight');
    const lost = new AbortController();
    const res = await runEngine({
      ...engineOptions(d, captureLogger().log),
      tempIds: { a: null, b: '0123456789abcdef' },
      destScanner: {
        scan: async (abs) => {
          const scan = await scanDir(abs, syncIo, undefined, '0123456789abcdef');
          lost.abort(new HaSyncError('LOCK_LOST', 'lease taken by other/run'));
          return scan;
        },
        prefetch: () => undefined,
        close: () => Promise.resolve(),
      },
      signal: lost.signal,
      lost: lost.signal,
    });
    expect(res.failure).toMatch(/lease taken/);
    expect(res.tempsRemoved).toBe(0);
    expect(fs.existsSync(join(d.dest, temp))).toBe(true);
    expect(fs.existsSync(join(d.dest, 'a'))).toBe(false);
  });
});

describe('small pieces', () => {
  it('run ids are unique and sortable', () => {
    const a = newRunId(Date.UTC(2026, 10, 26, 23, 15, 0, 123));
    expect(a).toMatch(/^20261126T231500123Z-[0-9a-f]{8}$/);
    expect(newRunId(Date.UTC(2026, 10, 26, 23, 15, 0, 124)) > a).toBe(true);
  });
  it('quotes paths with control characters', () => {
    expect(quotePath('plain name')).toBe('plain name');
    expect(quotePath('a\nb')).toBe('"a\\nb"');
    expect(quotePath('tab\t')).toBe('"tab\\t"');
  });
  it('progress line shows files, bytes, rate and ETA', () => {
    const clock = new ManualClock(0);
    const p = new Progress(sink(), clock);
    p.planned(10, 10 * 1024 * 1024);
    p.done(5 * 1024 * 1024);
    void clock.advance(5000);
    expect(p.line()).toBe('1/10 files  5.0 MiB/10.0 MiB  1.0 MiB/s  ETA 0m05s');
    p.stop();
  });
});

describe('local trees listed many directories at once', () => {
  it('carry out one directory at a time, and a no-op compares identical directories packed', async () => {
    const d = dirs();
    for (let i = 0; i < 8; i++) for (let j = 0; j < 30; j++) put(d.src, `d${i}/sub/f${j}`, `${i}.${j}`, OLD);
    const { r, ops, logs } = await run(d);
    expect(r.exitCode).toBe(0);
    expect(snapshot(d.dest)).toEqual(snapshot(d.src));
    const started = logs.find((l) => l.msg === 'reconcile started');
    if (loadFastscan({})) expect(started).toMatchObject({ srcLister: 'fastscan', destLister: 'fastscan' });
    // The files' directories, in the order their copies were recorded: each one contiguous.
    const order = ops.filter((o) => /\/sub\/f\d+$/.test(o.filepath));
    const runs = order.map((o) => o.filepath.split('/')[0]).filter((x, i, a) => i === 0 || a[i - 1] !== x);
    expect(runs).toHaveLength(8);
    expect(new Set(runs).size).toBe(8);
    // Nothing to do the second time; a changed file in one directory is still found.
    expect((await run(d)).ops).toEqual([]);
    put(d.src, 'd5/sub/f7', 'changed', NEW);
    const third = await run(d);
    expect(third.ops.map((o) => `${o.operation} ${o.filepath}`)).toEqual(['update d5/sub/f7']);
  });
});
