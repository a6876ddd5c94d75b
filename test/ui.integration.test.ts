// The dashboard against the real MariaDB on this machine: its own database, seeded through the
// audit module's writing API, dropped afterwards. Also a MySQL that cannot be reached.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import { HOSTILE_NAME, seedHistory } from './ui-seed.js';

const log = createLogger({ silent: true });
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const schedule = { defaultMinutes: 15, perPairMinutes: {} };
const DB = `hasync_ui_${Math.random().toString(36).slice(2, 10)}`;
const DSN = `mysql://root@127.0.0.1:3306/${DB}`;

let admin: mysql.Connection;
let dir: string;
let audit: Audit;
let reader: AuditReader;
let app: FastifyInstance;
let ids: Record<string, number>;

beforeAll(async () => {
  admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
  dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-mysql-'));
  audit = await openAudit({ dsn: DSN, logDir: dir, log });
  ids = await seedHistory(audit, NOW);
  reader = await openAuditReader({ dsn: DSN, logDir: dir, log });
  app = buildApp({ reader, clock: new ManualClock(NOW), schedule });
});

afterAll(async () => {
  await app?.close();
  await reader?.close();
  await audit?.close();
  await admin?.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the dashboard on MariaDB', () => {
  it('summarises pairs, lists iterations and operations', async () => {
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready', store: 'mysql' });
    const pairs = (await app.inject('/api/pairs')).json().pairs;
    expect(
      pairs.map(
        (p: { pair: string; direction: string; health: string }) => `${p.pair}/${p.direction}:${p.health}`,
      ),
    ).toEqual([
      'games/hp-to-dell:stale',
      'media/dell-to-hp:failed',
      'photos/dell-to-hp:ok',
      'photos/hp-to-dell:ok',
    ]);
    const media = pairs[1];
    expect(media.lastReal.id).toBe(ids.mediaPartial);
    expect(media.lastRealSuccess.id).toBe(ids.mediaOk);
    expect(media.lastReal.startedAt).toBe(new Date(NOW - 8 * 60_000).toISOString());

    const real = (await app.inject('/api/iterations?dry_run=0&pair=photos&limit=3')).json().iterations;
    expect(real).toHaveLength(3);
    expect(
      real.every((i: { dryRun: boolean; syncPair: string }) => !i.dryRun && i.syncPair === 'photos'),
    ).toBe(true);
    const since = encodeURIComponent(new Date(NOW - 9 * 60_000).toISOString());
    expect(
      (await app.inject(`/api/iterations?since=${since}`)).json().iterations.map((i: { id: number }) => i.id),
    ).toEqual([ids.gamesDry, ids.photosDry, ids.mediaPartial]);

    const ops = (await app.inject(`/api/operations?iteration_id=${ids.mediaPartial}`)).json().operations;
    expect(ops.map((o: { filepath: string; status: string }) => [o.filepath, o.status])).toEqual([
      ['music/ok.flac', 'success'],
      [`pictures/${HOSTILE_NAME}`, 'fail'],
    ]);
    const m = (await app.inject('/metrics')).body;
    expect(m).toContain('ha_sync_store_up 1');
    expect(m).toContain(
      'ha_sync_last_iteration_status{pair="media",direction="dell-to-hp",dry_run="0",status="partial_failure"} 1',
    );
  });

  it('rejects a hostile pair before it reaches SQL', async () => {
    const r = await app.inject(`/api/iterations?pair=${encodeURIComponent("x' OR '1'='1")}`);
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toBe('invalid_query');
  });

  it('a MySQL nobody listens on: readyz and the API answer 503, metrics say store down', async () => {
    const port = await closedPort();
    const down = await openAuditReader({
      dsn: `mysql://root@127.0.0.1:${port}/${DB}`,
      logDir: dir,
      log,
      connectTimeoutMs: 500,
    });
    const a = buildApp({ reader: down, clock: new ManualClock(NOW), schedule });
    try {
      for (const url of [
        '/readyz',
        '/api/pairs',
        '/api/iterations?limit=5',
        '/api/operations?iteration_id=1',
      ]) {
        const res = await a.inject(url);
        expect(res.statusCode, url).toBe(503);
        expect(res.json()).toEqual({
          error: 'store_unavailable',
          message: 'the audit store (mysql) is unreachable or not answering; see the server log',
        });
      }
      expect((await a.inject('/healthz')).statusCode).toBe(200);
      expect((await a.inject('/metrics')).body).toContain('ha_sync_store_up 0');
    } finally {
      await a.close();
      await down.close();
    }
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
