// The AuditStore contract, run against BOTH stores: MariaDB (a fresh database for this file) and
// the embedded SQLite file. Everything goes through the public audit surface (openAudit,
// openAuditReader, pruneAudit), so the opslog flow is covered for both.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { MYSQL_TABLES } from '../src/audit/schema.js';
import {
  openAudit,
  openAuditReader,
  pruneAudit,
  sqlitePath,
  type Audit,
  type AuditReader,
  type IterationHeader,
} from '../src/audit/index.js';
import {
  captureLog,
  closedPort,
  createTestDatabase,
  end,
  header,
  op,
  tempDir,
  writeOpslog,
} from './audit.helpers.js';

interface Backend {
  name: 'mysql' | 'sqlite';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** DSN of the working store. */
  dsn(): string | undefined;
  /** Makes the store unreachable for audits on `dir`; returns the DSN to use and a restore. */
  down(dir: string): Promise<{ dsn: string | undefined; restore: () => void }>;
}

function mysqlBackend(): Backend {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  return {
    name: 'mysql',
    setup: async () => {
      db = await createTestDatabase();
    },
    teardown: async () => {
      await db?.drop();
    },
    dsn: () => db!.dsn,
    down: async () => ({
      dsn: `root:@tcp(127.0.0.1:${await closedPort()})/${db!.name}`,
      restore: () => undefined,
    }),
  };
}

function sqliteBackend(): Backend {
  return {
    name: 'sqlite',
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
    dsn: () => undefined,
    // A directory where the database file should be: it cannot be opened, like a down server.
    down: (dir) => {
      mkdirSync(sqlitePath(dir));
      return Promise.resolve({ dsn: undefined, restore: () => rmSync(sqlitePath(dir), { recursive: true }) });
    },
  };
}

const uniq = (p: string): string => `${p}-${Math.random().toString(36).slice(2, 8)}`;
const opslogs = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('opslog-'));

