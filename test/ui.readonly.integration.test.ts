// The dashboard on the read-only database account k8s/secret.yaml documents (the Secret
// ha-sync-db-readonly): a MariaDB user with exactly `GRANT SELECT ON <db>.*` serves every
// route, and cannot write a row. Own database and user, dropped afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import { K8S_DIR } from './k8s.helpers.js';
import { seedHistory } from './ui-seed.js';

const log = createLogger({ silent: true });
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const suffix = randomBytes(4).toString('hex');
const DB = `hasync_ro_${suffix}`;
const USER = `hasync_ro_${suffix}`;
const PASS = randomBytes(12).toString('hex');

let admin: mysql.Connection;
let dir: string;
let audit: Audit;
let reader: AuditReader;
let app: FastifyInstance;

/** The GRANT line of k8s/secret.yaml, for this test's database and user. */
function documentedGrant(): string {
  const doc = readFileSync(join(K8S_DIR, 'secret.yaml'), 'utf8');
  const m = /GRANT (.+) ON general_db\.\* TO 'ha_sync_ro'@'%';/.exec(doc);
  if (!m) throw new Error('k8s/secret.yaml documents no GRANT for ha_sync_ro');
  return `GRANT ${m[1]} ON ${DB}.* TO '${USER}'@'%'`;
}

beforeAll(async () => {
  admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
  dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-ro-'));
  // The writers (CronJobs, appliers) create the tables and the history first.
  audit = await openAudit({ dsn: `mysql://root@127.0.0.1:3306/${DB}`, logDir: dir, log });
  await seedHistory(audit, NOW);
  await admin.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASS}'`);
  await admin.query(documentedGrant());
  reader = await openAuditReader({ dsn: `${USER}:${PASS}@tcp(127.0.0.1:3306)/${DB}`, logDir: dir, log });
  app = buildApp({
    reader,
    clock: new ManualClock(NOW),
    schedule: { defaultMinutes: 15, perPairMinutes: {} },
  });
});

afterAll(async () => {
  await app?.close();
  await reader?.close();
  await audit?.close();
  await admin?.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await admin?.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the dashboard on the read-only account', () => {
  it('serves every route', async () => {
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'ready', store: 'mysql' });
    for (const url of ['/api/pairs', '/api/iterations?limit=5', '/api/conflicts', '/metrics']) {
      expect((await app.inject(url)).statusCode, url).toBe(200);
    }
    expect((await app.inject('/api/pairs')).json().pairs.length).toBeGreaterThan(0);
  });

  it('cannot write, change or delete a row', async () => {
    const ro = await mysql.createConnection({
      host: '127.0.0.1',
      port: 3306,
      user: USER,
      password: PASS,
      database: DB,
    });
    try {
      for (const sql of [
        'DELETE FROM sync_operations',
        'UPDATE sync_iterations SET status = "success"',
        'INSERT INTO sync_flushes (run_id) VALUES ("x")',
        'DROP TABLE sync_operations',
      ]) {
        await expect(ro.query(sql), sql).rejects.toMatchObject({ errno: 1142 }); // ER_TABLEACCESS_DENIED_ERROR;
      }
    } finally {
      await ro.end();
    }
  });
});
