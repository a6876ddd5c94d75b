// Picks and opens a pair's baseline store: MySQL when a DSN is given (the production store, shared
// by pods on different nodes), else the SQLite file in the log dir. Only the chosen store's driver
// is loaded (mysql2 alone takes tens of milliseconds to load).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseDsn } from '../audit/index.js';
import { errorMessage } from '../errors.js';
import { checkPair, unavailable } from './rows.js';
import { openSqliteBaseline } from './sqlite.js';
import type { BaselineOptions, BaselineStore } from './types.js';

/** The SQLite store's file name in the log dir. */
export const BASELINE_FILE = 'baseline.sqlite';

export function baselinePath(logDir: string): string {
  return join(logDir, BASELINE_FILE);
}

/**
 * Opens the store for one pair, creating the file or tables when missing, so that a store which
 * opens is known to work. Throws HaSyncError('BASELINE_UNAVAILABLE') when it cannot (database
 * down, file unreadable, written by a newer ha-sync); the caller then runs in safe mode. A DSN
 * that does not parse is a configuration error and throws 'USAGE' instead (the audit rejects the
 * same flag first).
 */
export async function openBaseline(o: BaselineOptions): Promise<BaselineStore> {
  checkPair(o.pair);
  if (o.dsn !== null && o.dsn.trim() !== '') {
    const target = parseDsn(o.dsn);
    const { MysqlBaseline } = await import('./mysql.js');
    const store = new MysqlBaseline(o.pair, target, {
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(o.queryTimeoutMs !== undefined ? { queryTimeoutMs: o.queryTimeoutMs } : {}),
    });
    try {
      await store.ensureSchema();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
  try {
    mkdirSync(o.logDir, { recursive: true });
  } catch (err) {
    throw unavailable(`baseline: cannot create log dir ${o.logDir}: ${errorMessage(err)}`, err);
  }
  const store = openSqliteBaseline(
    o.pair,
    baselinePath(o.logDir),
    o.busyTimeoutMs !== undefined ? { busyTimeoutMs: o.busyTimeoutMs } : {},
  );
  return store;
}

/**
 * A store in process memory (SQLite ':memory:'), gone on close: the real SQLite store with
 * nothing on disk, for tests and dry runs that must not leave a file behind.
 */
export function openMemoryBaseline(pair: string): BaselineStore {
  checkPair(pair);
  return openSqliteBaseline(pair, ':memory:');
}
