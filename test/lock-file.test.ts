// The lock-file backend in real temp directories, time on a ManualClock.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { HaSyncError } from '../src/errors.js';
import { openLock, type Lock, type LockOptions } from '../src/lock/index.js';
import { fileBackend, processStart, selfIdentity, type ProcessIdentity } from '../src/lock/file.js';
import { lockHandles, rejection, silent, tempDir, until } from './fake-kube/support.js';

let tmp: { dir: string; cleanup: () => void };
const { take, releaseAll } = lockHandles();
beforeEach(() => {
  tmp = tempDir('filelock');
});
afterEach(async () => {
  await releaseAll();
  tmp.cleanup();
});

const lockPath = (pair = 'media'): string => join(tmp.dir, `ha-sync-${pair}.lock`);
const readLock = (pair = 'media'): Record<string, unknown> =>
  JSON.parse(readFileSync(lockPath(pair), 'utf8')) as Record<string, unknown>;

async function fileLock(clock: ManualClock, over: Partial<LockOptions> = {}): Promise<Lock> {
  return openLock({
    lock: 'file',
    lockTtlSeconds: 30,
    lockWaitSeconds: 0,
    namespace: undefined,
    kubeconfig: undefined,
    pair: 'media',
    logDir: tmp.dir,
    clock,
    log: silent,
    env: {},
    ...over,
  });
}

