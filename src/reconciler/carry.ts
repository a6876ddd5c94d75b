// Carrying out one directory's decisions: copies (small new files in batches), touches, conflicts
// and hashes now; deletes are only collected (the engine runs them after its guards). Each success
// is recorded (audit) and then written to the baseline as what the two sides now hold: the entry
// copied from, and the entry observed on the side written to.
import type { Stats } from 'node:fs';
import type { IterationCounts } from '../audit/index.js';
import type {
  BaseEntry,
  BaseRecord,
  Entry,
  Hashes,
  MoveDecision,
  PathPlan,
  Problem,
  SideName,
} from '../core/index.js';
import { baseEntry, conflictName, copiedEntry, decidePath, otherSide } from '../core/index.js';
import type { CopyItem, OpOptions, OpResult } from '../fsops/index.js';
import {
  BATCH_FILE_MAX,
  BATCH_MAX_BYTES,
  BATCH_MAX_FILES,
  copyEntry,
  decodeName,
  deleteEntry,
  entryFromStats,
  md5File,
  moveAside,
  moveEntry,
  Owners,
  splitRel,
  touchEntry,
} from '../fsops/index.js';
import { errorMessage } from '../errors.js';
import type { BaselineSink } from './baseline-sink.js';
import type { EngineOptions, Pool } from './engine-types.js';
import { expectedOf } from './engine-types.js';
import { Tally, type Kept } from './tally.js';

/** A delete held back until the guards have spoken. */
export interface Deferred {
  readonly on: SideName;
  readonly path: string;
  readonly entry: Entry;
  /** A file replaced by a directory from the other side: reconcile the path again afterwards. */
  readonly replace: boolean;
  /** The path's baseline record (a delete's evidence; moves pair on it). */
  readonly base?: BaseRecord;
}

/** lstat that answers null for anything it cannot read. */
async function lstatOrNull(io: EngineOptions['opIo'], abs: string): Promise<Stats | null> {
  try {
    return await io.lstat(abs);
  } catch {
    return null;
  }
}

export class Carrier {
  readonly deletes: Deferred[] = [];
  /** Files (not directories) each side would lose, for the --max-delete guard. */
  readonly fileDeletes: Record<SideName, number> = { a: 0, b: 0 };
  /** What was done, counted and recorded (tally.ts). */
  readonly tally: Tally;
  private readonly roots: Record<SideName, string>;
  private readonly labels: Record<SideName, string>;
  /** Directories known to exist on a side (made or seen), so parents are made once. */
  private readonly dirsMade: Record<SideName, Set<string>> = { a: new Set(), b: new Set() };
  /** Owners kept on copies; one warning a run when chown is refused (fsops owners.ts). */
  private readonly owners: Owners;

  constructor(
    private readonly o: EngineOptions,
    private readonly sink: BaselineSink,
    private readonly pool: Pool,
    private readonly stopped: () => string | null,
  ) {
    this.roots = { a: o.srcRoot, b: o.destRoot };
    this.labels = { a: o.labels?.a ?? 'src', b: o.labels?.b ?? 'dest' };
    this.owners = new Owners((line) => o.log.warn(line));
    this.tally = new Tally(o, this.owners);
  }

  get counts(): IterationCounts {
    return this.tally.counts;
  }

  get countsTo(): Record<SideName, IterationCounts> {
    return this.tally.countsTo;
  }

  /** Set when a record could not be written: the run must stop. */
  get failure(): string | null {
    return this.tally.failure;
  }

  /** A problem: a failure (recorded, counted) or a warning (logged, counted as skipped). */
  problem(p: Problem, to: SideName = 'b'): Promise<void> {
    return this.tally.problem(p, to);
  }

  /** fsops options for a write into side `to` (its temp files carry its root id). */
  private fsOpts(to: SideName): OpOptions {
    const tempId = this.o.tempIds?.[to];
    return {
      io: this.o.opIo,
      owners: this.owners,
      ...(this.o.lost ? { lost: this.o.lost } : {}),
      ...(tempId ? { tempId } : {}),
    };
  }

