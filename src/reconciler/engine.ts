// The reconcile engine: walks both trees one directory at a time, reads that directory's baseline,
// lets the pure core decide every name (`planPairDir`), and has carry.ts carry the decisions out.
// Memory stays flat as the tree grows: only the directories still to visit and the deletes (held
// back until the guards have spoken) are kept. The same engine serves the two-way run and the
// one-way run (src = side a, dest = side b; only the writes into dest are kept).
//
// Order of a run, and why:
// 1. Walk. Directories are created as they are met (their contents need them); copies, updates,
//    touches and conflicts go to a pool of `workers`. Deletes are only collected. With
//    --delete-missing, what may be half of a move (a file to copy, a directory made or removed on
//    one side) is held back, and paired when the walk is over (moves.ts): a rename on the other
//    side, or else carried out as planned.
// 2. Guards: a side whose root is empty while the other's is not, or deletes of more than
//    --max-delete percent of a side's files, fail the run before anything is deleted (an
//    unmounted export looks like an empty folder). --force overrides. Both roots are re-checked
//    (same device and inode) before deleting.
// 3. Deletes, deepest first (a directory is removed only once empty). Every file deleted or
//    overwritten is kept in its side's versions area first.
// 4. A file replaced by a directory on the other side: once the file is gone (kept as a version),
//    that path is reconciled again.
// A stop (SIGTERM, lease lost) ends the walk at once: in-flight copies finish, nothing new starts,
// no deletes happen. The baseline is written only from what was verified or done.
import type { Entry, PairDescend, PathPlan, SideName } from '../core/index.js';
import { STATE_DIR, agreed, deleteGuard, joinPath, otherSide, planPairDir } from '../core/index.js';
import {
  Limiter,
  directScanner,
  listingDigest,
  removeTemp,
  sameListing,
  scanDir,
  splitRel,
  subdirNames,
} from '../fsops/index.js';
import { errorMessage } from '../errors.js';
import { BaselineSink } from './baseline-sink.js';
import { Carrier } from './carry.js';
import { MoveFinder } from './moves.js';
import type { EngineOptions, EngineResult, SideScan } from './engine-types.js';
import { EMPTY, Pool, rootIdentity } from './engine-types.js';

export type { OpEvent, EngineOptions, EngineResult } from './engine-types.js';

/** State of one run's walk, shared by its stages. */
interface RunState {
  failure: string | null;
  tempsRemoved: number;
  entries: Record<SideName, number>;
  files: Record<SideName, number>;
  rootEmpty: Record<SideName, boolean>;
  /** The root directory had baseline records: the sides were synced before. */
  rootHadBaseline: boolean;
}

