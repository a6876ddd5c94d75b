// Which side of a record is which. A pair's writers name its sides differently: the two-way run
// and the applier by their labels (--a dell=... --b hp=...), each one-way CronJob by its
// direction (dell-to-hp, then hp-to-dell: src and dest swap). The store keeps every record in one
// orientation, the side whose name sorts first as `a`; each writer sees it through this view,
// with its own `a` (src) first.
import type { BaseRecord, BaselineChange, BaselineStore } from './types.js';

function swapped(r: BaseRecord): BaseRecord {
  return { name: r.name, a: r.b, b: r.a, md5: r.md5 };
}

/**
 * The store as seen by a writer whose side `a` is named `aName` and side `b` `bName` (labels, or
 * root paths when a one-way run has no labels).
 */
export function orientedBaseline(store: BaselineStore, aName: string, bName: string): BaselineStore {
  if (aName <= bName) return store;
  return {
    kind: store.kind,
    readDir: async (dir) => (await store.readDir(dir)).map(swapped),
    readPath: async (path) => {
      const r = await store.readPath(path);
      return r && swapped(r);
    },
    write: (changes: readonly BaselineChange[]) =>
      store.write(changes.map((c) => (c.rec ? { ...c, rec: swapped(c.rec) } : c))),
    dropTree: (path) => store.dropTree(path),
    treeDirs: (path) => store.treeDirs(path),
    dirDigest: (dir) => store.dirDigest(dir),
    setDigest: (dir, digest) => store.setDigest(dir, digest),
    close: () => store.close(),
  };
}

/**
 * The side names of a one-way run: from a `<src>-to-<dest>` direction (the CronJobs' form), else
 * the two root paths.
 */
export function oneWaySideNames(direction: string, src: string, dest: string): { a: string; b: string } {
  const m = /^([a-z0-9][a-z0-9-]*?)-to-([a-z0-9][a-z0-9-]*)$/.exec(direction);
  if (m && m[1] !== m[2]) return { a: m[1]!, b: m[2]! };
  return { a: src, b: dest };
}
