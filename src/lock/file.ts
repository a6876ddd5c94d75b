// The lock-file backend: `<log-dir>/ha-sync-<pair>.lock`, the same meaning as the Lease (holder,
// ttl, renewal every ttl/3, stale takeover, release, contention) for runs outside a cluster.
//
// Invariants:
// - The lock file is only ever created whole: its content is written to a private temp file, then
//   hard-linked to the lock path. link(2) fails with EEXIST when the path exists, so exactly one of
//   several creators wins, and no reader ever sees a half-written lock.
// - Every record carries a random `token`. Renewal replaces the file (temp + rename) only after
//   reading our own token, then reads it back; removal (release, stale takeover) first renames the
//   file to a private name, checks the token it judged, and puts it back with link(2) when it
//   turned out to be someone else's. So a contender can only remove the exact record it judged.
// - A record is stale when renewTime + ttl has passed, or at once when its holder ran on this
//   host (same hostname and boot id) and that process is gone: the pid does not exist, or it now
//   belongs to a process started at another time (pid reuse). A record from another host, or
//   from before a reboot, is only stale by time (safe first: a wrong "dead" would mean two writers).
// - Contention: a waiter writes `<lock>.waiting` (`<holder> <iso-time>`, temp + rename); the holder
//   reads it on each check, like the Lease annotation.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HaSyncError, errorMessage } from '../errors.js';
import type { Attempt, Backend, Holding } from './session.js';
import { formatWaiting, isExpired, parseWaiting } from './session.js';

interface LockRecord {
  v: 1;
  holder: string;
  token: string;
  hostname: string;
  bootId: string;
  pid: number;
  /** Start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot); '' if unknown. */
  pidStart: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** Identity of this process for stale detection. */
export interface ProcessIdentity {
  hostname: string;
  bootId: string;
  pid: number;
  pidStart: string;
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return (await fs.readFile(path, 'utf8')).trim();
  } catch {
    return fallback;
  }
}

/** Start time of a process (Linux /proc), '' when unknown, undefined when the pid does not exist. */
export async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return '';
    // No /proc entry: either no /proc at all (not Linux) or no such process.
    try {
      process.kill(pid, 0);
      return '';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? '' : undefined;
    }
  }
}

export async function selfIdentity(): Promise<ProcessIdentity> {
  return {
    hostname: hostname(),
    bootId: await readOr('/proc/sys/kernel/random/boot_id', ''),
    pid: process.pid,
    pidStart: (await processStart(process.pid)) ?? '',
  };
}

/** True when the record's process ran on this host and is certainly gone. */
async function holderGone(r: LockRecord, me: ProcessIdentity): Promise<boolean> {
  if (r.hostname !== me.hostname || r.bootId !== me.bootId || !r.bootId) return false;
  if (r.pid === me.pid) return r.pidStart !== '' && me.pidStart !== '' && r.pidStart !== me.pidStart;
  const start = await processStart(r.pid);
  if (start === undefined) return true;
  return start !== '' && r.pidStart !== '' && start !== r.pidStart;
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (typeof r.holder !== 'string' || typeof r.token !== 'string' || typeof r.renewTime !== 'string')
      return undefined;
    return r as LockRecord;
  } catch {
    return undefined;
  }
}

const toHolding = (r: LockRecord, waiting: Holding['waiting']): Holding => ({
  holder: r.holder,
  durationSeconds: r.leaseDurationSeconds,
  acquireTimeMs: Date.parse(r.acquireTime) || 0,
  renewTimeMs: Date.parse(r.renewTime) || 0,
  transitions: r.leaseTransitions,
  waiting,
  version: r.token,
});

export interface FileBackendOptions {
  pair: string;
  logDir: string;
  /** For tests: who "this process" is. Default: the real process. */
  identity?: ProcessIdentity | undefined;
}

