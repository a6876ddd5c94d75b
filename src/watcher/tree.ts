// The poller's index of one root: a tree of directory nodes, each a Map from entry name to what
// the last successful look saw (kind, size, mtime). About 150 bytes an entry, so 100k files fit
// in ~20 MB. Also the initial scan, exported for `ha-sync run` (the applier engineer's initial
// snapshot) and for tests.
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { ChangeKind } from '../bus/index.js';
import { checkRelPath } from '../bus/index.js';
import { isTempName as isEngineTempName } from '../fsops/index.js';
import type { FsIo } from './fsio.js';
import { errCode, isGone } from './fsio.js';

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
}

export type Node = FileMeta | DirNode;

/** One entry of a snapshot: what `ha-sync run` needs to make both sides equal at start. */
export interface SnapshotEntry {
  path: string;
  kind: ChangeKind;
  size: number;
  mtimeMs: number;
}

/**
 * ha-sync's own temp files (written by the engine before a rename, see fsops `tempName`): never
 * announced. Broader than fsops' exact pattern on purpose, so a future temp-name change is still
 * skipped.
 */
export const TEMP_NAME_RE = /^\.ha-sync-.*\.tmp$/;

export function isTempName(name: string): boolean {
  return isEngineTempName(name) || TEMP_NAME_RE.test(name);
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** A name the watcher can announce: not a temp file, and a path an event may carry. */
export function announceable(rel: string, name: string): boolean {
  return !isTempName(name) && checkRelPath(joinRel(rel, name)) === null;
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
}

/**
 * Scans `rel` (relative to `root`) recursively into a DirNode; `st` is the directory's own lstat.
 * Entries that vanish during the scan are left out; any other error aborts with ScanError.
 */
export async function scanDir(
  io: FsIo,
  root: string,
  rel: string,
  st: Stats,
  hooks: ScanHooks = {},
): Promise<DirNode> {
  const node: DirNode = { kind: 'dir', rel, mtimeMs: st.mtimeMs, entries: new Map(), hotUntil: 0 };
  const abs = rel === '' ? root : join(root, rel);
  let names: string[];
  try {
    names = await io.readdir(abs);
  } catch (err) {
    if (isGone(err) && rel !== '') return node; // vanished: the parent's next listing drops it
    throw new ScanError(rel || '.', errCode(err));
  }
  await Promise.all(
    names.map(async (name) => {
      if (hooks.aborted?.()) throw new ScanError(rel || '.', 'EABORTED');
      if (!announceable(rel, name)) {
        if (!isTempName(name)) hooks.onUnannounceable?.(joinRel(rel, name));
        return;
      }
      const childRel = joinRel(rel, name);
      let cst: Stats;
      try {
        cst = await io.lstat(join(abs, name));
      } catch (err) {
        if (isGone(err)) return;
        throw new ScanError(childRel, errCode(err));
      }
      const m = metaOf(cst);
      if (m === null) return;
      if (m === 'dir') node.entries.set(name, await scanDir(io, root, childRel, cst, hooks));
      else node.entries.set(name, m);
    }),
  );
  return node;
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

export function countEntries(node: DirNode): number {
  let n = 0;
  for (const [, c] of node.entries) n += 1 + (c.kind === 'dir' ? countEntries(c) : 0);
  return n;
}
