// AuditStore on an embedded SQLite file (node:sqlite, or better-sqlite3 12 on Node 20; WAL), the default without a DSN so a
// laptop run keeps its history and the dashboard can show it. Same tables, same semantics as the
// MySQL store; all values go through bound parameters.
//
// Both drivers are synchronous: every transaction runs without yielding (a flush reads its opslog
// first), so no connection in this process ever waits on a lock held across an await; other
// processes wait on the file lock (busy timeout) and never see a half flush.
import { openSqlite, type SqlDb } from './sqlite-driver.js';
import { HaSyncError, errorMessage } from '../errors.js';
import {
  DRY_RUN_OPS_SQL,
  FIND_RUNNING_SQL,
  INSERT_FINISHED_SQL,
  INSERT_MARKER_SQL,
  INSERT_RUNNING_SQL,
  ITERATION_COLUMNS,
  OPERATION_COLUMNS,
  OP_INSERT_COLUMNS,
  OP_PLACEHOLDERS,
  SELECT_MARKER_SQL,
  SET_MARKER_SQL,
  UPDATE_OUTCOME_SQL,
  fromDbTime,
  headerParams,
  iterationFilter,
  lastDryRunSql,
  mapDryRunKey,
  mapIteration,
  mapOperation,
  opParams,
  outcomeParams,
  runningKeyParams,
  toDbTime,
  type DbRow,
} from './rows.js';
import {
  HISTORY_FROM,
  VERSIONS_STATE_COLUMNS,
  conflictCountsSql,
  conflictFilter,
  conflictRowsSql,
  historyColumns,
  historyTerms,
  mapConflictCount,
  mapHistory,
  mapVersionsState,
  stepFilter,
  versionsStateParams,
  versionsStateSql,
  walkHistory,
  type HistoryStep,
} from './history.js';
import { createSqliteSchema } from './sqlite-schema.js';
import {
  DEFAULT_OPERATIONS_LIMIT,
  clampLimit,
  type AuditStore,
  type FlushResult,
  type FlushRun,
  type LastDryRun,
  type PruneResult,
} from './store.js';
import type {
  ConflictList,
  ConflictQuery,
  HistoryQuery,
  HistoryRow,
  IterationQuery,
  IterationRow,
  OperationRow,
  OpRecord,
  PairSummary,
  VersionsState,
  VersionsStateRow,
} from './types.js';

const UPSERT_VERSIONS_STATE_SQL = `INSERT INTO sync_versions_state (${VERSIONS_STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (pair, side_label) DO UPDATE SET root = excluded.root, files = excluded.files,
bytes = excluded.bytes, oldest_at = excluded.oldest_at, updated_at = excluded.updated_at`;

export interface SqliteStoreOptions {
  /** How long to wait for another process's write lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

export class SqliteStore implements AuditStore {
  readonly kind = 'sqlite' as const;
  readonly where: string;
  private handle: SqlDb | null = null;

  /**
   * Opens lazily, on first use: a file that cannot be opened (permissions, a full disk, another
   * thing at its path) behaves like an unreachable database, so the run goes on with its opslog.
   */
  constructor(
    private readonly file: string,
    private readonly opts: SqliteStoreOptions = {},
  ) {
    this.where = `sqlite:${file}`;
  }

