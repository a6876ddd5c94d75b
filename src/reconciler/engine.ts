// The reconcile engine: walks src and dest one directory at a time, plans each directory with the
// pure core, and carries the plan out. Memory stays flat as the tree grows: only the stack of
// directories still to visit and the deletes (held back until the guards have spoken) are kept.
//
// Order of a run, and why:
// 1. Walk. Directories are created as they are met (their contents need them); copies, updates
//    and touches go to a pool of `workers`. Deletes are only collected.
// 2. Guards: an empty source with a non-empty dest, or more than --max-delete percent of dest's
//    files, fail the run before anything is deleted (an unmounted export looks like an empty
//    folder). --force overrides. The source root is re-checked (same device) before deleting.
// 3. Deletes, deepest first (a directory is removed only once empty).
// 4. Type changes (a dir replaced by a file or the reverse, --delete-missing only): once dest's
//    entry is gone, that path is reconciled again.
// A stop (SIGTERM, lease lost) ends the walk at once: in-flight copies finish, nothing new starts,
// no deletes happen.
import { stat } from 'node:fs/promises';
import type { OpRecord, IterationCounts } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type {
  Descend,
  DescendMode,
  DirPlan,
  Entry,
  Op,
  OpKind,
  PlanOptions,
  Problem,
} from '../core/index.js';
import { auditOperation, deleteGuard, joinPath, planDir } from '../core/index.js';
import type { BatchCopier, CopyItem, Io, OpResult, Scanner } from '../fsops/index.js';
import {
  BATCH_FILE_MAX,
  BATCH_MAX_BYTES,
  BATCH_MAX_FILES,
  Limiter,
  directScanner,
  copyEntry,
  deleteEntry,
  md5File,
  removeTemp,
  sameListing,
  scanDir,
  splitRel,
  subdirNames,
  touchEntry,
} from '../fsops/index.js';
import type { PackedScan } from '../fsops/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** What a finished operation looks like to the printer (dry-run) and the progress bar. */
export interface OpEvent {
  /** The plan's word: create/update/touch/delete, or 'fail' for an entry that could not be planned. */
  readonly kind: OpKind | 'fail';
  readonly path: string;
  /** The entry kind it concerns. */
  readonly entryKind: Entry['kind'];
  /** Bytes the op moves (create/update of a file), or the size removed (delete). */
  readonly size: number;
  readonly record: OpRecord;
}

export interface EngineOptions {
  readonly srcRoot: string;
  readonly destRoot: string;
  readonly plan: PlanOptions;
  readonly workers: number;
  readonly dryRun: boolean;
  readonly maxDeletePercent: number;
  readonly force: boolean;
  readonly srcIo: Io;
  readonly destIo: Io;
  /** Io for single-path operations (async when either side is a network filesystem). */
  readonly opIo: Io;
  /** Directories scanned at once (1 on local disks; more on network filesystems). */
  readonly dirConcurrency: number;
  /** Metadata calls in flight per network tree. */
  readonly statConcurrency: number;
  /** Where dest listings come from (default: scanned on this thread with destIo). */
  readonly destScanner?: Scanner;
  /** Where src listings come from (default: scanned on this thread with srcIo). */
  readonly srcScanner?: Scanner;
  readonly signal: AbortSignal;
  /**
   * Aborted when the lock is lost (also part of `signal`). Passed to every file operation so a
   * copy in flight is discarded instead of renamed once another holder may be writing.
   */
  readonly lost?: AbortSignal;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Called once per finished operation (success or failure), in completion order. It should not
   * throw: if it does, the operation (already done on disk) is logged as unrecorded, and the run
   * stops like on SIGTERM (in-flight operations finish, nothing new starts, no deletes) and fails.
   */
  readonly onOp: (ev: OpEvent) => void | Promise<void>;
  /**
   * Copies small files of one directory in one call, off this thread (local trees, fastcopy
   * addon). Without it every copy goes through copyEntry. It must stop starting files once
   * `signal` aborts, and check `lost` before each rename.
   */
  readonly batchCopy?: BatchCopier;
  /** Called as the plan grows (for the progress bar): files and bytes newly planned. */
  readonly onPlanned?: (files: number, bytes: number) => void;
}

