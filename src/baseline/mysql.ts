// The baseline in MySQL 8 / MariaDB 10.11 (mysql2), in the audit's database: the production store,
// shared by the CronJob pods and the applier pod on different nodes. Tables `sync_baseline` and
// `sync_baseline_dirs` are created on open; the seed's two tables are never touched.
//
// Keys: a path may be 4096 bytes, more than an InnoDB key holds, so rows are keyed on hashes
// (the first 16 bytes of SHA-256 of `pair NUL dir`, and of the name), and the full pair, dir and
// name are stored as VARBINARY (exact bytes, compared bytewise, trailing spaces significant).
// Every read also compares pair and dir exactly, so a hash collision can make a record missing
// (the path is then decided in safe mode) but never hands back another path's record.
//
// Every value goes through server-side prepared statements (`execute`): a hostile name is a
// value. Numbers travel as 8-byte doubles both ways, so mtimes round-trip bit-exact.
//
// Invariant: no error leaving this module contains the password. Driver errors are re-thrown as
// HaSyncError('BASELINE_UNAVAILABLE') with a scrubbed one-line message and no `cause` (a driver
// error object may carry connection details), as the audit store does.
//
// Migration: columns added since the table was first created (the inode columns) are checked
// against information_schema on open and added when missing, as the audit's are: nullable, at
// the end of the table (an instant change on MariaDB 10.3+ and MySQL 8.0.12+), and a duplicate
// column from another process migrating at the same moment is that process's success.
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { ConnectionOptions, Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { describeTarget, scrubber, type MysqlTarget } from '../audit/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import {
  RECORD_COLUMNS,
  checkChange,
  checkDigest,
  decodeRecord,
  lastChangePerPath,
  recordParams,
  sortByName,
  splitPath,
  subtreeRange,
  unavailable,
  type Param,
  type RecordRow,
} from './rows.js';
import type { BaseRecord, BaselineChange, BaselineStore } from './types.js';

export interface MysqlBaselineOptions {
  /** TCP connect timeout, ms. Default 3000: a down database must not stall a run. */
  connectTimeoutMs?: number;
  /** Timeout of one statement, ms. Default 60000. */
  queryTimeoutMs?: number;
  /** Pool size. Default 2: one for a write transaction, one for reads meanwhile. */
  connectionLimit?: number;
}

const TABLES = [
  `CREATE TABLE IF NOT EXISTS sync_baseline (
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
    a_ino BIGINT UNSIGNED NULL,
    b_ino BIGINT UNSIGNED NULL,
    PRIMARY KEY (dir_key, name_key),
    KEY idx_baseline_tree (pair, dir(255))
  ) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`,
  `CREATE TABLE IF NOT EXISTS sync_baseline_dirs (
    dir_key BINARY(16) NOT NULL,
    pair VARBINARY(255) NOT NULL,
    dir VARBINARY(4096) NOT NULL,
    digest VARBINARY(255) NOT NULL,
    PRIMARY KEY (dir_key),
    KEY idx_baseline_dirs_tree (pair, dir(255))
  ) ENGINE=InnoDB ROW_FORMAT=DYNAMIC`,
];

/** Columns added to `sync_baseline` after its first version, with their types, in order. */
const ADDED_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['a_ino', 'BIGINT UNSIGNED NULL'],
  ['b_ino', 'BIGINT UNSIGNED NULL'],
];

const COLS = `name, ${RECORD_COLUMNS.join(', ')}`;
const UPSERT_COLS = `(dir_key, name_key, pair, dir, ${COLS})`;
const UPSERT_WIDTH = 5 + RECORD_COLUMNS.length;
const UPSERT_ROW = `(${Array(UPSERT_WIDTH).fill('?').join(',')})`;

const SQL = {
  readDir: `SELECT ${COLS} FROM sync_baseline WHERE dir_key = ? AND pair = ? AND dir = ?`,
  readPath: `SELECT ${COLS} FROM sync_baseline WHERE dir_key = ? AND name_key = ? AND pair = ? AND dir = ? AND name = ?`,
  dropOne: 'DELETE FROM sync_baseline WHERE dir_key = ? AND name_key = ?',
  dropDir: 'DELETE FROM sync_baseline WHERE dir_key = ? AND pair = ? AND dir = ?',
  dropBelow: 'DELETE FROM sync_baseline WHERE pair = ? AND dir >= ? AND dir < ?',
  dropPair: 'DELETE FROM sync_baseline WHERE pair = ?',
  treeDirs: 'SELECT DISTINCT dir FROM sync_baseline WHERE pair = ? AND (dir = ? OR (dir >= ? AND dir < ?))',
  getDigest: 'SELECT digest FROM sync_baseline_dirs WHERE dir_key = ? AND pair = ? AND dir = ?',
  setDigest: 'REPLACE INTO sync_baseline_dirs (dir_key, pair, dir, digest) VALUES (?, ?, ?, ?)',
  clearDigestsBelow: 'DELETE FROM sync_baseline_dirs WHERE pair = ? AND dir >= ? AND dir < ?',
  clearDigestsPair: 'DELETE FROM sync_baseline_dirs WHERE pair = ?',
} as const;