/** A pid that existed and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid;
}

function foreignRecord(over: Record<string, unknown>): string {
  return JSON.stringify({
    v: 1,
    holder: 'other/1',
    token: 'tok',
    hostname: 'elsewhere',
    bootId: 'b',
    pid: 1,
    pidStart: '1',
    leaseDurationSeconds: 30,
    acquireTime: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    renewTime: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    leaseTransitions: 3,
    ...over,
  });
}

describe('file lock', () => {
  it('creates the lock file with holder, ttl, pid and its start time; no temp files left', async () => {
    const clock = new ManualClock();
    const h = await take(await fileLock(clock), 'laptop/run-1');
    expect(readLock()).toMatchObject({
      holder: 'laptop/run-1',
      hostname: hostname(),
      pid: process.pid,
      leaseDurationSeconds: 30,
      leaseTransitions: 0,
      renewTime: new Date(clock.now()).toISOString(),
    });
    expect(readLock().pidStart).toBe(await processStart(process.pid));
    expect(readdirSync(tmp.dir)).toEqual(['ha-sync-media.lock']);
    expect(h.lost.aborted).toBe(false);
  });

  it('two acquirers at once: exactly one wins, the other gets LOCK_HELD naming the holder', async () => {
    const clock = new ManualClock();
    const results = await Promise.allSettled([
      take(await fileLock(clock), 'a/1'),
      take(await fileLock(clock), 'b/2'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost).toHaveLength(1);
    const err = lost[0]!.reason as HaSyncError;
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toContain(String(readLock().holder));
    expect(err.message).toContain(lockPath());
  });

  it('takes over a record whose renewal is older than its ttl (leaseTransitions + 1)', async () => {
    const clock = new ManualClock();
    writeFileSync(lockPath(), foreignRecord({ renewTime: new Date(clock.now() - 31_000).toISOString() }));
    await take(await fileLock(clock), 'me/1');
    expect(readLock()).toMatchObject({ holder: 'me/1', leaseTransitions: 4 });
  });

  it('keeps a live record from another host until it expires', async () => {
    const clock = new ManualClock();
    writeFileSync(lockPath(), foreignRecord({ renewTime: new Date(clock.now() - 10_000).toISOString() }));
    const err = await rejection((await fileLock(clock)).acquire({ holder: 'me/1', waitSeconds: 0 }));
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toContain('held by other/1 until 2026-01-01T00:00:20.000Z');
  });

  it('a holder on this host whose process is gone (kill -9) is stale at once', async () => {
    const clock = new ManualClock();
    const me = await selfIdentity();
    const ghost: ProcessIdentity = { ...me, pid: deadPid(), pidStart: '12345' };
    await (await fileLock(clock, { processIdentity: ghost })).acquire({ holder: 'ghost/1', waitSeconds: 0 }); // never released
    await take(await fileLock(clock), 'me/2');
    expect(readLock()).toMatchObject({ holder: 'me/2', leaseTransitions: 1 });
  });

  it('a reused pid (same pid, another start time) is stale; the same process is not', async () => {
    const clock = new ManualClock();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const me = await selfIdentity();
      const start = await processStart(child.pid!);
      const live: ProcessIdentity = { ...me, pid: child.pid!, pidStart: start! };
      const h = await (
        await fileLock(clock, { processIdentity: live })
      ).acquire({ holder: 'live/1', waitSeconds: 0 });
      const err = await rejection((await fileLock(clock)).acquire({ holder: 'me/1', waitSeconds: 0 }));
      expect(err.code).toBe('LOCK_HELD');
      await h.release();
      const reused: ProcessIdentity = { ...live, pidStart: `${start}0` };
      await (await fileLock(clock, { processIdentity: reused })).acquire({ holder: 'old/1', waitSeconds: 0 });
      await take(await fileLock(clock), 'me/2');
      expect(readLock().holder).toBe('me/2');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('garbage in the lock file is replaced (it was never a whole record)', async () => {
    writeFileSync(lockPath(), '{"holder":');
    await take(await fileLock(new ManualClock()), 'me/1');
    expect(readLock().holder).toBe('me/1');
  });

  it('renews every ttl/3 on the injected clock', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    await take(await fileLock(clock), 'me/1');
    await clock.advance(9_999);
    await until(() => clock.pending > 0, 'park');
    expect(readLock().renewTime).toBe(new Date(t0).toISOString());
    await clock.advance(1);
    await until(() => readLock().renewTime === new Date(t0 + 10_000).toISOString(), 'renewal');
    await until(() => clock.pending > 0, 'park');
    await clock.advance(10_000);
    await until(() => readLock().renewTime === new Date(t0 + 20_000).toISOString(), 'second renewal');
  });

  it('aborts `lost` when the file is replaced by another holder, or removed', async () => {
    const clock = new ManualClock();
    const h = await take(await fileLock(clock), 'me/1');
    writeFileSync(
      lockPath(),
      foreignRecord({ holder: 'thief/1', renewTime: new Date(clock.now()).toISOString() }),
    );
    await clock.advance(10_000);
    await until(() => h.lost.aborted, 'lost');
    expect((h.lost.reason as HaSyncError).code).toBe('LOCK_LOST');
    expect((h.lost.reason as HaSyncError).message).toContain('thief/1');
    await h.release();
    expect(readLock().holder).toBe('thief/1'); // not ours: kept

    const h2 = await take(await fileLock(clock, { pair: 'photos' }), 'me/2');
    rmSync(lockPath('photos'));
    await clock.advance(10_000);
    await until(() => h2.lost.aborted, 'lost');
  });

  it('aborts `lost` when renewal fails until the deadline', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const h = await take(await fileLock(clock), 'me/1');
    // Make the lock unreadable (works as root too): a directory where the file was.
    rmSync(lockPath());
    mkdirSync(lockPath());
    for (let i = 0; i < 40 && !h.lost.aborted; i++) {
      await clock.advance(1_000);
      await until(() => clock.pending > 0 || h.lost.aborted, 'park');
    }
    expect(h.lost.aborted).toBe(true);
    expect(clock.now() - t0).toBe(27_000); // ttl 30 s minus the 3 s margin
    expect((h.lost.reason as HaSyncError).message).toMatch(/not renewed since/);
    await h.release(); // never throws
  });

  it('a call the session gave up on (timed out) neither creates nor renews the lock afterwards', async () => {
    const backend = fileBackend({ pair: 'media', logDir: tmp.dir });
    const t0 = Date.UTC(2026, 0, 1);
    const late = new AbortController();
    late.abort(new HaSyncError('LOCK_UNAVAILABLE', 'no answer within 1 ms'));
    await expect(backend.attempt('me/1', 30, t0, late.signal)).rejects.toThrow(/no answer/);
    expect(readdirSync(tmp.dir)).toEqual([]);

    const won = await backend.attempt('me/1', 30, t0, new AbortController().signal);
    if (won.kind !== 'acquired') throw new Error(`expected acquired, got ${won.kind}`);
    await expect(backend.refresh(won.holding, t0 + 10_000, late.signal)).rejects.toThrow(/no answer/);
    expect(readLock().renewTime).toBe(new Date(t0).toISOString());
    expect(readdirSync(tmp.dir)).toEqual(['ha-sync-media.lock']); // no temp file left behind
  });

  it('an unusable log dir gives LOCK_UNAVAILABLE', async () => {
    writeFileSync(join(tmp.dir, 'not-a-dir'), '');
    const err = await rejection(
      (await fileLock(new ManualClock(), { logDir: join(tmp.dir, 'not-a-dir', 'x') })).acquire({
        holder: 'me/1',
        waitSeconds: 0,
      }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/ENOTDIR/);
  });

  it('release removes the file, is idempotent and never throws', async () => {
    const h = await take(await fileLock(new ManualClock()), 'me/1');
    await h.release();
    expect(existsSync(lockPath())).toBe(false);
    await h.release();
    expect(readdirSync(tmp.dir)).toEqual([]);
  });

  it('wait mode: the waiter announces itself, contended() turns true, the waiter gets it after release', async () => {
    const clock = new ManualClock();
    const a = await take(await fileLock(clock), 'applier/1');
    const waiting = take(await fileLock(clock), 'cron/2', 120);
    await until(() => existsSync(`${lockPath()}.waiting`), 'the announcement');
    await until(() => clock.pending >= 2, 'both parked');
    await clock.advance(5_000);
    await until(() => clock.pending >= 2, 'both parked');
    await clock.advance(5_000);
    await until(() => a.contended(), 'contended()');
    await a.release();
    await until(() => clock.pending >= 1, 'waiter parked');
    await clock.advance(5_000);
    const b = await waiting;
    expect(readLock().holder).toBe('cron/2');
    expect(existsSync(`${lockPath()}.waiting`)).toBe(false);
    expect(b.contended()).toBe(false);
  });

  it('contended() turns false once the announcement is older than a minute', async () => {
    const clock = new ManualClock();
    const a = await take(await fileLock(clock, { lockTtlSeconds: 600 }), 'applier/1');
    writeFileSync(`${lockPath()}.waiting`, `cron/9 ${new Date(clock.now()).toISOString()}`);
    await clock.advance(10_000);
    await until(() => a.contended(), 'contended()');
    await until(() => clock.pending > 0, 'park');
    await clock.advance(50_000);
    expect(a.contended()).toBe(false);
  });
});
