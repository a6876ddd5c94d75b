// The baseline in an embedded SQLite file (`<logDir>/baseline.sqlite`, WAL), the store without a
// DSN. Several processes on one machine (a `run` and a `reconcile`) may share the file: writes take
// the write lock first (BEGIN IMMEDIATE) and other processes wait on it (busy timeout).
//
// Hot path: a no-op run of a 1M-file tree calls dirDigest and readDir once per directory, so every
// statement is prepared once at open and kept. Rows are keyed (pair, dir, name) in a WITHOUT ROWID
// table, so one directory is one contiguous range of the primary key, read in one index walk; the
// table is never read whole. Text compares as bytes (BINARY collation), which is what the subtree
// range of `dropTree` relies on.
//
// Migration: columns added since schema version 1 (the inode columns) are nullable, so a file
// keeps version 1 and an older ha-sync still opens it (it never reads them, and its rows leave
// them NULL). Every open checks the table's columns and adds the missing ones.
import { openSqlite, type SqlDb, type SqlStatement } from '../audit/index.js';
import { errorMessage, isHaSyncError } from '../errors.js';
import {
  RECORD_COLUMNS,
  checkChange,
  checkDigest,
  decodeRecord,
  recordParams,
  sortByName,
  splitPath,
  subtreeRange,
  unavailable,
  type RecordRow,
} from './rows.js';
import type { BaseRecord, BaselineChange, BaselineStore } from './types.js';

/**
 * The schema version this code writes (PRAGMA user_version). A newer file is refused. Adding a
 * nullable column keeps the version (see ADDED_COLUMNS).
 */
const SCHEMA_VERSION = 1;

/** Columns added to `baseline` after version 1, with their types, in the order they are added. */
const ADDED_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['a_ino', 'INTEGER'],
  ['b_ino', 'INTEGER'],
];

const SCHEMA = `
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
  a_ino INTEGER,
  b_ino INTEGER,
  PRIMARY KEY (pair, dir, name)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baseline_dirs (
  pair TEXT NOT NULL,
  dir TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (pair, dir)
) STRICT, WITHOUT ROWID;
PRAGMA user_version = ${SCHEMA_VERSION};
`;

const COLS = `name, ${RECORD_COLUMNS.join(', ')}`;
/** One placeholder each for pair, dir, name and the record columns. */
const UPSERT_PARAMS = Array(3 + RECORD_COLUMNS.length)
  .fill('?')
  .join(', ');

const SQL = {
  readDir: `SELECT ${COLS} FROM baseline WHERE pair = ? AND dir = ? ORDER BY name`,
  readPath: `SELECT ${COLS} FROM baseline WHERE pair = ? AND dir = ? AND name = ?`,
  upsert: `INSERT OR REPLACE INTO baseline (pair, dir, ${COLS}) VALUES (${UPSERT_PARAMS})`,
  drop: 'DELETE FROM baseline WHERE pair = ? AND dir = ? AND name = ?',
  dropDir: 'DELETE FROM baseline WHERE pair = ? AND dir = ?',
  dropBelow: 'DELETE FROM baseline WHERE pair = ? AND dir >= ? AND dir < ?',
  dropPair: 'DELETE FROM baseline WHERE pair = ?',
  treeDirs: 'SELECT DISTINCT dir FROM baseline WHERE pair = ? AND (dir = ? OR (dir >= ? AND dir < ?))',
  getDigest: 'SELECT digest FROM baseline_dirs WHERE pair = ? AND dir = ?',
  setDigest: 'INSERT OR REPLACE INTO baseline_dirs (pair, dir, digest) VALUES (?, ?, ?)',
  clearDigest: 'DELETE FROM baseline_dirs WHERE pair = ? AND dir = ?',
  clearDigestsBelow: 'DELETE FROM baseline_dirs WHERE pair = ? AND dir >= ? AND dir < ?',
  clearDigestsPair: 'DELETE FROM baseline_dirs WHERE pair = ?',
} as const;

type Statements = { readonly [K in keyof typeof SQL]: SqlStatement };

/** SQLite hands text back as strings already. */
const asText = (v: unknown): string => v as string;
const identity = (s: string): string => s;

export interface SqliteBaselineOptions {
  /** How long to wait for another process's write lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/** Opens the file (creating it and its schema), or throws BASELINE_UNAVAILABLE. */
export function openSqliteBaseline(
  pair: string,
  file: string,
  opts: SqliteBaselineOptions = {},
): SqliteBaseline {
  const where = `sqlite:${file}`;
  let db: SqlDb | null = null;
  try {
    db = openSqlite(file, { busyTimeoutMs: opts.busyTimeoutMs ?? 5000 });
    const opened = db;
    opened.exec('PRAGMA journal_mode = WAL');
    const version = Number(
      (opened.prepare('PRAGMA user_version').get() as { user_version: unknown }).user_version,
    );
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `schema version ${version} was written by a newer ha-sync (this one knows ${SCHEMA_VERSION})`,
      );
    }
    if (version < SCHEMA_VERSION) opened.immediate(() => opened.exec(SCHEMA));
    addColumns(opened);
    const st = Object.fromEntries(
      Object.entries(SQL).map(([k, sql]) => [k, opened.prepare(sql)]),
    ) as unknown as Statements;
    return new SqliteBaseline(pair, where, opened, st);
  } catch (err) {
    try {
      db?.close();
    } catch {
      // Closing a handle that failed half-way may fail too; the open error is the one to report.
    }
    throw unavailable(`baseline ${where}: cannot open: ${errorMessage(err)}`, err);
  }
}

