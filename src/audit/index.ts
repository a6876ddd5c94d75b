// Public surface of the audit module: the writer side (`openAudit`, used by the reconciler and the
// live applier), the read side (`openAuditReader`, used by the dashboard), retention (`pruneAudit`,
// used by `ha-sync prune`), DSN helpers (flag validation without a connection) and the SQLite
// driver (the baseline's embedded store uses it too).
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import { openStore } from './open.js';
import type { AuditReader } from './types.js';

export type * from './types.js';
export { parseDsn, describeTarget, scrubber, type MysqlTarget } from './dsn.js';
export { sqlitePath } from './open.js';
// The embedded SQLite driver, shared with the baseline store (src/baseline).
export { openSqlite, type SqlDb, type SqlStatement, type OpenSqliteOptions } from './sqlite-driver.js';
export { openAudit } from './audit.js';
export { pruneAudit, type PruneOptions, type PruneReport } from './prune.js';

export interface AuditOptions {
  /** MySQL DSN; undefined (or '') selects the embedded SQLite file `<logDir>/ha-sync.sqlite`. */
  dsn: string | undefined;
  logDir: string;
  log: Logger;
  /** Default systemClock. Staleness of unfinished opslogs, retention and flush times use it. */
  clock?: Clock;
  /** MySQL connect timeout, ms. Default 3000: a down database must not stall a run. */
  connectTimeoutMs?: number;
  /**
   * An opslog without an end line is flushed as an interrupted run only when it is not this
   * process's open run and its writer is gone or silent (no write, no heartbeat) this long.
   * Milliseconds; default 60000.
   */
  staleAfterMs?: number;
}

/**
 * The dashboard's read-only view. Opening never fails on an unreachable store (`ping` and the
 * queries report it, as HaSyncError 'AUDIT_UNAVAILABLE'). Never creates MySQL tables (the
 * dashboard's account may be read-only): before the first run wrote any, the lists are empty.
 * The SQLite file is created with its schema when missing, so a fresh laptop dashboard starts.
 */
export async function openAuditReader(opts: AuditOptions): Promise<AuditReader> {
  const store = await openStore({
    dsn: opts.dsn,
    logDir: opts.logDir,
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  let schema: Promise<void> | null = null;
  const ready = (): Promise<void> => {
    if (store.kind !== 'sqlite') return Promise.resolve();
    schema ??= store.ensureSchema().catch((err: unknown) => {
      schema = null;
      throw err;
    });
    return schema;
  };
  const afterSchema = async <T>(fn: () => Promise<T>): Promise<T> => {
    await ready();
    return fn();
  };
  return {
    kind: store.kind,
    ping: () => afterSchema(() => store.ping()),
    pairs: () => afterSchema(() => store.pairs()),
    iterations: (q) => afterSchema(() => store.iterations(q)),
    operations: (id, limit) => afterSchema(() => store.operations(id, limit)),
    conflicts: (q) => afterSchema(() => store.conflicts(q)),
    versionsState: (pair) => afterSchema(() => store.versionsState(pair)),
    fileHistory: (q) => afterSchema(() => store.fileHistory(q)),
    close: () => store.close(),
  };
}