  /** fsops options for a write that replaces or removes a file on `to`: its old version is kept. */
  private keepOpts(to: SideName): OpOptions {
    return this.o.keepVersions === false
      ? this.fsOpts(to)
      : { ...this.fsOpts(to), keep: { nowMs: this.o.clock.now() } };
  }

  /** What `side` holds at `path` now (lstat), as the baseline records it; null if unknown. */
  private async observe(side: SideName, path: string): Promise<BaseEntry | null> {
    try {
      const abs = `${this.roots[side]}/${path}`;
      const st = await this.o.opIo.lstat(abs);
      if (!st) return null;
      const target = st.isSymbolicLink()
        ? (decodeName(await this.o.opIo.readlink(abs)) ?? undefined)
        : undefined;
      return baseEntry(entryFromStats(splitRel(path).name, st, target));
    } catch {
      return null;
    }
  }

  private record(path: string, x: SideName, ex: BaseEntry, y: BaseEntry, md5: string | null = null): void {
    const { parent, name } = splitRel(path);
    const rec: BaseRecord = x === 'a' ? { name, a: ex, b: y, md5 } : { name, a: y, b: ex, md5 };
    this.sink.put(parent, name, rec);
  }

  /** Makes sure directory `dir` exists on `side`, copying missing ones from the other side. */
  async ensureDir(side: SideName, dir: string): Promise<boolean> {
    if (dir === '' || this.dirsMade[side].has(dir)) return true;
    const io = this.o.opIo;
    const here = await lstatOrNull(io, `${this.roots[side]}/${dir}`);
    if (here?.isDirectory()) {
      this.dirsMade[side].add(dir);
      return true;
    }
    if (here) return false;
    if (!(await this.ensureDir(side, splitRel(dir).parent))) return false;
    const from = otherSide(side);
    const st = await lstatOrNull(io, `${this.roots[from]}/${dir}`);
    if (!st?.isDirectory()) return false;
    const e = entryFromStats(splitRel(dir).name, st);
    return this.mkdir(from, side, dir, e);
  }

  /** Creates directory `path` on `to` as a copy of `from`'s; records it. */
  async mkdir(from: SideName, to: SideName, path: string, e: Entry): Promise<boolean> {
    const started = this.o.clock.now();
    const r = this.o.dryRun
      ? null
      : await copyEntry(
          this.roots[from],
          this.roots[to],
          path,
          { src: expectedOf(e), dest: null },
          this.fsOpts(to),
        );
    await this.tally.emit('create', to, path, e, undefined, started, r);
    if (r && !r.ok) return false;
    this.dirsMade[to].add(path);
    const seen = r ? await this.observe(to, path) : null;
    this.record(path, from, baseEntry(e), seen ?? copiedEntry(e));
    return true;
  }

