// Moves in a reconcile run (issue 16). While the walk goes, what could be one half of a move is
// held back instead of carried out: a file a copy would carry over, a directory only one side
// has and the baseline never saw (made on one side), a directory one side deleted. Deletes are
// held back anyway. When the walk is over, every half has been seen, wherever it sat in the tree:
// halves with the same identity (src/core/moves.ts) become one rename on the other side, and the
// rest is carried out as planned.
//
// Order: directories first (a directory moved whole is one rename; its contents then follow it,
// compared with their re-keyed baseline), then files. Nothing is held without --delete-missing
// (the old path would come back), on a first run or without a baseline. A dry run pairs moves
// the same way and shows each as one `move` line; what changed inside a moved folder is shown
// by the real run, once the folder is where it belongs.
import type { BaseRecord, Entry, PairDescend, PathPlan, SideName } from '../core/index.js';
import {
  appearedKey,
  decideMove,
  goneKey,
  goneSignature,
  knownMd5,
  listingSignature,
  moveHalf,
  otherSide,
  sameDirectory,
  sameInode,
  unchanged,
} from '../core/index.js';
import { md5File } from '../fsops/index.js';
import { errorMessage } from '../errors.js';
import type { BaselineSink } from './baseline-sink.js';
import type { Carrier, Deferred } from './carry.js';
import type { EngineOptions } from './engine-types.js';

/** Files held at most (beyond, they are copied as met: memory stays bounded). */
const HOLD_MAX = 20_000;

type Names = Record<SideName, Set<string>>;

/** A held removed directory, with the baseline records below it (on its side's pairing). */
interface RemovedDir {
  readonly held: Held;
  readonly below: readonly BaseRecord[];
}

interface Held {
  readonly dir: string;
  readonly pp: PathPlan;
  readonly names: Names;
}

export interface MoveDeps {
  readonly o: EngineOptions;
  readonly carrier: Carrier;
  readonly sink: BaselineSink;
  /** What `side` holds directly in `path`, or null when it cannot be read. */
  readonly list: (side: SideName, path: string) => Promise<readonly Entry[] | null>;
  /** Walks these directories (holding again what the walk meets). */
  readonly walk: (items: PairDescend[]) => Promise<void>;
  /** True once the run must stop. */
  readonly stopped: () => string | null;
}

export class MoveFinder {
  private files: Held[] = [];
  private made: Held[] = [];
  private removed: Held[] = [];
  private readonly heldDirs = new Set<string>();
  private open = true;

  constructor(
    private readonly d: MoveDeps,
    /** Whether this run may pair moves at all (asked as the walk goes: the baseline may fail). */
    private readonly active: () => boolean,
  ) {}

  /** True when `pp` is held back: the caller neither carries it out nor walks it. */
  hold(dir: string, pp: PathPlan, names: () => Names): boolean {
    if (!this.open || !this.active()) return false;
    // File deletes are held anyway (with the run's other deletes); the rest waits here.
    const half = moveHalf(pp.decision, pp.base);
    if (half === null || (half.half === 'gone' && half.kind === 'file')) return false;
    if (half.kind === 'file') {
      if (this.files.length >= HOLD_MAX) return false;
      this.files.push({ dir, pp, names: names() });
      return true;
    }
    (half.half === 'appeared' ? this.made : this.removed).push({ dir, pp, names: names() });
    this.heldDirs.add(pp.path);
    return true;
  }

  /** True when the directory at `path` is held (not to be walked now). */
  holds(path: string): boolean {
    return this.heldDirs.has(path);
  }

  /** Pairs what was held, carries out the moves, then the rest as planned. Once per run. */
  async settle(): Promise<void> {
    try {
      // Directories made on one side are paired first, with every directory removed so far (a
      // made directory's subdirectories are met only once it is walked); removed directories
      // left over are then walked for their deletes, which may hold more of either.
      const removed: Held[] = [];
      while (!this.d.stopped()) {
        removed.push(...this.removed.splice(0));
        const made = this.made.splice(0);
        if (made.length > 0) await this.pairDirs(made, removed);
        else if (removed.length > 0) await this.removeDirs(removed.splice(0));
        else break;
      }
      this.open = false;
      if (!this.d.stopped()) await this.settleFiles(this.files.splice(0));
    } finally {
      this.open = false;
    }
  }

