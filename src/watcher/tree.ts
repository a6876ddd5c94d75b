// The poller's index of one root: a tree of directory nodes, each a Map from entry name to what
// the last successful look saw (kind, size, mtime). About 150 bytes an entry, so 100k files fit
// in ~20 MB. Also the initial scan, exported for `ha-sync run` (the applier engineer's initial
// snapshot) and for tests.
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { ChangeKind } from '../bus/index.js';
import { checkRelPath } from '../bus/index.js';
import { STATE_DIR } from '../core/index.js';
import { isTempName } from '../fsops/index.js';
import type { FsIo } from './fsio.js';
import { errCode, isGone, mapLimited } from './fsio.js';

export interface FileMeta {
  kind: 'file' | 'symlink';
  size: number;
  mtimeMs: number;
}

export interface DirNode {
  kind: 'dir';
  /** Relative path, '' for the root. */
  rel: string;
  mtimeMs: number;
  entries: Map<string, FileMeta | DirNode>;
  /** Re-list on every pass until this time (epoch ms): covers coarse mtimes and cached attributes. */
  hotUntil: number;
  /** Found by the poller and announced, but not listed yet: the next pass lists it. */
  unlisted?: boolean;
}

export type Node = FileMeta | DirNode;

/** One entry of a snapshot: what `ha-sync run` needs to make both sides equal at start. */
export interface SnapshotEntry {
  path: string;
  kind: ChangeKind;
  size: number;
  mtimeMs: number;
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * ha-sync's own names, never watched nor announced (and not warned about): its temp files in this
 * root (named with the root's id, `rootId`; null: none), and the root's `.ha-sync/` state folder
 * (marker, kept versions). A user's file of a similar name is announced like any other.
 */
export function ownName(rel: string, name: string, rootId: string | null): boolean {
  return isTempName(name, rootId) || (rel === '' && name === STATE_DIR);
}

/** A name the watcher can announce: not one of ha-sync's own, and a path an event may carry. */
export function announceable(rel: string, name: string, rootId: string | null): boolean {
  return !ownName(rel, name, rootId) && checkRelPath(joinRel(rel, name)) === null;
}

export function metaOf(st: Stats): FileMeta | 'dir' | null {
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return { kind: 'symlink', size: st.size, mtimeMs: st.mtimeMs };
  if (st.isFile()) return { kind: 'file', size: st.size, mtimeMs: st.mtimeMs };
  return null; // sockets, fifos, devices: not synced
}

export function sameMeta(a: FileMeta, b: FileMeta): boolean {
  return a.kind === b.kind && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Thrown by `scanDir` when the filesystem misbehaves (not for entries that vanish mid-scan). */
export class ScanError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`${code} at ${path}`);
  }
}

export interface ScanHooks {
  /** Called for names skipped because no event may carry them (backslash, control characters). */
  onUnannounceable?: (rel: string) => void;
  /** Stop early (the pass was aborted). */
  aborted?: () => boolean;
  /** The root's id (its marker): our temp files carry it and are skipped. Default null. */
  rootId?: string | null;
}

/** Directories listed at once by a scan, and stats in flight per directory. */
const SCAN_DIRS = 4;
const SCAN_STATS = 16;

/**
 * Scans `rel` (relative to `root`) recursively into a DirNode; `st` is the directory's own lstat.
 * Breadth-first with a few directories at a time, so memory stays flat on 100k-entry trees.
 * Entries that vanish during the scan are left out; any other error aborts with ScanError.
 */
export async function scanDir(
  io: FsIo,
  root: string,
  rel: string,
  st: Stats,
  hooks: ScanHooks = {},
): Promise<DirNode> {
  const top: DirNode = { kind: 'dir', rel, mtimeMs: st.mtimeMs, entries: new Map(), hotUntil: 0 };
  const queue: DirNode[] = [top];
  // A holder, not a `let`: the callbacks below set it, which TypeScript's narrowing cannot see.
  const state: { failure: ScanError | null } = { failure: null };
  const stop = (): boolean => state.failure !== null || (hooks.aborted?.() ?? false);

  const listOne = async (node: DirNode): Promise<void> => {
    const abs = node.rel === '' ? root : join(root, node.rel);
    let names: string[];
    try {
      names = await io.readdir(abs);
    } catch (err) {
      if (isGone(err) && node !== top) return; // vanished: the parent's next listing drops it
      state.failure ??= new ScanError(node.rel || '.', errCode(err));
      return;
    }
    await mapLimited(
      names,
      SCAN_STATS,
      async (name) => {
        if (!announceable(node.rel, name, hooks.rootId ?? null)) {
          if (!ownName(node.rel, name, hooks.rootId ?? null))
            hooks.onUnannounceable?.(joinRel(node.rel, name));
          return;
        }
        const childRel = joinRel(node.rel, name);
        let cst: Stats;
        try {
          cst = await io.lstat(join(abs, name));
        } catch (err) {
          if (!isGone(err)) state.failure ??= new ScanError(childRel, errCode(err));
          return;
        }
        const m = metaOf(cst);
        if (m === null) return;
        if (m === 'dir') {
          const child: DirNode = {
            kind: 'dir',
            rel: childRel,
            mtimeMs: cst.mtimeMs,
            entries: new Map(),
            hotUntil: 0,
          };
          node.entries.set(name, child);
          queue.push(child);
        } else node.entries.set(name, m);
      },
      stop,
    );
  };

  // Workers take directories from the queue until it is empty and nobody can add to it.
  let active = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (active < SCAN_DIRS && queue.length > 0 && !stop()) {
        const node = queue.pop()!;
        active++;
        // listOne records filesystem errors itself; anything else it throws fails the scan
        // too, instead of becoming an unhandled rejection.
        void listOne(node)
          .catch((err: unknown) => {
            state.failure ??= new ScanError(node.rel || '.', errCode(err));
          })
          .finally(() => {
            active--;
            pump();
          });
      }
      if (active === 0 && (queue.length === 0 || stop())) resolve();
    };
    pump();
  });
  if (state.failure) throw state.failure;
  if (hooks.aborted?.()) throw new ScanError(rel || '.', 'EABORTED');
  return top;
}

/** Every entry under `node`, parents before children. */
export function* walk(node: DirNode): Generator<[string, Node]> {
  for (const [name, child] of node.entries) {
    const rel = joinRel(node.rel, name);
    yield [rel, child];
    if (child.kind === 'dir') yield* walk(child);
  }
}

/** Every entry under `node`, children before parents (the order deletes must go in). */
export function* walkPostOrder(node: DirNode): Generator<[string, Node]> {
  for (const [name, child] of node.entries) {
    const rel = joinRel(node.rel, name);
    if (child.kind === 'dir') yield* walkPostOrder(child);
    yield [rel, child];
  }
}

export function toSnapshot(root: DirNode): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  for (const [path, n] of walk(root)) {
    out.push(
      n.kind === 'dir'
        ? { path, kind: 'dir', size: 0, mtimeMs: n.mtimeMs }
        : { path, kind: n.kind, size: n.size, mtimeMs: n.mtimeMs },
    );
  }
  return out;
}