describe.each([mysqlBackend(), sqliteBackend()])('audit store contract: $name', (backend) => {
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());

  async function withAudit<T>(
    dir: string,
    fn: (a: Audit, r: AuditReader) => Promise<T>,
    extra: { dsn?: string | undefined; clock?: ManualClock; staleAfterMs?: number } = {},
  ): Promise<T> {
    const { log } = captureLog();
    const dsn = 'dsn' in extra ? extra.dsn : backend.dsn();
    const a = await openAudit({
      dsn,
      logDir: dir,
      log,
      ...(extra.clock ? { clock: extra.clock } : {}),
      ...(extra.staleAfterMs ? { staleAfterMs: extra.staleAfterMs } : {}),
    });
    const r = await openAuditReader({ dsn: backend.dsn(), logDir: dir, log });
    try {
      return await fn(a, r);
    } finally {
      await a.close();
      await r.close();
    }
  }

  it('writes a running row at the start and the outcome and operations at the end', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const h = header({ pair: uniq('rows') });
        const run = await a.beginRun(h);
        const files = opslogs(t.dir);
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^opslog-rows-[a-z0-9]+-dell-to-hp-2026-11-20T10-00-00\.123Z\.jsonl$/);
        const running = await r.iterations({ pair: h.pair, limit: 10 });
        expect(running).toHaveLength(1);
        expect(running[0]).toMatchObject({ status: 'running', endedAt: null, dryRun: false });

        await run.record(op(1));
        await run.record(
          op(2, {
            operation: 'update',
            sizeBefore: 5,
            md5Before: 'aa',
            status: 'fail',
            errorMessage: 'EACCES: denied',
          }),
        );
        await run.record(op(3, { operation: 'delete', sizeBefore: 7, sizeAfter: null, md5After: null }));
        const res = await run.finish(
          end({
            status: 'partial_failure',
            counts: {
              created: 1,
              updated: 0,
              deleted: 1,
              skipped: 4,
              failed: 1,
              moved: 0,
              bytesTransferred: 1001,
            },
          }),
        );
        expect(res.flushed).toBe(true);
        expect(res.iterationId).toBe(running[0]!.id);
        expect(opslogs(t.dir)).toEqual([]);

        const [it1] = await r.iterations({ pair: h.pair, limit: 10 });
        expect(it1).toEqual({
          id: res.iterationId,
          syncPair: h.pair,
          direction: 'dell-to-hp',
          src: '/mnt/dell/media',
          dest: '/mnt/hp/media',
          startedAt: '2026-11-20T10:00:00.123Z',
          endedAt: '2026-11-20T10:05:00.456Z',
          status: 'partial_failure',
          dryRun: false,
          filesCreated: 1,
          filesUpdated: 0,
          filesDeleted: 1,
          filesSkipped: 4,
          filesFailed: 1,
          filesMoved: 0,
          totalBytesTransferred: 1001,
          errorMessage: null,
        });
        const ops = await r.operations(res.iterationId!);
        expect(ops.map((o) => [o.operation, o.filepath, o.status])).toEqual([
          ['create', 'dir/file-1.bin', 'success'],
          ['update', 'dir/file-2.bin', 'fail'],
          ['delete', 'dir/file-3.bin', 'success'],
        ]);
        expect(ops[1]).toMatchObject({
          iterationId: res.iterationId,
          dryRun: false,
          sizeBefore: 5,
          sizeAfter: 1002,
          md5Before: 'aa',
          errorMessage: 'EACCES: denied',
          startedAt: '2026-11-20T10:00:01.002Z',
          endedAt: '2026-11-20T10:00:02.002Z',
        });
        expect(await r.operations(res.iterationId!, 2)).toHaveLength(2);
      });
    } finally {
      t.remove();
    }
  });

  it('stores dry-runs with dry_run = 1 and finds the last successful one (seed rules 1-3)', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('dry');
        const base = Date.UTC(2026, 10, 21, 8, 0, 0, 0);
        expect(await a.lastDryRun(pair, 'dell-to-hp')).toBeNull();
        const runOnce = async (h: IterationHeader, n: number, status: 'success' | 'failed' = 'success') => {
          const run = await a.beginRun(h);
          for (let i = 0; i < n; i++) await run.record(op(i, { sizeBefore: i === 0 ? null : i }));
          return run.finish(end({ status, endedAtMs: h.startedAtMs + 1000 }));
        };
        await runOnce(header({ pair, dryRun: true, startedAtMs: base }), 2);
        const second = await runOnce(header({ pair, dryRun: true, startedAtMs: base + 60_000 }), 3);
        await runOnce(header({ pair, dryRun: true, startedAtMs: base + 120_000 }), 1, 'failed');
        await runOnce(header({ pair, dryRun: false, startedAtMs: base + 180_000 }), 4);
        await runOnce(
          header({ pair, direction: 'hp-to-dell', dryRun: true, startedAtMs: base + 240_000 }),
          5,
        );

        const last = await a.lastDryRun(pair, 'dell-to-hp');
        expect(last).not.toBeNull();
        expect(last!.startedAt.toISOString()).toBe('2026-11-21T08:01:00.000Z');
        expect(last!.iterationId).toBe(second.iterationId);
        expect(last!.ops).toEqual([
          { filepath: 'dir/file-0.bin', operation: 'create', sizeBefore: null },
          { filepath: 'dir/file-1.bin', operation: 'create', sizeBefore: 1 },
          { filepath: 'dir/file-2.bin', operation: 'create', sizeBefore: 2 },
        ]);
        const dryOps = await r.operations(second.iterationId!);
        expect(dryOps.every((o) => o.dryRun)).toBe(true);

        const real = await r.iterations({ pair, limit: 10, dryRun: false });
        expect(real.map((x) => x.dryRun)).toEqual([false]);
        const dry = await r.iterations({ pair, limit: 10, dryRun: true });
        expect(dry).toHaveLength(4);
        expect(await r.iterations({ pair, limit: 2 })).toHaveLength(2);
        const since = await r.iterations({ pair, limit: 10, since: new Date(base + 60_000) });
        expect(since.map((x) => x.startedAt)).toEqual([
          '2026-11-21T08:04:00.000Z',
          '2026-11-21T08:03:00.000Z',
          '2026-11-21T08:02:00.000Z',
          '2026-11-21T08:01:00.000Z',
        ]);

        const summary = (await r.pairs()).filter((p) => p.pair === pair);
        expect(summary.map((p) => p.direction)).toEqual(['dell-to-hp', 'hp-to-dell']);
        const fwd = summary[0]!;
        expect(fwd.lastReal?.startedAt).toBe('2026-11-21T08:03:00.000Z');
        expect(fwd.lastReal?.dryRun).toBe(false);
        expect(fwd.lastRealSuccess?.startedAt).toBe('2026-11-21T08:03:00.000Z');
        expect(fwd.lastDryRun?.startedAt).toBe('2026-11-21T08:02:00.000Z');
        expect(fwd.lastDryRun?.status).toBe('failed');
        expect(summary[1]!.lastReal).toBeNull();
        expect(summary[1]!.lastRealSuccess).toBeNull();
      });
    } finally {
      t.remove();
    }
  });

  it('flushes an opslog exactly once, also when the process died between commit and unlink', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const h = header({ pair: uniq('once') });
        const ops = [op(1), op(2), op(3)];
        const e = end({
          counts: {
            created: 3,
            updated: 0,
            deleted: 0,
            skipped: 0,
            failed: 0,
            moved: 0,
            bytesTransferred: 3006,
          },
        });
        writeOpslog(t.dir, 'opslog-once-a.jsonl', h, ops, e);
        expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
        expect(opslogs(t.dir)).toEqual([]);
        // The crash case: the rows are committed but the file is still there.
        writeOpslog(t.dir, 'opslog-once-a.jsonl', h, ops, e);
        expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
        expect(opslogs(t.dir)).toEqual([]);
        const its = await r.iterations({ pair: h.pair, limit: 10 });
        expect(its).toHaveLength(1);
        expect(await r.operations(its[0]!.id)).toHaveLength(3);
      });
    } finally {
      t.remove();
    }
  });

  it('two processes flushing the same opslogs at once write each run once', async () => {
    const t = tempDir();
    try {
      const pair = uniq('race');
      for (let i = 0; i < 4; i++) {
        writeOpslog(
          t.dir,
          `opslog-race-${i}.jsonl`,
          header({ pair, startedAtMs: Date.UTC(2026, 10, 22, 0, i) }),
          [op(1), op(2)],
          end(),
        );
      }
      const { log } = captureLog();
      const a1 = await openAudit({ dsn: backend.dsn(), logDir: t.dir, log });
      const a2 = await openAudit({ dsn: backend.dsn(), logDir: t.dir, log });
      try {
        await Promise.all([a1.flushPending(), a2.flushPending()]);
      } finally {
        await a1.close();
        await a2.close();
      }
      expect(opslogs(t.dir)).toEqual([]);
      const r = await openAuditReader({ dsn: backend.dsn(), logDir: t.dir, log });
      try {
        const its = await r.iterations({ pair, limit: 100 });
        expect(its).toHaveLength(4);
        for (const x of its) expect(await r.operations(x.id)).toHaveLength(2);
      } finally {
        await r.close();
      }
    } finally {
      t.remove();
    }
  });

  it('keeps the opslog while the store is down and flushes it once, with original times, when it is back', async () => {
    const t = tempDir();
    try {
      const cap = captureLog();
      const down = await backend.down(t.dir);
      const h = header({ pair: uniq('down') });
      const a = await openAudit({ dsn: down.dsn, logDir: t.dir, log: cap.log });
      let res;
      try {
        const run = await a.beginRun(h);
        await run.record(op(1));
        await run.record(op(2));
        res = await run.finish(
          end({
            counts: {
              created: 2,
              updated: 0,
              deleted: 0,
              skipped: 0,
              failed: 0,
              moved: 0,
              bytesTransferred: 2003,
            },
          }),
        );
        // The same process retrying later: still down, still waiting.
        expect(await a.flushPending()).toEqual({ flushed: 0, waiting: 1, corrupt: 0 });
      } finally {
        await a.close();
      }
      expect(res).toEqual({ iterationId: null, flushed: false });
      expect(opslogs(t.dir)).toHaveLength(1);
      expect(cap.text()).toMatch(/audit store unavailable/);

      // Still down: the next run's flushPending leaves it.
      const a2 = await openAudit({ dsn: down.dsn, logDir: t.dir, log: cap.log });
      try {
        expect(await a2.flushPending()).toEqual({ flushed: 0, waiting: 1, corrupt: 0 });
      } finally {
        await a2.close();
      }
      down.restore();

      await withAudit(t.dir, async (a3, r) => {
        expect(await a3.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
        expect(await a3.flushPending()).toEqual({ flushed: 0, waiting: 0, corrupt: 0 });
        expect(opslogs(t.dir)).toEqual([]);
        const its = await r.iterations({ pair: h.pair, limit: 10 });
        expect(its).toHaveLength(1);
        expect(its[0]).toMatchObject({
          status: 'success',
          startedAt: '2026-11-20T10:00:00.123Z',
          endedAt: '2026-11-20T10:05:00.456Z',
          filesCreated: 2,
        });
        const ops = await r.operations(its[0]!.id);
        expect(ops.map((o) => o.startedAt)).toEqual(['2026-11-20T10:00:01.001Z', '2026-11-20T10:00:01.002Z']);
      });
    } finally {
      t.remove();
    }
  });

  it('flushes an opslog without an end line as an interrupted run only once its writer is gone or silent', async () => {
    const t = tempDir();
    try {
      const clock = new ManualClock(Date.now());
      const pair = uniq('killed');
      // Written by a live process (this one, another audit instance): fresh mtime.
      const h1 = header({ pair, startedAtMs: Date.UTC(2026, 10, 23, 1, 0) });
      writeOpslog(
        t.dir,
        'opslog-killed-1.jsonl',
        { ...h1, pid: process.pid, host: hostname() },
        [
          op(1, { startedAtMs: Date.UTC(2026, 10, 23, 1, 1), endedAtMs: Date.UTC(2026, 10, 23, 1, 2, 3, 4) }),
          op(2, {
            status: 'fail',
            errorMessage: 'EIO',
            startedAtMs: Date.UTC(2026, 10, 23, 1, 1),
            endedAtMs: Date.UTC(2026, 10, 23, 1, 1, 30),
          }),
        ],
        null,
      );
      // Written by a process on this host that has exited.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const h2 = header({ pair, startedAtMs: Date.UTC(2026, 10, 23, 2, 0) });
      writeOpslog(t.dir, 'opslog-killed-2.jsonl', { ...h2, pid: dead, host: hostname() }, [], null);

      await withAudit(
        t.dir,
        async (a, r) => {
          // The current run's own opslog is never touched, however old it looks.
          const mine = await a.beginRun(header({ pair, startedAtMs: Date.UTC(2026, 10, 23, 3, 0) }));
          await mine.record(op(9));

          expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 1, corrupt: 0 });
          expect(opslogs(t.dir)).toHaveLength(2);
          expect(opslogs(t.dir)).toContain('opslog-killed-1.jsonl');
          const afterDead = await r.iterations({ pair, limit: 10, dryRun: false });
          const interrupted2 = afterDead.find((x) => x.startedAt === '2026-11-23T02:00:00.000Z');
          expect(interrupted2).toMatchObject({
            status: 'failed',
            errorMessage: 'interrupted',
            endedAt: '2026-11-23T02:00:00.000Z',
          });

          await clock.advance(61_000);
          expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
          const its = await r.iterations({ pair, limit: 10 });
          const interrupted1 = its.find((x) => x.startedAt === '2026-11-23T01:00:00.000Z');
          expect(interrupted1).toMatchObject({
            status: 'failed',
            errorMessage: 'interrupted',
            endedAt: '2026-11-23T01:02:03.004Z',
            filesCreated: 1,
            filesFailed: 1,
            totalBytesTransferred: 1001,
          });
          expect(await r.operations(interrupted1!.id)).toHaveLength(2);
          // The open run is still there and still running.
          expect(opslogs(t.dir)).toHaveLength(1);
          expect(its.find((x) => x.startedAt === '2026-11-23T03:00:00.000Z')?.status).toBe('running');
          await mine.finish(end({ endedAtMs: Date.UTC(2026, 10, 23, 3, 1) }));
          expect(opslogs(t.dir)).toEqual([]);
        },
        { clock },
      );
    } finally {
      t.remove();
    }
  });

  it('waits for a live writer on this host even when its file is silent, and flushes once it is gone', async () => {
    const t = tempDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const clock = new ManualClock(Date.now() + 5 * 60_000);
      const pair = uniq('alive');
      writeOpslog(
        t.dir,
        'opslog-alive.jsonl',
        { ...header({ pair }), pid: child.pid!, host: hostname() },
        [op(1)],
        null,
      );
      await withAudit(
        t.dir,
        async (a, r) => {
          expect(await a.flushPending()).toEqual({ flushed: 0, waiting: 1, corrupt: 0 });
          const exited = new Promise((res) => child.once('exit', res));
          child.kill('SIGKILL');
          await exited;
          expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
          expect(await r.iterations({ pair, limit: 5 })).toMatchObject([
            { status: 'failed', errorMessage: 'interrupted' },
          ]);
        },
        { clock },
      );
    } finally {
      child.kill('SIGKILL');
      t.remove();
    }
  });

  it('skips corrupt lines with a warning and sets aside a file without a header', async () => {
    const t = tempDir();
    try {
      const clock = new ManualClock(Date.now());
      const pair = uniq('corrupt');
      writeOpslog(t.dir, 'opslog-corrupt-1.jsonl', header({ pair }), [op(1), op(2)], end(), [
        '{"type":"op","operation":"explode","filepath":"x"}',
        'not json at all',
        '{"type":"op",',
        '[1,2,3]',
      ]);
      writeOpslog(t.dir, 'opslog-garbage.jsonl', { ...header(), runId: '' }, [], end());
      const cap = captureLog();
      const a = await openAudit({ dsn: backend.dsn(), logDir: t.dir, log: cap.log, clock });
      try {
        // The headerless file may still be being created: it waits until it is stale.
        expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 1, corrupt: 4 });
        await clock.advance(120_000);
        expect(await a.flushPending()).toEqual({ flushed: 0, waiting: 0, corrupt: 1 });
      } finally {
        await a.close();
      }
      expect(readdirSync(t.dir).filter((n) => n.startsWith('opslog'))).toEqual([
        'opslog-garbage.jsonl.corrupt',
      ]);
      expect(cap.text()).toMatch(/corrupt lines; they are skipped/);
      expect(cap.text()).toMatch(/"corruptLines":4/);
      const r = await openAuditReader({ dsn: backend.dsn(), logDir: t.dir, log: cap.log });
      try {
        const its = await r.iterations({ pair, limit: 10 });
        expect(its).toHaveLength(1);
        expect(await r.operations(its[0]!.id)).toHaveLength(2);
      } finally {
        await r.close();
      }
    } finally {
      t.remove();
    }
  });

  it('deletes opslogs past retention, never the open one', async () => {
    const t = tempDir();
    try {
      const clock = new ManualClock(Date.now());
      const old = writeOpslog(t.dir, 'opslog-old.jsonl', header(), [], null);
      const corrupt = writeOpslog(t.dir, 'opslog-x.jsonl.corrupt', header(), [], null);
      const young = writeOpslog(t.dir, 'opslog-young.jsonl', header(), [], null);
      const other = writeOpslog(t.dir, 'not-an-opslog.jsonl', header(), [], null);
      const days = (n: number): Date => new Date(clock.now() - n * 86_400_000);
      utimesSync(old, days(11), days(11));
      utimesSync(corrupt, days(30), days(30));
      utimesSync(young, days(9), days(9));
      utimesSync(other, days(30), days(30));
      await withAudit(
        t.dir,
        async (a) => {
          const run = await a.beginRun(header({ pair: uniq('retain') }));
          const mine = opslogs(t.dir).find((n) => n.startsWith('opslog-retain'))!;
          utimesSync(join(t.dir, mine), days(20), days(20));
          expect(await a.cleanOldOpslogs(10)).toBe(2);
          expect(existsSync(old)).toBe(false);
          expect(existsSync(corrupt)).toBe(false);
          expect(existsSync(young)).toBe(true);
          expect(existsSync(other)).toBe(true);
          expect(existsSync(join(t.dir, mine))).toBe(true);
          await run.finish(end());
        },
        { clock },
      );
    } finally {
      t.remove();
    }
  });

  it('stores hostile pair names and paths exactly, through placeholders', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const hostile = [
          `'; DROP TABLE sync_operations; --`,
          `x" OR "1"="1`,
          "back\\slash\\\\ and \\' quote",
          'line\nbreak\r\ttab',
          'ünïcødé ✓ 🐟 日本語',
          '../../etc/passwd',
          '%s %d ${x} `cmd`',
        ];
        const pair = `${uniq('evil')}'; DROP TABLE sync_iterations; -- \\ "🐟"\n`;
        const h = header({ pair, direction: `d'"\\\n`, src: `/src/'"\\`, dest: '/dest/ü' });
        const run = await a.beginRun(h);
        // The opslog name is file-name safe and inside the log dir.
        expect(opslogs(t.dir)).toHaveLength(1);
        expect(opslogs(t.dir)[0]).toMatch(/^opslog-[A-Za-z0-9._-]+\.jsonl$/);
        for (const [i, p] of hostile.entries()) {
          await run.record(
            op(i, { filepath: p, errorMessage: p, md5After: null, status: i % 2 ? 'fail' : 'success' }),
          );
        }
        const res = await run.finish(end({ status: 'partial_failure', errorMessage: hostile.join('|') }));
        expect(res.flushed).toBe(true);

        const [it1] = await r.iterations({ pair, limit: 5 });
        expect(it1).toMatchObject({
          syncPair: pair,
          direction: h.direction,
          src: h.src,
          dest: h.dest,
          errorMessage: hostile.join('|'),
        });
        const ops = await r.operations(res.iterationId!);
        expect(ops.map((o) => o.filepath)).toEqual(hostile);
        expect(ops.map((o) => o.errorMessage)).toEqual(hostile);
        expect((await r.pairs()).some((p) => p.pair === pair && p.direction === h.direction)).toBe(true);
        const dry = await a.lastDryRun(pair, h.direction);
        expect(dry).toBeNull();
        // The tables are all still there.
        expect((await r.iterations({ limit: 1 })).length).toBe(1);
      });
    } finally {
      t.remove();
    }
  });

  it('prunes old iterations with their operations in small batches, keeping recent ones', async () => {
    const t = tempDir();
    try {
      const pair = uniq('prune');
      const day = (d: number): number => Date.UTC(2020, 0, d, 12);
      await withAudit(t.dir, async (a, r) => {
        for (const d of [1, 2, 3, 40]) {
          const run = await a.beginRun(header({ pair, startedAtMs: day(d) }));
          for (let i = 0; i < 5; i++) await run.record(op(i, { startedAtMs: day(d), endedAtMs: day(d) }));
          await run.finish(end({ endedAtMs: day(d) + 1000 }));
        }
        expect(await r.iterations({ pair, limit: 10 })).toHaveLength(4);
      });
      const clock = new ManualClock(day(41));
      const report = await pruneAudit({
        dsn: backend.dsn(),
        logDir: t.dir,
        olderThanDays: 30,
        batchSize: 2,
        clock,
      });
      expect(report).toMatchObject({ kind: backend.name, operations: 15, iterations: 3 });
      expect(report.cutoff.toISOString()).toBe('2020-01-11T12:00:00.000Z');
      expect(report.where).not.toMatch(/password/);
      const { log } = captureLog();
      const r = await openAuditReader({ dsn: backend.dsn(), logDir: t.dir, log });
      try {
        const left = await r.iterations({ pair, limit: 10 });
        expect(left.map((x) => x.startedAt)).toEqual(['2020-02-09T12:00:00.000Z']);
        expect(await r.operations(left[0]!.id)).toHaveLength(5);
      } finally {
        await r.close();
      }
      // Again: nothing left to prune.
      expect(await pruneAudit({ dsn: backend.dsn(), logDir: t.dir, olderThanDays: 30, clock })).toMatchObject(
        {
          operations: 0,
          iterations: 0,
        },
      );
    } finally {
      t.remove();
    }
  });

  it('rejects an invalid operation record instead of writing an unreadable line', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a) => {
        const run = await a.beginRun(header({ pair: uniq('invalid') }));
        await expect(run.record({ ...op(1), operation: 'explode' as 'create' })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
        await expect(run.record({ ...op(1), sizeAfter: -1 })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
        await run.record(op(2));
        await expect(run.finish({ ...end(), status: 'running' as 'success' })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
        await expect(a.beginRun({ ...header(), runId: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        await expect(a.beginRun({ ...header(), startedAtMs: Number.NaN })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
        const res = await run.finish(end());
        expect(res.flushed).toBe(true);
        await expect(run.record(op(3))).rejects.toMatchObject({ code: 'INTERNAL' });
        const text = existsSync(t.dir) ? readdirSync(t.dir).filter((n) => n.endsWith('.jsonl')) : [];
        expect(text).toEqual([]);
      });
    } finally {
      t.remove();
    }
  });

  it('reader: ping, and empty answers for an empty store', async () => {
    const t = tempDir();
    try {
      const { log } = captureLog();
      const r = await openAuditReader({ dsn: backend.dsn(), logDir: t.dir, log });
      try {
        await r.ping();
        expect(r.kind).toBe(backend.name);
        expect(await r.operations(987654321)).toEqual([]);
        expect(await r.iterations({ pair: 'no-such-pair', limit: 5 })).toEqual([]);
      } finally {
        await r.close();
      }
      if (backend.name === 'sqlite') expect(readFileSync(sqlitePath(t.dir)).length).toBeGreaterThan(0);
    } finally {
      t.remove();
    }
  });
});

describe('mysql reader on a schema ha-sync did not create', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('answers empty before any table exists, and without index hints on the bare seed schema', async () => {
    const t = tempDir();
    const { log } = captureLog();
    const r = await openAuditReader({ dsn: db.urlDsn, logDir: t.dir, log });
    try {
      expect(await r.pairs()).toEqual([]);
      expect(await r.iterations({ limit: 5 })).toEqual([]);
      expect(await r.operations(1)).toEqual([]);
      // The seed's DDL only (as the Go tool would have created it): no ha-sync indexes.
      const seedIterations = MYSQL_TABLES[0]!.replace(/\) ENGINE=.*$/s, ')');
      await db.query(seedIterations);
      await db.query(
        "INSERT INTO sync_iterations (sync_pair, direction, src, dest, started_at, status, dry_run) VALUES ('media', 'fwd', '/a', '/b', '2026-01-01 00:00:00.001', 'success', 0)",
      );
      const pairs = await r.pairs();
      expect(pairs).toHaveLength(1);
      expect(pairs[0]!.lastRealSuccess?.startedAt).toBe('2026-01-01T00:00:00.001Z');
      expect(pairs[0]!.lastDryRun).toBeNull();
    } finally {
      await r.close();
      t.remove();
    }
  });
});

