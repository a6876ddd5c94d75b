// The dashboard's kept-versions routes (conflicts, versions area, file history) through
// app.inject(), against both stores: the embedded SQLite file and a MariaDB database of its own
// (dropped afterwards), seeded through the audit module's writing API.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import { createTestDatabase } from './audit.helpers.js';
import {
  HOSTILE_NAME,
  KEPT_CONFLICT,
  KEPT_DELETED,
  KEPT_PATH,
  KEPT_VERSION,
  seedHistory,
  seedKept,
} from './ui-seed.js';

const log = createLogger({ silent: true });
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const schedule = { defaultMinutes: 15, perPairMinutes: {} };

describe.each(['sqlite', 'mysql'] as const)('kept versions on the dashboard: %s', (kind) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let dir: string;
  let audit: Audit;
  let reader: AuditReader;
  let app: FastifyInstance;
  let ids: Record<string, number>;

  beforeAll(async () => {
    if (kind === 'mysql') db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-kept-'));
    audit = await openAudit({ dsn: db?.dsn, logDir: dir, log, clock: new ManualClock(NOW) });
    await seedHistory(audit, NOW);
    ids = await seedKept(audit, NOW);
    reader = await openAuditReader({ dsn: db?.dsn, logDir: dir, log });
    app = buildApp({ reader, clock: new ManualClock(NOW), schedule });
  });

  afterAll(async () => {
    await app?.close();
    await reader?.close();
    await audit?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function get(url: string) {
    const res = await app.inject(url);
    expect(res.statusCode, url).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    return res.json();
  }

  it('GET /api/conflicts: per pair, the last 7 days by default, newest first', async () => {
    const body = await get('/api/conflicts');
    expect(body.generatedAt).toBe(new Date(NOW).toISOString());
    expect(body.days).toBe(7);
    expect(body.since).toBe(new Date(NOW - 7 * 86_400_000).toISOString());
    expect(body.counts).toEqual([
      { pair: 'media', conflicts: 1 },
      { pair: 'photos', conflicts: 1 },
    ]);
    expect(body.conflicts.map((c: { id: number; iterationId: number }) => c.iterationId)).toEqual([
      ids.hostileConflict,
      ids.conflict,
    ]);
    expect(body.conflicts[0]).toMatchObject({
      syncPair: 'media',
      direction: 'dell-to-hp',
      dest: '/mnt/hp/media',
      filepath: `pictures/${HOSTILE_NAME}`,
      keptKind: 'conflict',
    });
    expect(body.conflicts[1]).toMatchObject({
      filepath: KEPT_PATH,
      keptPath: KEPT_CONFLICT,
      operation: 'update',
    });
    const older = await get('/api/conflicts?days=11&pair=photos&limit=1');
    expect(older.counts).toEqual([{ pair: 'photos', conflicts: 2 }]);
    expect(older.conflicts).toHaveLength(1);
    expect((await get('/api/conflicts?pair=&days=365')).counts).toHaveLength(2);
    expect((await get('/api/conflicts?pair=games')).counts).toEqual([]);
  });

  it('GET /api/versions: the versions area of each side', async () => {
    const body = await get('/api/versions');
    expect(body.versions).toEqual([
      {
        pair: 'media',
        sideLabel: 'hp',
        root: '/mnt/hp/media',
        files: 1234,
        bytes: 5_000_000_000,
        oldestAt: new Date(NOW - 29 * 86_400_000).toISOString(),
        updatedAt: new Date(NOW).toISOString(),
      },
      expect.objectContaining({ pair: 'photos', sideLabel: 'dell', files: 2, bytes: 22 }),
      expect.objectContaining({ pair: 'photos', sideLabel: 'hp', files: 0, oldestAt: null }),
    ]);
    expect((await get('/api/versions?pair=photos')).versions).toHaveLength(2);
  });

  it('GET /api/operations: each row says where the version it replaced went', async () => {
    const ops = (await get(`/api/operations?iteration_id=${ids.keptVersion}`)).operations;
    expect(
      ops.map((o: { filepath: string; keptPath: string | null; keptKind: string | null }) => [
        o.filepath,
        o.keptPath,
        o.keptKind,
      ]),
    ).toEqual([
      ['docs/other.txt', null, null],
      [KEPT_PATH, KEPT_VERSION, 'version'],
    ]);
  });

  it('GET /api/history: every copy, update, delete, conflict and kept version, newest first, with the restore command', async () => {
    const body = await get(`/api/history?path=${encodeURIComponent(KEPT_PATH)}`);
    expect(body.path).toBe(KEPT_PATH);
    const rows = body.history as {
      iterationId: number;
      filepath: string;
      operation: string;
      dryRun: boolean;
      keptKind: string | null;
      restoreCommand: string | null;
    }[];
    expect(rows.map((r) => [r.iterationId, r.operation, r.filepath, r.keptKind, r.dryRun])).toEqual([
      [ids.deleted, 'delete', KEPT_PATH, 'version', false],
      [ids.dryDelete, 'delete', KEPT_PATH, null, true],
      [ids.copySynced, 'create', KEPT_CONFLICT, null, false],
      [ids.conflict, 'update', KEPT_PATH, 'conflict', false],
      [ids.keptVersion, 'update', KEPT_PATH, 'version', false],
    ]);
    // The root is the dest of the row's iteration: the side the operation wrote to.
    expect(rows.map((r) => r.restoreCommand)).toEqual([
      "ha-sync restore --root /mnt/dell/photos --path 'docs/it'\\''s report.txt' --version 'it'\\''s report~20261126-114500.txt'",
      null,
      null,
      null,
      "ha-sync restore --root /mnt/dell/photos --path 'docs/it'\\''s report.txt' --version 'it'\\''s report~20261126-113000.txt'",
    ]);
    expect(KEPT_DELETED.endsWith("it's report~20261126-114500.txt")).toBe(true);
    expect((await get(`/api/history?path=${encodeURIComponent(KEPT_PATH)}&pair=media`)).history).toEqual([]);
    expect((await get(`/api/history?path=${encodeURIComponent(KEPT_PATH)}&limit=2`)).history).toHaveLength(2);
    const copy = (await get(`/api/history?path=${encodeURIComponent(KEPT_CONFLICT)}`)).history;
    expect(copy.map((r: { iterationId: number }) => r.iterationId)).toEqual([ids.copySynced, ids.conflict]);
    const hostile = (await get(`/api/history?path=${encodeURIComponent(`pictures/${HOSTILE_NAME}`)}`))
      .history;
    expect(hostile.map((r: { keptKind: string | null }) => r.keptKind)).toEqual([null, 'conflict']);
    expect((await get('/api/history?path=nothing%20here.txt')).history).toEqual([]);
  });
});
