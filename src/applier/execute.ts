// Carrying out the core's decision for one path, live: the applier stats both sides, reads the
// path's baseline, asks `decidePath` (src/core, the same function the reconciler asks), and this
// module does what it answered, then writes what both sides now hold to the baseline. Every
// overwrite and delete keeps the old version first; a conflict keeps the loser beside the file.
import type { OpRecord } from '../audit/index.js';
import { moveTree, type BaselineStore } from '../baseline/index.js';
import type { Clock } from '../clock.js';
import type { BaseEntry, BaseRecord, Decision, Entry, MoveDecision, SideName } from '../core/index.js';
import { baseEntry, conflictName, copiedEntry, decidePath, otherSide, settle } from '../core/index.js';
import { splitRel } from '../fsops/index.js';
import type { Logger } from '../log.js';
import type { FsOps, Keep, Stat } from './fsadapter.js';
import { directionName, type SideRef } from './windows.js';

/** An operation carried out whose record is not in the opslog yet. */
export interface Owed {
  from: SideRef;
  to: SideRef;
  op: OpRecord;
  bytes: number;
}

/** What this applier just wrote on a side (to recognise the other watcher's echo). */
export interface Written {
  type: 'upsert' | 'delete';
  kind: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
}

export interface LiveContext {
  readonly pair: string;
  readonly sides: Readonly<Record<SideName, SideRef>>;
  readonly opts: { readonly deleteMissing: boolean; readonly mtimeThresholdMs: number };
  readonly keepVersions: boolean;
  readonly fs: FsOps;
  readonly clock: Clock;
  readonly log: Logger;
  /** The pair's baseline, or null: safe mode (newest wins, nothing deleted). */
  baseline(): BaselineStore | null;
  /** The baseline failed: switch to safe mode. */
  baselineFailed(err: unknown): void;
  remember(side: SideRef, path: string, w: Written): void;
  /** Appends records to the opslog in order; false when one failed (then the event is not acked). */
  record(path: string, recs: Owed[]): Promise<boolean>;
}

/** How a decision ended, for the applier's disposition of the event. */
export type Outcome =
  | { readonly done: 'applied'; readonly what: string }
  | { readonly done: 'nothing'; readonly why: string }
  | { readonly done: 'conflict'; readonly why: string }
  | { readonly done: 'not-empty' }
  | { readonly done: 'audit-owed' };

export function entryOf(path: string, s: Stat | null): Entry | undefined {
  if (!s) return undefined;
  const base: Entry = {
    name: splitRel(path).name,
    kind: s.kind,
    size: s.size,
    mtimeMs: s.mtimeMs,
    mode: 0,
    ...(s.ino === undefined ? {} : { ino: s.ino }),
  };
  return s.kind === 'symlink' ? { ...base, target: s.target ?? '' } : base;
}

/** The path's baseline record; undefined when there is none or the store failed (safe mode). */
export async function readBase(ctx: LiveContext, path: string): Promise<BaseRecord | undefined> {
  const store = ctx.baseline();
  if (!store) return undefined;
  try {
    return (await store.readPath(path)) ?? undefined;
  } catch (err) {
    ctx.baselineFailed(err);
    return undefined;
  }
}

/** Decides one path; a 'hash' answer is resolved here (MD5 of both files). */
export async function decideLive(
  ctx: LiveContext,
  path: string,
  base: BaseRecord | undefined,
  a: Entry | undefined,
  b: Entry | undefined,
): Promise<Decision> {
  const d = decidePath(base, a, b, ctx.opts);
  if (d.type !== 'hash') return d;
  const [ha, hb] = await Promise.all([
    ctx.fs.md5(ctx.sides.a.root, path),
    ctx.fs.md5(ctx.sides.b.root, path),
  ]);
  return decidePath(base, a, b, ctx.opts, { a: ha, b: hb });
}

const leafKind = (k: Entry['kind']): 'file' | 'dir' | 'symlink' =>
  k === 'dir' ? 'dir' : k === 'symlink' ? 'symlink' : 'file';