  /** Pairs directories made with directories removed (`removed` loses those paired). */
  private async pairDirs(made: Held[], removed: Held[]): Promise<void> {
    const { carrier, sink } = this.d;
    const index = new Map<string, RemovedDir[]>();
    for (const g of removed) {
      const x = otherSide(onOf(g));
      const below = (await sink.readDir(g.pp.path)) ?? [];
      const sig = goneSignature(x, below);
      const ino = g.pp.base![x].ino;
      const item = { held: g, below };
      if (sig !== null) push(index, `${x}\0s\0${sig}`, item);
      if (ino !== undefined) push(index, `${x}\0i\0${ino}`, item);
    }
    const used = new Set<Held>();
    const walks: PairDescend[] = [];
    for (const n of made) {
      const x = onOf(n);
      const y = otherSide(x);
      const entry = side(n.pp, x)!;
      // Safe mode since (the baseline failed): no pairing, everything as planned.
      const partner =
        index.size > 0 && this.active() ? await this.dirPartner(n, x, entry, index, used) : undefined;
      if (partner) {
        const dec = decideMove(
          gone(partner, x),
          { path: n.pp.path, side: x, entry },
          side(partner.pp, y),
          side(n.pp, y),
        );
        if (dec.type === 'move') {
          const done = await carrier.moveOne(dec, entry, () => sink.moveTree(partner.pp.path, n.pp.path));
          if (done) {
            used.add(partner);
            // (A dry run renamed nothing: the other side has nothing at the new path to walk.)
            if (!this.d.o.dryRun) walks.push({ path: n.pp.path });
            else this.heldDirs.delete(n.pp.path);
            continue;
          }
        } else this.d.o.log.info({ from: partner.pp.path, to: n.pp.path }, `not moved: ${dec.why}`);
      }
      const r = await carrier.carryOut(n.dir, [n.pp], n.names);
      if (r.stop) return;
      if (!r.failed.has(n.pp.path)) walks.push({ path: n.pp.path, missing: y });
    }
    const left = removed.filter((g) => !used.has(g));
    removed.length = 0;
    removed.push(...left);
    for (const w of walks) this.heldDirs.delete(w.path);
    await this.d.walk(walks);
  }

  /** Directories removed on one side, paired with nothing: removed on the other side too. */
  private async removeDirs(removed: Held[]): Promise<void> {
    const walks: PairDescend[] = [];
    for (const g of removed) {
      const on = onOf(g);
      this.d.carrier.deletes.push({
        on,
        path: g.pp.path,
        entry: side(g.pp, on)!,
        replace: false,
        base: g.pp.base!,
      });
      walks.push({ path: g.pp.path, missing: otherSide(on) });
      this.heldDirs.delete(g.pp.path);
    }
    await this.d.walk(walks);
  }

  /**
   * The held removed directory that `n` (now `entry` on `x`) is, by its listing or its inode
   * (core `sameDirectory`).
   */
  private async dirPartner(
    n: Held,
    x: SideName,
    entry: Entry,
    index: Map<string, RemovedDir[]>,
    used: Set<Held>,
  ): Promise<Held | undefined> {
    const children = await this.d.list(x, n.pp.path);
    if (!children) return undefined;
    const sig = listingSignature(children);
    const cands = [
      ...(sig === null ? [] : (index.get(`${x}\0s\0${sig}`) ?? [])),
      ...(entry.ino === undefined ? [] : (index.get(`${x}\0i\0${entry.ino}`) ?? [])),
    ];
    return cands.find((g) => !used.has(g.held) && sameDirectory(x, g.held.pp.base!, g.below, entry, children))
      ?.held;
  }

