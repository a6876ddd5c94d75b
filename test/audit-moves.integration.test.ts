// Moves in the audit (issue 16), against BOTH stores (a fresh MariaDB database for this file, and
// the embedded SQLite file): a move row round trips through opslog and flush with its old path,
// the bytes it saved copying and the iteration's moved count; a file's history follows it back
// across file and directory moves and ends with "moved to X" for its old path; and a database
// the seed's schema created (operation without 'move', no added columns) is migrated in place on
// open, rows and ids kept, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  openAudit,
  openAuditReader,
  openSqlite,
  sqlitePath,
  type Audit,
  type AuditReader,
  type HistoryRow,
  type IterationHeader,
  type OpRecord,
} from '../src/audit/index.js';
import { HISTORY_FROM, historyColumns, historyKeys, historyTerms, stepFilter } from '../src/audit/history.js';
import { EXTRA_COLUMNS, MYSQL_TABLES, SQLITE_SCHEMA } from '../src/audit/schema.js';
import { captureLog, createTestDatabase, end, header, op, tempDir, writeOpslog } from './audit.helpers.js';

const NOW = Date.UTC(2026, 11, 8, 12, 0, 0);
const MIN = 60_000;
const uniq = (p: string): string => `${p}-${Math.random().toString(36).slice(2, 8)}`;

interface Backend {
  name: 'mysql' | 'sqlite';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  dsn(): string | undefined;
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
  };
}

function sqliteBackend(): Backend {
  return {
    name: 'sqlite',
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
    dsn: () => undefined,
  };
}

/** One finished run with these ops and this many moves; returns its iteration id. */
async function run(a: Audit, h: IterationHeader, ops: OpRecord[], moved = 0): Promise<number> {
  const r = await a.beginRun(h);
  for (const o of ops) await r.record(o);
  const counts = { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved, bytesTransferred: 0 };
  const res = await r.finish(end({ endedAtMs: h.startedAtMs + MIN, counts }));
  expect(res.flushed).toBe(true);
  return res.iterationId!;
}

const at = (ms: number, over: Partial<OpRecord>): OpRecord =>
  op(0, { startedAtMs: ms, endedAtMs: ms + 5, ...over });

/** A move as the writers record it: a file keeps its size in both size columns, md5s null. */
const move = (from: string, to: string, size: number | null, bytesNotCopied = size): Partial<OpRecord> => ({
  operation: 'move',
  filepath: to,
  movedFrom: from,
  sizeBefore: size,
  sizeAfter: size,
  md5Before: null,
  md5After: null,
  bytesNotCopied,
});

const show = (rows: HistoryRow[]): string[][] =>
  rows.map((r) => [r.operation, r.filepath, r.movedFrom ?? '', r.followedPath ?? '']);