function missingColumns(db: SqlDb): (readonly [string, string])[] {
  const have = new Set(
    (db.prepare('PRAGMA table_info(baseline)').all() as { name: unknown }[]).map((c) => String(c.name)),
  );
  return ADDED_COLUMNS.filter(([name]) => !have.has(name));
}

/**
 * Adds the columns a file made by an older ha-sync lacks. Checked again inside the write lock, so
 * two processes opening the file at once add each column once. Should an ALTER still fail (SQLite
 * gives "duplicate column name" no code of its own), the columns are checked once more: present
 * means another process added them, which is all this wanted.
 */
function addColumns(db: SqlDb): void {
  if (missingColumns(db).length === 0) return;
  try {
    db.immediate(() => {
      for (const [name, type] of missingColumns(db))
        db.exec(`ALTER TABLE baseline ADD COLUMN ${name} ${type}`);
    });
  } catch (err) {
    if (missingColumns(db).length > 0) throw err;
  }
}

export class SqliteBaseline implements BaselineStore {
  readonly kind = 'sqlite' as const;
  private db: SqlDb | null;

  constructor(
    private readonly pair: string,
    readonly where: string,
    db: SqlDb,
    private readonly st: Statements,
  ) {
    this.db = db;
  }

  private fail(what: string, err: unknown): Error {
    if (isHaSyncError(err, 'BASELINE_UNAVAILABLE')) return err;
    return unavailable(`baseline ${this.where}: ${what}: ${errorMessage(err)}`, err);
  }

  /** The open handle, or a throw once closed (a late call must not reach a finalized statement). */
  private open(): SqlDb {
    if (this.db === null) throw unavailable(`baseline ${this.where}: closed`);
    return this.db;
  }

  readDir(dir: string): Promise<BaseRecord[]> {
    try {
      this.open();
      const rows = this.st.readDir.all(this.pair, dir) as RecordRow[];
      const recs = new Array<BaseRecord>(rows.length);
      for (let i = 0; i < rows.length; i++) recs[i] = decodeRecord(rows[i]!, asText);
      return Promise.resolve(sortByName(recs));
    } catch (err) {
      return Promise.reject(this.fail(`read dir ${JSON.stringify(dir)}`, err));
    }
  }

  readPath(path: string): Promise<BaseRecord | null> {
    try {
      this.open();
      if (path === '') return Promise.resolve(null); // the root has no record of its own
      const { dir, name } = splitPath(path);
      const row = this.st.readPath.get(this.pair, dir, name) as RecordRow | undefined;
      return Promise.resolve(row === undefined ? null : decodeRecord(row, asText));
    } catch (err) {
      return Promise.reject(this.fail(`read ${JSON.stringify(path)}`, err));
    }
  }

  treeDirs(path: string): Promise<string[]> {
    try {
      this.open();
      const { lo, hi } = subtreeRange(path);
      const rows = this.st.treeDirs.all(this.pair, path, lo, hi) as { dir: string }[];
      return Promise.resolve(rows.map((r) => r.dir));
    } catch (err) {
      return Promise.reject(this.fail(`list dirs below ${JSON.stringify(path)}`, err));
    }
  }

  write(changes: readonly BaselineChange[]): Promise<void> {
    try {
      if (changes.length === 0) {
        this.open();
        return Promise.resolve();
      }
      const { st, pair } = this;
      // Synchronous from BEGIN to COMMIT: nothing else in this process can interleave, and a
      // throw anywhere (a refused change, a full disk) rolls every change back.
      this.open().immediate(() => {
        const dirs = new Set<string>();
        for (const c of changes) {
          checkChange(c);
          if (c.rec === null) st.drop.run(pair, c.dir, c.name);
          else st.upsert.run(pair, c.dir, c.name, ...recordParams(c.rec, identity));
          if (!dirs.has(c.dir)) {
            dirs.add(c.dir);
            st.clearDigest.run(pair, c.dir);
          }
        }
      });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(this.fail(`write ${changes.length} changes`, err));
    }
  }

  dropTree(path: string): Promise<void> {
    try {
      const { st, pair } = this;
      this.open().immediate(() => {
        if (path === '') {
          st.dropPair.run(pair);
          st.clearDigestsPair.run(pair);
          return;
        }
        const { dir: parent, name } = splitPath(path);
        const { lo, hi } = subtreeRange(path);
        st.drop.run(pair, parent, name);
        st.dropDir.run(pair, path);
        st.dropBelow.run(pair, lo, hi);
        // The parent lost a record, so its digest no longer describes its baseline either.
        st.clearDigest.run(pair, parent);
        st.clearDigest.run(pair, path);
        st.clearDigestsBelow.run(pair, lo, hi);
      });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(this.fail(`drop tree ${JSON.stringify(path)}`, err));
    }
  }

  dirDigest(dir: string): Promise<string | null> {
    try {
      this.open();
      const row = this.st.getDigest.get(this.pair, dir) as { digest: string } | undefined;
      return Promise.resolve(row === undefined ? null : row.digest);
    } catch (err) {
      return Promise.reject(this.fail(`read digest ${JSON.stringify(dir)}`, err));
    }
  }

  setDigest(dir: string, digest: string): Promise<void> {
    try {
      this.open();
      checkDigest(dir, digest);
      this.st.setDigest.run(this.pair, dir, digest);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(this.fail(`set digest ${JSON.stringify(dir)}`, err));
    }
  }

  close(): Promise<void> {
    const db = this.db;
    this.db = null;
    try {
      db?.close();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(this.fail('close', err));
    }
  }
}