  /**
   * Carries out one directory's decisions: directories now, copies on the pool (small new files
   * in batches), deletes collected. Returns true when the run stopped, and the subdirectories that
   * could not be made (not to be walked).
   */
  async carryOut(
    dir: string,
    plans: readonly PathPlan[],
    names: Record<SideName, Set<string>>,
  ): Promise<{ stop: boolean; failed: Set<string> }> {
    const failed = new Set<string>();
    let plannedFiles = 0;
    let plannedBytes = 0;
    const batches: Record<SideName, { items: PathPlan[]; bytes: number }> = {
      a: { items: [], bytes: 0 },
      b: { items: [], bytes: 0 },
    };
    const flush = async (to: SideName): Promise<void> => {
      const batch = batches[to];
      if (batch.items.length === 0) return;
      const items = batch.items;
      batches[to] = { items: [], bytes: 0 };
      await this.pool.submit(() => this.executeBatch(dir, otherSide(to), to, items));
    };
    try {
      for (const pp of plans) {
        if (this.stopped() || this.failure) return { stop: true, failed };
        const d = pp.decision;
        switch (d.type) {
          case 'delete': {
            // A file the other side replaced by a directory is replaced, not lost to an absence:
            // an unmount cannot cause it, so the guards do not count it.
            const replace = (d.on === 'a' ? pp.b : pp.a)?.kind === 'dir';
            this.deletes.push({
              on: d.on,
              path: pp.path,
              entry: d.entry,
              replace,
              ...(pp.base ? { base: pp.base } : {}),
            });
            if (d.entry.kind !== 'dir' && !replace) this.fileDeletes[d.on]++;
            continue;
          }
          case 'dir-one-side': {
            const e = (d.on === 'a' ? pp.a : pp.b)!;
            if (d.then === 'remove') {
              this.deletes.push({ on: d.on, path: pp.path, entry: e, replace: false });
              continue;
            }
            if (
              !(await this.ensureDir(otherSide(d.on), dir)) ||
              !(await this.mkdir(d.on, otherSide(d.on), pp.path, e))
            ) {
              failed.add(pp.path);
            }
            continue;
          }
          case 'dir-over-file':
            if (
              !(await this.ensureDir(d.dir === 'a' ? 'b' : 'a', dir)) ||
              !(await this.dirOverFile(pp, d, names))
            )
              failed.add(pp.path);
            continue;
          case 'copy':
          case 'touch':
          case 'conflict':
          case 'hash':
            break;
          default:
            continue;
        }
        const to = d.type === 'conflict' ? d.loser : d.type === 'hash' ? null : d.to;
        if (to !== null && !(await this.ensureDir(to, dir))) {
          await this.problem(
            {
              kind: 'unreadable',
              path: pp.path,
              side: 'dest',
              message: `cannot create the parent directory on ${this.labels[to]}`,
              fails: true,
            },
            to,
          );
          continue;
        }
        const src = d.type === 'copy' ? d.src : d.type === 'conflict' ? d.win : undefined;
        const bytes = d.type === 'copy' || d.type === 'conflict' ? (src?.size ?? 0) : 0;
        plannedFiles++;
        plannedBytes += bytes;
        if (d.type === 'copy' && this.batchable(d.src, d.dest)) {
          const b = batches[d.to];
          b.items.push(pp);
          b.bytes += bytes;
          if (b.items.length >= BATCH_MAX_FILES || b.bytes >= BATCH_MAX_BYTES) await flush(d.to);
        } else {
          await this.pool.submit(() => this.execute(pp, names));
        }
      }
      if (this.stopped()) return { stop: true, failed };
      await flush('a');
      await flush('b');
      return { stop: false, failed };
    } finally {
      if (plannedFiles > 0) this.o.onPlanned?.(plannedFiles, plannedBytes);
    }
  }

  /** A plain create of a small regular file: the addon copies it in a batch. */
  private batchable(src: Entry, dest: Entry | undefined): boolean {
    return (
      this.o.batchCopy !== undefined &&
      !this.o.dryRun &&
      src.kind === 'file' &&
      src.size <= BATCH_FILE_MAX &&
      dest === undefined
    );
  }

  /** Copies a batch of one directory's new files in one call, then records each. */
  private async executeBatch(parent: string, from: SideName, to: SideName, plans: PathPlan[]): Promise<void> {
    if (this.stopped()) return; // waited for a slot while the run was stopping
    const started = this.o.clock.now();
    const items: CopyItem[] = plans.map((pp) => {
      const d = pp.decision as Extract<PathPlan['decision'], { type: 'copy' }>;
      return { name: pp.name, src: expectedOf(d.src), dest: null };
    });
    const results = await this.o.batchCopy!(this.roots[from], this.roots[to], parent, items);
    // Recorded together: the records are queued in order and reach the opslog in one write. A
    // file the batch did not start (the run was stopping) was not done: nothing to record.
    const recorded: Promise<void>[] = [];
    plans.forEach((pp, i) => {
      const r = results[i]!;
      if (r === null) return;
      const d = pp.decision as Extract<PathPlan['decision'], { type: 'copy' }>;
      // The addon sets the copy's mtime to the nanosecond from the opened source: what dest
      // holds now is the source's entry.
      if (r.ok) {
        const there = copiedEntry(d.src);
        this.record(pp.path, from, baseEntry(d.src), r.ino === undefined ? there : { ...there, ino: r.ino });
      }
      recorded.push(this.tally.emit('create', to, pp.path, d.src, undefined, started, r));
    });
    await Promise.all(recorded);
  }

