// The SQLite driver behind the embedded audit store: Node's built-in `node:sqlite` where the
// runtime has it (Node >= 22.5, the production image's Node 24), better-sqlite3 12 elsewhere
// (Node 20, which has no node:sqlite).
//
// Why not better-sqlite3 everywhere: from Node 24.19, node::ObjectWrap's destructor asserts that a
// Node environment is current, and better-sqlite3 <= 12 derives its Statement from it, so a
// statement finalized by an idle garbage collection aborts the whole process (SIGABRT, seen here
// in the test suite under Node 24.21). better-sqlite3 13 fixes that but crashes on Node 20. Both
// drivers get the same small synchronous surface below.
import { createRequire } from 'node:module';

export interface SqlRunResult {
  changes: number | bigint;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  run(...params: unknown[]): SqlRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface SqlDb {
  /** 'node:sqlite' or 'better-sqlite3', for logs and tests. */
  readonly driver: string;
  prepare(sql: string): SqlStatement;
  exec(sql: string): void;
  /** Runs `fn` in a BEGIN IMMEDIATE transaction (the write lock first); rolls back on throw. */
  immediate<T>(fn: () => T): T;
  close(): void;
}

export interface OpenSqliteOptions {
  /** How long to wait for another process's write lock, ms. */
  busyTimeoutMs: number;
}

interface NodeSqliteModule {
  DatabaseSync: new (
    path: string,
    options?: { timeout?: number },
  ) => {
    prepare(sql: string): SqlStatement;
    exec(sql: string): void;
    close(): void;
  };
}

type BetterSqlite = new (
  path: string,
  options?: { timeout?: number },
) => {
  prepare(sql: string): SqlStatement;
  exec(sql: string): void;
  close(): void;
};

/** node:sqlite when this runtime has it (without a flag), else null. */
function loadNodeSqlite(): NodeSqliteModule | null {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return null;
  // Loading it may emit "SQLite is an experimental feature": true of the module, not of what we
  // do with it, and one stray stderr line per process would confuse every CLI user.
  // Kept unbound on purpose: restored as the very same function below.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning: string | Error, ...rest: unknown[]): void => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && /SQLite/i.test(String(warning))) return;
    (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  };
  try {
    const mod = getBuiltin.call(process, 'node:sqlite') as NodeSqliteModule | undefined;
    return mod && typeof mod.DatabaseSync === 'function' ? mod : null;
  } catch {
    return null; // Node 22.5-22.12 without --experimental-sqlite
  } finally {
    process.emitWarning = emitWarning;
  }
}

function immediate<T>(db: { exec(sql: string): void }, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  let result: T;
  try {
    result = fn();
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
    }
    throw err;
  }
  db.exec('COMMIT');
  return result;
}

/** Opens (creating when missing) the SQLite file with the best driver this runtime has. */
export function openSqlite(file: string, opts: OpenSqliteOptions): SqlDb {
  const nodeSqlite = loadNodeSqlite();
  let db: { prepare(sql: string): SqlStatement; exec(sql: string): void; close(): void };
  let driver: string;
  if (nodeSqlite) {
    db = new nodeSqlite.DatabaseSync(file, { timeout: opts.busyTimeoutMs });
    driver = 'node:sqlite';
  } else {
    const Database = createRequire(import.meta.url)('better-sqlite3') as BetterSqlite;
    db = new Database(file, { timeout: opts.busyTimeoutMs });
    driver = 'better-sqlite3';
  }
  return {
    driver,
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => db.exec(sql),
    immediate: (fn) => immediate(db, fn),
    close: () => db.close(),
  };
}