export interface EngineResult {
  readonly counts: IterationCounts;
  /** Why the run failed as a whole (guard, tree vanished, stop), or null. */
  readonly failure: string | null;
  readonly tempsRemoved: number;
}

const EMPTY: Entry[] = [];

interface SideScan {
  entries: Entry[];
  /** The listing packed (fastscan addon or listing worker): compared without unpacking. */
  packed?: PackedScan;
  /** Names listed whose entries could not be read (src: protects dest's entry from a delete). */
  unread?: ReadonlySet<string>;
  error?: unknown;
}

/**
 * Up to `size` tasks at once. A task's rejection goes to `onError` and never out of `submit` or
 * `drain`: a failed task must not abort the walk while other copies are still in flight (the lock
 * would be released under them), nor be left unhandled. Submitters wait in line for a slot (a
 * Limiter: first come, first served, no wake-up for the others), so many directories visited at
 * once cost nothing extra per task.
 */
class Pool {
  private readonly slots: Limiter;
  /** Tasks submitted and not yet finished (waiting for a slot or running). */
  private pending = 0;
  private idle: (() => void)[] = [];
  constructor(
    size: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.slots = new Limiter(size);
  }
  /** Resolves once the task has started (not finished). */
  async submit(task: () => Promise<void>): Promise<void> {
    this.pending++;
    await new Promise<void>((started) => {
      void this.slots
        .run(() => {
          started();
          return task().catch(this.onError);
        })
        .finally(() => this.finished());
    });
  }
  private finished(): void {
    if (--this.pending > 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const r of idle) r();
  }
  /** Resolves when every task submitted so far is done. */
  drain(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.push(r));
  }
}

function expectedOf(e: Entry): { kind: Entry['kind']; size: number; mtimeMs: number } {
  return { kind: e.kind, size: e.size, mtimeMs: e.mtimeMs };
}

