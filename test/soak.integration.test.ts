// Issue 14, in the suite: a one-minute soak with a fixed seed. `scripts/soak/main.mjs` starts the
// real system (two watchers, the applier, reconcile runs) as processes of the built CLI over a
// private NATS JetStream and a private MariaDB, drives it with the seed's workload and faults, and
// checks that nothing was lost or audited twice. Longer runs (`npm run soak -- --minutes 30`) are
// for benchmarks and closing notes.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEED = 14;
const SUMMARY_RE =
  /^soak: \d+ ops, \d+ faults, \d+ versions tracked, (\d+) lost, (\d+) duplicate audit rows, \d+ s$/m;

function soak(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['scripts/soak/main.mjs', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', rej);
    child.on('exit', (code) => res({ code, out }));
  });
}

describe('soak (issue 14)', () => {
  // The seed's one-minute run. Each finding a soak made is fixed with a test at the lowest tier
  // that shows it (docs/soak.md, "Known findings"); the long runs are in the closing notes.
  it(`one minute, seed ${SEED}: nothing lost, no duplicate audit rows`, async (ctx) => {
    const { code, out } = await soak(['--seed', String(SEED), '--minutes', '1']);
    // Exit 2: the run could not start (no private MariaDB on this machine); it says why in one line.
    if (code === 2) ctx.skip(out.trim().split('\n').pop());
    const m = SUMMARY_RE.exec(out);
    expect(m, out).not.toBeNull();
    expect(code, out).toBe(0);
    expect(m?.[1]).toBe('0');
    expect(m?.[2]).toBe('0');
  }, 150_000);
});
