// runCommand's failure paths, in process: whatever the run opened (lock, applier windows, audit)
// is finished and closed even when the first pass fails.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as ApplierModule from '../src/applier/index.js';
import { tempRoots } from './applier.helpers.js';

vi.mock('../src/applier/index.js', async (importOriginal) => {
  const m = await importOriginal<typeof ApplierModule>();
  return {
    ...m,
    // The real first pass (it takes the lock to copy), then a failure.
    equalize: async (...args: Parameters<typeof m.equalize>) => {
      await m.equalize(...args);
      throw new Error('equalize broke');
    },
  };
});

const { runCommand } = await import('../src/cli/run.js');

describe('runCommand', () => {
  const t = tempRoots('run-cli');
  afterAll(() => t.cleanup());

  it('a failing first pass still releases the lock and closes the applier before exiting 1', async () => {
    writeFileSync(join(t.a, 'only-a.txt'), 'A');
    const ctx = {
      stdout: process.stdout,
      stderr: process.stderr,
      env: { HOME: t.base },
      signal: new AbortController().signal,
    };
    const code = await runCommand(
      ['--a', `laptop=${t.a}`, '--b', `usb=${t.b}`, '--log-dir', t.logs, '--poll-interval', '100'],
      ctx,
    );
    expect(code).toBe(1);
    expect(existsSync(join(t.b, 'only-a.txt'))).toBe(true); // the pass did copy under the lock
    expect(readdirSync(t.logs).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });
});
