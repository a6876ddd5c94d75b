// Moves on the live path (issue 16). A watcher reports a move as a delete and a create close
// together, in either order. The applier pairs them by identity, never by name (src/core/moves.ts):
// - a delete that a move could explain (a file with contents, or a directory) waits PAIR_WAIT_MS
//   on its first delivery, remembered as "gone", so the create can find it;
// - a create that could be the other half (a file of 1 MiB or more, or a directory) waits as well
//   when nothing gone on its side matches yet, so the order of the two events does not matter,
//   and longer while a delete on its side waits out a cached view (notePending, staleview.ts);
// - a create that matches something gone becomes one rename on the other side (execute.ts
//   `moveLive`), checked right before against what the baseline says stood at the old path.
// Small new files are never held: copying them is as cheap as pairing them.
import type { Appeared, BaseRecord, Decision, Entry, Gone, MoveDecision, SideName } from '../core/index.js';
import {
  appearedKey,
  decideMove,
  goneKey,
  knownMd5,
  moveHalf,
  otherSide,
  sameDirectory,
  sameInode,
  unchanged,
} from '../core/index.js';
import { errorMessage } from '../errors.js';
import { entryOf, moveLive, type LiveContext, type Outcome } from './execute.js';

/** How long a delete (or a large create) waits on its first delivery for its other half. */
export const PAIR_WAIT_MS = 400;
/** Creates at least this large wait once for a delete to pair with. */
const WAIT_CREATE_BYTES = 1024 * 1024;
/** A delete inside a directory gone on that side too waits up to this long for the directory. */
const INSIDE_WAIT_MS = 5000;
/** A gone path is forgotten after this long. */
const GONE_TTL_MS = 15_000;

/** A pairing to carry out: the move, and what moved (on `side`). */
interface Paired {
  readonly m: Extract<MoveDecision, { type: 'move' }>;
  readonly entry: Entry;
  readonly side: SideName;
}

interface GoneHere {
  readonly side: SideName;
  readonly base: BaseRecord;
  readonly at: number;
}

export class LiveMoves {
  private readonly gone = new Map<string, GoneHere>();
  /** Directories this applier moved lately: old path to new, on the side that moved them. */
  private readonly movedDirs = new Map<string, { to: string; side: SideName; at: number }>();
  /** Paths that waited once, and when. */
  private readonly waited = new Map<string, number>();

  /** Until when a delete reported on each side waits out a stale view (staleview.ts). */
  private readonly pending = { a: 0, b: 0 };

  constructor(private readonly deleteMissing: boolean) {}

  /**
   * A delete reported on `side` is looked at again at `untilMs` (its side's cached view still
   * shows the path): a new directory or large file there waits for it, as for any gone half.
   */
  notePending(side: SideName, untilMs: number): void {
    if (this.deleteMissing) this.pending[side] = Math.max(this.pending[side], untilMs);
  }

  /**
   * How long the event should wait before its decision is carried out (0: carry it out now):
   * - the first delivery of a delete a move could explain: PAIR_WAIT_MS, remembered as gone;
   * - a delete inside a directory gone on that side too: up to INSIDE_WAIT_MS from its first
   *   look, in one long wait, so the queue behind it keeps moving (the directory's other half
   *   may be in it);
   * - a new directory, or a new file of WAIT_CREATE_BYTES or more, while nothing gone on its
   *   side could pair with it: PAIR_WAIT_MS from its first look; and whether or not something
   *   could, as long as a delete on that side waits for a second look (notePending); never past
   *   INSIDE_WAIT_MS from its first look.
   */
  waitMs(
    path: string,
    d: Decision,
    base: BaseRecord | undefined,
    first: boolean,
    nowMs: number,
    insideGone = false,
  ): number {
    if (!this.deleteMissing) return 0;
    this.expire(nowMs);
    const since = this.waited.get(path);
    const start = (): number => {
      if (since === undefined) this.waited.set(path, nowMs);
      return since ?? nowMs;
    };
    const half = moveHalf(d, base);
    if (half?.half === 'gone' && insideGone) return Math.max(0, start() + INSIDE_WAIT_MS - nowMs);
    if (half?.half === 'appeared') {
      const x = half.side;
      const kind = half.kind;
      const cheap = kind === 'file' && half.entry.size < WAIT_CREATE_BYTES; // cheaper to copy
      // Something gone of its kind on its side is known already: no wait of its own, but a
      // delete there that waits for its second look may be its other half (a folder's own delete
      // can come after those of its subfolders), so it waits for that look too.
      const known = [...this.gone.values()].some((g) => g.side === x && g.base[x].kind === kind);
      const from = cheap ? nowMs : start();
      const until = known ? this.pending[x] : Math.max(from + PAIR_WAIT_MS, this.pending[x]);
      const left = cheap ? 0 : Math.min(from + INSIDE_WAIT_MS, until) - nowMs;
      // Done waiting: forgotten, so that the same path gone later (moved on) waits as a gone half.
      if (left <= 0) this.waited.delete(path);
      return Math.max(0, left);
    }
    // A gone half waits once: a later delivery (or a re-check, which always counts as a first
    // delivery) after the wait is carried out as decided. What is gone stays remembered.
    if (half?.half !== 'gone' || !first || (since !== undefined && nowMs - since >= PAIR_WAIT_MS)) {
      this.waited.delete(path);
      return 0;
    }
    if (since === undefined) this.gone.set(path, { side: half.side, base: base!, at: nowMs });
    return start() + PAIR_WAIT_MS - nowMs;
  }