/** Rows per multi-row statement, and a byte budget well under the default 16 MB max_allowed_packet. */
const BATCH_ROWS = 512;
const BATCH_BYTES = 4 * 1024 * 1024;
const DDL_TIMEOUT_MS = 5 * 60_000;

const ER_BAD_DB_ERROR = 1049;
const ER_DUP_FIELDNAME = 1060;
const ER_LOCK_DEADLOCK = 1213;
/** Attempts of a write transaction that lost a deadlock to another writer. */
const WRITE_ATTEMPTS = 3;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const fromUtf8 = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

function key16(...parts: string[]): Buffer {
  const h = createHash('sha256');
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) h.update('\0');
    h.update(parts[i]!, 'utf8');
  }
  return h.digest().subarray(0, 16);
}

function connectionConfig(t: MysqlTarget, connectTimeoutMs: number): ConnectionOptions {
  return {
    host: t.host,
    port: t.port,
    ...(t.socketPath ? { socketPath: t.socketPath } : {}),
    user: t.user,
    password: t.password,
    ...(t.tls ? { ssl: { rejectUnauthorized: t.tls === 'verify' } } : {}),
    connectTimeout: connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'UTF8MB4_BIN',
    multipleStatements: false,
  };
}

/**
 * Multi-row statements sent in power-of-two chunks: prepared statements are cached per
 * connection by their text and capped by the server, so a dozen shapes serve every batch size.
 */
class Batch {
  private params: Param[] = [];
  private rows = 0;
  private bytes = 0;

  constructor(
    private readonly conn: PoolConnection,
    private readonly width: number,
    private readonly sql: (rows: number) => string,
    private readonly timeout: number,
  ) {}

  async add(row: readonly Param[], bytes: number): Promise<void> {
    for (const v of row) this.params.push(v);
    this.rows++;
    this.bytes += bytes;
    if (this.rows >= BATCH_ROWS || this.bytes >= BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    let at = 0;
    while (at < this.rows) {
      const left = this.rows - at;
      const n = left >= BATCH_ROWS ? BATCH_ROWS : 2 ** Math.floor(Math.log2(left));
      const params = this.params.slice(at * this.width, (at + n) * this.width);
      await this.conn.execute({ sql: this.sql(n), timeout: this.timeout }, params);
      at += n;
    }
    this.params = [];
    this.rows = 0;
    this.bytes = 0;
  }
}

const upsertSql = (n: number): string =>
  `REPLACE INTO sync_baseline ${UPSERT_COLS} VALUES ${Array(n).fill(UPSERT_ROW).join(',')}`;
const dropSql = (n: number): string =>
  `DELETE FROM sync_baseline WHERE ${Array(n).fill('(dir_key = ? AND name_key = ?)').join(' OR ')}`;
const clearSql = (n: number): string =>
  `DELETE FROM sync_baseline_dirs WHERE dir_key IN (${Array(n).fill('?').join(',')})`;

function paramBytes(row: readonly Param[]): number {
  let n = 16;
  for (const v of row) n += Buffer.isBuffer(v) ? v.length + 4 : 12;
  return n;
}

export class MysqlBaseline implements BaselineStore {
  readonly kind = 'mysql' as const;
  readonly where: string;
  private readonly pool: Pool;
  private readonly scrub: (m: string) => string;
  private readonly queryTimeoutMs: number;
  private readonly pairBytes: Buffer;
  private closed = false;

