// The poller: watches one root on a filesystem that sends no change notifications (NFS, sshfs).
//
// Invariants:
// - Nothing is published from a look at the filesystem unless the root was healthy both before
//   and after that look: readable, and holding its marker (`.ha-sync/root.json` naming this pair
//   and side; a bare mount point has none). An emptied root that still has its marker is a real
//   emptying and is published like any change. A pass computes diffs
//   against the index without touching it; only a pass that ends on a healthy root commits them
//   (updates the index and emits events). So a mount that vanishes mid-pass yields no deletes.
// - An I/O error other than "not there" (ENOENT/ENOTDIR) never counts as a deletion: the
//   directory's diff is dropped and retried on a later pass.
// - Every filesystem call is bounded by a timeout; after a timeout the pass stops issuing calls.
//
// How changes are found, per tick (default every second):
// 1. every known directory is lstat'ed; a directory whose mtime moved (entries added, removed or
//    renamed) is re-listed and its new names stat'ed; it stays "hot" (re-listed every tick) for a
//    few seconds, which covers one-second mtime granularity and attribute caching. A new
//    directory is announced (committed) before its entries are listed; they are listed right
//    after, a level at a time, each level committed on its own, for up to a tick's time (the
//    next passes go on). So a folder moved in whole is announced at once, whatever its size (a
//    scan over a network mount takes seconds per 10,000 entries), and can be paired with its old
//    place; that old place, when the mount's cached attributes still hide its parent's change, is
//    found by the folder's names (findMoveSources);
// 2. a sweep re-lists directories in turn and lstats their entries within a budget of calls per
//    second, catching in-place content changes (which move no directory mtime).
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { ChangeEvent, ChangeKind, ChangeType } from '../bus/index.js';
import { ObservationIds } from '../bus/index.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { RootGuard, isTempName } from '../fsops/index.js';
import { parentDir } from './outbox.js';
import { StaleTemps } from './temps.js';
import { FsIo, FsTimeoutError, errCode, isGone, mapLimited } from './fsio.js';
import {
  type DirNode,
  type FileMeta,
  type Node,
  ScanError,
  announceable,
  ownName,
  joinRel,
  metaOf,
  sameMeta,
  scanDir,
  walk,
  walkPostOrder,
} from './tree.js';

export interface PollOptions {
  pair: string;
  side: string;
  /** Absolute root path. */
  root: string;
  /** Tick period in ms: directories are re-stat'ed this often. Default 1000. */
  pollIntervalMs: number;
  /** Budget of sweep calls (lstat / readdir) per second. Default 5000. */
  sweepRate: number;
  /** Timeout of one filesystem call in ms. Default 5000. */
  statTimeoutMs: number;
  /** Filesystem calls in flight at once. Default 4. */
  statConcurrency: number;
  /** How long a directory whose mtime moved is re-listed every tick, in ms. Default 3000. */
  hotMs: number;
  /**
   * Use synchronous calls in small batches (local disks only: about 3x less CPU per stat, but a
   * call that hangs would stall the process). Default false; the watcher turns it on when the
   * root is on a local filesystem.
   */
  syncIo?: boolean;
  clock: Clock;
  logger: Logger;
  /** Receives committed change events (the outbox). */
  emit: (ev: ChangeEvent) => void;
}

/** New directories a pass looks up as possible move targets, and candidate sources each. */
const MOVE_LOOKUPS = 16;
const MOVE_CANDIDATES = 8;

/** A directory just found: announced now, its entries listed by the next pass. */
function unlistedDir(rel: string, mtimeMs: number): DirNode {
  return { kind: 'dir', rel, mtimeMs, entries: new Map(), hotUntil: 0, unlisted: true };
}

export type Health = { ok: true } | { ok: false; reason: string };

interface Change {
  name: string;
  before: Node | undefined;
  /** The new state: metadata, a freshly scanned subtree, or null when the entry is gone. */
  after: FileMeta | DirNode | null;
}