describe.each([mysqlBackend(), sqliteBackend()])('moves in the audit: $name', (backend) => {
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());

  async function withAudit<T>(dir: string, fn: (a: Audit, r: AuditReader) => Promise<T>): Promise<T> {
    const { log } = captureLog();
    const a = await openAudit({ dsn: backend.dsn(), logDir: dir, log, clock: new ManualClock(NOW) });
    const r = await openAuditReader({ dsn: backend.dsn(), logDir: dir, log });
    try {
      return await fn(a, r);
    } finally {
      await a.close();
      await r.close();
    }
  }

  it('round-trips a move row through the opslog: old path, bytes not copied, files moved', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('mv');
        const id = await run(
          a,
          header({ pair, startedAtMs: NOW - 10 * MIN }),
          [
            at(NOW - 9 * MIN, move('in/a.jpg', "sorted/it's <a>.jpg", 2_500_000)),
            at(NOW - 9 * MIN + 1, move('pics/2019', 'trips/2019', null, 7_000_000_000)),
            at(NOW - 9 * MIN + 2, move('x/unknown', 'y/unknown', null, null)),
            at(NOW - 9 * MIN + 3, { filepath: 'plain.txt' }),
          ],
          3,
        );
        const ops = await r.operations(id);
        expect(ops.map((o) => [o.operation, o.filepath, o.movedFrom, o.bytesNotCopied])).toEqual([
          ['move', "sorted/it's <a>.jpg", 'in/a.jpg', 2_500_000],
          ['move', 'trips/2019', 'pics/2019', 7_000_000_000],
          ['move', 'y/unknown', 'x/unknown', null],
          ['create', 'plain.txt', null, null],
        ]);
        // The seed's columns keep their meaning: a file's size in both, a directory none; no md5.
        expect(ops.map((o) => [o.sizeBefore, o.sizeAfter, o.md5Before, o.md5After])).toEqual([
          [2_500_000, 2_500_000, null, null],
          [null, null, null, null],
          [null, null, null, null],
          [null, 1000, null, 'd41d8cd98f00b204e9800998ecf8427e'],
        ]);
        const [it1] = await r.iterations({ pair, limit: 5 });
        expect(it1).toMatchObject({ id, filesMoved: 3, filesCreated: 0 });
        expect((await r.pairs()).find((p) => p.pair === pair)?.lastReal?.filesMoved).toBe(3);

        // An opslog a killed run left (no end line): its counts come from the ops, a move moves
        // no bytes. And an opslog of an older version: no move fields, no moved count.
        const killed = header({ pair, startedAtMs: NOW - 8 * MIN, dryRun: false });
        writeOpslog(
          t.dir,
          'opslog-killed.jsonl',
          { ...killed, pid: 999_999_999, host: 'elsewhere' },
          [at(NOW - 8 * MIN, move('b.bin', 'c.bin', 42)), at(NOW - 8 * MIN + 1, { filepath: 'd.bin' })],
          null,
        );
        const old = header({ pair, startedAtMs: NOW - 7 * MIN });
        const oldEnd = end({ endedAtMs: NOW - 6 * MIN });
        const { moved: _m, ...oldCounts } = oldEnd.counts;
        writeOpslog(t.dir, 'opslog-old.jsonl', old, [at(NOW - 7 * MIN, { filepath: 'e.bin' })], {
          ...oldEnd,
          counts: oldCounts as typeof oldEnd.counts,
        });
        const clock = new ManualClock(NOW + 3600_000);
        const later = await openAudit({ dsn: backend.dsn(), logDir: t.dir, log: captureLog().log, clock });
        try {
          expect(await later.flushPending()).toEqual({ flushed: 2, waiting: 0, corrupt: 0 });
        } finally {
          await later.close();
        }
        const its = await r.iterations({ pair, limit: 5 });
        const byStart = (ms: number) => its.find((i) => i.startedAt === new Date(ms).toISOString())!;
        expect(byStart(killed.startedAtMs)).toMatchObject({
          status: 'failed',
          filesMoved: 1,
          filesCreated: 1,
          totalBytesTransferred: 1000,
        });
        expect(byStart(old.startedAtMs)).toMatchObject({ filesMoved: 0, filesCreated: 0 });
        const oldOps = await r.operations(byStart(old.startedAtMs).id);
        expect(oldOps.map((o) => [o.operation, o.movedFrom, o.bytesNotCopied])).toEqual([
          ['create', null, null],
        ]);
      });
    } finally {
      t.remove();
    }
  });

  it('refuses a move without its old path, and an old path on another operation', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a) => {
        const rec = await a.beginRun(header({ pair: uniq('badmv') }));
        for (const bad of [
          { ...op(1), operation: 'move' as const },
          { ...op(1), operation: 'move' as const, movedFrom: '' },
          { ...op(1), operation: 'move' as const, movedFrom: op(1).filepath },
          { ...op(1), operation: 'move' as const, movedFrom: 'a', bytesNotCopied: -1 },
          { ...op(1), movedFrom: 'elsewhere.bin' },
          { ...op(1), operation: 'delete' as const, bytesNotCopied: 5 },
        ]) {
          await expect(rec.record(bad)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        }
        expect((await rec.finish(end())).flushed).toBe(true);
      });
    } finally {
      t.remove();
    }
  });

  it('gives the last dry-run keys of a move their old path', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a) => {
        const pair = uniq('drymv');
        await run(a, header({ pair, dryRun: true, startedAtMs: NOW - MIN }), [
          at(NOW - MIN, move('a.txt', 'b.txt', 3)),
          at(NOW - MIN + 1, { filepath: 'c.txt' }),
        ]);
        expect((await a.lastDryRun(pair, 'dell-to-hp'))?.ops).toEqual([
          { filepath: 'b.txt', operation: 'move', sizeBefore: 3, movedFrom: 'a.txt' },
          { filepath: 'c.txt', operation: 'create', sizeBefore: null },
        ]);
      });
    } finally {
      t.remove();
    }
  });

  it('follows a file back across a file move, a directory move and two moves in a row', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('hist');
        const other = uniq('hist');
        const t0 = NOW - 60 * MIN;
        const h = (min: number): IterationHeader => header({ pair, startedAtMs: t0 + min * MIN });
        await run(a, h(0), [
          at(t0 + 1000, { filepath: 'inbox/a.jpg', sizeAfter: 5 }),
          at(t0 + 2000, { filepath: 'photos/2019/b.jpg' }),
          at(t0 + 3000, { filepath: 'photos/2019/c.jpg' }),
          at(t0 + 4000, { filepath: 'n/one.txt' }),
        ]);
        await run(a, h(5), [
          at(t0 + 5 * MIN, { filepath: 'inbox/a.jpg', operation: 'update', sizeBefore: 5 }),
          // Another pair's rows of the old path are not this file's past.
          at(t0 + 5 * MIN + 1, { filepath: 'n/zero.txt' }),
        ]);
        await run(a, header({ pair: other, startedAtMs: t0 + 6 * MIN }), [
          at(t0 + 6 * MIN, { filepath: 'inbox/a.jpg' }),
        ]);
        await run(a, h(10), [
          at(t0 + 10 * MIN, move('inbox/a.jpg', 'sorted/a.jpg', 6)),
          at(t0 + 10 * MIN + 1, move('photos/2019', 'albums/2019', null, 2000)),
          at(t0 + 10 * MIN + 2, move('n/one.txt', 'n/two.txt', 1000)),
        ]);
        await run(a, h(20), [
          at(t0 + 20 * MIN, { filepath: 'sorted/a.jpg', operation: 'update', sizeBefore: 6 }),
          at(t0 + 20 * MIN + 1, move('n/two.txt', 'n/three.txt', 1000)),
          // A file that arrives in the moved directory later was never in the old one.
          at(t0 + 20 * MIN + 2, { filepath: 'albums/2019/new.jpg' }),
          // The old place gets a new file of the same name: not the moved file's past.
          at(t0 + 20 * MIN + 3, { filepath: 'inbox/a.jpg' }),
        ]);

        // A file move: the new path's rows, the move, then the old path's rows before it.
        const sorted = await r.fileHistory({ path: 'sorted/a.jpg', limit: 50 });
        expect(show(sorted)).toEqual([
          ['update', 'sorted/a.jpg', '', 'sorted/a.jpg'],
          ['move', 'sorted/a.jpg', 'inbox/a.jpg', 'sorted/a.jpg'],
          ['update', 'inbox/a.jpg', '', 'inbox/a.jpg'],
          ['create', 'inbox/a.jpg', '', 'inbox/a.jpg'],
        ]);
        expect(sorted[1]).toMatchObject({ bytesNotCopied: 6, syncPair: pair });
        expect(
          (await r.fileHistory({ path: 'sorted/a.jpg', pair, limit: 2 })).map((x) => x.operation),
        ).toEqual(['update', 'move']);

        // A directory move: the file's old path below the old directory.
        expect(show(await r.fileHistory({ path: 'albums/2019/b.jpg', limit: 50 }))).toEqual([
          ['move', 'albums/2019', 'photos/2019', 'albums/2019/b.jpg'],
          ['create', 'photos/2019/b.jpg', '', 'photos/2019/b.jpg'],
        ]);
        expect(show(await r.fileHistory({ path: 'albums/2019/new.jpg', limit: 50 }))).toEqual([
          ['create', 'albums/2019/new.jpg', '', 'albums/2019/new.jpg'],
        ]);
        // The directory's own history.
        expect(show(await r.fileHistory({ path: 'albums/2019', limit: 50 }))).toEqual([
          ['move', 'albums/2019', 'photos/2019', 'albums/2019'],
        ]);

        // Two moves in a row.
        expect(show(await r.fileHistory({ path: 'n/three.txt', limit: 50 }))).toEqual([
          ['move', 'n/three.txt', 'n/two.txt', 'n/three.txt'],
          ['move', 'n/two.txt', 'n/one.txt', 'n/two.txt'],
          ['create', 'n/one.txt', '', 'n/one.txt'],
        ]);

        // The old paths: their rows, ending with the move that took them away.
        expect(show(await r.fileHistory({ path: 'n/two.txt', limit: 50 }))).toEqual([
          ['move', 'n/three.txt', 'n/two.txt', 'n/two.txt'],
          ['move', 'n/two.txt', 'n/one.txt', 'n/two.txt'],
          ['create', 'n/one.txt', '', 'n/one.txt'],
        ]);
        expect(show(await r.fileHistory({ path: 'photos/2019/c.jpg', limit: 50 }))).toEqual([
          ['move', 'albums/2019', 'photos/2019', 'photos/2019/c.jpg'],
          ['create', 'photos/2019/c.jpg', '', 'photos/2019/c.jpg'],
        ]);
        const inbox = await r.fileHistory({ path: 'inbox/a.jpg', pair, limit: 50 });
        expect(show(inbox)).toEqual([
          ['create', 'inbox/a.jpg', '', 'inbox/a.jpg'],
          ['move', 'sorted/a.jpg', 'inbox/a.jpg', 'inbox/a.jpg'],
          ['update', 'inbox/a.jpg', '', 'inbox/a.jpg'],
          ['create', 'inbox/a.jpg', '', 'inbox/a.jpg'],
        ]);
        // Every pair: the other pair's row of the same path is there too (as before moves).
        expect((await r.fileHistory({ path: 'inbox/a.jpg', limit: 50 })).map((x) => x.syncPair)).toEqual([
          pair,
          pair,
          other,
          pair,
          pair,
        ]);
      });
    } finally {
      t.remove();
    }
  });

  it('stops on a cycle: a -> b -> a shows each row once, each move followed once', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('cyc');
        // All in one run at the same millisecond: only the ids order them.
        const ms = NOW - 5 * MIN;
        await run(a, header({ pair, startedAtMs: ms }), [
          at(ms, { filepath: 'a.txt' }),
          at(ms, move('a.txt', 'b.txt', 1000)),
          at(ms, move('b.txt', 'a.txt', 1000)),
          at(ms, move('a.txt', 'b.txt', 1000)),
        ]);
        expect(show(await r.fileHistory({ path: 'b.txt', pair, limit: 50 }))).toEqual([
          ['move', 'b.txt', 'a.txt', 'b.txt'],
          ['move', 'a.txt', 'b.txt', 'b.txt'],
          ['move', 'b.txt', 'a.txt', 'b.txt'],
          ['create', 'a.txt', '', 'a.txt'],
        ]);
        const hist = await r.fileHistory({ path: 'a.txt', pair, limit: 50 });
        expect(new Set(hist.map((x) => x.id)).size).toBe(4);
        expect(hist[0]).toMatchObject({ operation: 'move', filepath: 'b.txt', movedFrom: 'a.txt' });
      });
    } finally {
      t.remove();
    }
  });
});