export async function runEngine(o: EngineOptions): Promise<EngineResult> {
  const st: RunState = {
    failure: null,
    tempsRemoved: 0,
    entries: { a: 0, b: 0 },
    files: { a: 0, b: 0 },
    rootEmpty: { a: false, b: false },
    rootHadBaseline: false,
  };
  const roots: Record<SideName, string> = { a: o.srcRoot, b: o.destRoot };
  const ios = { a: o.srcIo, b: o.destIo };
  const limiters = { a: new Limiter(o.statConcurrency), b: new Limiter(o.statConcurrency) };
  const scanners = {
    a: o.srcScanner ?? directScanner(o.srcIo, limiters.a, () => o.tempIds?.a ?? null),
    b: o.destScanner ?? directScanner(o.destIo, limiters.b, () => o.tempIds?.b ?? null),
  };
  const writeTo: SideName | undefined = o.twoWay === true ? undefined : 'b';
  const planOpts = { ...o.plan, ...(writeTo ? { writeTo } : {}) };
  const opTurn = new Limiter(1);
  const sink = new BaselineSink(o.baseline ?? null, o.log, o.dryRun);
  const pool = new Pool(Math.max(1, o.workers), (err) => {
    o.log.error({ err: errorMessage(err) }, 'file operation crashed; stopping the run');
    st.failure ??= `internal error: ${errorMessage(err)}`;
  });
  const stopped = (): string | null => {
    if (st.failure) return st.failure;
    if (carrier.failure) st.failure = carrier.failure;
    else if (o.signal.aborted) st.failure = errorMessage(o.signal.reason) || 'terminated';
    return st.failure;
  };
  const carrier = new Carrier(o, sink, pool, stopped);
  const rootIds = { a: await rootIdentity(o.srcRoot), b: await rootIdentity(o.destRoot) };
  const moves = new MoveFinder(
    {
      o,
      carrier,
      sink,
      list: async (side, path) => {
        const s = await scanSide(side, path, true);
        return s.error === undefined ? s.entries : null;
      },
      walk: (items) => walk(items, visit, o.dirConcurrency, undefined, prefetch, breathe),
      stopped,
    },
    () => o.plan.deleteMissing && !sink.safe && st.rootHadBaseline,
  );
  // Synchronous local calls never leave the event loop on their own: every few milliseconds let
  // signals, the lock's renewal and the progress bar in.
  let lastBreath = Date.now();
  const breathe = async (): Promise<void> => {
    if (Date.now() - lastBreath > 20) {
      await new Promise((r) => setImmediate(r));
      lastBreath = Date.now();
    }
  };

  const scanSide = async (side: SideName, rel: string, again: boolean): Promise<SideScan> => {
    const abs = rel === '' ? roots[side] : `${roots[side]}/${rel}`;
    const io = ios[side];
    const word = side === 'a' ? 'src' : 'dest';
    try {
      const scan = again
        ? await scanDir(abs, io, limiters[side], o.tempIds?.[side] ?? null)
        : await scanners[side].scan(abs);
      const unread = new Set<string>();
      for (const issue of scan.issues) {
        unread.add(issue.name);
        if (again) continue;
        await carrier.problem(
          {
            kind: issue.kind,
            path: joinPath(rel, issue.name),
            side: word,
            message: `${word}: ${issue.message}`,
            fails: issue.kind === 'unreadable',
          },
          side === 'a' && writeTo === undefined ? 'a' : 'b',
        );
      }
      // Stale temp files go when their directory is first scanned: our own copies into it start
      // only after that (a second look, for a type change, must not touch in-flight temps). A
      // one-way run writes only into dest, so only dest's are its own to remove.
      if ((side === 'b' || writeTo === undefined) && scan.temps.length > 0 && !o.dryRun && !again) {
        let removed = 0;
        for (const t of scan.temps) {
          if (o.lost?.aborted) break; // another holder's copies may be in flight now
          if (await removeTemp(roots[side], joinPath(rel, t), io)) removed++;
        }
        st.tempsRemoved += removed;
        if (removed > 0) o.log.info({ dir: rel || '.', count: removed }, 'removed stale temp files');
      }
      // A packed listing is unpacked (`entries`) only when the planner needs it.
      if (scan.packed && rel !== '') {
        const lazy = scan;
        return {
          get entries() {
            return lazy.entries;
          },
          packed: scan.packed,
          unread,
        };
      }
      // The root's `.ha-sync` belongs to ha-sync: never synced, never counted.
      const entries = rel === '' ? scan.entries.filter((e) => e.name !== STATE_DIR) : scan.entries;
      return { entries, unread };
    } catch (err) {
      return { entries: EMPTY, error: err };
    }
  };

  const count = (side: SideName, s: SideScan): void => {
    if (s.packed) {
      st.entries[side] += s.packed.count;
      st.files[side] += s.packed.files;
      o.onListed?.(s.packed.count);
    } else {
      st.entries[side] += s.entries.length;
      for (const e of s.entries) if (e.kind !== 'dir') st.files[side]++;
      o.onListed?.(s.entries.length);
    }
  };

  /** Visits one directory (optionally only one name in it: a re-reconcile after a type change). */
  const visit = async (d: PairDescend, only?: string): Promise<PairDescend[]> => {
    if (stopped()) return [];
    const again = only !== undefined;
    const none: SideScan = { entries: EMPTY };
    const [sa, sb] = await Promise.all([
      d.missing === 'a' ? none : scanSide('a', d.path, again),
      d.missing === 'b' ? none : scanSide('b', d.path, again),
    ]);
    for (const [side, r] of [
      ['a', sa],
      ['b', sb],
    ] as const) {
      if (r.error === undefined) continue;
      const word = side === 'a' ? 'src' : 'dest';
      const code = (r.error as NodeJS.ErrnoException).code;
      if (d.path === '') {
        st.failure = `${word} tree unavailable: ${errorMessage(r.error)}`;
        return [];
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        o.log.warn({ path: d.path, side: word }, `${word} directory vanished during the run; skipped`);
        return [];
      }
      await carrier.problem({
        kind: 'unreadable',
        path: d.path,
        side: word,
        message: `cannot read ${word} directory: ${errorMessage(r.error)}`,
        fails: true,
      });
      return [];
    }
    if (!again) {
      count('a', sa);
      count('b', sb);
    }
    // The same entries on both sides, and a baseline verified against that very listing (the
    // common case of a no-op run): nothing to decide, walk every subdirectory.
    const same =
      !again &&
      d.missing === undefined &&
      sa.packed !== undefined &&
      sb.packed !== undefined &&
      sameListing(sa.packed, sb.packed);
    const digest = same ? listingDigest(sa.packed!) : null;
    if (digest !== null && !sink.safe && (await sink.digest(d.path)) === digest) {
      return subdirNames(sa.packed!).map((name) => ({ path: joinPath(d.path, name) }));
    }
    // A fresh directory (made where a file stood) is walked with no baseline: its old records
    // below would read as deletes.
    const base = d.fresh ? [] : ((await sink.readDir(d.path)) ?? []);
    if (d.path === '' && !again) {
      st.rootEmpty = {
        a: sa.entries.length === 0 && !sa.unread?.size,
        b: sb.entries.length === 0 && !sb.unread?.size,
      };
      st.rootHadBaseline = base.some((r) => r.name !== STATE_DIR);
      const early = earlyGuard(o, st, writeTo);
      if (early) {
        st.failure = early;
        return [];
      }
    }
    const unread = new Set([...(sa.unread ?? []), ...(sb.unread ?? [])]);
    const keepName = (e: { name: string }): boolean =>
      (only === undefined || e.name === only) &&
      !unread.has(e.name) &&
      !(d.path === '' && e.name === STATE_DIR);
    const plan = planPairDir(
      d.path,
      base.filter(keepName),
      sa.entries.filter(keepName),
      sb.entries.filter(keepName),
      planOpts,
    );
    const act: PathPlan[] = [];
    let quiet = unread.size === 0;
    for (const pp of plan.paths) {
      const dec = pp.decision;
      if (dec.type === 'agree') {
        if (sink.put(d.path, pp.name, dec.rec)) quiet = false;
      } else if (dec.type === 'drop') sink.put(d.path, pp.name, null);
      else if (dec.type === 'problem') {
        quiet = false;
        await carrier.problem({ ...dec.problem, path: pp.path });
      } else if (dec.type === 'descend') {
        if (!pp.base && pp.a && pp.b) sink.put(d.path, pp.name, agreed(pp.name, pp.a, pp.b));
      } else if (dec.type !== 'none') {
        quiet = false;
        act.push(pp);
      } else if (!sameAsBase(pp)) quiet = false;
    }
    if (quiet && digest !== null && !again && !d.fresh) sink.setDigest(d.path, digest);
    let descend = d.fresh ? plan.descend.map((x) => ({ ...x, fresh: true as const })) : plan.descend;
    let names: Record<SideName, Set<string>> | undefined;
    const namesOf = (): Record<SideName, Set<string>> =>
      (names ??= { a: new Set(sa.entries.map((e) => e.name)), b: new Set(sb.entries.map((e) => e.name)) });
    // What may be one half of a move waits until the walk is over (moves.ts).
    const now = again ? act : act.filter((pp) => !moves.hold(d.path, pp, namesOf));
    if (now.length < act.length) descend = descend.filter((x) => !moves.holds(x.path));
    if (now.length > 0) {
      const r = await opTurn.run(() => carrier.carryOut(d.path, now, namesOf()));
      if (r.stop) return [];
      if (r.failed.size > 0) descend = descend.filter((x) => !r.failed.has(x.path));
    }
    return descend;
  };

  const prefetch = (d: PairDescend): void => {
    for (const side of ['a', 'b'] as const) {
      if (d.missing !== side)
        scanners[side].prefetch(d.path === '' ? roots[side] : `${roots[side]}/${d.path}`);
    }
  };
  // Whatever happens, no copy is left in flight when this returns: the caller releases the lock.
  try {
    await walk([{ path: '' }], visit, o.dirConcurrency, undefined, prefetch, breathe);
    await pool.drain();
    await moves.settle();
    await pool.drain();
    o.onDeleting?.();
    await runDeletes(o, st, carrier, sink, pool, rootIds, stopped, breathe, visit);
  } finally {
    await pool.drain();
    await sink.flush();
  }
  return {
    counts: carrier.counts,
    countsTo: carrier.countsTo,
    failure: stopped(),
    tempsRemoved: st.tempsRemoved,
    safeMode: sink.reason,
  };
}

