// Entry fixtures for planning tables: a file, a directory, a symlink and a fifo, by name.
import type { Entry } from '../src/core/index.js';

export const T = 1_700_000_000_000;

export const f = (name: string, size: number, mtimeMs = T, mode = 0o644): Entry => ({
  name,
  kind: 'file',
  size,
  mtimeMs,
  mode,
});
export const d = (name: string, mtimeMs = T): Entry => ({ name, kind: 'dir', size: 0, mtimeMs, mode: 0o755 });
export const l = (name: string, target: string, mtimeMs = T): Entry => ({
  name,
  kind: 'symlink',
  size: target.length,
  mtimeMs,
  mode: 0o777,
  target,
});
export const sp = (name: string): Entry => ({ name, kind: 'special', size: 0, mtimeMs: T, mode: 0o644 });