  private async settleFiles(files: Held[]): Promise<void> {
    const { carrier } = this.d;
    const deletes = carrier.deletes;
    const byKey = new Map<string, Deferred[]>();
    for (const del of deletes) {
      if (!del.base || del.replace) continue;
      const key = goneKey({ path: del.path, side: otherSide(del.on), base: del.base });
      if (key !== null) push(byKey, key, del);
    }
    const paired = new Set<Deferred>();
    const rest: Held[] = [];
    for (const h of files) {
      if (this.d.stopped()) return;
      const dec = h.pp.decision as Extract<PathPlan['decision'], { type: 'copy' }>;
      const key = byKey.size > 0 ? appearedKey({ path: h.pp.path, side: dec.from, entry: dec.src }) : null;
      const cands = key === null || !this.active() ? undefined : byKey.get(key);
      if (!cands || !(await this.fileMove(h, dec, cands, paired))) rest.push(h);
    }
    if (paired.size > 0) {
      const left = deletes.filter((x) => !paired.has(x));
      deletes.length = 0;
      deletes.push(...left);
    }
    // The rest, as planned: one directory's copies at a time (batched as in the walk).
    const byDir = new Map<string, Held[]>();
    for (const h of rest) push(byDir, h.dir, h);
    for (const [dir, hs] of byDir) {
      const r = await carrier.carryOut(
        dir,
        hs.map((h) => h.pp),
        hs[0]!.names,
      );
      if (r.stop) return;
    }
  }

  /** Tries each gone file of the same identity; true when `h` was carried out as a move. */
  private async fileMove(
    h: Held,
    dec: Extract<PathPlan['decision'], { type: 'copy' }>,
    cands: Deferred[],
    paired: Set<Deferred>,
  ): Promise<boolean> {
    const { carrier } = this.d;
    const x = dec.from;
    const y = dec.to;
    for (const del of cands) {
      if (paired.has(del) || !unchanged(del.entry, del.base![y])) continue;
      // The same inode (a rename keeps it) stands in for reading both files.
      const same = sameInode(del.base![x], dec.src) || (await this.sameContents(x, h.pp.path, y, del));
      const m = decideMove(
        { path: del.path, side: x, base: del.base! },
        { path: h.pp.path, side: x, entry: dec.src },
        del.entry,
        dec.dest,
        same,
      );
      if (m.type !== 'move') {
        this.d.o.log.info({ from: del.path, to: h.pp.path }, `not moved: ${m.why}`);
        continue;
      }
      const done = await carrier.moveOne(m, dec.src, async () => {
        await carrier.recordMove(x, del.path, h.pp.path, dec.src);
        return dec.src.size;
      });
      if (!done) return false;
      paired.add(del);
      carrier.fileDeletes[y]--;
      return true;
    }
    return false;
  }

  /** MD5 of the new file on `x` against the old one on `y` (or the baseline's, when known: knownMd5). */
  private async sameContents(x: SideName, path: string, y: SideName, del: Deferred): Promise<boolean> {
    const roots = { a: this.d.o.srcRoot, b: this.d.o.destRoot };
    try {
      const [now, was] = await Promise.all([
        md5File(`${roots[x]}/${path}`),
        knownMd5(del.base!, y) ?? md5File(`${roots[y]}/${del.path}`),
      ]);
      return now === was;
    } catch (err) {
      this.d.o.log.debug({ path, err: errorMessage(err) }, 'cannot hash a move candidate');
      return false;
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** The side a held directory decision names (`on`: the side that has it). */
function onOf(h: Held): SideName {
  return (h.pp.decision as Extract<PathPlan['decision'], { type: 'dir-one-side' }>).on;
}

function side(pp: PathPlan, s: SideName): Entry | undefined {
  return s === 'a' ? pp.a : pp.b;
}

function gone(g: Held, x: SideName): { path: string; side: SideName; base: NonNullable<PathPlan['base']> } {
  return { path: g.pp.path, side: x, base: g.pp.base! };
}
