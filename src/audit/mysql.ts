// AuditStore on MySQL 8 / MariaDB 10.11 (mysql2). Every statement that carries data from outside
// (pair names, paths, error text) goes through server-side prepared statements (`execute`), so a
// hostile value is a value whatever the server's sql_mode; only integers we produced ourselves
// (LIMIT, id lists) are written into SQL text. Times are written and read as UTC DATETIME(3) text
// (`dateStrings`, `timezone: 'Z'`, session time_zone '+00:00').
//
// Invariant: no error leaving this module contains the password. Driver errors are re-thrown as
// HaSyncError('AUDIT_UNAVAILABLE') with a scrubbed one-line message and no `cause`.
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { HaSyncError, errorMessage } from '../errors.js';
import { describeTarget, scrubber, type MysqlTarget } from './dsn.js';
import {
  DRY_RUN_OPS_SQL,
  FIND_RUNNING_SQL,
  INSERT_FINISHED_SQL,
  INSERT_MARKER_SQL,
  INSERT_RUNNING_SQL,
  ITERATION_COLUMNS,
  KEPT_OPERATION_COLUMNS,
  LEGACY_ITERATION_COLUMNS,
  OPERATION_SCHEMAS,
  OP_COLUMNS,
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
  type OperationSchema,
  type Param,
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
import { createMysqlSchema } from './mysql-schema.js';
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

export interface MysqlStoreOptions {
  /** TCP connect timeout, ms. Default 3000: a down database must not stall a run. */
  connectTimeoutMs?: number;
  /** Timeout of one statement, ms. Default 60000 (a 100k-row batch insert takes well under that). */
  queryTimeoutMs?: number;
  /** Pool size. Default 4. */
  connectionLimit?: number;
}

/** A statement for an older generation of the schema (see readRows). */
interface Legacy {
  sql: () => string;
  params: Param[];
}

const ER_DUP_ENTRY = 1062;
const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_FIELD_ERROR = 1054;

/**
 * Statements a run waits on before it starts (ping, the 'running' row, the last dry-run): a
 * database that accepts connections but hangs must not stall the sync for long.
 */
const QUICK_TIMEOUT_MS = 10_000;
const ER_KEY_DOES_NOT_EXIST = 1176;

/** Rows per multi-row INSERT, and a byte budget well under the default 16 MB max_allowed_packet. */
const INSERT_ROWS = 2000;
const INSERT_BYTES = 4 * 1024 * 1024;

export class MysqlStore implements AuditStore {
  readonly kind = 'mysql' as const;
  readonly where: string;
  private readonly pool: Pool;
  private readonly scrub: (m: string) => string;
  private readonly queryTimeoutMs: number;
  private readonly target: MysqlTarget;
  private readonly connectTimeoutMs: number;
  private useHints = true;

  constructor(target: MysqlTarget, opts: MysqlStoreOptions = {}) {
    this.target = target;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.where = describeTarget(target);
    this.scrub = scrubber(target.password);
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 60_000;
    this.pool = mysql.createPool({
      host: target.host,
      port: target.port,
      ...(target.socketPath ? { socketPath: target.socketPath } : {}),
      user: target.user,
      password: target.password,
      database: target.database,
      ...(target.tls ? { ssl: { rejectUnauthorized: target.tls === 'verify' } } : {}),
      connectTimeout: opts.connectTimeoutMs ?? 3000,
      connectionLimit: opts.connectionLimit ?? 4,
      maxIdle: 1,
      idleTimeout: 30_000,
      waitForConnections: true,
      queueLimit: 0,
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: false,
      charset: 'UTF8MB4_BIN',
      // Evicted statements are closed on the server; a few shapes are all this store uses.
      maxPreparedStatements: 64,
      multipleStatements: false,
    });
    // Each new connection gets a UTC session before any statement of ours (the connection's
    // command queue is FIFO, and this listener runs before the connection is handed out).
    this.pool.on('connection', (conn) => {
      (conn as unknown as { query(sql: string, cb: (err: unknown) => void): void }).query(
        "SET time_zone = '+00:00'",
        () => undefined,
      );
    });
  }

  private fail(what: string, err: unknown): HaSyncError {
    if (err instanceof HaSyncError) return err;
    return new HaSyncError(
      'AUDIT_UNAVAILABLE',
      this.scrub(`audit store ${this.where}: ${what}: ${errorMessage(err)}`),
    );
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  private async rows(
    sql: string,
    params: Param[] = [],
    conn?: PoolConnection,
    timeout = this.queryTimeoutMs,
  ): Promise<DbRow[]> {
    const [rows] = await (conn ?? this.pool).execute<RowDataPacket[]>({ sql, timeout }, params);
    return rows;
  }

  private async write(
    sql: string,
    params: Param[] = [],
    conn?: PoolConnection,
    timeout = this.queryTimeoutMs,
  ): Promise<ResultSetHeader> {
    const [res] = await (conn ?? this.pool).execute<ResultSetHeader>({ sql, timeout }, params);
    return res;
  }

  /**
   * An index hint for the per-(pair, direction) "latest" lookups. MariaDB's optimizer otherwise
   * prefers an index_merge of the seed's single-column indexes plus a filesort over all of a
   * pair's rows; with the hint it reads one row backwards from the composite index. A database
   * whose schema someone else created (without ha-sync's indexes) gets no hints.
   */
  private hint(index: string): string {
    return this.useHints ? `FORCE INDEX (${index})` : '';
  }

  /**
   * Reader queries treat a schema nobody created yet (a read-only dashboard first) as empty. A
   * table without some added columns (the seed's, or an older ha-sync's, not migrated yet by a
   * writer of this version) answers through `legacy`: the statements for older generations of the
   * schema, newest first, tried in turn (or 'empty': no rows). Checked on every call, so the
   * reader sees the migration as soon as a writer made it.
   */
  private async readRows(
    what: string,
    sql: () => string,
    params: Param[] = [],
    legacy: readonly (Legacy | 'empty')[] = [],
  ): Promise<DbRow[]> {
    try {
      return await this.rows(sql(), params);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === ER_NO_SUCH_TABLE) return [];
      if (errno === ER_KEY_DOES_NOT_EXIST && this.useHints) {
        this.useHints = false;
        return this.readRows(what, sql, params, legacy);
      }
      const [next, ...older] = legacy;
      if (errno === ER_BAD_FIELD_ERROR && next !== undefined) {
        return next === 'empty' ? [] : this.readRows(what, next.sql, next.params, older);
      }
      throw this.fail(what, err);
    }
  }

  async ensureSchema(): Promise<void> {
    await this.run('create tables', () => createMysqlSchema(this.pool, this.target, this.connectTimeoutMs));
  }

  async ping(): Promise<void> {
    await this.run('ping', () => this.rows('SELECT 1', [], undefined, QUICK_TIMEOUT_MS));
  }

  async insertRunning(h: FlushRun['header']): Promise<number> {
    return this.run('insert running iteration', async () => {
      const res = await this.write(INSERT_RUNNING_SQL, headerParams(h), undefined, QUICK_TIMEOUT_MS);
      return res.insertId;
    });
  }

  async flush(run: FlushRun, ops: AsyncIterable<readonly OpRecord[]>, nowMs: number): Promise<FlushResult> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (err) {
      throw this.fail('connect', err);
    }
    let fkChecksOff = false;
    try {
      await conn.beginTransaction();
      try {
        // The marker first: a concurrent flush of the same run waits on this key until we commit
        // (then sees a duplicate and writes nothing) or roll back (then it does the work).
        try {
          await this.write(INSERT_MARKER_SQL, [run.header.runId, toDbTime(nowMs)], conn);
        } catch (err) {
          if ((err as { errno?: number }).errno !== ER_DUP_ENTRY) throw err;
          await conn.rollback();
          const prev = await this.rows(SELECT_MARKER_SQL, [run.header.runId], conn);
          return { iterationId: Number(prev[0]?.iteration_id ?? 0), duplicate: true, operations: 0 };
        }
        const h = run.header;
        let id: number | null = null;
        if (run.iterationId !== null) {
          // Update the 'running' row only if it is still the one this run inserted.
          const found = await this.rows(
            `${FIND_RUNNING_SQL} FOR UPDATE`,
            runningKeyParams(run.iterationId, h),
            conn,
          );
          if (found.length === 1) id = run.iterationId;
        }
        const outcome = outcomeParams(run.end);
        if (id !== null) {
          await this.write(UPDATE_OUTCOME_SQL, [...outcome, id], conn);
        } else {
          id = (await this.write(INSERT_FINISHED_SQL, [...headerParams(h), ...outcome], conn)).insertId;
        }
        // Every operation row references the iteration row this transaction just wrote or locked,
        // so the per-row foreign key lookup proves nothing; skipping it makes big flushes faster.
        await conn.query('SET SESSION foreign_key_checks = 0');
        fkChecksOff = true;
        let inserted: number;
        try {
          inserted = await this.insertOps(conn, id, h.dryRun, ops);
        } finally {
          await conn.query('SET SESSION foreign_key_checks = 1');
          fkChecksOff = false;
        }
        await this.write(SET_MARKER_SQL, [id, h.runId], conn);
        await conn.commit();
        return { iterationId: id, duplicate: false, operations: inserted };
      } catch (err) {
        await conn.rollback().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      throw this.fail('flush', err);
    } finally {
      // A connection whose foreign key checks could not be turned back on must never serve
      // another statement: drop it rather than return it to the pool.
      if (fkChecksOff) conn.destroy();
      else conn.release();
    }
  }

  private async insertOps(
    conn: PoolConnection,
    iterationId: number,
    dryRun: boolean,
    ops: AsyncIterable<readonly OpRecord[]>,
  ): Promise<number> {
    let params: Param[] = [];
    let rows = 0;
    let bytes = 0;
    let total = 0;
    const send = async (): Promise<void> => {
      // Prepared statements are cached per connection by their text, and the server caps them
      // (max_prepared_stmt_count, shared by every client). A partial batch is therefore sent in
      // power-of-two chunks, so all flushes together use at most a dozen statement shapes.
      let at = 0;
      while (at < rows) {
        const left = rows - at;
        const n = left >= INSERT_ROWS ? INSERT_ROWS : 2 ** Math.floor(Math.log2(left));
        const sql = `INSERT INTO sync_operations ${OP_INSERT_COLUMNS} VALUES ${Array(n).fill(OP_PLACEHOLDERS).join(',')}`;
        await this.write(sql, params.slice(at * OP_COLUMNS, (at + n) * OP_COLUMNS), conn);
        at += n;
      }
      total += rows;
      params = [];
      rows = 0;
      bytes = 0;
    };
    const dry = dryRun ? 1 : 0;
    // Read ahead: the next batch is parsed from the opslog while the server runs the insert.
    const it = ops[Symbol.asyncIterator]();
    let next = it.next();
    for (;;) {
      const r = await next;
      if (r.done) break;
      next = it.next();
      // A read error surfaces when awaited above; do not let it go unhandled meanwhile.
      next.catch(() => undefined);
      const batch = r.value;
      for (const op of batch) {
        const row = opParams(iterationId, dry, op);
        for (const v of row) params.push(v);
        rows++;
        // filepath, error_message, kept_path and moved_from are the only long values; 4 bytes a
        // character at worst.
        bytes +=
          200 +
          (String(row[3]).length +
            String(row[11] ?? '').length +
            String(row[12] ?? '').length +
            String(row[16] ?? '').length) *
            4;
        if (rows >= INSERT_ROWS || bytes >= INSERT_BYTES) await send();
      }
    }
    await send();
    return total;
  }

  async lastDryRun(pair: string, direction: string): Promise<LastDryRun | null> {
    return this.run('last dry-run', async () => {
      const it = await this.rows(lastDryRunSql(this.hint('idx_pair_dir_dry_status_started')), [
        pair,
        direction,
      ]);
      const row = it[0];
      if (!row) return null;
      const ops = await this.rows(DRY_RUN_OPS_SQL, [Number(row.id)]);
      return {
        iterationId: Number(row.id),
        startedAt: new Date(fromDbTime(row.started_at)),
        ops: ops.map(mapDryRunKey),
      };
    });
  }

  async pairs(): Promise<PairSummary[]> {
    const keys = await this.readRows(
      'pairs',
      () => 'SELECT DISTINCT sync_pair, direction FROM sync_iterations ORDER BY sync_pair, direction',
    );
    const out: PairSummary[] = [];
    for (const k of keys) {
      const p = [String(k.sync_pair), String(k.direction)];
      // Three index lookups (idx_pair_dir_dry_started / idx_pair_dir_dry_status_started), one round trip.
      const sql = (cols: string) => (): string =>
        `(SELECT 'real' AS kind, ${cols} FROM sync_iterations ${this.hint('idx_pair_dir_dry_started')} WHERE sync_pair = ? AND direction = ? AND dry_run = 0 ORDER BY started_at DESC, id DESC LIMIT 1)
         UNION ALL
         (SELECT 'success' AS kind, ${cols} FROM sync_iterations ${this.hint('idx_pair_dir_dry_status_started')} WHERE sync_pair = ? AND direction = ? AND dry_run = 0 AND status = 'success' ORDER BY started_at DESC, id DESC LIMIT 1)
         UNION ALL
         (SELECT 'dry' AS kind, ${cols} FROM sync_iterations ${this.hint('idx_pair_dir_dry_started')} WHERE sync_pair = ? AND direction = ? AND dry_run = 1 ORDER BY started_at DESC, id DESC LIMIT 1)`;
      const params = [...p, ...p, ...p];
      const rows = await this.readRows('pair summary', sql(ITERATION_COLUMNS), params, [
        { sql: sql(LEGACY_ITERATION_COLUMNS), params },
      ]);
      const pick = (kind: string): IterationRow | null => {
        const r = rows.find((x) => x.kind === kind);
        return r ? mapIteration(r) : null;
      };
      out.push({
        pair: String(k.sync_pair),
        direction: String(k.direction),
        lastReal: pick('real'),
        lastRealSuccess: pick('success'),
        lastDryRun: pick('dry'),
      });
    }
    return out;
  }

  async iterations(q: IterationQuery): Promise<IterationRow[]> {
    const { where, params } = iterationFilter(q);
    const limit = clampLimit(q.limit, 20);
    const sql = (cols: string) => (): string =>
      `SELECT ${cols} FROM sync_iterations${where} ORDER BY started_at DESC, id DESC LIMIT ${limit}`;
    const rows = await this.readRows('iterations', sql(ITERATION_COLUMNS), params, [
      { sql: sql(LEGACY_ITERATION_COLUMNS), params },
    ]);
    return rows.map(mapIteration);
  }

  async operations(iterationId: number, limit?: number): Promise<OperationRow[]> {
    const n = clampLimit(limit, DEFAULT_OPERATIONS_LIMIT);
    const [now, ...older] = OPERATION_SCHEMAS.map((s) => ({
      sql: () => `SELECT ${s.columns} FROM sync_operations WHERE iteration_id = ? ORDER BY id LIMIT ${n}`,
      params: [iterationId],
    }));
    const rows = await this.readRows('operations', now!.sql, now!.params, older);
    return rows.map(mapOperation);
  }

  async conflicts(q: ConflictQuery): Promise<ConflictList> {
    const { where, params } = conflictFilter(q);
    const limit = clampLimit(q.limit, 100);
    // Before the kept columns exist nothing was recorded as a conflict: no rows.
    const counts = await this.readRows('conflicts', () => conflictCountsSql(where), params, ['empty']);
    const rows = counts.length
      ? await this.readRows('conflicts', () => conflictRowsSql(where, limit), params, [
          { sql: () => conflictRowsSql(where, limit, KEPT_OPERATION_COLUMNS), params },
          'empty',
        ])
      : [];
    return { counts: counts.map(mapConflictCount), rows: rows.map(mapHistory) };
  }

  async versionsState(pair?: string): Promise<VersionsStateRow[]> {
    const { sql, params } = versionsStateSql(pair);
    return (await this.readRows('versions state', () => sql, params)).map(mapVersionsState);
  }

  async fileHistory(q: HistoryQuery): Promise<HistoryRow[]> {
    return walkHistory({ ...q, limit: clampLimit(q.limit, 200) }, (step, limit) =>
      this.historyStep(step, limit),
    );
  }

  /** One lookup of a file history (history.ts walkHistory), on whichever schema the table has. */
  private async historyStep(step: HistoryStep, limit: number): Promise<HistoryRow[]> {
    const filter = stepFilter(step);
    // One index lookup per term, each limited, merged newest first (UNION also drops a row that
    // two terms found). An OR of the terms would make MariaDB scan the table.
    const statement = (schema: OperationSchema): Legacy => {
      const terms = historyTerms(step.keys, schema);
      const cols = historyColumns(schema.columns);
      const parts = terms.map(
        (t) =>
          `(SELECT ${cols} FROM ${HISTORY_FROM} WHERE ${t.sql}${filter.sql} ORDER BY o.started_at DESC, o.id DESC LIMIT ${limit})`,
      );
      const sql = `${parts.join(' UNION ')} ORDER BY started_at DESC, id DESC LIMIT ${limit}`;
      return { sql: () => sql, params: terms.flatMap((t) => [...t.params, ...filter.params]) };
    };
    const [now, ...older] = OPERATION_SCHEMAS.map(statement);
    const rows = await this.readRows('file history', now!.sql, now!.params, older);
    return rows.map(mapHistory);
  }

  async recordVersionsState(
    pair: string,
    sideLabel: string,
    root: string,
    state: VersionsState,
    nowMs: number,
  ): Promise<void> {
    const p = versionsStateParams(pair, sideLabel, root, state, nowMs);
    // The new values bound twice rather than VALUES(col), which MySQL 8.0.20+ deprecates and the
    // `AS new` alias form MariaDB does not have.
    await this.run('record versions state', () =>
      this.write(
        `INSERT INTO sync_versions_state (${VERSIONS_STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE root = ?, files = ?, bytes = ?, oldest_at = ?, updated_at = ?`,
        [...p, ...p.slice(2)],
      ),
    );
  }

  async prune(cutoffMs: number, batchSize: number, markerCutoffMs: number): Promise<PruneResult> {
    const batch = Math.max(1, Math.trunc(batchSize));
    const cutoff = toDbTime(cutoffMs);
    const markerCutoff = toDbTime(markerCutoffMs);
    const res: PruneResult = { operations: 0, iterations: 0, flushes: 0 };
    return this.run('prune', async () => {
      // Oldest iterations first, a few hundred at a time (idx_started); their operations by
      // iteration id (idx_iteration), each DELETE its own short autocommit transaction.
      for (;;) {
        const ids = (
          await this.rows(
            `SELECT id FROM sync_iterations WHERE started_at < ? ORDER BY started_at, id LIMIT ${Math.min(batch, 500)}`,
            [cutoff],
          )
        ).map((r) => Number(r.id));
        if (ids.length === 0) break;
        const list = ids.join(',');
        for (;;) {
          const [r] = await this.pool.query<ResultSetHeader>({
            sql: `DELETE FROM sync_operations WHERE iteration_id IN (${list}) LIMIT ${batch}`,
            timeout: this.queryTimeoutMs,
          });
          res.operations += r.affectedRows;
          if (r.affectedRows < batch) break;
        }
        const [r] = await this.pool.query<ResultSetHeader>({
          sql: `DELETE FROM sync_iterations WHERE id IN (${list})`,
          timeout: this.queryTimeoutMs,
        });
        res.iterations += r.affectedRows;
      }
      for (;;) {
        const r = await this.write(`DELETE FROM sync_flushes WHERE flushed_at < ? LIMIT ${batch}`, [
          markerCutoff,
        ]);
        res.flushes += r.affectedRows;
        if (r.affectedRows < batch) break;
      }
      return res;
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
