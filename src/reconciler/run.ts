// One reconcile run, start to end: audit, lock, walk + plan + apply (engine), outcome.
//
//   flushPending -> acquire lock -> [dry-run: plan; same as the last dry-run? print and stop]
//   -> beginRun -> record every op -> finish(status) -> cleanOldOpslogs -> release
//
// The audit store being down never stops a sync (the opslog keeps the records). The lock is
// released on every path. Status: success (exit 0), partial_failure (some files failed, exit 3),
// failed (aborted: a guard, a tree vanished, terminated, lease lost; exit 1).
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { Audit, DryRunKey, IterationCounts, OpRecord, RunRecorder } from '../audit/index.js';
import { openAudit as defaultOpenAudit } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { EXIT, errorMessage, isHaSyncError } from '../errors.js';
import type { FastscanAddon, Scanner } from '../fsops/index.js';
import {
  asyncIo,
  fastScanner,
  fsTypeOf,
  isNetworkFs,
  loadFastscan,
  nativeCopier,
  syncIo,
  workerScanner,
} from '../fsops/index.js';
import type { Lock, LockHandle } from '../lock/index.js';
import { holderIdentity, openLock as defaultOpenLock } from '../lock/index.js';
import type { Logger } from '../log.js';
import type { ReconcileConfig } from './config.js';
import type { OpEvent } from './engine.js';
import { runEngine } from './engine.js';
import { addToSummary, emptySummary, planLine, summaryLine } from './print.js';
import { oneWaySideNames } from '../baseline/index.js';
import { fileLedger } from './ledger.js';
import { verifyRoots } from './roots.js';
import { expireWritten, openPairBaseline, stateDirProblem } from './sidestate.js';
import { Progress, type ProgressSink } from './progress.js';

export interface ReconcileDeps {
  log: Logger;
  clock?: Clock;
  /** Aborts the run (SIGTERM / SIGINT). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Where the dry-run plan is printed. Default process.stdout. */
  stdout?: NodeJS.WritableStream;
  /** Where the progress bar is drawn (only when it is a TTY). Default process.stderr. */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  openAudit?: typeof defaultOpenAudit;
  openLock?: typeof defaultOpenLock;
  /** Filesystem call style: 'auto' (by filesystem type), 'sync' or 'async'. Default 'auto'. */
  io?: 'auto' | 'sync' | 'async';
  /**
   * List local trees ahead of the walk on all cores, while this thread plans and copies: through
   * the fastscan addon when it is built, else on a worker thread per tree (default true). Falls
   * back to this thread when neither is available (workers need the built package).
   */
  scanWorker?: boolean;
  /** Told how the run goes (files seen, planned, done, its phase): for heartbeats. */
  progress?: ProgressSink;
}

export type RunOutcome = 'success' | 'partial_failure' | 'failed' | 'lock_held' | 'dry_run_current';

export interface ReconcileResult {
  readonly exitCode: number;
  readonly outcome: RunOutcome;
  readonly runId: string;
  readonly counts: IterationCounts;
  readonly errorMessage: string | null;
}

/** A unique, sortable run id: `20261126T231500123Z-<8 hex>`. */
export function newRunId(nowMs: number): string {
  const iso = new Date(nowMs).toISOString(); // 2026-11-26T23:15:00.123Z
  const compact = iso.replace(/[-:]/g, '').replace('.', '');
  return `${compact}-${randomBytes(4).toString('hex')}`;
}

const ZERO: IterationCounts = {
  created: 0,
  updated: 0,
  deleted: 0,
  skipped: 0,
  failed: 0,
  moved: 0,
  bytesTransferred: 0,
};

function sameKeys(a: DryRunKey[], b: DryRunKey[]): boolean {
  if (a.length !== b.length) return false;
  const key = (k: DryRunKey): string =>
    `${k.operation}\0${k.sizeBefore ?? ''}\0${k.filepath}\0${k.movedFrom ?? ''}`;
  const set = new Map<string, number>();
  for (const k of a) set.set(key(k), (set.get(key(k)) ?? 0) + 1);
  for (const k of b) {
    const n = set.get(key(k));
    if (!n) return false;
    set.set(key(k), n - 1);
  }
  return true;
}