  /** Carries out one copy, touch, conflict or hash decision. */
  private async execute(pp: PathPlan, names: Record<SideName, Set<string>>, hashes?: Hashes): Promise<void> {
    if (this.stopped()) return;
    const d = pp.decision;
    const started = this.o.clock.now();
    if (d.type === 'hash') {
      const h = await this.hashBoth(pp.path);
      if (!h.ok) return this.tally.emit('update', 'b', pp.path, pp.a, pp.b, started, h.result);
      const again = decidePath(pp.base, pp.a, pp.b, this.o.plan, { a: h.a, b: h.b });
      const hashes = { a: h.a, b: h.b };
      if (again.type === 'agree') {
        this.sink.put(splitRel(pp.path).parent, pp.name, { ...again.rec, md5: h.a });
        return;
      }
      if (this.o.twoWay !== true && again.type !== 'none') {
        const writes =
          again.type === 'conflict'
            ? again.loser
            : again.type === 'copy' || again.type === 'touch'
              ? again.to
              : null;
        if (writes !== 'b') return;
      }
      return this.execute({ ...pp, decision: again }, names, hashes);
    }
    const md5 =
      hashes && (d.type === 'copy' || d.type === 'touch')
        ? { before: hashes[d.to], after: hashes[d.from] }
        : undefined;
    if (d.type === 'copy') {
      if (this.o.dryRun)
        return this.tally.emit(
          d.dest ? 'update' : 'create',
          d.to,
          pp.path,
          d.src,
          d.dest,
          started,
          null,
          md5 ? { md5 } : {},
        );
      const r = await copyEntry(
        this.roots[d.from],
        this.roots[d.to],
        pp.path,
        { src: expectedOf(d.src), dest: d.dest ? expectedOf(d.dest) : null },
        d.dest ? this.keepOpts(d.to) : this.fsOpts(d.to),
      );
      if (r.ok) {
        const seen = await this.observe(d.to, pp.path);
        this.record(pp.path, d.from, baseEntry(d.src), seen ?? copiedEntry(d.src));
      }
      return this.tally.emit(
        d.dest ? 'update' : 'create',
        d.to,
        pp.path,
        d.src,
        d.dest,
        started,
        r,
        md5 ? { md5 } : {},
      );
    }
    if (d.type === 'touch') {
      if (this.o.dryRun)
        return this.tally.emit('touch', d.to, pp.path, d.src, d.dest, started, null, md5 ? { md5 } : {});
      const r = await touchEntry(
        this.roots[d.from],
        this.roots[d.to],
        pp.path,
        { src: expectedOf(d.src), dest: expectedOf(d.dest) },
        this.fsOpts(d.to),
      );
      if (r.ok) {
        const seen = await this.observe(d.to, pp.path);
        this.record(pp.path, d.from, baseEntry(d.src), seen ?? copiedEntry(d.src));
      }
      return this.tally.emit('touch', d.to, pp.path, d.src, d.dest, started, r, md5 ? { md5 } : {});
    }
    if (d.type === 'conflict') return this.conflict(pp, d, names, started);
  }

