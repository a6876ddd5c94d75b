// Picks and opens the store behind an audit: MySQL when a DSN is given, else the embedded SQLite
// file in the log dir. One place, so the writer, the reader and `prune` agree.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HaSyncError, errorMessage } from '../errors.js';
import { parseDsn } from './dsn.js';
import { MysqlStore, type MysqlStoreOptions } from './mysql.js';
import { SQLITE_FILE, SqliteStore } from './sqlite.js';
import type { AuditStore } from './store.js';

export interface StoreOptions {
  /** MySQL DSN (either form); undefined or '' selects `<logDir>/ha-sync.sqlite`. */
  dsn: string | undefined;
  logDir: string;
  /** MySQL connect timeout, ms. Default 3000. */
  connectTimeoutMs?: number;
  /** MySQL statement timeout, ms. Default 60000. */
  queryTimeoutMs?: number;
}

export function sqlitePath(logDir: string): string {
  return join(logDir, SQLITE_FILE);
}

/**
 * Opens the store without touching the network (a MySQL pool connects on first use), so a down
 * database never fails here. A bad DSN throws HaSyncError('USAGE'); an SQLite file that cannot be
 * opened throws 'AUDIT_UNAVAILABLE'.
 */
export function openStore(opts: StoreOptions): AuditStore {
  if (opts.dsn !== undefined && opts.dsn.trim() !== '') {
    const mo: MysqlStoreOptions = {};
    if (opts.connectTimeoutMs !== undefined) mo.connectTimeoutMs = opts.connectTimeoutMs;
    if (opts.queryTimeoutMs !== undefined) mo.queryTimeoutMs = opts.queryTimeoutMs;
    return new MysqlStore(parseDsn(opts.dsn), mo);
  }
  try {
    mkdirSync(opts.logDir, { recursive: true });
  } catch (err) {
    throw new HaSyncError('AUDIT_UNAVAILABLE', `cannot create log dir ${opts.logDir}: ${errorMessage(err)}`);
  }
  return new SqliteStore(sqlitePath(opts.logDir));
}