interface Diff {
  dir: DirNode;
  mtimeMs: number;
  changes: Change[];
}

export class Poller {
  private rootNode: DirNode | null = null;
  private rootDev = -1;
  private readonly dirs = new Map<string, DirNode>();
  /** Directories announced but not listed yet (DirNode.unlisted). */
  private readonly unlisted = new Set<DirNode>();
  readonly io: FsIo;
  private unhealthy: string | null = null;
  private probing = false;
  private sweepQueue: string[] = [];
  private readonly prioritySweep = new Set<string>();
  private sweepDebt = 0;
  private lastTickAt = 0;
  private readonly warnedNames = new Set<string>();
  /** Counters for logs and the benchmark. */
  readonly stats = { ticks: 0, committed: 0, aborted: 0, events: 0 };

  /** Every change this poller reports is a new observation (the bus de-duplicates on it). */
  private readonly observations = new ObservationIds();
  private readonly rootGuard: RootGuard;
  /** The root's id from its marker (our temp files there carry it); null until it was read. */
  private rootId: string | null = null;
  private readonly staleTemps = new StaleTemps();

  constructor(readonly opts: PollOptions) {
    this.io = new FsIo(opts.statConcurrency, opts.statTimeoutMs, opts.syncIo ?? false);
    this.rootGuard = new RootGuard(opts.root, opts.pair, opts.side);
  }

  get healthy(): boolean {
    return this.unhealthy === null && this.rootNode !== null;
  }

  get dirCount(): number {
    return this.dirs.size;
  }

  /** Why the root is not healthy now, or null (for heartbeats). */
  get unhealthyReason(): string | null {
    return this.unhealthy ?? (this.rootNode === null ? 'root not available yet' : null);
  }

  /** Entries in the index (files, symlinks and directories). */
  get entriesIndexed(): number {
    let n = 0;
    for (const d of this.dirs.values()) n += d.entries.size;
    return n;
  }

  /** When the last full sweep ended and how long it took (null before the first). */
  readonly sweep: { lastAt: number | null; ms: number | null; startedAt: number | null } = {
    lastAt: null,
    ms: null,
    startedAt: null,
  };