/** Writes the path's baseline (null drops it). A failure only costs the next decision its record. */
async function putBase(ctx: LiveContext, path: string, rec: BaseRecord | null): Promise<void> {
  const store = ctx.baseline();
  if (!store) return;
  const { parent, name } = splitRel(path);
  try {
    // Racy entries are marked against the wall clock: mtimes are wall-clock times.
    await store.write([{ dir: parent, name, rec: rec === null ? null : settle(rec, Date.now()) }]);
  } catch (err) {
    ctx.baselineFailed(err);
  }
}

/** Drops the path's record and every record below it. */
async function dropBaseTree(ctx: LiveContext, path: string): Promise<void> {
  const store = ctx.baseline();
  if (!store) return;
  try {
    await store.dropTree(path);
  } catch (err) {
    ctx.baselineFailed(err);
  }
}

function recFor(name: string, x: SideName, ex: BaseEntry, y: BaseEntry): BaseRecord {
  return x === 'a' ? { name, a: ex, b: y, md5: null } : { name, a: y, b: ex, md5: null };
}

function success(
  ctx: LiveContext,
  started: number,
  r: Omit<OpRecord, 'startedAtMs' | 'endedAtMs' | 'status' | 'errorMessage'>,
): OpRecord {
  return { ...r, startedAtMs: started, endedAtMs: ctx.clock.now(), status: 'success', errorMessage: null };
}

function parentRecords(
  ctx: LiveContext,
  dirs: string[],
  from: SideRef,
  to: SideRef,
  started: number,
): Owed[] {
  return dirs.map((dir) => {
    ctx.remember(to, dir, { type: 'upsert', kind: 'dir', size: 0, mtimeMs: 0 });
    const op = success(ctx, started, {
      operation: 'create',
      filepath: dir,
      sizeBefore: null,
      sizeAfter: 0,
      md5Before: null,
      md5After: null,
    });
    return { from, to, op, bytes: 0 };
  });
}

/**
 * Carries out `d` for `path`. Throws (errno or HaSyncError) on a failure the applier classifies
 * as retry or give up; the opslog record of what was done is written before it returns.
 */
export async function carryOut(
  ctx: LiveContext,
  path: string,
  d: Decision,
  now: { readonly a: Entry | undefined; readonly b: Entry | undefined },
  lost: AbortSignal,
  started: number,
): Promise<Outcome> {
  const keep: Keep | undefined = ctx.keepVersions ? { nowMs: ctx.clock.now() } : undefined;
  switch (d.type) {
    case 'none':
    case 'descend':
      return { done: 'nothing', why: 'equal' };
    case 'hash':
      return { done: 'nothing', why: 'undecided' };
    case 'agree':
      await putBase(ctx, path, d.rec);
      return { done: 'nothing', why: 'equal; baseline recorded' };
    case 'drop':
      await putBase(ctx, path, null);
      return { done: 'nothing', why: 'gone on both sides' };
    case 'problem':
      return { done: 'conflict', why: d.problem.message };
    case 'copy':
      return copy(ctx, path, d.from, d.to, d.src, d.dest, lost, started, keep, null);
    case 'touch': {
      const [from, to] = [ctx.sides[d.from], ctx.sides[d.to]];
      await ctx.fs.touch(from.root, to.root, path, { src: d.src, dest: d.dest }, lost);
      const after = await ctx.fs.stat(to.root, path);
      if (after)
        await putBase(
          ctx,
          path,
          recFor(splitRel(path).name, d.from, baseEntry(d.src), baseEntry(entryOf(path, after)!)),
        );
      const op = success(ctx, started, {
        operation: 'update',
        filepath: path,
        sizeBefore: d.dest.size,
        sizeAfter: d.src.size,
        md5Before: null,
        md5After: null,
      });
      if (!(await ctx.record(path, [{ from, to, op, bytes: 0 }]))) return { done: 'audit-owed' };
      return { done: 'applied', what: `touch ${path} (${directionName(from, to)})` };
    }
    case 'delete':
      return remove(ctx, path, d.on, d.entry, lost, started, keep);
    case 'dir-one-side': {
      const dir = now[d.on]!;
      if (d.then === 'create')
        return copy(ctx, path, d.on, otherSide(d.on), dir, undefined, lost, started, keep, null);
      return remove(ctx, path, d.on, dir, lost, started, keep);
    }
    case 'conflict':
      return conflict(ctx, path, d, lost, started);
    case 'dir-over-file':
      return dirOverFile(ctx, path, d, lost, started);
  }
}

