// Kept versions and conflict copies in the audit, against BOTH stores (a fresh MariaDB database for
// this file, and the embedded SQLite file): the kept columns round trip through opslog and flush
// exactly once, opslog lines from before still flush, the file history and conflict lists find
// what they should and nothing else, the versions-area state is one row per pair and side, and a
// database the old schema created is migrated in place with its rows and seed columns unchanged.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  openAudit,
  openAuditReader,
  openSqlite,
  sqlitePath,
  type Audit,
  type AuditReader,
  type IterationHeader,
  type OpRecord,
} from '../src/audit/index.js';
import { MYSQL_TABLES, SQLITE_SCHEMA } from '../src/audit/schema.js';
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

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const DAY = 86_400_000;
const uniq = (p: string): string => `${p}-${Math.random().toString(36).slice(2, 8)}`;

interface Backend {
  name: 'mysql' | 'sqlite';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  dsn(): string | undefined;
  /** A DSN whose store cannot be reached, for audits on `dir`. */
  down(dir: string): Promise<string | undefined>;
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
    down: async () => `root:@tcp(127.0.0.1:${await closedPort()})/${db!.name}`,
  };
}

function sqliteBackend(): Backend {
  return {
    name: 'sqlite',
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
    dsn: () => undefined,
    // A directory where the database file should be: it cannot be opened, like a down server.
    down: async (dir) => {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(sqlitePath(dir));
      return undefined;
    },
  };
}

/** One finished run with these ops; returns its iteration id. */
async function run(a: Audit, h: IterationHeader, ops: OpRecord[]): Promise<number> {
  const r = await a.beginRun(h);
  for (const o of ops) await r.record(o);
  const res = await r.finish(end({ endedAtMs: h.startedAtMs + 60_000 }));
  expect(res.flushed).toBe(true);
  return res.iterationId!;
}

const at = (ms: number, over: Partial<OpRecord>): OpRecord =>
  op(0, { startedAtMs: ms, endedAtMs: ms + 5, ...over });

const kept = (keptPath: string, keptKind: 'version' | 'conflict'): Partial<OpRecord> => ({
  operation: 'update',
  sizeBefore: 10,
  keptPath,
  keptKind,
});

