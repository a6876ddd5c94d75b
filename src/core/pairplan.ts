// Planning one directory of a pair: every name either side or the baseline holds, decided by
// `decidePath`. Pure: the shell lists both sides and reads the directory's baseline first.
import { decidePath, writesInto, type DecideOptions, type Decision, type SideName } from './reconcile.js';
import type { BaseRecord, Entry } from './types.js';

export interface PairOptions extends DecideOptions {
  /**
   * One-way runs: the only side written to (dest). A decision that would write into the other
   * side is left to the opposite direction's run. Undefined: two-way, both sides are written.
   */
  readonly writeTo?: SideName;
}

/** One name of the directory and its decision. */
export interface PathPlan {
  readonly path: string;
  readonly name: string;
  readonly base: BaseRecord | undefined;
  readonly a: Entry | undefined;
  readonly b: Entry | undefined;
  readonly decision: Decision;
}

/**
 * A subdirectory to walk next; `missing` names the side that does not have it. `fresh`: walk it
 * (and everything below it) with no baseline: a directory made where a file stood, whose old
 * records below must not read as deletes.
 */
export interface PairDescend {
  readonly path: string;
  readonly missing?: SideName;
  readonly fresh?: true;
}

export interface PairDirPlan {
  /** Every name, in name order, with its decision ('none' included, for the baseline). */
  readonly paths: PathPlan[];
  readonly descend: PairDescend[];
}

/** Joins a directory path and a name ('' is the root). */
export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

const byName = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/** Names that a one-way run may not act on are turned into 'none' (the baseline is not touched). */
export function planPairDir(
  dir: string,
  base: readonly BaseRecord[],
  a: readonly Entry[],
  b: readonly Entry[],
  opts: PairOptions,
): PairDirPlan {
  const am = new Map(a.map((e) => [e.name, e]));
  const bm = new Map(b.map((e) => [e.name, e]));
  const basem = new Map(base.map((r) => [r.name, r]));
  const names = new Set<string>([...am.keys(), ...bm.keys(), ...basem.keys()]);
  const paths: PathPlan[] = [];
  const descend: PairDescend[] = [];
  for (const name of [...names].sort(byName)) {
    const path = joinPath(dir, name);
    const ea = am.get(name);
    const eb = bm.get(name);
    const rec = basem.get(name);
    let decision = decidePath(rec, ea, eb, opts);
    if (decision.type === 'descend') descend.push({ path });
    else if (decision.type === 'dir-one-side') {
      // Below a directory only one side has, a one-way run can write into dest only when dest is
      // the side missing it (or dest's copy is being removed): not when src is to receive it.
      const useless =
        opts.writeTo !== undefined && decision.then === 'create' && decision.on === opts.writeTo;
      if (!useless) descend.push({ path, missing: decision.on === 'a' ? 'b' : 'a' });
    } else if (decision.type === 'dir-over-file') {
      // Walked only where the file side may be written (a one-way run whose dest holds the
      // directory leaves it to the opposite direction's run).
      const fileSide = decision.dir === 'a' ? 'b' : 'a';
      if (opts.writeTo === undefined || opts.writeTo === fileSide)
        descend.push({ path, missing: fileSide, fresh: true });
    }
    if (opts.writeTo && !writesInto(decision, opts.writeTo)) decision = { type: 'none' };
    paths.push({ path, name, base: rec, a: ea, b: eb, decision });
  }
  return { paths, descend };
}