export async function runEngine(o: EngineOptions): Promise<EngineResult> {
  const counts: IterationCounts = {
    created: 0,
    updated: 0,
    deleted: 0,
    skipped: 0,
    failed: 0,
    bytesTransferred: 0,
  };
  let failure: string | null = null;
  const opTurn = new Limiter(1);
  const pool = new Pool(Math.max(1, o.workers), (err) => {
    o.log.error({ err: errorMessage(err) }, 'file operation crashed; stopping the run');
    failure ??= `internal error: ${errorMessage(err)}`;
  });
  const srcLimiter = new Limiter(o.statConcurrency);
  const destLimiter = new Limiter(o.statConcurrency);
  const srcScanner = o.srcScanner ?? directScanner(o.srcIo, srcLimiter);
  const destScanner = o.destScanner ?? directScanner(o.destIo, destLimiter);
  const deletes: Op[] = [];
  const replaces: string[] = [];
  let destEntries = 0;
  let destFiles = 0;
  let fileDeletes = 0;
  let srcEmpty = false;
  let tempsRemoved = 0;
  const srcRootId = await rootIdentity(o.srcRoot);
  // Synchronous local calls never leave the event loop on their own: every few milliseconds let
  // signals, the lock's renewal and the progress bar in.
  let lastBreath = Date.now();
  const breathe = async (): Promise<void> => {
    if (Date.now() - lastBreath > 20) {
      await new Promise((r) => setImmediate(r));
      lastBreath = Date.now();
    }
  };
  const stopped = (): string | null => {
    if (failure) return failure;
    if (o.signal.aborted) failure = errorMessage(o.signal.reason) || 'terminated';
    return failure;
  };

  const emit = async (
    kind: OpEvent['kind'],
    path: string,
    src: Entry | undefined,
    dest: Entry | undefined,
    startedAtMs: number,
    result: OpResult | null,
    md5?: { before: string; after: string },
  ): Promise<void> => {
    const operation = kind === 'fail' ? (dest ? 'update' : 'create') : auditOperation(kind);
    const ok = result === null || result.ok;
    const record: OpRecord = {
      operation,
      filepath: path,
      sizeBefore: dest && dest.kind !== 'dir' ? dest.size : null,
      sizeAfter: operation === 'delete' ? null : src && src.kind !== 'dir' ? src.size : null,
      md5Before: md5?.before ?? null,
      md5After: md5?.after ?? null,
      startedAtMs,
      endedAtMs: o.clock.now(),
      status: ok ? 'success' : 'fail',
      errorMessage: result && !result.ok ? result.reason : null,
    };
    if (!ok) counts.failed++;
    else if (kind === 'create') counts.created++;
    else if (kind === 'update' || kind === 'touch') counts.updated++;
    else if (kind === 'delete') counts.deleted++;
    const moved = ok && (kind === 'create' || kind === 'update') && src?.kind === 'file' ? src.size : 0;
    counts.bytesTransferred += o.dryRun ? 0 : moved;
    if (!ok) {
      o.log.warn({ op: operation, path, reason: record.errorMessage }, 'operation failed');
    } else {
      o.log.debug({ op: kind, path, size: kind === 'delete' ? (dest?.size ?? 0) : (src?.size ?? 0) }, kind);
    }
    try {
      await o.onOp({
        kind: ok ? kind : 'fail',
        path,
        entryKind: (src ?? dest)?.kind ?? 'file',
        size: kind === 'delete' ? (dest?.size ?? 0) : (src?.size ?? 0),
        record,
      });
    } catch (err) {
      // The op is done on disk; only its record failed. The log carries the record instead, and
      // the run stops: it must not go on (least of all to deletes) unable to say what it did.
      o.log.error({ ...record, err: errorMessage(err) }, 'operation not recorded; stopping the run');
      failure ??= `could not record ${operation} of '${path}': ${errorMessage(err)}`;
    }
  };

  const problem = async (p: Problem): Promise<void> => {
    if (p.fails) {
      await emit('fail', p.path, p.src, p.dest, o.clock.now(), {
        ok: false,
        code: 'CHANGED_UNDER_US',
        reason: p.message,
      });
    } else {
      counts.skipped++;
      o.log.warn({ path: p.path, side: p.side, kind: p.kind }, p.message);
    }
  };

  const fsOpts = { io: o.opIo, lost: o.lost };

  /** Carries out one copy-like op (not mkdir, not delete). 'hash' becomes 'touch' or 'update'. */
  const execute = async (op: Op): Promise<void> => {
    if (stopped()) return; // waited for a slot while the run was stopping
    const started = o.clock.now();
    const src = op.src!;
    const dest = op.dest;
    let kind = op.kind;
    let md5: { before: string; after: string } | undefined;
    if (kind === 'hash') {
      const h = await hashBoth(op);
      if (!h.ok) return emit('update', op.path, src, dest, started, h.result);
      md5 = { before: h.before, after: h.after };
      kind = h.before === h.after ? 'touch' : 'update';
    }
    if (o.dryRun) return emit(kind, op.path, src, dest, started, null, md5);
    const expected = { src: expectedOf(src), dest: dest ? expectedOf(dest) : null };
    const r =
      kind === 'touch' && expected.dest
        ? await touchEntry(o.srcRoot, o.destRoot, op.path, { ...expected, dest: expected.dest }, fsOpts)
        : await copyEntry(o.srcRoot, o.destRoot, op.path, expected, fsOpts);
    return emit(kind, op.path, src, dest, started, r, md5);
  };

  const hashBoth = async (
    op: Op,
  ): Promise<{ ok: true; before: string; after: string } | { ok: false; result: OpResult }> => {
    try {
      const [after, before] = await Promise.all([
        md5File(`${o.srcRoot}/${op.path}`),
        md5File(`${o.destRoot}/${op.path}`),
      ]);
      return { ok: true, before, after };
    } catch (err) {
      return { ok: false, result: { ok: false, code: 'IO', reason: `cannot hash: ${errorMessage(err)}` } };
    }
  };

  const scanSide = async (side: 'src' | 'dest', rel: string, again = false): Promise<SideScan> => {
    const root = side === 'src' ? o.srcRoot : o.destRoot;
    const io = side === 'src' ? o.srcIo : o.destIo;
    const abs = rel === '' ? root : `${root}/${rel}`;
    try {
      const scan = again
        ? await scanDir(abs, io, side === 'src' ? srcLimiter : destLimiter)
        : await (side === 'src' ? srcScanner : destScanner).scan(abs);
      const unread = new Set<string>();
      for (const issue of scan.issues) {
        unread.add(issue.name);
        if (again) continue;
        await problem({
          kind: issue.kind,
          path: joinPath(rel, issue.name),
          side,
          message: `${side}: ${issue.message}`,
          fails: issue.kind === 'unreadable',
        });
      }
      // Stale temp files go when their directory is first scanned: our own copies into it start
      // only after that (a second look, for a type change, must not touch in-flight temps).
      if (side === 'dest' && scan.temps.length > 0 && !o.dryRun && !again) {
        let removed = 0;
        for (const t of scan.temps) {
          if (o.lost?.aborted) break; // another holder's copies may be in flight now
          if (await removeTemp(`${abs}/${t}`, io)) removed++;
        }
        tempsRemoved += removed;
        if (removed > 0) o.log.info({ dir: rel || '.', count: removed }, 'removed stale temp files');
      }
      if (side === 'src' && rel === '') srcEmpty = scan.entries.length === 0 && scan.issues.length === 0;
      // A packed listing is unpacked (`entries`) only when the planner needs it.
      if (scan.packed) {
        const lazy = scan;
        return {
          get entries() {
            return lazy.entries;
          },
          packed: scan.packed,
          unread,
        };
      }
      return { entries: scan.entries, unread };
    } catch (err) {
      return { entries: EMPTY, error: err };
    }
  };

  /** Visits one directory (optionally only one name in it: a re-reconcile after a type change). */
  const visit = async (d: Descend, only?: string): Promise<Descend[]> => {
    if (stopped()) return [];
    const needSrc = d.mode !== 'dest-only';
    const needDest = d.mode !== 'src-only';
    const none: SideScan = { entries: EMPTY };
    const [s, t] = await Promise.all([
      needSrc ? scanSide('src', d.path, only !== undefined) : none,
      needDest ? scanSide('dest', d.path, only !== undefined) : none,
    ]);
    for (const [side, r] of [
      ['src', s],
      ['dest', t],
    ] as const) {
      if (r.error === undefined) continue;
      const code = (r.error as NodeJS.ErrnoException).code;
      if (d.path === '') {
        failure = `${side} tree unavailable: ${errorMessage(r.error)}`;
        return [];
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        o.log.warn({ path: d.path, side }, `${side} directory vanished during the run; skipped`);
        return [];
      }
      await problem({
        kind: 'unreadable',
        path: d.path,
        side,
        message: `cannot read ${side} directory: ${errorMessage(r.error)}`,
        fails: true,
      });
      return [];
    }
    if (only === undefined && needDest) {
      if (t.packed) {
        destEntries += t.packed.count;
        destFiles += t.packed.files;
      } else {
        destEntries += t.entries.length;
        for (const e of t.entries) if (e.kind !== 'dir') destFiles++;
      }
    }
    if (d.path === '' && only === undefined) {
      const g = o.plan.deleteMissing
        ? deleteGuard({
            srcEmpty,
            destEntries,
            destFiles: 0,
            fileDeletes: 0,
            maxDeletePercent: 100,
            force: o.force,
          })
        : null;
      if (g) {
        failure = g;
        return [];
      }
    }
    // The same entries on both sides (the common case of a no-op run): planDir would plan nothing
    // and descend into every subdirectory, so skip unpacking and planning.
    if (only === undefined && d.mode === 'both' && s.packed && t.packed && sameListing(s.packed, t.packed)) {
      return subdirNames(s.packed).map((name) => ({ path: joinPath(d.path, name), mode: 'both' }));
    }
    const srcEntries = only === undefined ? s.entries : s.entries.filter((e) => e.name === only);
    const destEntriesHere = only === undefined ? t.entries : t.entries.filter((e) => e.name === only);
    const planOpts = only !== undefined ? { ...o.plan, deleteMissing: false } : o.plan;
    const plan = planDir(d.path, srcEntries, destEntriesHere, planOpts, d.mode, s.unread);
    for (const p of plan.problems) await problem(p);
    if (plan.ops.length > 0) {
      // One directory's operations at a time, in the order planned, even while many directories
      // are listed at once: files created directory by directory keep the filesystem's work local
      // (measured on ext4, 100k small files: creating them across 64 directories in turn cost
      // twice the kernel time of creating them directory by directory).
      const stop = await opTurn.run(() => carryOut(d.path, plan));
      if (stop) return [];
    }
    replaces.push(...plan.replace);
    return plan.descend;
  };

  /** Can `op` go in a batch? A plain copy of a small regular file over anything but a directory. */
  const batchable = (op: Op): boolean =>
    o.batchCopy !== undefined &&
    !o.dryRun &&
    (op.kind === 'create' || op.kind === 'update') &&
    op.src?.kind === 'file' &&
    op.src.size <= BATCH_FILE_MAX &&
    op.dest?.kind !== 'dir';

  /** Copies a batch of one directory's files in one call, then records each. */
  const executeBatch = async (parent: string, ops: Op[]): Promise<void> => {
    // Waited for a slot: nothing new starts once the run is stopping.
    if (stopped()) return;
    const started = o.clock.now();
    const items: CopyItem[] = ops.map((op) => ({
      name: splitRel(op.path).name,
      src: expectedOf(op.src!),
      dest: op.dest ? expectedOf(op.dest) : null,
    }));
    const results = await o.batchCopy!(o.srcRoot, o.destRoot, parent, items);
    // Recorded together: the records are queued in order and reach the opslog in one write. A
    // file the batch did not start (the run was stopping) was not done: nothing to record.
    const recorded: Promise<void>[] = [];
    ops.forEach((op, i) => {
      const r = results[i]!;
      if (r !== null) recorded.push(emit(op.kind, op.path, op.src, op.dest, started, r));
    });
    await Promise.all(recorded);
  };

  /**
   * Carries out the plan of directory `dir` (deletes are only collected). True when the run
   * stopped. Small file copies are gathered into batches (when a batch copier is given).
   */
  const carryOut = async (dir: string, plan: DirPlan): Promise<boolean> => {
    let plannedFiles = 0;
    let plannedBytes = 0;
    let batch: Op[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const ops = batch;
      batch = [];
      batchBytes = 0;
      await pool.submit(() => executeBatch(dir, ops));
    };
    try {
      for (const op of plan.ops) {
        await breathe();
        if (stopped()) return true;
        if (op.kind === 'delete') {
          deletes.push(op);
          if (op.dest!.kind !== 'dir') fileDeletes++;
          continue;
        }
        if (op.src?.kind === 'dir') {
          // Directories are created now: what is below them needs them.
          const started = o.clock.now();
          const r = o.dryRun
            ? null
            : await copyEntry(
                o.srcRoot,
                o.destRoot,
                op.path,
                { src: expectedOf(op.src), dest: null },
                fsOpts,
              );
          await emit('create', op.path, op.src, undefined, started, r);
          if (r && !r.ok) {
            const i = plan.descend.findIndex((x) => x.path === op.path);
            if (i >= 0) plan.descend.splice(i, 1);
          }
          continue;
        }
        const bytes = op.kind === 'create' || op.kind === 'update' ? (op.src?.size ?? 0) : 0;
        plannedFiles++;
        plannedBytes += bytes;
        if (batchable(op)) {
          batch.push(op);
          batchBytes += bytes;
          if (batch.length >= BATCH_MAX_FILES || batchBytes >= BATCH_MAX_BYTES) await flush();
        } else {
          await pool.submit(() => execute(op));
        }
      }
      if (stopped()) return true;
      await flush();
      return false;
    } finally {
      if (plannedFiles > 0) o.onPlanned?.(plannedFiles, plannedBytes);
    }
  };

  const prefetch = (d: Descend): void => {
    if (d.mode !== 'src-only') destScanner.prefetch(d.path === '' ? o.destRoot : `${o.destRoot}/${d.path}`);
    if (d.mode !== 'dest-only') srcScanner.prefetch(d.path === '' ? o.srcRoot : `${o.srcRoot}/${d.path}`);
  };
  // Whatever happens, no copy is left in flight when this returns: the caller releases the lock.
  try {
    await walk([{ path: '', mode: 'both' }], visit, o.dirConcurrency, undefined, prefetch, breathe);
    await pool.drain();

    if (!stopped() && deletes.length > 0) {
      const g = deleteGuard({
        srcEmpty,
        destEntries,
        destFiles,
        fileDeletes,
        maxDeletePercent: o.maxDeletePercent,
        force: o.force,
      });
      if (g) failure = g;
    }
    if (!stopped() && deletes.length > 0 && !o.dryRun) {
      // The source must still be the tree we walked (an export unmounted mid-run shows an empty
      // directory of another device): compare its root again before deleting anything.
      const now = await rootIdentity(o.srcRoot);
      if (now === null || now !== srcRootId) {
        failure = 'source tree vanished or was remounted during the run; refusing to delete';
      }
    }
    const replaced = new Set<string>();
    if (!stopped()) {
      // Deepest first: the walk met every directory before its contents, so reversing the
      // collection order deletes contents before their directory. Files run in parallel; a
      // directory waits for everything before it.
      for (let i = deletes.length - 1; i >= 0; i--) {
        await breathe();
        if (stopped()) break;
        const op = deletes[i]!;
        const dest = op.dest!;
        const run = async (): Promise<void> => {
          const started = o.clock.now();
          const r = o.dryRun ? null : await deleteEntry(o.destRoot, op.path, expectedOf(dest), fsOpts);
          if (r === null || r.ok) replaced.add(op.path);
          await emit('delete', op.path, undefined, dest, started, r);
        };
        if (dest.kind === 'dir') {
          await pool.drain();
          await run();
        } else {
          await pool.submit(run);
        }
      }
      await pool.drain();
    }
    if (!stopped() && replaces.length > 0) {
      const again = replaces.filter((p) => replaced.has(p));
      for (const path of again) {
        const { parent, name } = splitRel(path);
        await walk(
          [{ path: parent, mode: o.dryRun ? 'src-only' : 'both' }],
          visit,
          1,
          name,
          undefined,
          breathe,
        );
      }
    }
  } finally {
    await pool.drain();
  }
  return { counts, failure: stopped(), tempsRemoved };
}