describe.each([mysqlBackend(), sqliteBackend()])('kept versions in the audit: $name', (backend) => {
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

  it('records where the replaced version went, once, and flushes opslog lines from before as nothing kept', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('kept');
        const h = header({ pair, startedAtMs: NOW - 60_000 });
        const id = await run(a, h, [
          at(NOW - 50_000, kept('.ha-sync/versions/photos/a~20261205-115910.jpg', 'version')),
          at(NOW - 49_000, kept("photos/it's.sync-conflict-20261205-115911-hp.txt", 'conflict')),
          at(NOW - 48_000, { filepath: 'photos/new.jpg' }),
        ]);
        const ops = await r.operations(id);
        expect(ops.map((o) => [o.operation, o.keptKind, o.keptPath])).toEqual([
          ['update', 'version', '.ha-sync/versions/photos/a~20261205-115910.jpg'],
          ['update', 'conflict', "photos/it's.sync-conflict-20261205-115911-hp.txt"],
          ['create', null, null],
        ]);

        // An opslog a run of the previous version left: its op lines have no kept fields.
        const old = header({ pair, startedAtMs: NOW - 30_000 });
        const legacyOp = { ...op(7) } as Record<string, unknown>;
        expect('keptPath' in legacyOp).toBe(false);
        writeOpslog(t.dir, 'opslog-old.jsonl', old, [op(7), op(8)], end({ endedAtMs: NOW - 20_000 }));
        expect(await a.flushPending()).toEqual({ flushed: 1, waiting: 0, corrupt: 0 });
        expect(await a.flushPending()).toEqual({ flushed: 0, waiting: 0, corrupt: 0 });
        const its = await r.iterations({ pair, limit: 10 });
        expect(its).toHaveLength(2);
        const flushed = await r.operations(its[0]!.id);
        expect(flushed.map((o) => [o.filepath, o.keptPath, o.keptKind])).toEqual([
          ['dir/file-7.bin', null, null],
          ['dir/file-8.bin', null, null],
        ]);
        expect(readdirSync(t.dir).filter((n) => n.startsWith('opslog-'))).toEqual([]);
      });
    } finally {
      t.remove();
    }
  });

  it('rejects a kept path without its kind instead of writing a line that reads back corrupt', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a) => {
        const r = await a.beginRun(header({ pair: uniq('badkept') }));
        await expect(r.record({ ...op(1), keptPath: 'x~1.txt' })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
        await expect(
          r.record({ ...op(1), keptPath: 'x', keptKind: 'backup' as 'version' }),
        ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        expect((await r.finish(end())).flushed).toBe(true);
      });
    } finally {
      t.remove();
    }
  });

  it('finds every copy, update, delete, conflict and kept version of a path, newest first, and nothing else', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('hist');
        const other = uniq('hist');
        const fwd = header({
          pair,
          direction: 'hp-to-dell',
          src: '/mnt/hp/p',
          dest: '/mnt/dell/p',
          startedAtMs: NOW - 10 * 60_000,
        });
        const back = header({
          pair,
          direction: 'dell-to-hp',
          src: '/mnt/dell/p',
          dest: '/mnt/hp/p',
          startedAtMs: NOW - 9 * 60_000,
        });
        const path = 'docs/100%_report.txt';
        const conflictCopy = 'docs/100%_report.sync-conflict-20261205-115000-dell.txt';
        const t0 = NOW - 10 * 60_000;
        await run(a, fwd, [
          at(t0 + 1000, { filepath: path, sizeAfter: 5 }),
          at(t0 + 2000, {
            filepath: path,
            ...kept('.ha-sync/versions/docs/100%_report~20261205-115002.txt', 'version'),
          }),
          at(t0 + 3000, { filepath: path, ...kept(conflictCopy, 'conflict') }),
          // Neighbours that share a prefix, or would match a LIKE pattern, or differ by a space.
          at(t0 + 3100, { filepath: 'docs/100X_report.txt' }),
          at(t0 + 3200, { filepath: `${path} ` }),
          at(t0 + 3300, { filepath: 'docs/100%_report.txt.bak' }),
          at(t0 + 3400, { filepath: 'docs/100%_report.sync-conflict-notes.txt' }),
          at(t0 + 3500, {
            filepath: 'docs/100%_report-old.txt',
            ...kept('.ha-sync/versions/docs/100%_report-old~20261205-115003.txt', 'version'),
          }),
        ]);
        await run(a, back, [
          at(t0 + 61_000, { filepath: conflictCopy }),
          at(t0 + 62_000, {
            filepath: conflictCopy,
            operation: 'delete',
            sizeBefore: 3,
            sizeAfter: null,
            keptPath:
              '.ha-sync/versions/docs/100%_report.sync-conflict-20261205-115000-dell~20261205-115102-1.txt',
            keptKind: 'version',
          }),
        ]);
        await run(a, header({ pair: other, startedAtMs: NOW - 8 * 60_000 }), [
          at(t0 + 120_000, { filepath: path }),
        ]);

        const hist = await r.fileHistory({ path, limit: 50 });
        expect(
          hist.map((h) => [h.syncPair === pair ? 'p' : 'o', h.filepath, h.operation, h.keptKind]),
        ).toEqual([
          ['o', path, 'create', null],
          ['p', conflictCopy, 'delete', 'version'],
          ['p', conflictCopy, 'create', null],
          ['p', path, 'update', 'conflict'],
          ['p', path, 'update', 'version'],
          ['p', path, 'create', null],
        ]);
        // Each row carries its iteration, so the root the kept path is relative to is known.
        expect(hist[1]).toMatchObject({ direction: 'dell-to-hp', dest: '/mnt/hp/p', src: '/mnt/dell/p' });
        expect(hist[4]).toMatchObject({ direction: 'hp-to-dell', dest: '/mnt/dell/p', dryRun: false });
        expect((await r.fileHistory({ path, pair, limit: 50 })).map((h) => h.syncPair)).toEqual(
          Array(5).fill(pair),
        );
        expect(await r.fileHistory({ path, limit: 2 })).toHaveLength(2);
        // The conflict copy's own history, and a search by a kept version's path.
        expect((await r.fileHistory({ path: conflictCopy, limit: 50 })).map((h) => h.operation)).toEqual([
          'delete',
          'create',
          'update',
        ]);
        const v = '.ha-sync/versions/docs/100%_report~20261205-115002.txt';
        expect((await r.fileHistory({ path: v, limit: 50 })).map((h) => h.keptPath)).toEqual([v]);
        expect(await r.fileHistory({ path: 'docs/nothing.txt', limit: 50 })).toEqual([]);
      });
    } finally {
      t.remove();
    }
  });

  it('lists the conflicts of the last days per pair, real runs only, newest first', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const p1 = uniq('conf');
        const p2 = uniq('conf');
        const c = (name: string): Partial<OpRecord> =>
          kept(`${name}.sync-conflict-20261201-000000-hp.txt`, 'conflict');
        await run(a, header({ pair: p1, startedAtMs: NOW - 10 * DAY }), [at(NOW - 10 * DAY, c('old'))]);
        await run(a, header({ pair: p1, startedAtMs: NOW - 2 * DAY }), [
          at(NOW - 2 * DAY, c('a')),
          at(NOW - 2 * DAY + 1000, c('b')),
          at(NOW - 2 * DAY + 2000, kept('.ha-sync/versions/c~20261203-120002.txt', 'version')),
        ]);
        await run(a, header({ pair: p1, startedAtMs: NOW - DAY, dryRun: true }), [at(NOW - DAY, c('dry'))]);
        await run(a, header({ pair: p2, startedAtMs: NOW - 3600_000 }), [at(NOW - 3600_000, c('z'))]);

        const since = new Date(NOW - 7 * DAY);
        const all = await r.conflicts({ since, limit: 100 });
        const mine = all.counts.filter((x) => x.pair === p1 || x.pair === p2);
        expect(mine).toEqual(
          [
            { pair: p1, conflicts: 2 },
            { pair: p2, conflicts: 1 },
          ].sort((x, y) => (x.pair < y.pair ? -1 : 1)),
        );
        const one = await r.conflicts({ since, limit: 100, pair: p1 });
        expect(one.counts).toEqual([{ pair: p1, conflicts: 2 }]);
        expect(one.rows.map((x) => x.keptPath)).toEqual([
          'b.sync-conflict-20261201-000000-hp.txt',
          'a.sync-conflict-20261201-000000-hp.txt',
        ]);
        expect(one.rows[0]).toMatchObject({
          syncPair: p1,
          keptKind: 'conflict',
          dryRun: false,
          dest: '/mnt/hp/media',
        });
        expect((await r.conflicts({ since, limit: 1, pair: p1 })).rows).toHaveLength(1);
        expect((await r.conflicts({ since: new Date(NOW - 11 * DAY), limit: 100, pair: p1 })).counts).toEqual(
          [{ pair: p1, conflicts: 3 }],
        );
      });
    } finally {
      t.remove();
    }
  });

  it('keeps one versions-area row per pair and side, replaced by each expiry pass', async () => {
    const t = tempDir();
    try {
      await withAudit(t.dir, async (a, r) => {
        const pair = uniq('vers');
        await a.recordVersionsState(pair, 'hp', '/mnt/hp/p', {
          files: 3,
          bytes: 300,
          oldestMs: NOW - 5 * DAY,
        });
        await a.recordVersionsState(pair, 'dell', '/mnt/dell/p', { files: 0, bytes: 0, oldestMs: null });
        await a.recordVersionsState(pair, 'hp', '/mnt/hp/p2', {
          files: 2,
          bytes: 9_000_000_000,
          oldestMs: NOW - DAY,
        });
        expect(await r.versionsState(pair)).toEqual([
          {
            pair,
            sideLabel: 'dell',
            root: '/mnt/dell/p',
            files: 0,
            bytes: 0,
            oldestAt: null,
            updatedAt: new Date(NOW).toISOString(),
          },
          {
            pair,
            sideLabel: 'hp',
            root: '/mnt/hp/p2',
            files: 2,
            bytes: 9_000_000_000,
            oldestAt: new Date(NOW - DAY).toISOString(),
            updatedAt: new Date(NOW).toISOString(),
          },
        ]);
        expect((await r.versionsState()).filter((v) => v.pair === pair)).toHaveLength(2);
        for (const bad of [
          { files: -1, bytes: 0, oldestMs: null },
          { files: 1.5, bytes: 0, oldestMs: null },
          { files: 1, bytes: 0, oldestMs: Number.NaN },
        ]) {
          await expect(a.recordVersionsState(pair, 'hp', '/r', bad)).rejects.toMatchObject({
            code: 'INVALID_INPUT',
          });
        }
        await expect(
          a.recordVersionsState('', 'hp', '/r', { files: 0, bytes: 0, oldestMs: null }),
        ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      });
    } finally {
      t.remove();
    }
  });

  it('a store that is down fails recordVersionsState with AUDIT_UNAVAILABLE (the caller carries on)', async () => {
    const t = tempDir();
    try {
      const dsn = await backend.down(t.dir);
      const a = await openAudit({ dsn, logDir: t.dir, log: captureLog().log, connectTimeoutMs: 500 });
      try {
        await expect(
          a.recordVersionsState('p', 'hp', '/r', { files: 0, bytes: 0, oldestMs: null }),
        ).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      } finally {
        await a.close();
      }
    } finally {
      t.remove();
    }
  });
});

