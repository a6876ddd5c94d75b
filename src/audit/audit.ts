// The writer side of the audit: a run's life from opslog to store, and the recovery of opslogs
// that earlier runs left behind.
//
// Invariants, in the order they matter:
//  1. An operation is in the opslog before `record` resolves (written to the kernel; fsynced when
//     the run finishes, see opslog.ts); the store is never the only copy.
//  2. The store being down never fails a run: the opslog stays, and a later run flushes it.
//  3. Each opslog reaches the store exactly once: the flush claims the run id in `sync_flushes`
//     inside the transaction that writes the rows, and a file whose run id is claimed is deleted
//     without writing (the crash-between-commit-and-unlink case).
//  4. A run still being written is never flushed by someone else: only opslogs with an end line,
//     or whose writer is gone (same host: its pid is dead; another host: its file was silent past
//     `staleAfterMs`, while a live writer touches it every staleAfterMs/3 as a heartbeat), and
//     never the runs open in this process.
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { HaSyncError, errorMessage, isHaSyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditOptions } from './index.js';
import { openStore } from './open.js';
import {
  OPSLOG_PENDING_RE,
  OPSLOG_RE,
  OpslogFile,
  OpslogWriter,
  toEnd,
  toHeader,
  toOp,
  toVersionsState,
  type HeaderLine,
} from './opslog.js';
import type { AuditStore } from './store.js';
import type {
  Audit,
  LastDryRunResult,
  FlushReport,
  IterationEnd,
  IterationHeader,
  OpRecord,
  RunRecorder,
  VersionsState,
} from './types.js';

const DAY_MS = 86_400_000;

type FileOutcome =
  | { kind: 'flushed'; iterationId: number; duplicate: boolean; corrupt: number }
  | { kind: 'waiting'; corrupt: number }
  | { kind: 'unavailable'; corrupt: number }
  | { kind: 'corrupt-file' }
  | { kind: 'gone' };

/** Opens the audit of a process. Never connects: a down database is found (and survived) later. */
export async function openAudit(opts: AuditOptions): Promise<Audit> {
  try {
    mkdirSync(opts.logDir, { recursive: true });
  } catch (err) {
    throw new HaSyncError('AUDIT_UNAVAILABLE', `cannot create log dir ${opts.logDir}: ${errorMessage(err)}`);
  }
  const store = await openStore({
    dsn: opts.dsn,
    logDir: opts.logDir,
    connectTimeoutMs: opts.connectTimeoutMs,
  });
  return new OpslogAudit(store, opts);
}