  /** Remembers a directory gone on `side` (seen from a delete below it). */
  noteGone(path: string, side: SideName, base: BaseRecord, nowMs: number): void {
    if (this.deleteMissing && !this.gone.has(path)) this.gone.set(path, { side, base, at: nowMs });
  }

  /**
   * When `d` (for `path`) is the appeared half of a move whose gone half was seen: carries the
   * move out and answers its outcome. Null: not a move; carry `d` out as decided. Only the
   * pairing's reads (listings, hashes) fall back to that; the move's own errors reach the caller.
   */
  async tryMove(
    ctx: LiveContext,
    path: string,
    d: Decision,
    base: BaseRecord | undefined,
    lost: AbortSignal,
    started: number,
  ): Promise<Outcome | null> {
    if (!this.deleteMissing || this.gone.size === 0) return null;
    let found: Paired | null;
    try {
      found = await this.pair(ctx, path, d, base);
    } catch (err) {
      ctx.log.info({ pair: ctx.pair, path, err: errorMessage(err) }, 'not moved; copying instead');
      return null;
    }
    if (!found) return null;
    this.gone.delete(found.m.from);
    const out = await moveLive(ctx, found.m, found.entry, found.side, lost, started);
    if (found.entry.kind === 'dir' && out.done !== 'nothing') {
      this.movedDirs.set(found.m.from, { to: found.m.to, side: found.side, at: started });
    }
    return out;
  }

  /**
   * Where a path reported gone on `side` went, when it lay below a directory this applier moved
   * lately from that side: its delete was made after the move (inside the new place), or the
   * watcher reported the old place's contents. The same delete is then decided at the new path.
   * Null: not below a moved directory.
   */
  followMove(path: string, side: SideName): string | null {
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      const m = this.movedDirs.get(path.slice(0, i));
      if (m && m.side === side) return `${m.to}${path.slice(i)}`;
    }
    return null;
  }

  /** The gone half `d` pairs with, as decided by the core, or null. */
  private async pair(
    ctx: LiveContext,
    path: string,
    d: Decision,
    base: BaseRecord | undefined,
  ): Promise<Paired | null> {
    const a = moveHalf(d, base);
    if (a?.half === 'appeared' && a.kind === 'dir') return this.dirPair(ctx, path, a.side);
    if (a?.half !== 'appeared' || a.kind !== 'file' || d.type !== 'copy') return null;
    const appeared = { path, side: a.side, entry: a.entry };
    for (const [from, g] of this.gone) {
      const gone = { path: from, side: g.side, base: g.base };
      if (goneKey(gone) !== appearedKey(appeared)) continue;
      const y = otherSide(g.side);
      const oldThere = await this.entry(ctx, y, from);
      if (!oldThere || !unchanged(oldThere, g.base[y])) continue;
      const m = decideMove(gone, appeared, oldThere, d.dest, await this.sameFile(ctx, gone, appeared));
      if (m.type === 'move') return { m, entry: a.entry, side: g.side };
      ctx.log.info({ pair: ctx.pair, path, from, why: m.why }, 'not moved: copied instead');
    }
    return null;
  }

  private async dirPair(ctx: LiveContext, path: string, x: SideName): Promise<Paired | null> {
    const children = await ctx.fs.list(ctx.sides[x].root, path);
    const store = ctx.baseline();
    if (!children || children.length === 0 || !store) return null;
    const entry = await this.entry(ctx, x, path);
    if (!entry) return null;
    for (const [from, g] of this.gone) {
      if (g.side !== x || g.base[x].kind !== 'dir') continue;
      if (!sameDirectory(x, g.base, await store.readDir(from), entry, children)) continue;
      const y = otherSide(x);
      const m = decideMove(
        { path: from, side: x, base: g.base },
        { path, side: x, entry },
        await this.entry(ctx, y, from),
        await this.entry(ctx, y, path),
      );
      if (m.type === 'move') return { m, entry, side: x };
      ctx.log.info({ pair: ctx.pair, path, from, why: m.why }, 'not moved: made and filled instead');
    }
    return null;
  }

  /** The same file: by inode (a rename keeps it), else by MD5 (the baseline's, when known). */
  private async sameFile(ctx: LiveContext, gone: Gone, appeared: Appeared): Promise<boolean> {
    if (sameInode(gone.base[gone.side], appeared.entry)) return true;
    const y = otherSide(gone.side);
    const [now, before] = await Promise.all([
      ctx.fs.md5(ctx.sides[appeared.side].root, appeared.path),
      knownMd5(gone.base, y) ?? ctx.fs.md5(ctx.sides[y].root, gone.path),
    ]);
    return now === before;
  }

  private async entry(ctx: LiveContext, side: SideName, path: string): Promise<Entry | undefined> {
    const s = await ctx.fs.stat(ctx.sides[side].root, path);
    return s?.below === undefined ? entryOf(path, s) : undefined;
  }

  private expire(nowMs: number): void {
    for (const [p, g] of this.gone) if (nowMs - g.at > GONE_TTL_MS) this.gone.delete(p);
    for (const [p, at] of this.waited) if (nowMs - at > GONE_TTL_MS) this.waited.delete(p);
    for (const [p, m] of this.movedDirs) if (nowMs - m.at > GONE_TTL_MS) this.movedDirs.delete(p);
  }
}
