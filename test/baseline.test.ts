// The SQLite baseline store in a temp dir: the shared contract, plus what only a file can do wrong
// (an unusable log dir, a damaged or newer file, two handles on one file) and the hot path's speed.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { openSqlite } from '../src/audit/index.js';
import {
  BASELINE_FILE,
  baselinePath,
  openBaseline,
  openMemoryBaseline,
  type BaselineStore,
} from '../src/baseline/index.js';
import { tempDir } from './audit.helpers.js';
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

/** The schema before the inode columns (c181cdb:src/baseline/sqlite.ts), as files in use have it. */
const OLD_SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS baseline (
  pair TEXT NOT NULL,
  dir TEXT NOT NULL,
  name TEXT NOT NULL,
  a_kind INTEGER NOT NULL,
  a_size INTEGER NOT NULL,
  a_mtime REAL NOT NULL,
  a_target TEXT,
  b_kind INTEGER,
  b_size INTEGER,
  b_mtime REAL,
  b_target TEXT,
  md5 TEXT,
  PRIMARY KEY (pair, dir, name)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baseline_dirs (
  pair TEXT NOT NULL,
  dir TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (pair, dir)
) STRICT, WITHOUT ROWID;
PRAGMA user_version = 1;
`;

let tmp: { dir: string; remove: () => void };
beforeAll(() => {
  tmp = tempDir('hasync-baseline-');
});
afterAll(() => tmp.remove());

const opened: BaselineStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function openIn(logDir: string, pair = 'media'): Promise<BaselineStore> {
  const s = await openBaseline({ pair, dsn: null, logDir, log });
  opened.push(s);
  return s;
}

describe('sqlite baseline store', () => {
  const fixture: StoreFixture = {
    open: (pair) => openBaseline({ pair, dsn: null, logDir: join(tmp.dir, 'contract'), log }),
    persistent: true,
  };
  baselineContract(() => fixture);
});

describe('in-memory baseline store', () => {
  const fixture: StoreFixture = {
    open: (pair) => Promise.resolve(openMemoryBaseline(pair)),
    persistent: false,
  };
  baselineContract(() => fixture);
});

describe('sqlite baseline file', () => {
  it('creates <logDir>/baseline.sqlite in WAL mode, creating the log dir', async () => {
    const logDir = join(tmp.dir, 'fresh', 'logs');
    const s = await openIn(logDir);
    expect(s.kind).toBe('sqlite');
    expect(baselinePath(logDir)).toBe(join(logDir, BASELINE_FILE));
    await s.write([set('', rec('x'))]);
    expect(existsSync(join(logDir, 'baseline.sqlite'))).toBe(true);
    const raw = openSqlite(join(logDir, 'baseline.sqlite'), { busyTimeoutMs: 1000 });
    try {
      expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    } finally {
      raw.close();
    }
  });

  it('shares one file between two handles (two processes on one machine)', async () => {
    const logDir = join(tmp.dir, 'shared');
    const one = await openIn(logDir);
    const two = await openIn(logDir);
    await one.write([set('d', rec('x'))]);
    expect(await two.readPath('d/x')).toEqual(rec('x'));
    await two.setDigest('d', 'h');
    expect(await one.dirDigest('d')).toBe('h');
  });

  it('throws BASELINE_UNAVAILABLE when the log dir is a file', async () => {
    const file = join(tmp.dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const err = await expectUnavailable(openBaseline({ pair: 'media', dsn: null, logDir: file, log }));
    expect(err.message).toMatch(/log dir/);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('throws BASELINE_UNAVAILABLE when baseline.sqlite is a directory or not a database', async () => {
    const asDir = join(tmp.dir, 'as-dir');
    mkdirSync(join(asDir, 'baseline.sqlite'), { recursive: true });
    await expectUnavailable(openBaseline({ pair: 'media', dsn: null, logDir: asDir, log }));
    const garbage = join(tmp.dir, 'garbage');
    mkdirSync(garbage);
    writeFileSync(join(garbage, 'baseline.sqlite'), Buffer.alloc(8192, 0x5a));
    const err = await expectUnavailable(openBaseline({ pair: 'media', dsn: null, logDir: garbage, log }));
    expect(err.message).toMatch(/cannot open/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('refuses a file written by a newer schema', async () => {
    const logDir = join(tmp.dir, 'newer');
    await (await openIn(logDir)).close();
    const raw = openSqlite(baselinePath(logDir), { busyTimeoutMs: 1000 });
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    const err = await expectUnavailable(openBaseline({ pair: 'media', dsn: null, logDir, log }));
    expect(err.message).toMatch(/newer ha-sync/);
  });

  it('adds the inode columns to a file an older ha-sync made, keeping its rows as they were', async () => {
    const logDir = join(tmp.dir, 'old-schema');
    mkdirSync(logDir);
    const raw = openSqlite(baselinePath(logDir), { busyTimeoutMs: 1000 });
    raw.exec('PRAGMA journal_mode = WAL');
    raw.exec(OLD_SQLITE_SCHEMA);
    const insert = raw.prepare(
      'INSERT INTO baseline (pair, dir, name, a_kind, a_size, a_mtime, a_target, b_kind, b_size, b_mtime, b_target, md5) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run('media', 'd', 'same', 1, 10, MTIME, null, null, null, null, null, null);
    insert.run('media', 'd', 'differs', 3, 1, MTIME, 'x', 3, 2, 5, 'yz', 'd41d8cd98f00b204e9800998ecf8427e');
    raw.close();

    const s = await openIn(logDir);
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
    expect(await s.readPath('d/new')).toEqual(withIno);
    // Another handle opens the migrated file as it is (nothing left to add) and sees the same.
    const again = await openIn(logDir);
    expect(await again.readDir('d')).toEqual([differs, withIno, rec('same')]);

    const check = openSqlite(baselinePath(logDir), { busyTimeoutMs: 1000 });
    try {
      const cols = check.prepare('PRAGMA table_info(baseline)').all() as { name: string; type: string }[];
      expect(cols.slice(-2).map((c) => [c.name, c.type])).toEqual([
        ['a_ino', 'INTEGER'],
        ['b_ino', 'INTEGER'],
      ]);
      expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: 1 });
    } finally {
      check.close();
    }
  });

  it('turns a read of a damaged row into BASELINE_UNAVAILABLE, never a half record', async () => {
    const logDir = join(tmp.dir, 'damaged');
    const s = await openIn(logDir);
    await s.write([set('d', rec('x')), set('d', rec('y'))]);
    const raw = openSqlite(baselinePath(logDir), { busyTimeoutMs: 1000 });
    raw.exec("UPDATE baseline SET a_kind = 42 WHERE name = 'y'");
    raw.close();
    await expectUnavailable(s.readDir('d'));
    await expectUnavailable(s.readPath('d/y'));
    expect(await s.readPath('d/x')).toEqual(rec('x'));
    const raw2 = openSqlite(baselinePath(logDir), { busyTimeoutMs: 1000 });
    raw2.exec("UPDATE baseline SET a_kind = 1, b_ino = -3 WHERE name = 'y'");
    raw2.close();
    await expectUnavailable(s.readPath('d/y'));
  });

  it('refuses a bad pair name at open', async () => {
    await expectUnavailable(openBaseline({ pair: '', dsn: null, logDir: tmp.dir, log }));
    await expectUnavailable(openBaseline({ pair: 'a\0b', dsn: null, logDir: tmp.dir, log }));
  });

  // The no-op hot path: per directory one dirDigest and (when the digest differs) one readDir.
  // The bounds are loose (a busy 2-core machine); the printed numbers are the measurement.
  it('serves dirDigest and readDir fast on 100k records over 1000 dirs', async () => {
    const s = await openIn(join(tmp.dir, 'speed'));
    const dirs = Array.from({ length: 1000 }, (_, i) => `photos/${2000 + (i % 25)}/album-${i}`);
    let t = performance.now();
    for (let k = 0; k < 10; k++) {
      const changes = [];
      for (let d = k * 100; d < (k + 1) * 100; d++) {
        for (let f = 0; f < 100; f++)
          changes.push(set(dirs[d]!, rec(`IMG_${String(f).padStart(4, '0')}.jpg`)));
      }
      await s.write(changes);
    }
    const writeMs = performance.now() - t;
    for (const d of dirs) await s.setDigest(d, `digest-of-${d}`);

    t = performance.now();
    let hits = 0;
    for (const d of dirs) if ((await s.dirDigest(d)) !== null) hits++;
    const digestMs = performance.now() - t;

    t = performance.now();
    let records = 0;
    for (const d of dirs) records += (await s.readDir(d)).length;
    const readDirMs = performance.now() - t;

    console.log(
      `baseline sqlite: write 100k records ${writeMs.toFixed(0)} ms; ` +
        `1000 dirDigest ${digestMs.toFixed(1)} ms; 1000 readDir (100 records each) ${readDirMs.toFixed(1)} ms`,
    );
    expect(hits).toBe(1000);
    expect(records).toBe(100_000);
    expect(digestMs).toBeLessThan(1000);
    expect(readDirMs).toBeLessThan(5000);
  });
});