describe('a history lookup on SQLite', () => {
  it('is one index lookup per term, never a scan, with or without a pair and a time', async () => {
    const t = tempDir();
    try {
      const reader = await openAuditReader({ dsn: undefined, logDir: t.dir, log: captureLog().log });
      await reader.ping();
      await reader.close();
      const db = openSqlite(sqlitePath(t.dir), { busyTimeoutMs: 1000 });
      try {
        const path = 'albums/2019/a.jpg';
        for (const step of [
          { path, keys: historyKeys(path), before: null },
          {
            path,
            keys: historyKeys(path),
            pair: 'p',
            before: { startedAt: new Date(NOW).toISOString(), id: 9 },
          },
        ]) {
          const terms = historyTerms(step.keys, { kept: true, moved: true });
          const f = stepFilter(step, true);
          const sql = `EXPLAIN QUERY PLAN SELECT ${historyColumns()} FROM ${HISTORY_FROM} WHERE (${terms.map((x) => `(${x.sql})`).join(' OR ')})${f.sql} ORDER BY o.started_at DESC, o.id DESC LIMIT 10`;
          const plan = (
            db.prepare(sql).all(...terms.flatMap((x) => x.params), ...f.params) as { detail: string }[]
          )
            .map((p) => p.detail)
            .join('\n');
          expect(plan).toContain('MULTI-INDEX OR');
          expect(plan).toContain('idx_moved_from');
          expect(plan).not.toMatch(/\bSCAN\b/);
        }
      } finally {
        db.close();
      }
    } finally {
      t.remove();
    }
  });
});