  /** The open handle; throws a plain error that the callers wrap as AUDIT_UNAVAILABLE. */
  private get db(): SqlDb {
    if (this.handle) return this.handle;
    const db = openSqlite(this.file, { busyTimeoutMs: this.opts.busyTimeoutMs ?? 5000 });
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA foreign_keys = ON');
    } catch (err) {
      db.close();
      throw err;
    }
    this.handle = db;
    return db;
  }

  private fail(what: string, err: unknown): HaSyncError {
    if (err instanceof HaSyncError) return err;
    return new HaSyncError('AUDIT_UNAVAILABLE', `audit store ${this.where}: ${what}: ${errorMessage(err)}`);
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(this.fail(what, err));
    }
  }

  private all(sql: string, params: unknown[] = []): DbRow[] {
    return this.db.prepare(sql).all(...params) as DbRow[];
  }

  ensureSchema(): Promise<void> {
    return this.run('create tables', () => createSqliteSchema(this.db));
  }

  ping(): Promise<void> {
    return this.run('ping', () => {
      this.db.prepare('SELECT 1').get();
    });
  }

  insertRunning(h: FlushRun['header']): Promise<number> {
    return this.run('insert running iteration', () => {
      const r = this.db.prepare(INSERT_RUNNING_SQL).run(...headerParams(h));
      return Number(r.lastInsertRowid);
    });
  }

  async flush(run: FlushRun, ops: AsyncIterable<readonly OpRecord[]>, nowMs: number): Promise<FlushResult> {
    const h = run.header;
    // Read the opslog first, then write in one synchronous IMMEDIATE transaction. Holding the
    // write lock across awaits would let another connection in this process spin in its (event
    // loop blocking) busy handler while we can never finish.
    const all: OpRecord[] = [];
    try {
      for await (const batch of ops) for (const op of batch) all.push(op);
    } catch (err) {
      throw err instanceof HaSyncError
        ? err
        : new HaSyncError('OPSLOG_CORRUPT', `cannot read opslog: ${errorMessage(err)}`);
    }
    try {
      const db = this.db;
      // IMMEDIATE takes the write lock first: a concurrent flush waits, then finds the marker.
      return db.immediate((): FlushResult => {
        const prev = db.prepare(SELECT_MARKER_SQL).get(h.runId) as DbRow | undefined;
        if (prev) return { iterationId: Number(prev.iteration_id ?? 0), duplicate: true, operations: 0 };
        db.prepare(INSERT_MARKER_SQL).run(h.runId, toDbTime(nowMs));
        let id: number | null = null;
        if (run.iterationId !== null) {
          const found = db.prepare(FIND_RUNNING_SQL).get(...runningKeyParams(run.iterationId, h));
          if (found) id = run.iterationId;
        }
        const outcome = outcomeParams(run.end);
        if (id !== null) {
          db.prepare(UPDATE_OUTCOME_SQL).run(...outcome, id);
        } else {
          id = Number(db.prepare(INSERT_FINISHED_SQL).run(...headerParams(h), ...outcome).lastInsertRowid);
        }
        const insert = db.prepare(
          `INSERT INTO sync_operations ${OP_INSERT_COLUMNS} VALUES ${OP_PLACEHOLDERS}`,
        );
        const dry = h.dryRun ? 1 : 0;
        for (const op of all) insert.run(...opParams(id, dry, op));
        db.prepare(SET_MARKER_SQL).run(id, h.runId);
        return { iterationId: id, duplicate: false, operations: all.length };
      });
    } catch (err) {
      throw this.fail('flush', err);
    }
  }

  lastDryRun(pair: string, direction: string): Promise<LastDryRun | null> {
    return this.run('last dry-run', () => {
      const row = this.all(lastDryRunSql(), [pair, direction])[0];
      if (!row) return null;
      return {
        iterationId: Number(row.id),
        startedAt: new Date(fromDbTime(row.started_at)),
        ops: this.all(DRY_RUN_OPS_SQL, [row.id]).map(mapDryRunKey),
      };
    });
  }

  pairs(): Promise<PairSummary[]> {
    return this.run('pairs', () => {
      const keys = this.all(
        'SELECT DISTINCT sync_pair, direction FROM sync_iterations ORDER BY sync_pair, direction',
      );
      const one = (sql: string, p: unknown[]): IterationRow | null => {
        const r = this.all(sql, p)[0];
        return r ? mapIteration(r) : null;
      };
      const base = `SELECT ${ITERATION_COLUMNS} FROM sync_iterations WHERE sync_pair = ? AND direction = ?`;
      const order = 'ORDER BY started_at DESC, id DESC LIMIT 1';
      return keys.map((k) => {
        const p = [k.sync_pair, k.direction];
        return {
          pair: String(k.sync_pair),
          direction: String(k.direction),
          lastReal: one(`${base} AND dry_run = 0 ${order}`, p),
          lastRealSuccess: one(`${base} AND dry_run = 0 AND status = 'success' ${order}`, p),
          lastDryRun: one(`${base} AND dry_run = 1 ${order}`, p),
        };
      });
    });
  }

  iterations(q: IterationQuery): Promise<IterationRow[]> {
    return this.run('iterations', () => {
      const { where, params } = iterationFilter(q);
      return this.all(
        `SELECT ${ITERATION_COLUMNS} FROM sync_iterations${where} ORDER BY started_at DESC, id DESC LIMIT ?`,
        [...params, clampLimit(q.limit, 20)],
      ).map(mapIteration);
    });
  }

  operations(iterationId: number, limit?: number): Promise<OperationRow[]> {
    return this.run('operations', () =>
      this.all(
        `SELECT ${OPERATION_COLUMNS} FROM sync_operations WHERE iteration_id = ? ORDER BY id LIMIT ?`,
        [iterationId, clampLimit(limit, DEFAULT_OPERATIONS_LIMIT)],
      ).map(mapOperation),
    );
  }

  conflicts(q: ConflictQuery): Promise<ConflictList> {
    return this.run('conflicts', () => {
      const { where, params } = conflictFilter(q);
      return {
        counts: this.all(conflictCountsSql(where), params).map(mapConflictCount),
        rows: this.all(conflictRowsSql(where, clampLimit(q.limit, 100)), params).map(mapHistory),
      };
    });
  }

  versionsState(pair?: string): Promise<VersionsStateRow[]> {
    return this.run('versions state', () => {
      const { sql, params } = versionsStateSql(pair);
      return this.all(sql, params).map(mapVersionsState);
    });
  }

  fileHistory(q: HistoryQuery): Promise<HistoryRow[]> {
    return walkHistory({ ...q, limit: clampLimit(q.limit, 200) }, (step, limit) =>
      this.run('file history', () => this.historyStep(step, limit)),
    );
  }

  /** One lookup of a file history (history.ts walkHistory). */
  private historyStep(step: HistoryStep, limit: number): HistoryRow[] {
    const terms = historyTerms(step.keys, { kept: true, moved: true });
    const filter = stepFilter(step, true);
    // SQLite answers an OR of indexed terms with one index lookup per term (multi-index OR).
    const where = `(${terms.map((t) => `(${t.sql})`).join(' OR ')})${filter.sql}`;
    return this.all(
      `SELECT ${historyColumns()} FROM ${HISTORY_FROM} WHERE ${where} ORDER BY o.started_at DESC, o.id DESC LIMIT ${limit}`,
      [...terms.flatMap((t) => t.params), ...filter.params],
    ).map(mapHistory);
  }

  recordVersionsState(
    pair: string,
    sideLabel: string,
    root: string,
    state: VersionsState,
    nowMs: number,
  ): Promise<void> {
    return this.run('record versions state', () => {
      this.db
        .prepare(UPSERT_VERSIONS_STATE_SQL)
        .run(...versionsStateParams(pair, sideLabel, root, state, nowMs));
    });
  }

  async prune(cutoffMs: number, batchSize: number, markerCutoffMs: number): Promise<PruneResult> {
    const batch = Math.max(1, Math.trunc(batchSize));
    const cutoff = toDbTime(cutoffMs);
    const res: PruneResult = { operations: 0, iterations: 0, flushes: 0 };
    try {
      const pickIds = this.db.prepare(
        'SELECT id FROM sync_iterations WHERE started_at < ? ORDER BY started_at, id LIMIT ?',
      );
      const delOps = this.db.prepare(
        'DELETE FROM sync_operations WHERE id IN (SELECT id FROM sync_operations WHERE iteration_id IN (SELECT value FROM json_each(?)) LIMIT ?)',
      );
      const delIts = this.db.prepare(
        'DELETE FROM sync_iterations WHERE id IN (SELECT value FROM json_each(?))',
      );
      const delFlushes = this.db.prepare(
        'DELETE FROM sync_flushes WHERE run_id IN (SELECT run_id FROM sync_flushes WHERE flushed_at < ? LIMIT ?)',
      );
      // Each statement is its own short transaction; yield between them so the event loop (and
      // other processes waiting on the file lock) get their turn.
      for (;;) {
        const ids = (pickIds.all(cutoff, Math.min(batch, 500)) as DbRow[]).map((r) => Number(r.id));
        if (ids.length === 0) break;
        const list = JSON.stringify(ids);
        for (;;) {
          const n = Number(delOps.run(list, batch).changes);
          res.operations += n;
          await new Promise((r) => setImmediate(r));
          if (n < batch) break;
        }
        res.iterations += Number(delIts.run(list).changes);
      }
      for (;;) {
        const n = Number(delFlushes.run(toDbTime(markerCutoffMs), batch).changes);
        res.flushes += n;
        if (n < batch) break;
      }
      return res;
    } catch (err) {
      throw this.fail('prune', err);
    }
  }

  close(): Promise<void> {
    try {
      this.handle?.close();
      this.handle = null;
    } catch {
      // Closing twice or after a failed open: nothing to release.
    }
    return Promise.resolve();
  }
}
