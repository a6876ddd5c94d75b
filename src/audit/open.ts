// Picks and opens the store behind an audit: MySQL when a DSN is given, else the embedded SQLite
// file in the log dir. One place, so the writer, the reader and `prune` agree.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HaSyncError, errorMessage } from '../errors.js';
import { parseDsn } from './dsn.js';
import type { MysqlStoreOptions } from './mysql.js';
import type { AuditStore } from './store.js';

/** The embedded store's file name in the log dir. */
export const SQLITE_FILE = 'ha-sync.sqlite';

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
 * opened throws 'AUDIT_UNAVAILABLE'. Only the chosen store's driver is loaded (mysql2 alone takes
 * 50 ms to load, a tenth of a no-op run).
 */
export async function openStore(opts: StoreOptions): Promise<AuditStore> {
  if (opts.dsn !== undefined && opts.dsn.trim() !== '') {
    const target = parseDsn(opts.dsn);
    const mo: MysqlStoreOptions = {};
    if (opts.connectTimeoutMs !== undefined) mo.connectTimeoutMs = opts.connectTimeoutMs;
    if (opts.queryTimeoutMs !== undefined) mo.queryTimeoutMs = opts.queryTimeoutMs;
    const { MysqlStore } = await import('./mysql.js');
    return new MysqlStore(target, mo);
  }
  try {
    mkdirSync(opts.logDir, { recursive: true });
  } catch (err) {
    throw new HaSyncError('AUDIT_UNAVAILABLE', `cannot create log dir ${opts.logDir}: ${errorMessage(err)}`);
  }
  const { SqliteStore } = await import('./sqlite.js');
  return new SqliteStore(sqlitePath(opts.logDir));
}