  /**
   * Both sides changed: the loser's version is moved aside to a conflict copy (never overwritten),
   * the winner's is copied over the name, and the conflict copy goes to the winner's side.
   */
  private async conflict(
    pp: PathPlan,
    d: Extract<PathPlan['decision'], { type: 'conflict' }>,
    names: Record<SideName, Set<string>>,
    started: number,
  ): Promise<void> {
    const aside = this.asideName(pp.path, d.loser, names);
    const kept: Kept = { path: aside, kind: 'conflict' };
    this.o.log.warn(
      { path: pp.path, winner: this.labels[d.winner], conflictCopy: aside },
      'conflict: both sides changed; the newer keeps the name, the other is kept beside it',
    );
    if (this.o.dryRun)
      return this.tally.emit('update', d.loser, pp.path, d.win, d.lose, started, null, { kept });
    const moved = await moveAside(
      this.roots[d.loser],
      pp.path,
      expectedOf(d.lose),
      aside,
      this.fsOpts(d.loser),
    );
    if (!moved.ok)
      return this.tally.emit('update', d.loser, pp.path, d.win, d.lose, started, moved, { kept });
    const r = await copyEntry(
      this.roots[d.winner],
      this.roots[d.loser],
      pp.path,
      { src: expectedOf(d.win), dest: null },
      this.fsOpts(d.loser),
    );
    if (r.ok) {
      const seen = await this.observe(d.loser, pp.path);
      this.record(pp.path, d.winner, baseEntry(d.win), seen ?? copiedEntry(d.win));
    }
    await this.tally.emit('update', d.loser, pp.path, d.win, d.lose, started, r, { kept });
    // The conflict copy is a new file on the loser's side: it goes to the winner's side now (a
    // one-way run leaves that to the opposite direction's run).
    if (this.o.twoWay !== true && d.winner === 'a') return;
    await this.copyAside(d.loser, d.winner, aside, d.lose);
  }

  /** The conflict copy `aside` (holding `e`), new on `from`: copied to `to`, recorded, audited. */
  private async copyAside(from: SideName, to: SideName, aside: string, e: Entry): Promise<void> {
    const copied = await copyEntry(
      this.roots[from],
      this.roots[to],
      aside,
      { src: expectedOf(e), dest: null },
      this.fsOpts(to),
    );
    if (copied.ok) {
      const seen = await this.observe(to, aside);
      this.record(aside, from, baseEntry(e), seen ?? copiedEntry(e));
    }
    const name = splitRel(aside).name;
    await this.tally.emit('create', to, aside, { ...e, name }, undefined, this.o.clock.now(), copied);
  }

  /**
   * Carries out a move on the side that did not move: what stood at the new path is kept as a
   * version first, then one rename, checked against the entry expected at the old path. Records
   * one 'move' operation. Returns true when it is done.
   */
  async moveOne(
    d: Extract<MoveDecision, { type: 'move' }>,
    moved: Entry,
    /** Runs once the rename is done (the baseline follows it); answers the bytes not copied. */
    after: () => Promise<number | null>,
  ): Promise<boolean> {
    const started = this.o.clock.now();
    const on = d.on;
    const to = { ...moved, name: splitRel(d.to).name };
    if (this.o.dryRun) {
      // What the run would do: one move (the bytes below a folder are not added up here).
      const move = { from: d.from, bytesNotCopied: moved.kind === 'file' ? moved.size : null };
      await this.tally.emit('move', on, d.to, to, d.entry, started, null, { move });
      return true;
    }
    if (!(await this.ensureDir(on, splitRel(d.to).parent))) return false;
    let removed: OpResult | null = null;
    if (d.replaces) {
      removed = await deleteEntry(this.roots[on], d.to, expectedOf(d.replaces), this.keepOpts(on));
      if (!removed.ok) {
        this.o.log.info(
          { path: d.to, reason: removed.reason },
          'not moved: what stands at the new path changed',
        );
        return false;
      }
    }
    const r = await moveEntry(this.roots[on], d.from, expectedOf(d.entry), d.to, this.fsOpts(on));
    if (!r.ok) {
      // Not a failure of the run: the ordinary decisions carry the change instead. What stood at
      // the new path is gone already (kept as a version): that is audited as its delete.
      this.o.log.info({ from: d.from, to: d.to, reason: r.reason }, 'not moved; copying instead');
      if (d.replaces) await this.tally.emit('delete', on, d.to, undefined, d.replaces, started, removed);
      return false;
    }
    const bytesNotCopied = await after();
    const extra = {
      move: { from: d.from, bytesNotCopied },
      ...(removed?.ok && removed.kept ? { kept: { path: removed.kept, kind: 'version' as const } } : {}),
    };
    await this.tally.emit('move', on, d.to, to, d.entry, started, r, extra);
    return true;
  }

