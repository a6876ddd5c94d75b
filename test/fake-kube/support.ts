// Shared helpers for the lock tests: a silent logger, temp dirs, and a way to wait until the
// background renewal loop has parked again on the ManualClock (HTTP and disk I/O take real time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { HaSyncError } from '../../src/errors.js';
import type { Lock, LockHandle } from '../../src/lock/index.js';
import { createLogger } from '../../src/log.js';

export const silent = createLogger({ silent: true });

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ha-sync-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits (real time, polling) until `cond` holds; fails after `timeoutMs`. Not a timed assertion. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await cond())) throw new Error(`still waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: 5 },
  );
}

/** The HaSyncError `p` rejects with; fails when it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<HaSyncError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HaSyncError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Acquires locks and remembers the handles, so `releaseAll` (in afterEach) can release them. */
export function lockHandles(): {
  take: (lock: Lock, holder: string, waitSeconds?: number) => Promise<LockHandle>;
  releaseAll: () => Promise<void>;
} {
  const handles: LockHandle[] = [];
  return {
    take: async (lock, holder, waitSeconds = 0) => {
      const h = await lock.acquire({ holder, waitSeconds });
      handles.push(h);
      return h;
    },
    releaseAll: async () => {
      await Promise.all(handles.splice(0).map((h) => h.release()));
    },
  };
}