  constructor(
    private readonly pair: string,
    private readonly target: MysqlTarget,
    private readonly opts: MysqlBaselineOptions = {},
  ) {
    this.where = describeTarget(target);
    this.scrub = scrubber(target.password);
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 60_000;
    this.pairBytes = utf8(pair);
    this.pool = mysql.createPool({
      ...connectionConfig(target, opts.connectTimeoutMs ?? 3000),
      database: target.database,
      connectionLimit: opts.connectionLimit ?? 2,
      maxIdle: 1,
      idleTimeout: 30_000,
      waitForConnections: true,
      queueLimit: 0,
      maxPreparedStatements: 64,
    });
    // Strict mode on every connection, before any statement of ours (the command queue is FIFO):
    // a value too long for its column must fail the write, never be stored truncated. Values are
    // checked against the column sizes before they are sent, so this is the second line.
    this.pool.on('connection', (conn) => {
      (conn as unknown as { query(sql: string, cb: (err: unknown) => void): void }).query(
        "SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, 'STRICT_ALL_TABLES')",
        () => undefined,
      );
    });
  }

  private fail(what: string, err: unknown): Error {
    if (isHaSyncError(err, 'BASELINE_UNAVAILABLE')) return err;
    return unavailable(this.scrub(`baseline ${this.where}: ${what}: ${errorMessage(err)}`));
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      if (this.closed) throw unavailable(`baseline ${this.where}: closed`);
      return await fn();
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  private async rows(sql: string, params: Param[]): Promise<RowDataPacket[]> {
    const [rows] = await this.pool.execute<RowDataPacket[]>({ sql, timeout: this.queryTimeoutMs }, params);
    return rows;
  }

  private dirKey(dir: string): Buffer {
    return key16(this.pair, dir);
  }

  /** Creates the tables (and the DSN's database when it does not exist yet, as the audit does). */
  async ensureSchema(): Promise<void> {
    await this.run('create tables', async () => {
      try {
        await this.createTables();
      } catch (err) {
        if ((err as { errno?: number }).errno !== ER_BAD_DB_ERROR) throw err;
        await this.createDatabase();
        await this.createTables();
      }
    });
  }

  private async createTables(): Promise<void> {
    for (const ddl of TABLES) await this.pool.query({ sql: ddl, timeout: DDL_TIMEOUT_MS });
    await this.addColumns();
  }

  /** Adds the columns a table created by an older ha-sync lacks (see the top of this file). */
  private async addColumns(): Promise<void> {
    const rows = await this.rows(
      "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sync_baseline'",
      [],
    );
    const have = new Set(rows.map((r) => fromUtf8(r.c)));
    for (const [name, type] of ADDED_COLUMNS) {
      if (have.has(name)) continue;
      try {
        await this.pool.query({
          sql: `ALTER TABLE sync_baseline ADD COLUMN ${name} ${type}`,
          timeout: DDL_TIMEOUT_MS,
        });
      } catch (err) {
        // Two processes migrating at once: the other one added it, which is fine.
        if ((err as { errno?: number }).errno !== ER_DUP_FIELDNAME) throw err;
      }
    }
  }

  private async createDatabase(): Promise<void> {
    const t = this.target;
    const conn = await mysql.createConnection(connectionConfig(t, this.opts.connectTimeoutMs ?? 3000));
    try {
      await conn.query({
        sql: `CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(t.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
        timeout: DDL_TIMEOUT_MS,
      });
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  async readDir(dir: string): Promise<BaseRecord[]> {
    return this.run(`read dir ${JSON.stringify(dir)}`, async () => {
      const rows = await this.rows(SQL.readDir, [this.dirKey(dir), this.pairBytes, utf8(dir)]);
      const recs = new Array<BaseRecord>(rows.length);
      for (let i = 0; i < rows.length; i++) recs[i] = decodeRecord(rows[i] as RecordRow, fromUtf8);
      return sortByName(recs);
    });
  }

  async treeDirs(path: string): Promise<string[]> {
    return this.run(`list dirs below ${JSON.stringify(path)}`, async () => {
      const { lo, hi } = subtreeRange(path);
      const rows = await this.rows(SQL.treeDirs, [this.pairBytes, utf8(path), utf8(lo), utf8(hi)]);
      return rows.map((r) => fromUtf8(r.dir));
    });
  }

  async readPath(path: string): Promise<BaseRecord | null> {
    return this.run(`read ${JSON.stringify(path)}`, async () => {
      if (path === '') return null; // the root has no record of its own
      const { dir, name } = splitPath(path);
      const rows = await this.rows(SQL.readPath, [
        this.dirKey(dir),
        key16(name),
        this.pairBytes,
        utf8(dir),
        utf8(name),
      ]);
      const row = rows[0];
      return row === undefined ? null : decodeRecord(row as RecordRow, fromUtf8);
    });
  }

  /**
   * One transaction on one connection. A deadlock against another writer (the applier and a
   * CronJob writing the same dirs) is retried from the start: InnoDB rolled the loser back whole,
   * and the changes are all still in hand. A lock wait timeout is not retried: something held the
   * lock for the whole innodb_lock_wait_timeout, and waiting that long again stalls the sync.
   */
  private async transaction(what: string, fn: (conn: PoolConnection) => Promise<void>): Promise<void> {
    await this.run(what, async () => {
      for (let attempt = 1; ; attempt++) {
        const conn = await this.pool.getConnection();
        let healthy = true;
        try {
          await conn.beginTransaction();
          await fn(conn);
          await conn.commit();
          return;
        } catch (err) {
          // A connection that cannot even roll back must never serve another statement.
          await conn.rollback().catch(() => {
            healthy = false;
          });
          const deadlock = (err as { errno?: number }).errno === ER_LOCK_DEADLOCK;
          if (!deadlock || attempt >= WRITE_ATTEMPTS) throw err;
        } finally {
          if (healthy) conn.release();
          else conn.destroy();
        }
      }
    });
  }

  async write(changes: readonly BaselineChange[]): Promise<void> {
    if (changes.length === 0) return this.run('write', () => Promise.resolve());
    const t = this.queryTimeoutMs;
    await this.transaction(`write ${changes.length} changes`, async (conn) => {
      const sets = new Batch(conn, UPSERT_WIDTH, upsertSql, t);
      const drops = new Batch(conn, 2, dropSql, t);
      const clears = new Batch(conn, 1, clearSql, t);
      const dirKeys = new Map<string, Buffer>();
      // Refusals are raised here, between batches already sent: the rollback undoes those too.
      for (const c of lastChangePerPath(changes)) {
        checkChange(c);
        let dk = dirKeys.get(c.dir);
        if (dk === undefined) {
          dk = this.dirKey(c.dir);
          dirKeys.set(c.dir, dk);
        }
        if (c.rec === null) {
          await drops.add([dk, key16(c.name)], 40);
        } else {
          const row = [
            dk,
            key16(c.name),
            this.pairBytes,
            utf8(c.dir),
            utf8(c.name),
            ...recordParams(c.rec, utf8),
          ];
          await sets.add(row, paramBytes(row));
        }
      }
      await sets.flush();
      await drops.flush();
      for (const dk of dirKeys.values()) await clears.add([dk], 20);
      await clears.flush();
    });
  }

  async dropTree(path: string): Promise<void> {
    await this.transaction(`drop tree ${JSON.stringify(path)}`, async (conn) => {
      const exec = async (sql: string, params: Param[]): Promise<void> => {
        await conn.execute<ResultSetHeader>({ sql, timeout: this.queryTimeoutMs }, params);
      };
      const pair = this.pairBytes;
      if (path === '') {
        await exec(SQL.dropPair, [pair]);
        await exec(SQL.clearDigestsPair, [pair]);
        return;
      }
      const { dir: parent, name } = splitPath(path);
      const { lo, hi } = subtreeRange(path);
      const below: Param[] = [pair, utf8(lo), utf8(hi)];
      const pathKey = this.dirKey(path);
      await exec(SQL.dropOne, [this.dirKey(parent), key16(name)]);
      await exec(SQL.dropDir, [pathKey, pair, utf8(path)]);
      await exec(SQL.dropBelow, below);
      // The parent lost a record, so its digest no longer describes its baseline either.
      await exec(clearSql(2), [this.dirKey(parent), pathKey]);
      await exec(SQL.clearDigestsBelow, below);
    });
  }

  async dirDigest(dir: string): Promise<string | null> {
    return this.run(`read digest ${JSON.stringify(dir)}`, async () => {
      const rows = await this.rows(SQL.getDigest, [this.dirKey(dir), this.pairBytes, utf8(dir)]);
      const row = rows[0];
      return row === undefined ? null : fromUtf8(row.digest);
    });
  }

  async setDigest(dir: string, digest: string): Promise<void> {
    await this.run(`set digest ${JSON.stringify(dir)}`, async () => {
      checkDigest(dir, digest);
      await this.pool.execute({ sql: SQL.setDigest, timeout: this.queryTimeoutMs }, [
        this.dirKey(dir),
        this.pairBytes,
        utf8(dir),
        utf8(digest),
      ]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}