describe('mysql store that refuses one opslog', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    // Tables someone created with a charset that cannot hold every pair name.
    for (const ddl of MYSQL_TABLES)
      await db.query(ddl.replace(/CHARSET=utf8mb4 COLLATE=utf8mb4_bin/, 'CHARSET=latin1'));
  });
  afterAll(() => db.drop());

  it('keeps the refused file and still flushes the others', async () => {
    const t = tempDir();
    const cap = captureLog();
    try {
      writeOpslog(t.dir, 'opslog-a.jsonl', header({ pair: 'fish-🐟' }), [op(1)], end());
      writeOpslog(t.dir, 'opslog-b.jsonl', header({ pair: 'plain' }), [op(1)], end());
      const a = await openAudit({ dsn: db.dsn, logDir: t.dir, log: cap.log });
      try {
        expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 1, corrupt: 0 });
      } finally {
        await a.close();
      }
      expect(opslogs(t.dir)).toEqual(['opslog-a.jsonl']);
      expect(cap.text()).toMatch(/rejected this opslog/);
      expect(await db.query('SELECT sync_pair FROM sync_iterations')).toEqual([{ sync_pair: 'plain' }]);
    } finally {
      t.remove();
    }
  });
});

describe('a DSN naming a database that does not exist yet', () => {
  it('creates it (and the tables) on the first run, as the tables are', async () => {
    const db = await createTestDatabase();
    const fresh = `${db.name}_new`;
    const t = tempDir();
    try {
      const { log } = captureLog();
      const a = await openAudit({ dsn: `root:@tcp(127.0.0.1:3306)/${fresh}`, logDir: t.dir, log });
      try {
        const run = await a.beginRun(header());
        await run.record(op(1));
        expect(await run.finish(end())).toMatchObject({ flushed: true });
      } finally {
        await a.close();
      }
      expect(await db.query(`SELECT COUNT(*) AS n FROM \`${fresh}\`.sync_operations`)).toEqual([{ n: 1 }]);
    } finally {
      await db.query(`DROP DATABASE IF EXISTS \`${fresh}\``);
      await db.drop();
      t.remove();
    }
  });
});