/** True when a name with nothing to do is also recorded as it is (else the digest would lie). */
function sameAsBase(pp: { base: unknown; a?: Entry; b?: Entry }): boolean {
  return pp.base !== undefined || (pp.a === undefined && pp.b === undefined);
}

/**
 * Before anything is planned: with --delete-missing, a side whose root is empty while the other's
 * is not looks unmounted. One-way: src empty (the seed's rule). Two-way: either side, once the
 * pair has been synced (a first run into an empty side is a copy, not a delete).
 */
function earlyGuard(o: EngineOptions, st: RunState, writeTo: SideName | undefined): string | null {
  if (!o.plan.deleteMissing || o.force) return null;
  const sides: SideName[] = writeTo ? [otherSide(writeTo)] : st.rootHadBaseline ? ['a', 'b'] : [];
  for (const s of sides) {
    const other = otherSide(s);
    const g = deleteGuard({
      srcEmpty: st.rootEmpty[s],
      destEntries: st.entries[other],
      destFiles: 0,
      fileDeletes: 0,
      maxDeletePercent: 100,
      force: false,
    });
    if (g)
      return writeTo
        ? g
        : g.replace(
            'source is empty but destination is not',
            `${o.labels?.[s] ?? s} is empty but ${o.labels?.[other] ?? other} is not`,
          );
  }
  return null;
}