/** The device and inode of a root directory (followed if a symlink), or null when it is gone. */
async function rootIdentity(root: string): Promise<string | null> {
  try {
    const st = await stat(root);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

/** Directories listed ahead of the walk by a prefetching scanner. */
const PREFETCH_AHEAD = 48;

/**
 * Walk with up to `concurrency` directories in flight. `only` restricts the first
 * directory to one name (then the walk continues normally below it).
 */
async function walk(
  start: Descend[],
  visit: (d: Descend, only?: string) => Promise<Descend[]>,
  concurrency: number,
  only?: string,
  prefetch?: (d: Descend) => void,
  breathe?: () => Promise<void>,
): Promise<void> {
  const stack: { d: Descend; only?: string }[] = start.map((d) => ({
    d,
    ...(only !== undefined ? { only } : {}),
  }));
  const push = (ds: Descend[]): void => {
    for (let i = ds.length - 1; i >= 0; i--) stack.push({ d: ds[i]! });
  };
  if (concurrency <= 1) {
    // Breadth first, so a prefetching scanner can read ahead in exactly the order we consume.
    let queue: { d: Descend; only?: string }[] = stack;
    let head = 0;
    let hinted = 0;
    while (head < queue.length) {
      const item = queue[head++]!;
      const next = await visit(item.d, item.only);
      for (const d of next) queue.push({ d });
      if (prefetch) {
        for (
          hinted = Math.max(hinted, head);
          hinted < queue.length && hinted < head + PREFETCH_AHEAD;
          hinted++
        ) {
          prefetch(queue[hinted]!.d);
        }
      }
      if (head > 4096 && head * 2 > queue.length) {
        queue = queue.slice(head);
        hinted -= head;
        head = 0;
      }
      await breathe?.();
    }
    return;
  }
  let active = 0;
  let error: unknown = null;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (active < concurrency && stack.length > 0 && error === null) {
        const item = stack.pop()!;
        active++;
        void visit(item.d, item.only)
          .then(push, (err: unknown) => {
            error = err;
          })
          .finally(() => {
            active--;
            pump();
          });
      }
      if (active === 0 && (stack.length === 0 || error !== null)) resolve();
    };
    pump();
  });
  if (error !== null) throw error instanceof Error ? error : new Error(errorMessage(error));
}

export type { DescendMode };