describe('a MariaDB database the seed schema created', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    // The seed's tables (operation ENUM without 'move', none of the added columns), rows in them.
    for (const ddl of MYSQL_TABLES.slice(0, 2)) await db.query(ddl);
    await db.query(
      "INSERT INTO sync_iterations (id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run, files_created) VALUES (7, 'media', 'dell-to-hp', '/mnt/dell/m', '/mnt/hp/m', '2026-01-01 00:00:00.001', '2026-01-01 00:01:00.000', 'success', 0, 2)",
    );
    await db.query(
      "INSERT INTO sync_operations (id, iteration_id, dry_run, operation, filepath, size_before, size_after, started_at, status) VALUES (40, 7, 0, 'create', 'films/a.mkv', NULL, 6, '2026-01-01 00:00:10.000', 'success'), (41, 7, 0, 'delete', 'films/b.mkv', 3, NULL, '2026-01-01 00:00:11.000', 'success')",
    );
  });
  afterAll(() => db.drop());

  const opColumn = async (): Promise<Record<string, unknown>> =>
    (
      await db.query(
        "SELECT COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS coll, ORDINAL_POSITION AS pos FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations' AND COLUMN_NAME = 'operation'",
      )
    )[0]!;
  const columns = async (table: string): Promise<string[]> =>
    (
      await db.query(
        'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
        [table],
      )
    ).map((c) => String(c.name));

  it('is read before a writer migrates it, then migrated in place on open, rows and ids kept, once', async () => {
    const t = tempDir();
    const { log } = captureLog();
    const before = await opColumn();
    expect(before).toMatchObject({ type: "enum('create','update','delete')", nullable: 'NO' });
    const itCols = await columns('sync_iterations');
    const r = await openAuditReader({ dsn: db.urlDsn, logDir: t.dir, log });
    try {
      // The dashboard first: every read answers on the seed's tables (no moves there).
      expect((await r.iterations({ limit: 5 })).map((i) => [i.id, i.filesCreated, i.filesMoved])).toEqual([
        [7, 2, 0],
      ]);
      expect((await r.pairs())[0]?.lastReal?.filesMoved).toBe(0);
      expect((await r.operations(7)).map((o) => [o.id, o.operation, o.movedFrom, o.bytesNotCopied])).toEqual([
        [40, 'create', null, null],
        [41, 'delete', null, null],
      ]);
      expect((await r.fileHistory({ path: 'films/a.mkv', limit: 5 })).map((h) => h.id)).toEqual([40]);

      const a = await openAudit({ dsn: db.dsn, logDir: t.dir, log });
      let id: number;
      try {
        const h = header({ pair: 'media', startedAtMs: Date.UTC(2026, 11, 5) });
        id = await run(a, h, [op(1, move('films/a.mkv', 'films/old/a.mkv', 6))], 1);
      } finally {
        await a.close();
      }
      const after = await opColumn();
      expect(after).toEqual({ ...before, type: "enum('create','update','delete','move')" });
      expect(await columns('sync_iterations')).toEqual([...itCols, 'files_moved']);
      expect((await columns('sync_operations')).slice(-2)).toEqual(['moved_from', 'bytes_not_copied']);
      const idx = await db.query(
        "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations'",
      );
      expect(idx.map((i) => i.name)).toContain('idx_moved_from');
      expect(
        await db.query(
          'SELECT id, iteration_id, operation, filepath, moved_from, bytes_not_copied FROM sync_operations ORDER BY id',
        ),
      ).toEqual([
        {
          id: 40,
          iteration_id: 7,
          operation: 'create',
          filepath: 'films/a.mkv',
          moved_from: null,
          bytes_not_copied: null,
        },
        {
          id: 41,
          iteration_id: 7,
          operation: 'delete',
          filepath: 'films/b.mkv',
          moved_from: null,
          bytes_not_copied: null,
        },
        {
          id: 42,
          iteration_id: id,
          operation: 'move',
          filepath: 'films/old/a.mkv',
          moved_from: 'films/a.mkv',
          bytes_not_copied: 6,
        },
      ]);
      expect(await db.query('SELECT id, files_moved FROM sync_iterations ORDER BY id')).toEqual([
        { id: 7, files_moved: 0 },
        { id, files_moved: 1 },
      ]);
      // The reader sees the migration at once, and the history follows the move.
      expect((await r.fileHistory({ path: 'films/old/a.mkv', limit: 5 })).map((h) => h.id)).toEqual([42, 40]);

      // Opening again changes nothing.
      const schema = async () => [
        await opColumn(),
        await columns('sync_operations'),
        await columns('sync_iterations'),
      ];
      const once = await schema();
      const a2 = await openAudit({ dsn: db.dsn, logDir: t.dir, log });
      try {
        await run(a2, header({ pair: 'media' }), []);
      } finally {
        await a2.close();
      }
      expect(await schema()).toEqual(once);
    } finally {
      await r.close();
      t.remove();
    }
  });
});