/** A stand-in audit when the real one cannot even be opened: the sync still runs. */
function nullAudit(): Audit {
  return {
    kind: 'none',
    flushPending: () => Promise.resolve({ flushed: 0, waiting: 0, corrupt: 0 }),
    beginRun: (h) =>
      Promise.resolve({
        runId: h.runId,
        record: () => Promise.resolve(),
        finish: () => Promise.resolve({ iterationId: null, flushed: false }),
      }),
    lastDryRun: () => Promise.resolve(null),
    cleanOldOpslogs: () => Promise.resolve(0),
    recordVersionsState: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

export async function runReconcile(config: ReconcileConfig, deps: ReconcileDeps): Promise<ReconcileResult> {
  const log = deps.log;
  const clock = deps.clock ?? systemClock;
  const env = deps.env ?? process.env;
  const signal = deps.signal ?? new AbortController().signal;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const startedAtMs = clock.now();
  const runId = newRunId(startedAtMs);
  const done = (outcome: RunOutcome, counts: IterationCounts, msg: string | null): ReconcileResult => ({
    exitCode: outcome === 'failed' ? EXIT.FAILED : outcome === 'partial_failure' ? EXIT.PARTIAL : EXIT.OK,
    outcome,
    runId,
    counts,
    errorMessage: msg,
  });

  // Workers start now, so their start-up overlaps opening the audit and taking the lock.
  const trees = detectTrees(config, deps);
  try {
    return await withAudit(config, deps, {
      log,
      clock,
      env,
      signal,
      stdout,
      stderr,
      startedAtMs,
      runId,
      done,
      trees,
    });
  } finally {
    await trees.srcScanner?.close();
    await trees.destScanner?.close();
  }
}

interface Trees {
  srcFs: string;
  destFs: string;
  netSrc: boolean;
  netDest: boolean;
  srcScanner: Scanner | null;
  destScanner: Scanner | null;
  /** How each tree is listed, for the start line. */
  srcLister: 'fastscan' | 'worker' | 'direct' | 'async';
  destLister: 'fastscan' | 'worker' | 'direct' | 'async';
  /** The addon, when both trees are local and it is built: small files are copied through it. */
  copyAddon: FastscanAddon | null;
  /** Each root's id once its marker was read (the scanners read it for temp names). */
  ids: { src: string | null; dest: string | null };
}

/** Listings held ahead of the walk per local tree (bounds memory: a few thousand entries). */
const LOCAL_LOOKAHEAD = 64;

/** Filesystem types, call style, and how local trees are listed. */
function detectTrees(config: ReconcileConfig, deps: ReconcileDeps): Trees {
  const srcFs = fsTypeOf(config.src);
  const destFs = fsTypeOf(config.dest);
  const mode = deps.io ?? 'auto';
  const netSrc = mode === 'async' || (mode === 'auto' && isNetworkFs(srcFs));
  const netDest = mode === 'async' || (mode === 'auto' && isNetworkFs(destFs));
  // Local trees are listed ahead of the walk on all cores: through the fastscan addon on the
  // thread pool, else on a worker thread per tree. Network trees are listed here, async.
  const ahead = deps.scanWorker !== false;
  const addon = ahead ? loadFastscan(deps.env ?? process.env) : null;
  const ids: Trees['ids'] = { src: null, dest: null };
  const local = (id: () => string | null): Scanner | null =>
    addon ? fastScanner(addon, undefined, undefined, id) : workerScanner(LOCAL_LOOKAHEAD, id);
  const srcScanner = !netSrc && ahead ? local(() => ids.src) : null;
  const destScanner = !netDest && ahead ? local(() => ids.dest) : null;
  const lister = (net: boolean, s: Scanner | null): Trees['srcLister'] =>
    net ? 'async' : !s ? 'direct' : addon ? 'fastscan' : 'worker';
  return {
    srcFs,
    destFs,
    netSrc,
    netDest,
    srcScanner,
    destScanner,
    srcLister: lister(netSrc, srcScanner),
    destLister: lister(netDest, destScanner),
    copyAddon: addon && !netSrc && !netDest ? addon : null,
    ids,
  };
}

async function withAudit(
  config: ReconcileConfig,
  deps: ReconcileDeps,
  c: {
    log: Logger;
    clock: Clock;
    env: NodeJS.ProcessEnv;
    signal: AbortSignal;
    stdout: NodeJS.WritableStream;
    stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    startedAtMs: number;
    runId: string;
    done: (o: RunOutcome, counts: IterationCounts, m: string | null) => ReconcileResult;
    trees: Trees;
  },
): Promise<ReconcileResult> {
  const { log, clock, env, signal, stdout, stderr, startedAtMs, runId, done, trees } = c;
  let audit: Audit;
  try {
    audit = await (deps.openAudit ?? defaultOpenAudit)({
      dsn: config.audit.dbDsn,
      logDir: config.audit.logDir,
      log,
      clock,
    });
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'audit store unavailable; syncing without it');
    audit = nullAudit();
  }
  try {
    try {
      const f = await audit.flushPending();
      if (f.flushed || f.waiting || f.corrupt) log.info(f, 'flushed pending opslogs');
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not flush pending opslogs; will retry next run');
    }

    let lock: Lock;
    let handle: LockHandle;
    try {
      lock = await (deps.openLock ?? defaultOpenLock)({
        ...config.lock,
        pair: config.pair,
        logDir: config.audit.logDir,
        clock,
        log,
        env,
      });
      handle = await lock.acquire({
        holder: holderIdentity(runId, env),
        waitSeconds: config.lock.lockWaitSeconds,
        signal,
      });
    } catch (err) {
      if (isHaSyncError(err, 'LOCK_HELD')) {
        log.info({ pair: config.pair }, err.message);
        return done('lock_held', ZERO, null);
      }
      log.error({ err: errorMessage(err) }, 'could not acquire the lock');
      return done('failed', ZERO, errorMessage(err));
    }
    try {
      return await locked(config, deps, {
        audit,
        handle,
        runId,
        clock,
        signal,
        stdout,
        stderr,
        startedAtMs,
        done,
        trees,
      });
    } finally {
      await handle.release();
    }
  } finally {
    try {
      await audit.close();
    } catch {
      // Closing a broken store connection must not change the run's outcome.
    }
  }
}

async function locked(
  config: ReconcileConfig,
  deps: ReconcileDeps,
  r: {
    audit: Audit;
    handle: LockHandle;
    runId: string;
    clock: Clock;
    signal: AbortSignal;
    stdout: NodeJS.WritableStream;
    stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    startedAtMs: number;
    done: (o: RunOutcome, c: IterationCounts, m: string | null) => ReconcileResult;
    trees: Trees;
  },
): Promise<ReconcileResult> {
  const { log } = deps;
  const { audit, clock } = r;
  const stop = AbortSignal.any([r.signal, r.handle.lost]);
  const { srcFs, destFs, netSrc, netDest, srcScanner, destScanner, srcLister, destLister, copyAddon } =
    r.trees;
  // Small files of local trees are copied in batches by the addon; otherwise one by one.
  const tempIds = new Map<string, string>();
  const batchCopy = copyAddon ? nativeCopier(copyAddon, { lost: r.handle.lost, stop, tempIds }) : null;
  log.info(
    {
      runId: r.runId,
      pair: config.pair,
      direction: config.direction,
      src: config.src,
      dest: config.dest,
      dryRun: config.dryRun,
      deleteMissing: config.deleteMissing,
      srcFs,
      destFs,
      srcLister,
      destLister,
      copier: batchCopy ? 'fastcopy' : 'node:fs',
    },
    config.dryRun ? 'dry run started' : 'reconcile started',
  );

  // The trees must be directories now (they were when the flags were checked; a volume may go).
  for (const [name, p] of [
    ['src', config.src],
    ['dest', config.dest],
  ] as const) {
    let ok = false;
    try {
      ok = statSync(p).isDirectory(); // the roots themselves may be symlinks (mount paths)
    } catch {
      ok = false;
    }
    if (!ok) {
      const msg = `${name} tree unavailable: '${p}' is not a directory`;
      log.error(msg);
      return r.done('failed', ZERO, msg);
    }
  }

  // One-way runs name their sides from a `<src>-to-<dest>` direction, as the CronJobs do.
  const names = config.sides ?? oneWaySideNames(config.direction, config.src, config.dest);
  const labelled = config.sides !== undefined || names.a !== config.src;
  const sides = [
    { label: labelled ? names.a : 'src', root: config.src },
    { label: labelled ? names.b : 'dest', root: config.dest },
  ] as const;
  const unsafe = await stateDirProblem(sides);
  if (unsafe) {
    log.error(unsafe);
    return r.done('failed', ZERO, unsafe);
  }

  // Two-way: one audit run per direction, named from the labels; one-way: the seed's one run.
  const headers = (['b', 'a'] as const).map((to) => ({
    runId: to === 'b' ? r.runId : `${r.runId}-r`,
    pair: config.pair,
    direction: to === 'b' ? config.direction : `${sides[1].label}-to-${sides[0].label}`,
    src: to === 'b' ? config.src : config.dest,
    dest: to === 'b' ? config.dest : config.src,
    startedAtMs: r.startedAtMs,
    dryRun: config.dryRun,
  }));
  if (!config.sides) headers.pop();
  let recorders: (RunRecorder | null)[] = [];
  const begin = async (): Promise<(RunRecorder | null)[]> => {
    const out: (RunRecorder | null)[] = [];
    for (const header of headers) {
      try {
        out.push(await audit.beginRun(header));
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'audit unavailable: this run is not recorded');
        out.push(null);
      }
    }
    return out;
  };
  // The sync goes on when the opslog cannot be written (the files are safe on disk), but never
  // silently: each op the opslog lost is logged in full, and the final line counts them.
  let unrecorded = 0;
  const record = async (op: OpRecord, to: 'a' | 'b'): Promise<void> => {
    const recorder = recorders[to === 'b' ? 0 : 1] ?? null;
    if (!recorder && config.dryRun) return; // a dry run changed nothing
    try {
      if (!recorder) throw new Error('this run has no opslog (see above)');
      await recorder.record(op);
    } catch (err) {
      unrecorded++;
      log.warn(
        { ...op, err: errorMessage(err) },
        'could not write the opslog; operation recorded in this log only',
      );
    }
  };
  const baseline = await openPairBaseline({
    pair: config.pair,
    dsn: config.audit.dbDsn,
    logDir: config.audit.logDir,
    log,
    sides: names,
  });

  // Both roots must be the pair's (their markers); a first meeting marks them.
  const verdict = await verifyRoots(
    config.pair,
    // A one-way run never writes its source: it may be read-only, and then stays unmarked.
    sides.map((s, i) => ({
      label: labelled ? s.label : null,
      root: s.root,
      ...(i === 0 && !config.sides ? { readOnly: true } : {}),
    })),
    baseline,
    { dryRun: config.dryRun, log, nowMs: clock.now(), ledger: fileLedger(config.audit.logDir, config.pair) },
  );
  if (!verdict.ok) {
    await baseline?.close().catch(() => undefined);
    log.error(verdict.why);
    return r.done('failed', ZERO, verdict.why);
  }
  const [idA = null, idB = null] = verdict.ids;
  r.trees.ids.src = idA;
  r.trees.ids.dest = idB;
  if (idA) tempIds.set(config.src, idA);
  if (idB) tempIds.set(config.dest, idB);

  const planned: OpEvent[] = [];
  const summary = emptySummary();
  const progress = !config.dryRun && r.stderr.isTTY === true ? new Progress(r.stderr, clock) : null;
  if (!config.dryRun) recorders = await begin();

  let result;
  try {
    result = await runEngine({
      ...(batchCopy ? { batchCopy } : {}),
      ...(destScanner ? { destScanner } : {}),
      ...(srcScanner ? { srcScanner } : {}),
      srcRoot: config.src,
      destRoot: config.dest,
      plan: { mtimeThresholdMs: config.mtimeThresholdSeconds * 1000, deleteMissing: config.deleteMissing },
      twoWay: config.sides !== undefined,
      labels: { a: sides[0].label, b: sides[1].label },
      baseline,
      tempIds: { a: idA, b: idB },
      keepVersions: config.keepVersionsDays > 0,
      workers: config.workers,
      dryRun: config.dryRun,
      maxDeletePercent: config.maxDeletePercent,
      force: config.force,
      srcIo: netSrc ? asyncIo : syncIo,
      destIo: netDest ? asyncIo : syncIo,
      opIo: netSrc || netDest ? asyncIo : syncIo,
      // Network trees: many calls in flight (bounded by UV_THREADPOOL_SIZE, 256 from the bin).
      // Local trees listed by the addon: many directories visited at once, so listings are asked
      // for together and the walk never waits on one slow directory (measured 100k-file no-op:
      // walk 0.27 s at 64, 0.33 s one at a time with read-ahead). Worker-thread listings: one at
      // a time, in the order the worker reads ahead.
      dirConcurrency: netSrc || netDest ? 32 : srcLister === 'fastscan' || destLister === 'fastscan' ? 64 : 1,
      statConcurrency: 256,
      signal: stop,
      lost: r.handle.lost,
      clock,
      log,
      onPlanned: (files, bytes) => {
        progress?.planned(files, bytes);
        deps.progress?.planned(files, bytes);
      },
      onListed: (n) => deps.progress?.listed(n),
      onDeleting: () => deps.progress?.phase('deleting'),
      onOp: async (ev) => {
        if (config.dryRun) {
          planned.push(ev);
          addToSummary(summary, ev);
          return;
        }
        // The bar counts what onPlanned counted: file, symlink and touch operations (a move was
        // never planned as a copy: it is paired before it would be).
        const counted = ev.kind !== 'delete' && ev.kind !== 'move' && ev.record.operation !== 'delete';
        if (ev.entryKind !== 'dir' && counted) {
          progress?.done(ev.kind === 'create' || ev.kind === 'update' ? ev.size : 0);
          deps.progress?.done(ev.kind === 'create' || ev.kind === 'update' ? ev.size : 0);
        }
        await record(ev.record, ev.to);
      },
    });
  } finally {
    progress?.stop();
    deps.progress?.phase('done');
    await baseline?.close().catch(() => undefined);
  }

  let failure = result.failure;
  if (failure && stop.aborted) {
    failure = isHaSyncError(stop.reason, 'LOCK_LOST')
      ? `lease lost: ${errorMessage(stop.reason)}`
      : `terminated: ${errorMessage(stop.reason)}`;
  }

  if (config.dryRun) {
    const keys: DryRunKey[] = planned.map((e) => ({
      filepath: e.record.filepath,
      operation: e.record.operation,
      sizeBefore: e.record.sizeBefore,
    }));
    if (!failure) {
      let last = null;
      try {
        last = await audit.lastDryRun(config.pair, config.direction);
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'could not read the last dry-run');
      }
      if (last && sameKeys(last.ops, keys)) {
        r.stdout.write(
          `Dry-run already current as of ${last.startedAt.toISOString()}. Nothing has changed.\n`,
        );
        return r.done('dry_run_current', result.counts, null);
      }
    }
    planned.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const ev of planned) {
      r.stdout.write(planLine(ev, config.sides ? sides[ev.to === 'a' ? 0 : 1].label : undefined) + '\n');
    }
    r.stdout.write(summaryLine(summary) + '\n');
    if (failure) r.stdout.write(`A real run would fail: ${failure}\n`);
    recorders = await begin();
    // Dry-run ops are recorded as what would happen (status success); failures stay failures.
    for (const ev of planned) await record(ev.record, ev.to);
  }

  const status = failure ? 'failed' : result.counts.failed > 0 ? 'partial_failure' : 'success';
  const errorMsg =
    failure ?? (result.counts.failed > 0 ? `${result.counts.failed} operation(s) failed` : null);
  for (const [i, recorder] of recorders.entries()) {
    if (!recorder) continue;
    try {
      const f = await recorder.finish({
        endedAtMs: clock.now(),
        status,
        counts: config.sides ? result.countsTo[i === 0 ? 'b' : 'a'] : result.counts,
        errorMessage: errorMsg,
      });
      if (!f.flushed) log.warn('audit store not reached: the opslog stays for the next run');
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not finish the audit record; the opslog stays');
    }
  }
  if (!config.dryRun && !stop.aborted) {
    await expireWritten(config.sides ? sides : [sides[1]], config.keepVersionsDays, {
      pair: config.pair,
      audit,
      clock,
      log,
    });
  }
  try {
    await audit.cleanOldOpslogs(config.audit.logRetainDays);
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'could not clean old opslogs');
  }
  const line = {
    runId: r.runId,
    status,
    ...result.counts,
    tempsRemoved: result.tempsRemoved,
    ...(result.safeMode ? { safeMode: result.safeMode } : {}),
    ...(unrecorded > 0 ? { unrecorded } : {}),
    durationMs: clock.now() - r.startedAtMs,
  };
  if (status === 'failed') log.error({ ...line, err: failure }, `reconcile failed: ${failure}`);
  else if (status === 'partial_failure') log.warn(line, 'reconcile finished with failures');
  else log.info(line, config.dryRun ? 'dry run finished' : 'reconcile finished');
  return r.done(status, result.counts, errorMsg);
}