export class OpslogAudit implements Audit {
  readonly kind: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly staleAfterMs: number;
  private readonly host = hostname();
  /**
   * Runs open in this instance, by opslog path: their files are never flushed or deleted by
   * flushPending/clean; their writers and heartbeat timers are closed by finish, or by close for
   * runs never finished.
   */
  private readonly open = new Map<string, { writer: OpslogWriter; heartbeat: NodeJS.Timeout }>();
  private schema: Promise<void> | null = null;
  /** Flushes run one at a time: within a process, two flushes never race for the same file. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: AuditStore,
    private readonly opts: AuditOptions,
  ) {
    this.kind = store.kind;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
  }

  /** Creates the schema once per process; a failure is retried on the next call. */
  private ready(): Promise<void> {
    this.schema ??= this.store.ensureSchema().catch((err: unknown) => {
      this.schema = null;
      throw err;
    });
    return this.schema;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async flushPending(): Promise<FlushReport> {
    const report: FlushReport = { flushed: 0, waiting: 0, corrupt: 0 };
    let names: string[];
    try {
      names = (await readdir(this.opts.logDir)).filter((n) => OPSLOG_PENDING_RE.test(n)).sort();
    } catch (err) {
      this.log.warn({ logDir: this.opts.logDir, err: errorMessage(err) }, 'cannot list opslogs');
      return report;
    }
    let down = false;
    for (const name of names) {
      const path = join(this.opts.logDir, name);
      if (this.open.has(path)) continue;
      if (down) {
        // The store failed on an earlier file: do not spend a connect timeout on each of the rest.
        report.waiting++;
        continue;
      }
      const r = await this.serial(() => this.flushFile(path, false));
      if (r.kind === 'flushed') report.flushed++;
      else if (r.kind === 'waiting') report.waiting++;
      else if (r.kind === 'unavailable') {
        report.waiting++;
        down = true;
      } else if (r.kind === 'corrupt-file') report.corrupt++;
      if ('corrupt' in r) report.corrupt += r.corrupt;
    }
    if (report.flushed || report.waiting || report.corrupt) {
      this.log.info({ store: this.store.where, ...report }, 'pending opslogs');
    }
    return report;
  }

  /**
   * True when the writer of an unfinished opslog can no longer finish it. On this host the
   * writer's pid decides (a live writer may be blocked in synchronous I/O and miss heartbeats);
   * a live pid still counts as gone after an hour of silence, since pids get reused. Elsewhere
   * (another pod), silence past `staleAfterMs` decides.
   */
  private writerGone(h: HeaderLine | null, mtimeMs: number): boolean {
    const silentMs = this.clock.now() - mtimeMs;
    if (h && h.host === this.host && h.pid !== undefined && h.pid !== process.pid) {
      let alive = true;
      try {
        process.kill(h.pid, 0);
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code !== 'ESRCH';
      }
      return !alive || silentMs > Math.max(this.staleAfterMs, 3_600_000);
    }
    return silentMs > this.staleAfterMs;
  }

  /**
   * Flushes one opslog and deletes it. `own`: the file of a run that just finished here (it has
   * its end line; no staleness check).
   */
  private async flushFile(path: string, own: boolean): Promise<FileOutcome> {
    let f: OpslogFile | null;
    try {
      f = await OpslogFile.open(path);
    } catch (err) {
      this.log.warn({ opslog: path, err: errorMessage(err) }, 'cannot read opslog; left in place');
      return { kind: 'waiting', corrupt: 0 };
    }
    if (!f) return { kind: 'gone' };
    try {
      const s = await f.summarize();
      const mtime = await f.mtimeMs();
      if (s.corrupt > 0) {
        this.log.warn(
          { opslog: path, corruptLines: s.corrupt, firstCorruptLine: s.firstCorruptLine },
          'opslog has corrupt lines; they are skipped',
        );
      }
      if (!s.header) {
        if (!own && !this.writerGone(null, mtime)) return { kind: 'waiting', corrupt: 0 };
        // No header: nothing to attribute the lines to. Set aside (retention deletes it later).
        await rename(path, `${path}.corrupt`).catch(() => undefined);
        this.log.error({ opslog: path }, 'opslog has no valid header; renamed to .corrupt and not flushed');
        return { kind: 'corrupt-file' };
      }
      let end = s.end;
      if (!end) {
        if (own || !this.writerGone(s.header, mtime)) return { kind: 'waiting', corrupt: s.corrupt };
        end = {
          endedAtMs: s.lastOpMs ?? s.header.startedAtMs,
          status: 'failed',
          counts: s.counts,
          errorMessage: 'interrupted',
        };
      }
      try {
        await this.ready();
        const res = await this.store.flush(
          { header: s.header, iterationId: s.iterationId, end },
          f.opBatches(s.ops),
          this.clock.now(),
        );
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        this.log.info(
          {
            opslog: path,
            runId: s.header.runId,
            iterationId: res.iterationId,
            operations: res.operations,
            ...(res.duplicate ? { duplicate: true } : {}),
            ...(s.end ? {} : { interrupted: true }),
          },
          res.duplicate ? 'opslog was flushed before; deleted' : 'opslog flushed',
        );
        return {
          kind: 'flushed',
          iterationId: res.iterationId,
          duplicate: res.duplicate,
          corrupt: s.corrupt,
        };
      } catch (err) {
        if (isHaSyncError(err, 'AUDIT_UNAVAILABLE')) {
          // Down, or up but refusing this one file (e.g. a value the table's charset cannot hold)?
          // Only a down store stops the flushing of the other files.
          const up = await this.store.ping().then(
            () => true,
            () => false,
          );
          if (up) {
            this.log.error(
              { opslog: path, store: this.store.where, err: err.message },
              'audit store rejected this opslog; it stays for the next run',
            );
            return { kind: 'waiting', corrupt: s.corrupt };
          }
          this.log.warn(
            { opslog: path, store: this.store.where, err: err.message },
            'audit store unavailable; the opslog stays for the next run',
          );
          return { kind: 'unavailable', corrupt: s.corrupt };
        }
        throw err;
      }
    } catch (err) {
      this.log.error({ opslog: path, err: errorMessage(err) }, 'opslog flush failed; left in place');
      return { kind: 'waiting', corrupt: 0 };
    } finally {
      await f.close();
    }
  }

  async beginRun(header: IterationHeader): Promise<RunRecorder> {
    // What the opslog cannot read back would be lost: refuse it now, loudly.
    if (!toHeader({ ...header, v: 1 })) {
      throw new HaSyncError(
        'INVALID_INPUT',
        'audit: invalid run header (runId must be 1 to 128 characters, times epoch ms, dryRun a boolean)',
      );
    }
    const writer = await OpslogWriter.create(this.opts.logDir, header, { pid: process.pid, host: this.host });
    // touch() never rejects (a failed heartbeat only makes the file look idle sooner).
    const heartbeat = setInterval(
      () => void writer.touch(),
      Math.max(1000, Math.floor(this.staleAfterMs / 3)),
    );
    heartbeat.unref();
    this.open.set(writer.path, { writer, heartbeat });
    try {
      await this.ready();
      const id = await this.store.insertRunning(header);
      await writer.append({ type: 'iteration', iterationId: id });
    } catch (err) {
      this.log.warn(
        { store: this.store.where, opslog: writer.path, err: errorMessage(err) },
        'audit store unavailable at run start; operations go to the opslog',
      );
    }
    let finished = false;
    return {
      runId: header.runId,
      record: (op: OpRecord): Promise<void> => {
        if (finished) return Promise.reject(new HaSyncError('INTERNAL', 'audit: record() after finish()'));
        const valid = toOp({ ...op });
        if (!valid) {
          return Promise.reject(
            new HaSyncError('INVALID_INPUT', `audit: invalid operation record for '${String(op.filepath)}'`),
          );
        }
        return writer.append({ type: 'op', ...valid });
      },
      finish: async (end: IterationEnd) => {
        if (finished) throw new HaSyncError('INTERNAL', 'audit: finish() called twice');
        if (!toEnd({ ...end })) {
          throw new HaSyncError('INVALID_INPUT', 'audit: invalid run end (status, counts or times)');
        }
        finished = true;
        clearInterval(heartbeat);
        try {
          await writer.append({ type: 'end', ...end });
        } finally {
          // Closed even when the end line could not be written: the file then reads as an
          // interrupted run, and the descriptor is not leaked.
          try {
            await writer.close();
          } finally {
            this.open.delete(writer.path);
          }
        }
        const r = await this.serial(() => this.flushFile(writer.path, true));
        return r.kind === 'flushed'
          ? { iterationId: r.iterationId, flushed: true }
          : { iterationId: null, flushed: false };
      },
    };
  }

  async lastDryRun(pair: string, direction: string): Promise<LastDryRunResult | null> {
    try {
      await this.ready();
      const r = await this.store.lastDryRun(pair, direction);
      return r && { startedAt: r.startedAt, ops: r.ops, iterationId: r.iterationId };
    } catch (err) {
      // Without the store there is no proof the dry-run is current, so the caller runs it.
      this.log.warn({ store: this.store.where, err: errorMessage(err) }, 'cannot read the last dry-run');
      return null;
    }
  }

  async recordVersionsState(
    pair: string,
    sideLabel: string,
    root: string,
    state: VersionsState,
  ): Promise<void> {
    const valid = toVersionsState({ ...state });
    if (pair === '' || sideLabel === '' || root === '' || !valid) {
      throw new HaSyncError(
        'INVALID_INPUT',
        'audit: invalid versions state (pair, side label and root must be set; files and bytes non-negative integers; oldestMs epoch ms or null)',
      );
    }
    await this.ready();
    await this.store.recordVersionsState(pair, sideLabel, root, valid, this.clock.now());
  }

  async cleanOldOpslogs(days: number): Promise<number> {
    // Whatever `days` says (0 is accepted), a file touched within staleAfterMs may belong to a live
    // writer in another process (it heartbeats every staleAfterMs/3): deleting it would send the
    // rest of that run's audit to an unlinked file.
    const cutoff = this.clock.now() - Math.max(days * DAY_MS, this.staleAfterMs);
    let names: string[];
    try {
      names = (await readdir(this.opts.logDir)).filter((n) => OPSLOG_RE.test(n));
    } catch (err) {
      this.log.warn({ logDir: this.opts.logDir, err: errorMessage(err) }, 'cannot list opslogs');
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.opts.logDir, name);
      if (this.open.has(path)) continue;
      try {
        const st = await stat(path);
        if (st.mtimeMs >= cutoff) continue;
        await unlink(path);
        removed++;
        // Flushed opslogs are deleted at once, so anything this old never reached the store.
        this.log.warn({ opslog: path, retainDays: days }, 'deleted an unflushed opslog past retention');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.log.warn({ opslog: path, err: errorMessage(err) }, 'cannot delete old opslog');
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    // A run never finished stays unfinished on disk; once this process is gone (or silent), a
    // later flushPending records it as interrupted.
    const unfinished = [...this.open.values()];
    this.open.clear();
    for (const r of unfinished) clearInterval(r.heartbeat);
    await Promise.all(
      unfinished.map((r) =>
        r.writer.close().catch((err: unknown) => {
          this.log.warn(
            { opslog: r.writer.path, err: errorMessage(err) },
            'cannot close an unfinished opslog',
          );
        }),
      ),
    );
    await this.queue;
    await this.store.close();
  }
}
