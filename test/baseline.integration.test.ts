// The MySQL baseline store against the real MariaDB on this machine: the shared contract, plus
// what only a server can do wrong (a missing database, an unreachable server, a password in an
// error, the exactness of hash-keyed rows). One throwaway database per run, dropped afterwards.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { createLogger } from '../src/log.js';
import { openBaseline, type BaselineStore } from '../src/baseline/index.js';
import { MYSQL_ROOT, closedPort, createTestDatabase } from './audit.helpers.js';
import {
  MTIME,
  baselineContract,
  entry,
  expectUnavailable,
  rec,
  set,
  type StoreFixture,
} from './baseline.contract.js';

const log = createLogger({ silent: true });

/** The table before the inode columns (c181cdb:src/baseline/mysql.ts), as databases in use have it. */
const OLD_MYSQL_TABLE = `CREATE TABLE sync_baseline (
    dir_key BINARY(16) NOT NULL,
    name_key BINARY(16) NOT NULL,
    pair VARBINARY(255) NOT NULL,
    dir VARBINARY(4096) NOT NULL,
    name VARBINARY(1024) NOT NULL,
    a_kind TINYINT UNSIGNED NOT NULL,
    a_size BIGINT UNSIGNED NOT NULL,
    a_mtime DOUBLE NOT NULL,
    a_target BLOB NULL,
    b_kind TINYINT UNSIGNED NULL,
    b_size BIGINT UNSIGNED NULL,
    b_mtime DOUBLE NULL,
    b_target BLOB NULL,
    md5 VARBINARY(32) NULL,
    PRIMARY KEY (dir_key, name_key),
    KEY idx_baseline_tree (pair, dir(255))
  ) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`;

/** The store's row key: the first 16 bytes of SHA-256 of the parts joined by NUL. */
function key16(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\0'), 'utf8').digest().subarray(0, 16);
}

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

  it('adds the inode columns to a table an older ha-sync made, keeping its rows as they were', async () => {
    const name = `hasync_test_${Math.random().toString(36).slice(2, 10)}`;
    const admin = await mysql.createConnection(MYSQL_ROOT);
    try {
      await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
      await admin.query(`USE ${name}`);
      await admin.query(OLD_MYSQL_TABLE);
      const insert =
        'INSERT INTO sync_baseline (dir_key, name_key, pair, dir, name, a_kind, a_size, a_mtime, a_target, b_kind, b_size, b_mtime, b_target, md5) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
      await admin.execute(insert, [
        key16('media', 'd'),
        key16('same'),
        'media',
        'd',
        'same',
        1,
        10,
        MTIME,
        null,
        null,
        null,
        null,
        null,
        null,
      ]);
      await admin.execute(insert, [
        key16('media', 'd'),
        key16('differs'),
        'media',
        'd',
        'differs',
        3,
        1,
        MTIME,
        'x',
        3,
        2,
        5,
        'yz',
        'd41d8cd98f00b204e9800998ecf8427e',
      ]);

      // Several processes starting at once each find the columns missing; all of them open.
      const dsn = `mysql://root@127.0.0.1:3306/${name}`;
      const [s, , , last] = await Promise.all([openOn(dsn), openOn(dsn), openOn(dsn), openOn(dsn)]);
      const same = (await s.readPath('d/same'))!;
      expect(same).toEqual(rec('same'));
      expect(Object.hasOwn(same.a, 'ino')).toBe(false);
      expect(same.b).toBe(same.a);
      const differs = rec('differs', {
        a: entry({ kind: 'symlink', size: 1, target: 'x' }),
        b: entry({ kind: 'symlink', size: 2, mtimeMs: 5, target: 'yz' }),
        md5: 'd41d8cd98f00b204e9800998ecf8427e',
      });
      expect(await s.readDir('d')).toEqual([differs, rec('same')]);

      const withIno = rec('new', { a: entry({ ino: 4242 }), b: entry({ ino: 2 ** 53 - 1 }) });
      await s.write([set('d', withIno)]);
      expect(await last.readPath('d/new')).toEqual(withIno);
      expect(await (await openOn(dsn)).readDir('d')).toEqual([differs, withIno, rec('same')]);

      const [cols] = await admin.query(
        "SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sync_baseline' ORDER BY ORDINAL_POSITION",
        [name],
      );
      expect((cols as { c: string; t: string; n: string }[]).slice(-2)).toEqual([
        { c: 'a_ino', t: expect.stringMatching(/^bigint(\(20\))? unsigned$/) as unknown, n: 'YES' },
        { c: 'b_ino', t: expect.stringMatching(/^bigint(\(20\))? unsigned$/) as unknown, n: 'YES' },
      ]);
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

  it('turns an inode no ha-sync wrote (past 2^53) into BASELINE_UNAVAILABLE on read', async () => {
    const s = await openOn(db.dsn, 'big-ino');
    await s.write([set('d', rec('x', { a: entry({ ino: 1 }), b: entry({ ino: 2 }) }))]);
    await db.query("UPDATE sync_baseline SET b_ino = 18446744073709551615 WHERE pair = 'big-ino'");
    await expectUnavailable(s.readPath('d/x'));
    await expectUnavailable(s.readDir('d'));
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