/** Guards, then the collected deletes (deepest first), then type-change re-visits. */
async function runDeletes(
  o: EngineOptions,
  st: RunState,
  carrier: Carrier,
  sink: BaselineSink,
  pool: Pool,
  rootIds: Record<SideName, string | null>,
  stopped: () => string | null,
  breathe: () => Promise<void>,
  visit: (d: PairDescend, only?: string) => Promise<PairDescend[]>,
): Promise<void> {
  const deletes = carrier.deletes;
  if (stopped() || deletes.length === 0) return;
  if (sink.safe && deletes.some((x) => !x.replace)) {
    // Decided with a baseline that failed part way: nothing is deleted on a half-read baseline.
    o.log.warn({ deletes: deletes.length }, 'baseline failed during the run: no deletes this run');
    return;
  }
  for (const side of ['a', 'b'] as const) {
    if (!deletes.some((x) => x.on === side && !x.replace)) continue;
    const g = deleteGuard({
      srcEmpty: st.rootEmpty[otherSide(side)],
      destEntries: st.entries[side],
      destFiles: st.files[side],
      fileDeletes: carrier.fileDeletes[side],
      maxDeletePercent: o.maxDeletePercent,
      force: o.force,
    });
    if (g) {
      st.failure = o.twoWay === true ? `${o.labels?.[side] ?? side}: ${g}` : g;
      return;
    }
  }
  if (!o.dryRun) {
    // Both trees must still be the ones walked (an export unmounted mid-run shows an empty
    // directory of another device): compare their roots again before deleting anything.
    for (const side of ['a', 'b'] as const) {
      const now = await rootIdentity(side === 'a' ? o.srcRoot : o.destRoot);
      if (now === null || now !== rootIds[side]) {
        st.failure = `${side === 'a' ? 'source' : 'destination'} tree vanished or was remounted during the run; refusing to delete`;
        return;
      }
    }
  }
  const replaced: string[] = [];
  // Deepest first: the walk met every directory before its contents, so reversing the collection
  // order deletes contents before their directory. Files run in parallel; a directory waits for
  // everything before it.
  for (let i = deletes.length - 1; i >= 0; i--) {
    await breathe();
    if (stopped()) break;
    const del = deletes[i]!;
    const run = async (): Promise<void> => {
      if ((await carrier.deleteOne(del)) && del.replace) replaced.push(del.path);
    };
    if (del.entry.kind === 'dir') {
      await pool.drain();
      await run();
    } else {
      await pool.submit(run);
    }
  }
  await pool.drain();
  if (stopped()) return;
  await sink.flush();
  for (const path of replaced) {
    const { parent, name } = splitRel(path);
    await walk([{ path: parent }], visit, 1, name, undefined, breathe);
  }
}

/** Directories listed ahead of the walk by a prefetching scanner. */
const PREFETCH_AHEAD = 48;

/**
 * Walk with up to `concurrency` directories in flight. `only` restricts the first
 * directory to one name (then the walk continues normally below it).
 */
async function walk(
  start: PairDescend[],
  visit: (d: PairDescend, only?: string) => Promise<PairDescend[]>,
  concurrency: number,
  only?: string,
  prefetch?: (d: PairDescend) => void,
  breathe?: () => Promise<void>,
): Promise<void> {
  const stack: { d: PairDescend; only?: string }[] = start.map((d) => ({
    d,
    ...(only !== undefined ? { only } : {}),
  }));
  const push = (ds: PairDescend[]): void => {
    for (let i = ds.length - 1; i >= 0; i--) stack.push({ d: ds[i]! });
  };
  if (concurrency <= 1) {
    // Breadth first, so a prefetching scanner can read ahead in exactly the order we consume.
    let queue: { d: PairDescend; only?: string }[] = stack;
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