describe('a MariaDB database the old schema created', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    // The seed's tables as an earlier ha-sync created them: the same DDL, which never had the kept
    // columns (they only come from the migration step), and a row in each.
    for (const ddl of MYSQL_TABLES.slice(0, 3)) await db.query(ddl);
    await db.query(
      "INSERT INTO sync_iterations (id, sync_pair, direction, src, dest, started_at, ended_at, status, dry_run) VALUES (1, 'media', 'dell-to-hp', '/mnt/dell/m', '/mnt/hp/m', '2026-01-01 00:00:00.001', '2026-01-01 00:01:00.000', 'success', 0)",
    );
    await db.query(
      "INSERT INTO sync_operations (iteration_id, dry_run, operation, filepath, size_before, size_after, started_at, status) VALUES (1, 0, 'update', 'films/a.mkv', 5, 6, '2026-01-01 00:00:10.000', 'success')",
    );
  });
  afterAll(() => db.drop());

  const columns = async (): Promise<Record<string, unknown>[]> =>
    db.query(
      "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations' ORDER BY ORDINAL_POSITION",
    );

  it('is read as nothing kept before a writer migrates it, then migrated in place, once', async () => {
    const t = tempDir();
    const { log } = captureLog();
    const before = await columns();
    expect(before.map((c) => c.name)).not.toContain('kept_path');
    const r = await openAuditReader({ dsn: db.urlDsn, logDir: t.dir, log });
    try {
      // The dashboard first (read-only account): every query answers on the old table.
      expect((await r.operations(1)).map((o) => [o.filepath, o.keptPath, o.keptKind])).toEqual([
        ['films/a.mkv', null, null],
      ]);
      expect(await r.conflicts({ since: new Date(0), limit: 10 })).toEqual({ counts: [], rows: [] });
      expect((await r.fileHistory({ path: 'films/a.mkv', limit: 10 })).map((h) => h.dest)).toEqual([
        '/mnt/hp/m',
      ]);
      expect(await r.versionsState()).toEqual([]);
      expect((await columns()).map((c) => c.name)).not.toContain('kept_path');

      // Two writers start at once: both migrate, neither fails.
      const [a1, a2] = await Promise.all([
        openAudit({ dsn: db.dsn, logDir: t.dir, log }),
        openAudit({ dsn: db.dsn, logDir: t.dir, log }),
      ]);
      try {
        const h = header({ pair: 'media', startedAtMs: Date.UTC(2026, 11, 5) });
        const [id] = await Promise.all([
          run(a1, h, [
            op(1, {
              ...kept('.ha-sync/versions/films/a~20261205-000000.mkv', 'version'),
              filepath: 'films/a.mkv',
            }),
          ]),
          a2.recordVersionsState('media', 'hp', '/mnt/hp/m', {
            files: 1,
            bytes: 5,
            oldestMs: Date.UTC(2026, 11, 5),
          }),
        ]);
        const after = await columns();
        // The seed's columns exactly as they were, in their places (operation gained 'move'); the
        // new ones at the end.
        expect(after.slice(0, before.length)).toEqual(
          before.map((c) =>
            c.name === 'operation' ? { ...c, type: "enum('create','update','delete','move')" } : c,
          ),
        );
        expect(after.slice(before.length)).toEqual([
          { name: 'kept_path', type: 'varchar(4096)', nullable: 'YES' },
          { name: 'kept_kind', type: "enum('version','conflict')", nullable: 'YES' },
          { name: 'owner_before', type: 'varchar(32)', nullable: 'YES' },
          { name: 'owner_after', type: 'varchar(32)', nullable: 'YES' },
          { name: 'moved_from', type: 'text', nullable: 'YES' },
          { name: 'bytes_not_copied', type: expect.stringMatching(/^bigint/), nullable: 'YES' },
        ]);
        const idx = await db.query(
          "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_operations' ORDER BY INDEX_NAME",
        );
        expect(idx.map((i) => i.name)).toEqual(
          expect.arrayContaining(['idx_filepath', 'idx_kept_path', 'idx_kept_kind_started', 'idx_iteration']),
        );
        expect(
          await db.query('SELECT operation, filepath, kept_path, kept_kind FROM sync_operations ORDER BY id'),
        ).toEqual([
          { operation: 'update', filepath: 'films/a.mkv', kept_path: null, kept_kind: null },
          {
            operation: 'update',
            filepath: 'films/a.mkv',
            kept_path: '.ha-sync/versions/films/a~20261205-000000.mkv',
            kept_kind: 'version',
          },
        ]);
        expect((await r.operations(id)).map((o) => o.keptKind)).toEqual(['version']);
        expect((await r.fileHistory({ path: 'films/a.mkv', limit: 10 })).map((h) => h.keptKind)).toEqual([
          'version',
          null,
        ]);
      } finally {
        await a1.close();
        await a2.close();
      }
      // A third start finds everything in place and changes nothing.
      const a3 = await openAudit({ dsn: db.dsn, logDir: t.dir, log });
      try {
        await run(a3, header({ pair: 'media' }), []);
      } finally {
        await a3.close();
      }
      expect((await columns()).length).toBe(before.length + 6);
    } finally {
      await r.close();
      t.remove();
    }
  });
});

