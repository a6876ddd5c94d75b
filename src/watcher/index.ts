// The watcher's public surface: run watchers over roots (`runWatchers` / `RootWatcher`), and take
// a one-off snapshot of a tree (`scanTree`, for `ha-sync run`'s initial equalisation).
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HaSyncError, errorMessage } from '../errors.js';
import { FsIo } from './fsio.js';
import { type SnapshotEntry, scanDir, toSnapshot } from './tree.js';

export { DEFAULT_WATCHER_OPTIONS, RootWatcher, runWatchers } from './watcher.js';
export type { WatchRoot, WatcherDeps, WatcherOptions } from './watcher.js';
export { Outbox } from './outbox.js';
export { Poller } from './poll.js';
export { NativeWatcher } from './native.js';
export type { SnapshotEntry } from './tree.js';

/**
 * Every entry under `root` (files, dirs, symlinks; never following symlinks; skipping ha-sync
 * temp files and names no event can carry), parents before children. Throws TREE_UNAVAILABLE when
 * the root cannot be read; entries that vanish during the scan are left out.
 */
export async function scanTree(
  root: string,
  opts: { statConcurrency?: number; statTimeoutMs?: number } = {},
): Promise<SnapshotEntry[]> {
  const abs = resolve(root);
  const io = new FsIo(opts.statConcurrency ?? 8, opts.statTimeoutMs ?? 30_000);
  try {
    const st = await lstat(abs);
    if (!st.isDirectory()) throw new Error('not a directory');
    return toSnapshot(await scanDir(io, abs, '', st));
  } catch (err) {
    throw new HaSyncError('TREE_UNAVAILABLE', `cannot scan '${root}': ${errorMessage(err)}`, { cause: err });
  }
}