describe('a MariaDB database an older ha-sync created (kept columns, no moves)', () => {
  it('lists its conflicts and histories before a writer of this version migrates it', async () => {
    const db = await createTestDatabase();
    const t = tempDir();
    const { log } = captureLog();
    try {
      for (const ddl of MYSQL_TABLES) await db.query(ddl);
      for (const [table, column, type] of EXTRA_COLUMNS.filter((c) => /^(kept|owner)_/.test(c[1]))) {
        await db.query(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
      await db.query(
        "INSERT INTO sync_iterations (id, sync_pair, direction, src, dest, started_at, status, dry_run) VALUES (1, 'media', 'dell-to-hp', '/a', '/b', '2026-12-08 11:00:00.000', 'success', 0)",
      );
      await db.query(
        "INSERT INTO sync_operations (id, iteration_id, operation, filepath, started_at, status, kept_path, kept_kind) VALUES (1, 1, 'update', 'a.txt', '2026-12-08 11:00:01.000', 'success', 'a.sync-conflict-20261208-110001-hp.txt', 'conflict')",
      );
      const r = await openAuditReader({ dsn: db.urlDsn, logDir: t.dir, log });
      try {
        const c = await r.conflicts({ since: new Date(NOW - 24 * 3600_000), limit: 5 });
        expect(c.counts).toEqual([{ pair: 'media', conflicts: 1 }]);
        expect(c.rows.map((x) => [x.keptKind, x.movedFrom])).toEqual([['conflict', null]]);
        expect((await r.fileHistory({ path: 'a.txt', limit: 5 })).map((x) => x.keptKind)).toEqual([
          'conflict',
        ]);
        expect((await r.operations(1))[0]).toMatchObject({ keptKind: 'conflict', movedFrom: null });
      } finally {
        await r.close();
      }
    } finally {
      t.remove();
      await db.drop();
    }
  });
});

describe('an SQLite file the seed schema created', () => {
  it('is rebuilt once with a CHECK that admits move, every row and id kept', async () => {
    const t = tempDir();
    const { log } = captureLog();
    try {
      const file = sqlitePath(t.dir);
      const old = openSqlite(file, { busyTimeoutMs: 1000 });
      old.exec(SQLITE_SCHEMA.slice(0, SQLITE_SCHEMA.indexOf('CREATE TABLE IF NOT EXISTS sync_flushes')));
      // Someone's own column: carried over, never dropped.
      old.exec('ALTER TABLE sync_operations ADD COLUMN note TEXT');
      old.exec(
        "INSERT INTO sync_iterations (id, sync_pair, direction, src, dest, started_at, status, dry_run) VALUES (3, 'media', 'dell-to-hp', '/a', '/b', '2026-01-01 00:00:00.001', 'success', 0)",
      );
      old.exec(
        "INSERT INTO sync_operations (id, iteration_id, operation, filepath, size_after, started_at, status, note) VALUES (5, 3, 'create', 'x.txt', 4, '2026-01-01 00:00:01.000', 'success', 'mine'), (6, 3, 'update', 'y.txt', 5, '2026-01-01 00:00:02.000', 'fail', NULL), (9, 3, 'delete', 'z.txt', NULL, '2026-01-01 00:00:03.000', 'success', NULL)",
      );
      // The last id was used once and deleted: AUTOINCREMENT never hands it out again.
      old.exec('DELETE FROM sync_operations WHERE id = 9');
      expect(() =>
        old.exec(
          "INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status) VALUES (3, 'move', 'm', '2026-01-01 00:00:04.000', 'success')",
        ),
      ).toThrow(/CHECK/);
      const rows = (db: typeof old) =>
        db
          .prepare(
            'SELECT id, iteration_id, dry_run, operation, filepath, size_before, size_after, started_at, status, note FROM sync_operations WHERE id < 10 ORDER BY id',
          )
          .all();
      const before = rows(old);
      expect(before).toHaveLength(2);
      old.close();

      const sqls: string[] = [];
      for (let i = 0; i < 2; i++) {
        const a = await openAudit({ dsn: undefined, logDir: t.dir, log });
        try {
          await run(
            a,
            header({ pair: 'media', startedAtMs: NOW + i }),
            [op(1, move(i === 0 ? 'x.txt' : 'x-0.txt', `x-${i}.txt`, 4))],
            1,
          );
        } finally {
          await a.close();
        }
        const db = openSqlite(file, { busyTimeoutMs: 1000 });
        try {
          sqls.push(
            String(
              (
                db.prepare("SELECT sql FROM sqlite_master WHERE name = 'sync_operations'").get() as {
                  sql: string;
                }
              ).sql,
            ),
          );
        } finally {
          db.close();
        }
      }
      // Rebuilt by the first open only.
      expect(sqls[1]).toBe(sqls[0]);
      expect(sqls[0]).toContain("CHECK (operation IN ('create','update','delete','move'))");
      const db = openSqlite(file, { busyTimeoutMs: 1000 });
      try {
        expect(rows(db)).toEqual(before);
        expect(
          db
            .prepare(
              'SELECT id, operation, filepath, moved_from, bytes_not_copied FROM sync_operations WHERE id >= 10 ORDER BY id',
            )
            .all(),
        ).toEqual([
          { id: 10, operation: 'move', filepath: 'x-0.txt', moved_from: 'x.txt', bytes_not_copied: 4 },
          { id: 11, operation: 'move', filepath: 'x-1.txt', moved_from: 'x-0.txt', bytes_not_copied: 4 },
        ]);
        expect(db.prepare('SELECT files_moved FROM sync_iterations ORDER BY id').all()).toEqual([
          { files_moved: 0 },
          { files_moved: 1 },
          { files_moved: 1 },
        ]);
        const cols = (db.prepare('PRAGMA table_info(sync_operations)').all() as { name: string }[]).map(
          (c) => c.name,
        );
        expect(cols.slice(-7)).toEqual([
          'kept_path',
          'kept_kind',
          'owner_before',
          'owner_after',
          'moved_from',
          'bytes_not_copied',
          'note',
        ]);
        const idx = (
          db
            .prepare(
              "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sync_operations' ORDER BY name",
            )
            .all() as { name: string }[]
        ).map((i) => i.name);
        expect(idx).toEqual(
          expect.arrayContaining([
            'idx_filepath',
            'idx_iteration',
            'idx_kept_kind_started',
            'idx_kept_path',
            'idx_moved_from',
          ]),
        );
        // The other CHECKs and the foreign key are still there.
        expect(() =>
          db.exec(
            "INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status) VALUES (3, 'rename', 'm', '2026-01-01 00:00:04.000', 'success')",
          ),
        ).toThrow(/CHECK/);
        db.exec('PRAGMA foreign_keys = ON');
        expect(() =>
          db.exec(
            "INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status) VALUES (999, 'move', 'm', '2026-01-01 00:00:04.000', 'success')",
          ),
        ).toThrow(/FOREIGN KEY/);
      } finally {
        db.close();
      }
      const r = await openAuditReader({ dsn: undefined, logDir: t.dir, log });
      try {
        expect((await r.fileHistory({ path: 'x-1.txt', limit: 10 })).map((h) => h.id)).toEqual([11, 10, 5]);
      } finally {
        await r.close();
      }
    } finally {
      t.remove();
    }
  });
});