describe('an SQLite file the old schema created', () => {
  it('gains the kept columns in place, once, its rows unchanged', async () => {
    const t = tempDir();
    const { log } = captureLog();
    try {
      const file = sqlitePath(t.dir);
      // The old file: the seed's tables (the same DDL; the kept columns come only from the
      // migration), without the versions-state table, and one operation.
      const old = openSqlite(file, { busyTimeoutMs: 1000 });
      old.exec(
        SQLITE_SCHEMA.slice(0, SQLITE_SCHEMA.indexOf('CREATE TABLE IF NOT EXISTS sync_versions_state')),
      );
      old.exec(
        "INSERT INTO sync_iterations (id, sync_pair, direction, src, dest, started_at, status, dry_run) VALUES (1, 'media', 'dell-to-hp', '/a', '/b', '2026-01-01 00:00:00.001', 'success', 0)",
      );
      old.exec(
        "INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status) VALUES (1, 'delete', 'x.txt', '2026-01-01 00:00:01.000', 'success')",
      );
      const cols = (): string[] =>
        (old.prepare('PRAGMA table_info(sync_operations)').all() as { name: string }[]).map((c) => c.name);
      const before = cols();
      expect(before).not.toContain('kept_path');
      old.close();

      for (let i = 0; i < 2; i++) {
        const a = await openAudit({ dsn: undefined, logDir: t.dir, log });
        try {
          await run(a, header({ pair: 'media' }), [
            op(1, kept('.ha-sync/versions/x~20261205-000000.txt', 'version')),
          ]);
          await a.recordVersionsState('media', 'hp', '/b', { files: 1, bytes: 2, oldestMs: null });
        } finally {
          await a.close();
        }
      }
      const db = openSqlite(file, { busyTimeoutMs: 1000 });
      try {
        const after = (db.prepare('PRAGMA table_info(sync_operations)').all() as { name: string }[]).map(
          (c) => c.name,
        );
        expect(after).toEqual([
          ...before,
          'kept_path',
          'kept_kind',
          'owner_before',
          'owner_after',
          'moved_from',
          'bytes_not_copied',
        ]);
        expect(
          db.prepare('SELECT filepath, kept_path, kept_kind FROM sync_operations ORDER BY id').all(),
        ).toEqual([
          { filepath: 'x.txt', kept_path: null, kept_kind: null },
          {
            filepath: 'dir/file-1.bin',
            kept_path: '.ha-sync/versions/x~20261205-000000.txt',
            kept_kind: 'version',
          },
          {
            filepath: 'dir/file-1.bin',
            kept_path: '.ha-sync/versions/x~20261205-000000.txt',
            kept_kind: 'version',
          },
        ]);
        expect(() =>
          db.exec(
            "INSERT INTO sync_operations (iteration_id, operation, filepath, started_at, status, kept_path, kept_kind) VALUES (1, 'update', 'y', '2026-01-01 00:00:01.000', 'success', 'y~1', 'backup')",
          ),
        ).toThrow(/CHECK/);
      } finally {
        db.close();
      }
    } finally {
      t.remove();
    }
  });
});
