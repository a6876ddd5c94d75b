// Shared helpers for the lock tests: a silent logger, temp dirs, and a way to wait until the
// background renewal loop has parked again on the ManualClock (HTTP and disk I/O take real time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
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