export function fileBackend(o: FileBackendOptions): Backend {
  const path = join(o.logDir, `ha-sync-${o.pair}.lock`);
  const waitingPath = `${path}.waiting`;
  const label = `lock file ${path}`;
  let me: ProcessIdentity | undefined = o.identity;
  const identity = async (): Promise<ProcessIdentity> => (me ??= await selfIdentity());
  const tmpName = (): string => `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

  const unavailable = (what: string, err: unknown): HaSyncError =>
    new HaSyncError('LOCK_UNAVAILABLE', `${label}: ${what}: ${errorMessage(err)}`, { cause: err });

  /** The record on disk; undefined when there is none; throws when unreadable. */
  const readRecord = async (
    p = path,
  ): Promise<{ record: LockRecord | undefined; raw: string } | undefined> => {
    let raw: string;
    try {
      raw = await fs.readFile(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw unavailable('read', err);
    }
    return { record: parseRecord(raw), raw };
  };

  const readWaiting = async (): Promise<Holding['waiting']> => parseWaiting(await readOr(waitingPath, ''));

  const writeTemp = async (text: string): Promise<string> => {
    const tmp = tmpName();
    const fh = await fs.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  };

  /**
   * Writes `text` to the lock path only if nothing is there. `signal` is the call's timeout: a
   * call the session already gave up on must not create a lock behind its back.
   */
  const createExclusive = async (text: string, signal: AbortSignal): Promise<boolean> => {
    let tmp: string;
    try {
      await fs.mkdir(o.logDir, { recursive: true });
      tmp = await writeTemp(text);
    } catch (err) {
      throw unavailable('write', err);
    }
    try {
      signal.throwIfAborted();
      await fs.link(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw unavailable('create', err);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  };

  /**
   * Removes the lock file only if it still holds `raw` (the exact content judged). Returns false
   * when it held something else (which is put back) or was already gone.
   */
  const removeIf = async (raw: string): Promise<boolean> => {
    const aside = tmpName();
    try {
      await fs.rename(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw unavailable('remove', err);
    }
    const got = await fs.readFile(aside, 'utf8').catch(() => undefined);
    if (got === raw) {
      await fs.rm(aside, { force: true });
      return true;
    }
    // Someone replaced it between our read and our rename: put theirs back (unless a third
    // contender already created a new one, in which case theirs is lost and they notice on their
    // next check).
    await fs.link(aside, path).catch(() => undefined);
    await fs.rm(aside, { force: true });
    return false;
  };

  const record = async (
    holder: string,
    ttlSeconds: number,
    nowMs: number,
    transitions: number,
    acquiredMs: number,
  ): Promise<LockRecord> => {
    const id = await identity();
    return {
      v: 1,
      holder,
      token: randomBytes(12).toString('hex'),
      hostname: id.hostname,
      bootId: id.bootId,
      pid: id.pid,
      pidStart: id.pidStart,
      leaseDurationSeconds: ttlSeconds,
      acquireTime: new Date(acquiredMs).toISOString(),
      renewTime: new Date(nowMs).toISOString(),
      leaseTransitions: transitions,
    };
  };

  const withdrawFile = async (waiter: string): Promise<void> => {
    const w = await readWaiting();
    if (w?.holder === waiter) await fs.rm(waitingPath, { force: true });
  };

  return {
    kind: 'file',
    name: label,

    async attempt(holder, ttlSeconds, nowMs, signal): Promise<Attempt> {
      const cur = await readRecord();
      let transitions = 0;
      if (cur) {
        const r = cur.record;
        if (r) {
          const h = toHolding(r, await readWaiting());
          const gone = !isExpired(h, nowMs) && (await holderGone(r, await identity()));
          if (!isExpired(h, nowMs) && !gone) return { kind: 'held', current: h };
          transitions = (r.leaseTransitions ?? 0) + 1;
        }
        // Stale, or unreadable garbage (never written by us whole): remove exactly what we judged.
        if (!(await removeIf(cur.raw))) return { kind: 'raced' };
      }
      const rec = await record(holder, ttlSeconds, nowMs, transitions, nowMs);
      if (!(await createExclusive(JSON.stringify(rec), signal))) return { kind: 'raced' };
      await withdrawFile(holder).catch(() => undefined);
      return { kind: 'acquired', holding: toHolding(rec, await readWaiting()) };
    },

    async announce(waiter, nowMs): Promise<void> {
      const tmp = await writeTemp(formatWaiting({ holder: waiter, atMs: nowMs }));
      await fs.rename(tmp, waitingPath).catch(async (err: unknown) => {
        await fs.rm(tmp, { force: true });
        throw err;
      });
    },

    withdraw: (waiter) => withdrawFile(waiter),

    async refresh(mine, renewAtMs, signal): Promise<Holding | undefined> {
      const cur = await readRecord();
      if (!cur) return undefined;
      const waiting = await readWaiting();
      if (!cur.record)
        return {
          holder: '(unreadable lock file)',
          durationSeconds: 0,
          acquireTimeMs: 0,
          renewTimeMs: 0,
          transitions: 0,
          waiting,
          version: '',
        };
      if (cur.record.token !== mine.version || renewAtMs === undefined) return toHolding(cur.record, waiting);
      const next: LockRecord = { ...cur.record, renewTime: new Date(renewAtMs).toISOString() };
      const text = JSON.stringify(next);
      const tmp = await writeTemp(text).catch((err: unknown) => {
        throw unavailable('renew', err);
      });
      try {
        // A renewal the session already gave up on (timed out) must not land after a release.
        signal.throwIfAborted();
        await fs.rename(tmp, path);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw signal.aborted ? err : unavailable('renew', err);
      }
      // Read back: a contender that judged us stale may have replaced the file meanwhile.
      const back = await readRecord();
      return back?.record ? toHolding(back.record, waiting) : undefined;
    },

    async remove(mine): Promise<void> {
      const cur = await readRecord();
      if (cur?.record?.token !== mine.version) return;
      await removeIf(cur.raw);
    },
  };
}