async function copy(
  ctx: LiveContext,
  path: string,
  fromSide: SideName,
  toSide: SideName,
  src: Entry,
  dest: Entry | undefined,
  lost: AbortSignal,
  started: number,
  keep: Keep | undefined,
  conflictOf: string | null,
): Promise<Outcome> {
  const [from, to] = [ctx.sides[fromSide], ctx.sides[toSide]];
  const expectSrc: Stat = { kind: src.kind, size: src.size, mtimeMs: src.mtimeMs };
  const expectDest: Stat | null = dest ? { kind: dest.kind, size: dest.size, mtimeMs: dest.mtimeMs } : null;
  const r = await ctx.fs.copy(from.root, to.root, path, { src: expectSrc, dest: expectDest }, lost, keep);
  const done = parentRecords(ctx, r.createdDirs, from, to, started);
  for (const dir of r.createdDirs) {
    const { name } = splitRel(dir);
    const e: BaseEntry = { kind: 'dir', size: 0, mtimeMs: 0 };
    await putBase(ctx, dir, { name, a: e, b: e, md5: null });
  }
  ctx.remember(to, path, { type: 'upsert', kind: leafKind(src.kind), size: r.size, mtimeMs: r.mtimeMs });
  // What the written side holds now; if it is already gone again (deleted the instant it landed),
  // what was written: the next decision then sees that side's delete against it.
  const seen = r.after ? baseEntry(entryOf(path, r.after)!) : copiedEntry(src);
  await putBase(ctx, path, recFor(splitRel(path).name, fromSide, baseEntry(src), seen));
  const kept = conflictOf ?? r.kept ?? null;
  const op = success(ctx, started, {
    operation: dest ? 'update' : 'create',
    filepath: path,
    sizeBefore: dest && dest.kind !== 'dir' ? dest.size : null,
    sizeAfter: src.kind === 'dir' ? 0 : src.size,
    md5Before: null,
    md5After: null,
    keptPath: kept,
    keptKind: conflictOf ? 'conflict' : r.kept ? 'version' : null,
    ...(r.owner ? { ownerBefore: r.owner.before, ownerAfter: r.owner.after } : {}),
  });
  done.push({ from, to, op, bytes: r.bytes });
  if (!(await ctx.record(path, done))) return { done: 'audit-owed' };
  const word = src.kind === 'dir' ? 'mkdir' : dest ? 'update' : 'create';
  return { done: 'applied', what: `${word} ${path} (${directionName(from, to)})` };
}

async function remove(
  ctx: LiveContext,
  path: string,
  onSide: SideName,
  entry: Entry,
  lost: AbortSignal,
  started: number,
  keep: Keep | undefined,
): Promise<Outcome> {
  const on = ctx.sides[onSide];
  const other = ctx.sides[otherSide(onSide)];
  const expect: Stat = { kind: entry.kind, size: entry.size, mtimeMs: entry.mtimeMs };
  const r = await ctx.fs.remove(on.root, path, expect, lost, keep);
  if (r.state === 'not-empty') return { done: 'not-empty' };
  await putBase(ctx, path, null);
  if (r.state === 'missing') return { done: 'nothing', why: 'already gone' };
  ctx.remember(on, path, {
    type: 'delete',
    kind: leafKind(entry.kind),
    size: entry.size,
    mtimeMs: entry.mtimeMs,
  });
  const op = success(ctx, started, {
    operation: 'delete',
    filepath: path,
    sizeBefore: entry.kind === 'dir' ? 0 : entry.size,
    sizeAfter: null,
    md5Before: null,
    md5After: null,
    keptPath: r.kept ?? null,
    keptKind: r.kept ? 'version' : null,
  });
  if (!(await ctx.record(path, [{ from: other, to: on, op, bytes: 0 }]))) return { done: 'audit-owed' };
  return {
    done: 'applied',
    what: `${entry.kind === 'dir' ? 'rmdir' : 'delete'} ${path} (${directionName(other, on)})`,
  };
}

