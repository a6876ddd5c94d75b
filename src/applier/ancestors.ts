// The directories above an event's path that one side lacks. The applier decides them first when
// a copy or mkdir would have to make them (a moved folder is then renamed whole), and pairs a
// delete below a folder gone on its side with that folder's move (moves.ts).
import { otherSide, type BaseRecord, type Decision, type SideName } from '../core/index.js';
import { splitRel } from '../fsops/index.js';
import { readBase, type LiveContext } from './execute.js';

/** The topmost directory above `path` that `side` lacks; null when `path`'s parent is there. */
async function topMissing(ctx: LiveContext, side: SideName, path: string): Promise<string | null> {
  const root = ctx.sides[side].root;
  const parent = splitRel(path).parent;
  if (parent === '' || (await ctx.fs.stat(root, parent)) !== null) return null;
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const dir = path.slice(0, i);
    if (dir === parent || (await ctx.fs.stat(root, dir)) === null) return dir;
  }
  return parent;
}

/**
 * For a delete (the path gone on one side): the topmost directory above it that is gone on that
 * side too while the baseline holds it there as a directory; null if none.
 */
export async function goneAbove(
  ctx: LiveContext,
  path: string,
  d: Decision,
): Promise<{ path: string; side: SideName; base: BaseRecord } | null> {
  const on = d.type === 'delete' ? d.on : d.type === 'dir-one-side' && d.then === 'remove' ? d.on : null;
  if (on === null) return null;
  const x = otherSide(on);
  const top = await topMissing(ctx, x, path);
  if (top === null) return null;
  const base = await readBase(ctx, top);
  return base && base[x].kind === 'dir' ? { path: top, side: x, base } : null;
}

/** The directories (top first) that a copy or mkdir of `path` would have to make. */
export async function missingAbove(ctx: LiveContext, path: string, d: Decision): Promise<string[]> {
  const to =
    d.type === 'copy' ? d.to : d.type === 'dir-one-side' && d.then === 'create' ? otherSide(d.on) : null;
  if (to === null) return [];
  const top = await topMissing(ctx, to, path);
  if (top === null) return [];
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const dir = path.slice(0, i);
    if (dir.length >= top.length) out.push(dir);
  }
  return out;
}
