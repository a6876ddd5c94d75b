// Shared helpers for the applier / live / run tests: temp roots, events built from real stats,
// polling for a condition (no fixed sleeps).
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeEvent } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import type { LockOptions } from '../src/lock/index.js';
import type { Logger } from '../src/log.js';

/**
 * Temp roots a and b (and a log dir). With `pair`, both roots get a marker of that pair naming
 * no side (as a first sync of an unlabelled run leaves it), so an applier or watcher of the pair
 * takes them for mounted.
 */
export function tempRoots(
  prefix: string,
  pair?: string,
): {
  base: string;
  a: string;
  b: string;
  logs: string;
  cleanup: () => void;
} {
  const base = mkdtempSync(join(tmpdir(), `ha-sync-${prefix}-`));
  const a = join(base, 'a');
  const b = join(base, 'b');
  const logs = join(base, 'logs');
  for (const d of [a, b, logs]) mkdirSync(d, { recursive: true });
  if (pair !== undefined) for (const d of [a, b]) markRootSync(d, pair);
  return { base, a, b, logs, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** Writes `<dir>/.ha-sync/root.json` for `pair` (and `side`); returns the root id. */
export function markRootSync(dir: string, pair: string, side?: string): string {
  const rootId = randomBytes(8).toString('hex');
  mkdirSync(join(dir, '.ha-sync'), { recursive: true });
  writeFileSync(
    join(dir, '.ha-sync', 'root.json'),
    JSON.stringify({ v: 1, pair, ...(side ? { side } : {}), rootId, createdAt: new Date().toISOString() }),
  );
  return rootId;
}

/** An event as a watcher would publish it for `path` under `root` (upsert from the disk, or a delete). */
export function eventFor(
  pair: string,
  side: string,
  root: string,
  path: string,
  type: 'upsert' | 'delete' = 'upsert',
  last?: { size: number; mtimeMs: number; kind?: ChangeEvent['kind'] },
): ChangeEvent {
  if (type === 'delete') {
    return {
      v: 1,
      pair,
      side,
      type,
      kind: last?.kind ?? 'file',
      path,
      size: last?.size ?? 0,
      mtimeMs: last?.mtimeMs ?? 0,
      observedAt: Date.now(),
    };
  }
  const st = lstatSync(join(root, path));
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  return {
    v: 1,
    pair,
    side,
    type,
    kind,
    path,
    size: kind === 'dir' ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    observedAt: Date.now(),
  };
}

/** Polls `cond` every 25 ms until true; throws with `what` after `timeoutMs`. */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const read = (p: string): string | null => (existsSync(p) ? readFileSync(p, 'utf8') : null);
export const mtimeOf = (p: string): number => lstatSync(p).mtimeMs;

/** What a watcher last saw of `rel` (the `last` of the delete event it publishes once it is gone). */
export const lastSeen = (
  root: string,
  rel: string,
): { size: number; mtimeMs: number; kind: ChangeEvent['kind'] } => {
  const st = lstatSync(join(root, rel));
  return {
    size: st.isDirectory() ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    kind: st.isDirectory() ? 'dir' : 'file',
  };
};

/** The file lock of `pair` in `logDir` (the laptop backend), as these tests open it. */
export function fileLockOptions(
  pair: string,
  logDir: string,
  log: Logger,
  extra: Partial<LockOptions> = {},
): LockOptions {
  return {
    lock: 'file',
    lockTtlSeconds: 30,
    lockWaitSeconds: 0,
    namespace: undefined,
    kubeconfig: undefined,
    pair,
    logDir,
    clock: systemClock,
    log,
    env: {},
    ...extra,
  };
}

/** A TCP port free on 127.0.0.1 right now (for a server a test starts). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}