  /** Records what both sides hold at a moved file's new path (and drops the old path's record). */
  async recordMove(x: SideName, from: string, to: string, moved: Entry): Promise<void> {
    const old = splitRel(from);
    this.sink.put(old.parent, old.name, null);
    const seen = await this.observe(otherSide(x), to);
    this.record(to, x, baseEntry(moved), seen ?? copiedEntry(moved));
  }

  /** A conflict copy's name for `path` on `loser`'s side, not taken on either side. */
  private asideName(path: string, loser: SideName, names: Record<SideName, Set<string>>): string {
    const now = this.o.clock.now();
    let aside = conflictName(path, this.labels[loser], now);
    for (
      let n = 1;
      n < 100 && (names.a.has(splitRel(aside).name) || names.b.has(splitRel(aside).name));
      n++
    ) {
      aside = conflictName(path, this.labels[loser], now, n);
    }
    return aside;
  }

  /**
   * A directory on one side, a file (or symlink) on the other: the file is moved aside to a
   * conflict copy, the directory is made in its place (its contents follow in the walk), and the
   * conflict copy goes to the directory's side. Returns true when the directory may be walked.
   */
  private async dirOverFile(
    pp: PathPlan,
    d: Extract<PathPlan['decision'], { type: 'dir-over-file' }>,
    names: Record<SideName, Set<string>>,
  ): Promise<boolean> {
    const started = this.o.clock.now();
    const fileSide = otherSide(d.dir);
    const aside = this.asideName(pp.path, fileSide, names);
    const kept: Kept = { path: aside, kind: 'conflict' };
    this.o.log.warn(
      { path: pp.path, directory: this.labels[d.dir], conflictCopy: aside },
      'a directory on one side, a file on the other: the directory keeps the name, the file is kept beside it',
    );
    if (this.o.dryRun) {
      await this.tally.emit('update', fileSide, pp.path, d.entry, d.file, started, null, { kept });
      return true;
    }
    const moved = await moveAside(
      this.roots[fileSide],
      pp.path,
      expectedOf(d.file),
      aside,
      this.fsOpts(fileSide),
    );
    await this.tally.emit('update', fileSide, pp.path, d.entry, d.file, started, moved, { kept });
    if (!moved.ok) return false;
    const made = await this.mkdir(d.dir, fileSide, pp.path, d.entry);
    // A one-way run writes only into dest: the copy reaches src in the opposite direction's run.
    if (this.o.twoWay !== true) return made;
    await this.copyAside(fileSide, d.dir, aside, d.file);
    return made;
  }

  private async hashBoth(
    path: string,
  ): Promise<{ ok: true; a: string; b: string } | { ok: false; result: OpResult }> {
    try {
      const [a, b] = await Promise.all([
        md5File(`${this.roots.a}/${path}`),
        md5File(`${this.roots.b}/${path}`),
      ]);
      return { ok: true, a, b };
    } catch (err) {
      return { ok: false, result: { ok: false, code: 'IO', reason: `cannot hash: ${errorMessage(err)}` } };
    }
  }

  /** Deletes one collected entry (a file is kept as a version first). Returns true when it is gone. */
  async deleteOne(del: Deferred): Promise<boolean> {
    const started = this.o.clock.now();
    const r = this.o.dryRun
      ? null
      : await deleteEntry(
          this.roots[del.on],
          del.path,
          expectedOf(del.entry),
          del.entry.kind === 'dir' ? this.fsOpts(del.on) : this.keepOpts(del.on),
        );
    if (r && !r.ok && del.entry.kind === 'dir' && r.code === 'CHANGED_UNDER_US') {
      // A directory that is not empty keeps what could not be deleted (changed, or new): not a
      // failure. Its contents were decided one by one.
      const still = await lstatOrNull(this.o.opIo, `${this.roots[del.on]}/${del.path}`);
      if (still?.isDirectory()) return false;
    }
    if (r === null || r.ok) {
      const { parent, name } = splitRel(del.path);
      this.sink.put(parent, name, null);
    }
    await this.tally.emit('delete', del.on, del.path, undefined, del.entry, started, r);
    return r === null || r.ok;
  }
}