/** Both sides changed: the loser is moved aside, the winner copied over, the copy synced back. */
async function conflict(
  ctx: LiveContext,
  path: string,
  d: Extract<Decision, { type: 'conflict' }>,
  lost: AbortSignal,
  started: number,
): Promise<Outcome> {
  const loser = ctx.sides[d.loser];
  const aside = await asideName(ctx, path, d.loser);
  ctx.log.warn(
    { pair: ctx.pair, path, winner: ctx.sides[d.winner].label, conflictCopy: aside },
    'conflict: both sides changed; the newer keeps the name, the other is kept beside it',
  );
  await ctx.fs.moveAside(
    loser.root,
    path,
    { kind: d.lose.kind, size: d.lose.size, mtimeMs: d.lose.mtimeMs },
    aside,
    lost,
  );
  const won = await copy(ctx, path, d.winner, d.loser, d.win, undefined, lost, started, undefined, aside);
  if (won.done !== 'applied') return won;
  const lose = { ...d.lose, name: splitRel(aside).name };
  const back = await copy(
    ctx,
    aside,
    d.loser,
    d.winner,
    lose,
    undefined,
    lost,
    ctx.clock.now(),
    undefined,
    null,
  );
  if (back.done === 'audit-owed') return back;
  return {
    done: 'applied',
    what: `conflict ${path}: ${ctx.sides[d.loser].label}'s version kept as ${aside}`,
  };
}

/**
 * A move seen on side `x`, carried out on the other side as one rename (src/core/moves.ts decided
 * it; LiveMoves paired it). What stood at the new path is kept as a version first. The baseline
 * follows the move: a file's record is re-keyed, a directory's whole subtree (moveTree).
 */
export async function moveLive(
  ctx: LiveContext,
  m: Extract<MoveDecision, { type: 'move' }>,
  moved: Entry,
  x: SideName,
  lost: AbortSignal,
  started: number,
): Promise<Outcome> {
  const [from, on] = [ctx.sides[x], ctx.sides[m.on]];
  const store = moved.kind === 'dir' ? ctx.baseline() : null;
  const stat = (e: Entry): Stat => ({ kind: e.kind, size: e.size, mtimeMs: e.mtimeMs });
  let kept: string | undefined;
  if (m.replaces) {
    const keep = ctx.keepVersions ? { nowMs: ctx.clock.now() } : undefined;
    kept = (await ctx.fs.remove(on.root, m.to, stat(m.replaces), lost, keep)).kept;
  }
  const r = await ctx.fs.move(from.root, on.root, m.from, stat(m.entry), m.to, lost);
  const done = parentRecords(ctx, r.createdDirs, from, on, started);
  const kind = leafKind(moved.kind);
  ctx.remember(on, m.from, { type: 'delete', kind, size: m.entry.size, mtimeMs: m.entry.mtimeMs });
  ctx.remember(on, m.to, { type: 'upsert', kind, size: m.entry.size, mtimeMs: m.entry.mtimeMs });
  const size = moved.kind === 'file' ? moved.size : null;
  let bytes = size;
  if (store) {
    try {
      bytes = (await moveTree(store, m.from, m.to)).bytes;
    } catch (err) {
      ctx.baselineFailed(err);
    }
  } else {
    await putBase(ctx, m.from, null);
    const after = entryOf(m.to, await ctx.fs.stat(on.root, m.to)) ?? m.entry;
    await putBase(ctx, m.to, recFor(splitRel(m.to).name, x, baseEntry(moved), baseEntry(after)));
  }
  const op = success(ctx, started, {
    operation: 'move',
    filepath: m.to,
    movedFrom: m.from,
    bytesNotCopied: bytes,
    sizeBefore: size,
    sizeAfter: size,
    md5Before: null,
    md5After: null,
    keptPath: kept ?? null,
    keptKind: kept ? 'version' : null,
  });
  done.push({ from, to: on, op, bytes: 0 });
  if (!(await ctx.record(m.to, done))) return { done: 'audit-owed' };
  return { done: 'applied', what: `move ${m.from} -> ${m.to} (${directionName(from, on)})` };
}