  /**
   * Scans the root into the index (publishing nothing). Waits, logging once, while the root is
   * missing or unreadable. With `announce`, emits an upsert for every entry (--initial-sync).
   */
  async start(signal: AbortSignal, announce = false): Promise<void> {
    let logged = false;
    while (!signal.aborted) {
      try {
        const st = await this.io.lstat(this.opts.root);
        if (!st.isDirectory()) throw new ScanError('.', 'ENOTDIR');
        const marked = await this.rootGuard.check();
        if (!marked.ok) throw new Error(marked.why);
        this.rootId = marked.marker.rootId;
        const node = await scanDir(this.io, this.opts.root, '', st, {
          onUnannounceable: (r) => this.warnName(r),
          rootId: this.rootId,
        });
        this.rootDev = st.dev;
        this.unhealthy = null;
        this.install(node);
        if (logged) this.opts.logger.info(this.ctx(), 'root is available; watching');
        if (announce) for (const [rel, n] of walk(node)) this.emit('upsert', rel, n);
        this.lastTickAt = this.opts.clock.now();
        return;
      } catch (err) {
        this.unhealthy = errorMessage(err);
        if (!logged) {
          this.opts.logger.warn(
            { ...this.ctx(), err: errorMessage(err) },
            'root is not available; waiting for it (nothing is published meanwhile)',
          );
          logged = true;
        }
        try {
          await this.opts.clock.sleep(this.opts.pollIntervalMs, signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Runs ticks until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const began = this.opts.clock.now();
      await this.tick();
      const spent = this.opts.clock.now() - began;
      try {
        await this.opts.clock.sleep(Math.max(50, this.opts.pollIntervalMs - spent), signal);
      } catch {
        return;
      }
    }
  }

  /** One poll: probe, dir pass, sweep, probe, commit. Exposed for tests. */
  async tick(): Promise<void> {
    if (!this.rootNode) return;
    this.stats.ticks++;
    const now = this.opts.clock.now();
    const elapsed = Math.min(10_000, Math.max(0, now - (this.lastTickAt || now)));
    this.lastTickAt = now;
    if (this.unhealthy !== null) {
      const h = await this.probeOnce();
      if (!h.ok) return;
      this.setHealth(h);
    }
    const pass = { aborted: false, timeouts: 0, errors: 0 };
    const diffs: Diff[] = [];
    const touched = new Set<string>();
    const sweepSoon: string[] = [];
    // The directory pass's lstat of each directory, reused by the sweep (taken before the sweep's
    // listing, so a change after it still moves the mtime the next pass compares with).
    const dirStats = new Map<string, Stats>();

    // 1. Directory pass: lstat every known directory, re-list the ones whose mtime moved.
    const dirList = [...this.dirs.values()];
    const dirPass = async (dir: DirNode): Promise<void> => {
      const st = await this.guard(pass, () => this.io.lstat(this.abs(dir.rel)));
      if (st === null || !st.isDirectory()) return; // gone or replaced: its parent's listing says so
      dirStats.set(dir.rel, st);
      if (st.mtimeMs === dir.mtimeMs && dir.hotUntil <= now && dir.unlisted !== true) return;
      const small = dir.entries.size <= 256;
      const diff = await this.relist(dir, st, small, pass);
      if (diff) {
        diffs.push(diff);
        touched.add(dir.rel);
        if (!small) sweepSoon.push(dir.rel); // its other entries are stat'ed by the next sweep
      }
    };
    await mapLimited(dirList, this.opts.statConcurrency * 2, dirPass, () => pass.aborted);

    // 2. Sweep: re-list and lstat directories in turn, within the call budget.
    if (!pass.aborted) {
      this.sweepDebt = Math.min(
        this.sweepDebt + (this.opts.sweepRate * elapsed) / 1000,
        this.opts.sweepRate * 2,
      );
      // Directories are picked lazily so the sweep also stops at a deadline: on a slow mount the
      // budget is never reached, and the next tick's directory pass must not wait behind it.
      // At least one directory per tick, and at most one visit per directory.
      const deadline = now + this.opts.pollIntervalMs * 0.6;
      let visits = this.dirs.size;
      let first = true;
      const pick = (): DirNode | undefined => {
        while (this.sweepDebt > 0 && visits > 0 && (first || this.opts.clock.now() < deadline)) {
          visits--;
          const rel = this.nextSweepDir();
          if (rel === undefined) return undefined;
          const dir = this.dirs.get(rel);
          if (!dir || touched.has(rel)) continue;
          touched.add(rel);
          first = false;
          this.sweepDebt -= dir.entries.size + 1; // its listing and its entries' lstats
          return dir;
        }
        return undefined;
      };
      const sweeper = async (): Promise<void> => {
        for (let dir = pick(); dir && !pass.aborted; dir = pick()) {
          const st = dirStats.get(dir.rel);
          if (st === undefined) continue; // gone or replaced at the directory pass
          const diff = await this.relist(dir, st, true, pass);
          if (diff) diffs.push(diff);
        }
      };
      await Promise.all(Array.from({ length: 2 }, sweeper));
    }

    for (const rel of sweepSoon) this.prioritySweep.add(rel);
    if (!pass.aborted) await this.findMoveSources(diffs, touched, dirStats, pass);

    // 3. Probe again, then commit: a pass that ends on an unhealthy root publishes nothing.
    if (!(await this.finish(diffs, pass))) return;

    // 4. New directories, announced by that commit, are listed now, a level at a time, each
    //    level probed and committed on its own, until the tick's time is up (the next passes go
    //    on with the rest: an unlisted directory is always listed).
    //    A directory whose listing failed (gone since, or unreadable) is not tried again here.
    const until = now + this.opts.pollIntervalMs;
    const tried = new Set<DirNode>();
    for (let level = 0; level === 0 || this.opts.clock.now() < until; level++) {
      const fresh = [...this.unlisted].filter((d) => !tried.has(d));
      if (fresh.length === 0) break;
      for (const d of fresh) tried.add(d);
      const more: Diff[] = [];
      await mapLimited(
        fresh,
        this.opts.statConcurrency * 2,
        async (dir) => {
          touched.add(dir.rel);
          const diff = await this.relist(dir, dir, true, pass);
          if (diff) more.push(diff);
        },
        () => pass.aborted,
      );
      if (!pass.aborted) await this.findMoveSources(more, touched, dirStats, pass);
      if (!(await this.finish(more, pass))) return;
    }
  }

  /** Probes the root, then commits `diffs`; false (nothing committed) when unhealthy or aborted. */
  private async finish(diffs: Diff[], pass: { aborted: boolean }): Promise<boolean> {
    const h = await this.probeOnce();
    if (!h.ok) {
      this.stats.aborted++;
      this.setHealth(h);
      return false;
    }
    if (pass.aborted) {
      this.stats.aborted++;
      return false;
    }
    this.commit(diffs);
    return true;
  }

  private nextSweepDir(): string | undefined {
    const first = this.prioritySweep.values().next();
    if (!first.done) {
      this.prioritySweep.delete(first.value);
      return first.value;
    }
    if (this.sweepQueue.length === 0) {
      // A full sweep ended (every directory visited once): remember when and how long it took.
      const now = this.opts.clock.now();
      if (this.sweep.startedAt !== null) {
        this.sweep.lastAt = now;
        this.sweep.ms = now - this.sweep.startedAt;
      }
      this.sweep.startedAt = now;
      this.sweepQueue = [...this.dirs.keys()].reverse();
      if (this.sweepQueue.length === 0) return undefined;
    }
    return this.sweepQueue.pop();
  }

  /**
   * Lists `dir` and compares with the index. Stats new names, names that were directories, and
   * with `statAll` every name. Returns null when nothing changed or the listing failed.
   */
  private async relist(
    dir: DirNode,
    st: { readonly mtimeMs: number },
    statAll: boolean,
    pass: { aborted: boolean; timeouts: number; errors: number },
  ): Promise<Diff | null> {
    const abs = this.abs(dir.rel);
    const names = await this.guard(pass, () => this.io.readdir(abs));
    if (names === null) return null;
    const present = new Set<string>();
    const changes: Change[] = [];
    // Names already in the index were checked when they were added; only new ones are checked.
    const toStat: string[] = [];
    const temps: string[] = [];
    for (const name of names) {
      const before = dir.entries.get(name);
      if (before === undefined && !announceable(dir.rel, name, this.rootId)) {
        if (isTempName(name, this.rootId)) temps.push(name);
        else if (!ownName(dir.rel, name, this.rootId)) this.warnName(joinRel(dir.rel, name));
        continue;
      }
      if (before && !statAll && before.kind !== 'dir') present.add(name);
      else toStat.push(name);
    }
    const results = await this.io.statMany(abs, toStat, () => pass.aborted);
    let failed = false;
    for (let i = 0; i < toStat.length && !failed; i++) {
      const name = toStat[i]!;
      const r = results[i];
      if (r === undefined) continue; // removed since the listing: absent
      if (r instanceof Error) {
        this.noteError(pass, r, joinRel(dir.rel, name));
        failed = true;
        break;
      }
      const m = metaOf(r);
      if (m === null) continue;
      present.add(name);
      const before = dir.entries.get(name);
      if (m === 'dir') {
        if (before?.kind === 'dir') continue; // its own pass handles its contents
        // A new directory is announced before it is listed (tick step 4 lists it).
        changes.push({ name, before, after: unlistedDir(joinRel(dir.rel, name), r.mtimeMs) });
        continue;
      }
      if (!before || before.kind === 'dir' || !sameMeta(before, m)) changes.push({ name, before, after: m });
    }
    if (failed || pass.aborted) return null;
    if (temps.length > 0) await this.reportStaleTemps(dir.rel, abs, temps, pass);
    // Removals first: a move's old name is announced before its new one (the applier pairs them).
    const removed: Change[] = [];
    for (const [name, before] of dir.entries) {
      if (!present.has(name)) removed.push({ name, before, after: null });
    }
    changes.unshift(...removed);
    if (changes.length === 0 && st.mtimeMs === dir.mtimeMs && dir.unlisted !== true) return null;
    return { dir, mtimeMs: st.mtimeMs, changes };
  }

  /**
   * A directory that appeared may have been moved here from one the index still holds, whose
   * parent's change the mount's cached attributes still hide. Such a parent is listed now (a
   * listing is never cached), so both halves of the move are committed, and published, in one
   * pass: the old folder's deletes first, so the applier pairs them into one rename at once.
   * Candidates are indexed directories holding the same names; at most MOVE_LOOKUPS new
   * directories a pass are looked up, and MOVE_CANDIDATES candidates each.
   */
  private async findMoveSources(
    diffs: Diff[],
    touched: Set<string>,
    dirStats: Map<string, Stats>,
    pass: { aborted: boolean; timeouts: number; errors: number },
  ): Promise<void> {
    const appeared: string[] = [];
    const removed = new Set<string>();
    for (const d of diffs)
      for (const c of d.changes) {
        const rel = joinRel(d.dir.rel, c.name);
        if (c.after?.kind === 'dir' && c.before?.kind !== 'dir') appeared.push(rel);
        if (c.after === null) removed.add(rel);
      }
    let bySize: Map<number, DirNode[]> | null = null;
    const sources: Diff[] = [];
    const relisted = new Set<string>();
    for (const rel of appeared.slice(0, MOVE_LOOKUPS)) {
      const listed = await this.guard(pass, () => this.io.readdir(this.abs(rel)));
      const names = (listed ?? []).filter((n) => announceable(rel, n, this.rootId));
      if (names.length === 0 || pass.aborted) continue;
      bySize ??= this.dirsBySize();
      let tried = 0;
      for (const cand of bySize.get(names.length) ?? []) {
        if (tried >= MOVE_CANDIDATES || pass.aborted) break;
        if (!names.every((n) => cand.entries.has(n))) continue;
        const parentRel = parentDir(cand.rel);
        const parent = this.dirs.get(parentRel);
        const st = dirStats.get(parentRel);
        // Already gone in this pass, or its parent listed again already. A parent listed earlier
        // in this pass (before the move) is listed again, and that newer diff replaces the older.
        if (removed.has(cand.rel) || relisted.has(parentRel) || !parent || !st) continue;
        tried++;
        relisted.add(parentRel);
        const earlier = touched.has(parentRel);
        touched.add(parentRel);
        const diff = await this.relist(parent, st, earlier, pass);
        if (earlier) {
          const i = diffs.findIndex((x) => x.dir === parent);
          if (i >= 0 && diff) diffs.splice(i, 1);
        }
        if (diff) sources.push(diff);
      }
    }
    diffs.unshift(...sources);
  }

  /** Indexed directories (the root aside) by their number of entries. */
  private dirsBySize(): Map<number, DirNode[]> {
    const out = new Map<number, DirNode[]>();
    for (const d of this.dirs.values()) {
      if (d.rel === '' || d.entries.size === 0) continue;
      const list = out.get(d.entries.size);
      if (list) list.push(d);
      else out.set(d.entries.size, [d]);
    }
    return out;
  }

  /**
   * Our temp files in `dir` untouched for STALE_TEMP_MS are reported (an upsert naming the temp
   * file), so that the applier removes them: their writer is gone.
   */
  private async reportStaleTemps(
    rel: string,
    abs: string,
    names: string[],
    pass: { aborted: boolean; timeouts: number; errors: number },
  ): Promise<void> {
    const results = await this.io.statMany(abs, names, () => pass.aborted);
    const now = this.opts.clock.now();
    names.forEach((name, i) => {
      const st = results[i];
      const path = joinRel(rel, name);
      if (st === undefined || st instanceof Error || !this.staleTemps.due(path, st, now)) return;
      this.opts.logger.info({ ...this.ctx(), path }, 'stale temp file of ours; reported for removal');
      this.emit('upsert', path, { kind: 'file', size: st.size, mtimeMs: st.mtimeMs });
    });
  }

  /** Applies diffs to the index and emits their events. */
  private commit(diffs: Diff[]): void {
    const now = this.opts.clock.now();
    this.stats.committed++;
    for (const diff of diffs) {
      const dir = diff.dir;
      if (this.dirs.get(dir.rel) !== dir) continue; // removed by an earlier diff of this commit
      if (diff.mtimeMs !== dir.mtimeMs) dir.hotUntil = now + this.opts.hotMs;
      dir.mtimeMs = diff.mtimeMs;
      delete dir.unlisted;
      this.unlisted.delete(dir);
      for (const c of diff.changes) {
        const rel = joinRel(dir.rel, c.name);
        const before = dir.entries.get(c.name);
        const kindChanged =
          before !== undefined && c.after !== null && (before.kind === 'dir') !== (c.after.kind === 'dir');
        if (before && (c.after === null || kindChanged)) this.removeSubtree(dir, c.name, before);
        if (c.after === null) continue;
        if (c.after.kind === 'dir') {
          dir.entries.set(c.name, c.after);
          this.addSubtree(c.after);
          this.emit('upsert', rel, c.after);
          for (const [r, n] of walk(c.after)) this.emit('upsert', r, n);
        } else {
          const prev = before && before.kind !== 'dir' && !kindChanged ? before : undefined;
          dir.entries.set(c.name, c.after);
          this.emit('upsert', rel, c.after, prev);
        }
      }
    }
  }

  private removeSubtree(parent: DirNode, name: string, node: Node): void {
    const rel = joinRel(parent.rel, name);
    if (node.kind === 'dir') {
      for (const [r, n] of walkPostOrder(node)) {
        if (n.kind === 'dir') {
          this.dirs.delete(n.rel);
          this.unlisted.delete(n);
        }
        this.emit('delete', r, n);
      }
      this.dirs.delete(node.rel);
      this.unlisted.delete(node);
    }
    this.emit('delete', rel, node);
    parent.entries.delete(name);
  }

  private addSubtree(node: DirNode): void {
    this.dirs.set(node.rel, node);
    if (node.unlisted) this.unlisted.add(node);
    for (const [, n] of walk(node)) if (n.kind === 'dir') this.dirs.set(n.rel, n);
  }

  private install(node: DirNode): void {
    this.rootNode = node;
    this.dirs.clear();
    this.unlisted.clear();
    this.addSubtree(node);
  }

  private emit(type: ChangeType, path: string, n: Node, prev?: FileMeta): void {
    this.stats.events++;
    this.opts.emit(this.event(type, path, n, prev));
  }

  private event(type: ChangeType, path: string, n: Node, prev?: FileMeta): ChangeEvent {
    const kind: ChangeKind = n.kind;
    return {
      v: 1,
      pair: this.opts.pair,
      side: this.opts.side,
      type,
      kind,
      path,
      size: n.kind === 'dir' ? 0 : n.size,
      mtimeMs: n.mtimeMs,
      ...(prev ? { prev: { size: prev.size, mtimeMs: prev.mtimeMs } } : {}),
      observedAt: this.opts.clock.now(),
      obs: this.observations.next(),
    };
  }

  /** Upserts for the current entries of `rel` (not recursive); used after outbox overflow. */
  reannounce(rel: string): ChangeEvent[] {
    const dir = this.dirs.get(rel);
    if (!dir) return [];
    const out: ChangeEvent[] = [];
    for (const [name, n] of dir.entries) out.push(this.event('upsert', joinRel(rel, name), n));
    return out;
  }

  /**
   * Is the root still the one we indexed? A readable directory holding its marker (the pair's and
   * this side's, with the root id we indexed under). At most one probe is in flight: a hung probe
   * is not repeated.
   */
  private async probeOnce(): Promise<Health> {
    if (this.probing) return { ok: false, reason: 'the previous probe of the root has not returned' };
    this.probing = true;
    try {
      const st = await this.io.lstat(this.opts.root);
      if (!st.isDirectory()) return { ok: false, reason: 'root is not a directory' };
      const marked = await this.rootGuard.check();
      if (!marked.ok) return { ok: false, reason: marked.why };
      if (marked.marker.rootId !== this.rootId) {
        return {
          ok: false,
          reason: `root id changed (${marked.marker.rootId}, indexed as ${this.rootId ?? 'none'}): another folder was marked; restart the watcher to index it`,
        };
      }
      if (st.dev !== this.rootDev) {
        // Remounted (same marker on another device): the passes compare it with the index.
        this.opts.logger.info({ ...this.ctx(), dev: st.dev, was: this.rootDev }, 'root was remounted');
        this.rootDev = st.dev;
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `cannot read root: ${errCode(err)}` };
    } finally {
      this.probing = false;
    }
  }

  private setHealth(h: Health): void {
    if (h.ok) {
      if (this.unhealthy !== null) {
        this.opts.logger.info(
          this.ctx(),
          'root is back; resuming (changes made meanwhile are published now)',
        );
      }
      this.unhealthy = null;
      return;
    }
    if (this.unhealthy === null) {
      this.opts.logger.warn(
        { ...this.ctx(), reason: h.reason },
        'root looks unmounted; publishing nothing until it is back',
      );
    }
    this.unhealthy = h.reason;
  }

  /** Runs `f`; null when the entry is gone; records other errors on the pass. */
  private async guard<T>(
    pass: { aborted: boolean; timeouts: number; errors: number },
    f: () => Promise<T>,
  ): Promise<T | null> {
    if (pass.aborted) return null;
    try {
      return await f();
    } catch (err) {
      if (isGone(err)) return null;
      this.noteError(pass, err);
      return null;
    }
  }

  private noteError(
    pass: { aborted: boolean; timeouts: number; errors: number },
    err: unknown,
    rel?: string,
  ): void {
    pass.errors++;
    const code = err instanceof ScanError ? err.code : errCode(err);
    if (
      err instanceof FsTimeoutError ||
      code === 'ETIMEDOUT' ||
      code === 'ENOTCONN' ||
      code === 'EIO' ||
      code === 'ESTALE' ||
      code === 'EABORTED'
    ) {
      // The filesystem is unwell: stop calling it; the probe decides what comes next.
      pass.timeouts++;
      pass.aborted = true;
    }
    if (pass.errors <= 3)
      this.opts.logger.debug({ ...this.ctx(), path: rel, err: errorMessage(err) }, 'poll error');
  }

  private warnName(rel: string): void {
    if (this.warnedNames.size > 1000 || this.warnedNames.has(rel)) return;
    this.warnedNames.add(rel);
    this.opts.logger.warn(
      { ...this.ctx(), path: JSON.stringify(rel) },
      'name cannot be carried by an event (backslash or control character); skipped',
    );
  }

  private abs(rel: string): string {
    return rel === '' ? this.opts.root : join(this.opts.root, rel);
  }

  /** Log fields; pair and side come from the logger's bindings (RootWatcher passes a child). */
  private ctx(): { root: string } {
    return { root: this.opts.root };
  }
}
