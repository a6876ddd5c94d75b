// The MySQL baseline store against the real MariaDB on this machine: the shared contract, plus
// what only a server can do wrong (a missing database, an unreachable server, a password in an
// error, the exactness of hash-keyed rows). One throwaway database per run, dropped afterwards.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { createLogger } from '../src/log.js';
import { openBaseline, type BaselineStore } from '../src/baseline/index.js';
import { MYSQL_ROOT, closedPort, createTestDatabase } from './audit.helpers.js';
import { baselineContract, expectUnavailable, rec, set, type StoreFixture } from './baseline.contract.js';

const log = createLogger({ silent: true });

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const opened: BaselineStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function openOn(dsn: string, pair = 'media'): Promise<BaselineStore> {
  const s = await openBaseline({ pair, dsn, logDir: '/nonexistent', log });
  opened.push(s);
  return s;
}

describe('mysql baseline store', () => {
  const fixture: StoreFixture = {
    open: (pair) => openBaseline({ pair, dsn: db.urlDsn, logDir: '/nonexistent', log }),
    persistent: true,
  };
  baselineContract(() => fixture);
});

describe('mysql baseline tables', () => {
  it('creates only its two tables, and the database when it is missing', async () => {
    const name = `hasync_test_${Math.random().toString(36).slice(2, 10)}`;
    const admin = await mysql.createConnection(MYSQL_ROOT);
    try {
      const s = await openOn(`root:@tcp(127.0.0.1:3306)/${name}`);
      expect(s.kind).toBe('mysql');
      await s.write([set('', rec('x'))]);
      const [tables] = await admin.query(
        'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
        [name],
      );
      expect((tables as { t: string }[]).map((r) => r.t).sort()).toEqual([
        'sync_baseline',
        'sync_baseline_dirs',
      ]);
      // Opening again (tables there) is a no-op.
      expect(await (await openOn(`mysql://root@127.0.0.1:3306/${name}`)).readPath('x')).toEqual(rec('x'));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    }
  });

  it('leaves the seed tables alone', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS sync_iterations (id INT PRIMARY KEY, note VARCHAR(20))');
    await db.query("INSERT IGNORE INTO sync_iterations VALUES (1, 'seed')");
    const s = await openOn(db.dsn);
    await s.write([set('', rec('x'))]);
    await s.dropTree('');
    expect(await db.query('SELECT * FROM sync_iterations')).toEqual([{ id: 1, note: 'seed' }]);
  });

  it('compares dir and name exactly, not by their hash keys', async () => {
    const s = await openOn(db.dsn, 'exact');
    await s.write([set('d', rec('x')), set('d', rec('y'))]);
    await s.setDigest('d', 'h');
    // Rewrite the stored bytes behind the keys' back: the keys still match, the bytes do not.
    await db.query("UPDATE sync_baseline SET dir = 'e' WHERE pair = 'exact' AND name = 'x'");
    await db.query("UPDATE sync_baseline SET name = 'z' WHERE pair = 'exact' AND name = 'y'");
    await db.query("UPDATE sync_baseline_dirs SET dir = 'e' WHERE pair = 'exact'");
    expect((await s.readDir('d')).map((r) => r.name)).toEqual(['z']);
    expect(await s.readPath('d/x')).toBeNull();
    expect(await s.readPath('d/y')).toBeNull();
    expect(await s.dirDigest('d')).toBeNull();
  });

  it('throws BASELINE_UNAVAILABLE, without the password, when the server is unreachable', async () => {
    const port = await closedPort();
    const password = 'sekrit-Pa55word';
    const started = Date.now();
    const err = await expectUnavailable(
      openBaseline({
        pair: 'media',
        dsn: `mysql://root:${password}@127.0.0.1:${port}/nowhere`,
        logDir: '/nonexistent',
        log,
        connectTimeoutMs: 1000,
      }),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err.message).not.toContain(password);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('throws BASELINE_UNAVAILABLE when the credentials are refused', async () => {
    const err = await expectUnavailable(
      openBaseline({
        pair: 'media',
        dsn: `mysql://no_such_user:sekrit-Pa55word@127.0.0.1:3306/${db.name}`,
        logDir: '/nonexistent',
        log,
      }),
    );
    expect(err.message).not.toContain('sekrit-Pa55word');
  });

  it('writes 20k records over 50 dirs in one transaction, in batches', async () => {
    const s = await openOn(db.dsn, 'bulk');
    const changes = Array.from({ length: 20_000 }, (_, i) =>
      set(`dir-${i % 50}/${'%'.repeat((i % 3) + 1)}`, rec(`n${i}-${'\u{1F600}'.repeat(i % 5)}`)),
    );
    const t = performance.now();
    await s.write(changes);
    const writeMs = performance.now() - t;
    let total = 0;
    const t2 = performance.now();
    for (let d = 0; d < 50; d++)
      for (let k = 0; k < 3; k++) total += (await s.readDir(`dir-${d}/${'%'.repeat(k + 1)}`)).length;
    const readMs = performance.now() - t2;
    console.log(
      `baseline mysql: write 20k records ${writeMs.toFixed(0)} ms; 150 readDir ${readMs.toFixed(0)} ms`,
    );
    expect(total).toBe(20_000);
    await s.dropTree('dir-7');
    expect(await s.readDir('dir-7/%')).toEqual([]);
    expect((await s.readDir('dir-8/%')).length).toBeGreaterThan(0);
  });
});