/** A conflict copy's name for `path` on `loser`'s side, taken on neither side. */
async function asideName(ctx: LiveContext, path: string, loser: SideName): Promise<string> {
  const now = ctx.clock.now();
  const label = ctx.sides[loser].label;
  const taken = async (rel: string): Promise<boolean> =>
    (await ctx.fs.stat(ctx.sides.a.root, rel)) !== null ||
    (await ctx.fs.stat(ctx.sides.b.root, rel)) !== null;
  let aside = conflictName(path, label, now);
  for (let n = 1; n < 100 && (await taken(aside)); n++) aside = conflictName(path, label, now, n);
  return aside;
}

/**
 * A directory on one side, a file on the other: the file is moved aside to a conflict copy, the
 * directory is made in its place (what it holds follows with its own events, or the next
 * reconcile), and the conflict copy is copied to the directory's side.
 */
async function dirOverFile(
  ctx: LiveContext,
  path: string,
  d: Extract<Decision, { type: 'dir-over-file' }>,
  lost: AbortSignal,
  started: number,
): Promise<Outcome> {
  const fileSide = otherSide(d.dir);
  const aside = await asideName(ctx, path, fileSide);
  ctx.log.warn(
    { pair: ctx.pair, path, directory: ctx.sides[d.dir].label, conflictCopy: aside },
    'a directory on one side, a file on the other: the directory keeps the name, the file is kept beside it',
  );
  await ctx.fs.moveAside(
    ctx.sides[fileSide].root,
    path,
    { kind: d.file.kind, size: d.file.size, mtimeMs: d.file.mtimeMs },
    aside,
    lost,
  );
  // The records below described the directory that the file replaced: they must not read as
  // deletes on the file's side now that an empty directory stands there.
  await dropBaseTree(ctx, path);
  const made = await copy(ctx, path, d.dir, fileSide, d.entry, undefined, lost, started, undefined, aside);
  if (made.done !== 'applied') return made;
  const file = { ...d.file, name: splitRel(aside).name };
  const back = await copy(
    ctx,
    aside,
    fileSide,
    d.dir,
    file,
    undefined,
    lost,
    ctx.clock.now(),
    undefined,
    null,
  );
  if (back.done === 'audit-owed') return back;
  return {
    done: 'applied',
    what: `${path}: the directory on ${ctx.sides[d.dir].label} wins; the file is kept as ${aside}`,
  };
}

/** The audit row of an operation given up on: its direction and sizes, from the decision. */
export function failedOp(
  d: Decision,
  a: SideRef,
  b: SideRef,
): (Pick<OpRecord, 'operation' | 'sizeBefore' | 'sizeAfter'> & { from: SideRef; to: SideRef }) | null {
  const side = (s: 'a' | 'b'): SideRef => (s === 'a' ? a : b);
  switch (d.type) {
    case 'copy':
      return {
        from: side(d.from),
        to: side(d.to),
        operation: d.dest ? 'update' : 'create',
        sizeBefore: d.dest?.size ?? null,
        sizeAfter: d.src.size,
      };
    case 'touch':
      return {
        from: side(d.from),
        to: side(d.to),
        operation: 'update',
        sizeBefore: d.dest.size,
        sizeAfter: d.src.size,
      };
    case 'delete':
      return {
        from: side(d.on === 'a' ? 'b' : 'a'),
        to: side(d.on),
        operation: 'delete',
        sizeBefore: d.entry.size,
        sizeAfter: null,
      };
    case 'conflict':
      return {
        from: side(d.winner),
        to: side(d.loser),
        operation: 'update',
        sizeBefore: d.lose.size,
        sizeAfter: d.win.size,
      };
    default:
      return null;
  }
}
