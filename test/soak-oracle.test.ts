// The soak's own parts that decide pass or fail (scripts/soak): the seeded script is a function of
// the seed, and the oracle finds a lost content, a kept one, a leftover temp file and a difference
// between the sides. Plain temp directories; no services.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface Side {
  live: Map<string, { kind: string; md5?: string }>;
  kept: Map<string, string>;
  conflicts: string[];
  temps: string[];
}
interface OracleModule {
  scanSide(root: string): Promise<Side>;
  compareTrees(a: Side, b: Side): string[];
  checkVersions(
    ledger: unknown,
    a: Side,
    b: Side,
  ): { tracked: number; superseded: number; live: number; kept: number; lost: { path: string }[] };
}
interface WorkloadModule {
  Ledger: new () => {
    wrote(buf: Buffer, path: string, side: string, op: number, t0: number): void;
    destroyed(buf: Buffer): void;
  };
}
interface ScriptModule {
  makeScript(
    seed: number,
    o: { files: number; durationMs: number; ratePerSec: number; netfs: boolean },
  ): { initial: unknown[]; ops: { kind: string }[]; faults: unknown[] };
}

// Non-literal specifiers: the harness is plain JavaScript outside the TypeScript project.
const dir = resolve(import.meta.dirname, '../scripts/soak');
const load = async <T>(name: string): Promise<T> => (await import(join(dir, name))) as T;
const base = mkdtempSync(join(tmpdir(), 'ha-sync-soak-oracle-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('soak script', () => {
  it('is a function of the seed: the same seed gives the same operations and faults', async () => {
    const { makeScript } = await load<ScriptModule>('script.mjs');
    const o = { files: 50, durationMs: 30_000, ratePerSec: 6, netfs: true };
    expect(makeScript(7, o)).toEqual(makeScript(7, o));
    expect(makeScript(8, o)).not.toEqual(makeScript(7, o));
    const kinds = new Set(makeScript(7, { ...o, durationMs: 600_000 }).ops.map((op) => op.kind));
    for (const k of [
      'create',
      'modify',
      'renameOver',
      'delete',
      'rename',
      'move',
      'renameDir',
      'both',
      'fileToDir',
      'slow',
    ])
      expect(kinds).toContain(k);
  });
});

describe('soak oracle', () => {
  it('finds lost, kept and superseded contents, leftover temps and differences between the sides', async () => {
    const { scanSide, compareTrees, checkVersions } = await load<OracleModule>('oracle.mjs');
    const { Ledger } = await load<WorkloadModule>('workload.mjs');
    const a = join(base, 'a');
    const b = join(base, 'b');
    for (const d of [a, b, join(a, '.ha-sync/versions/d'), join(b, 'd')]) mkdirSync(d, { recursive: true });
    const put = (root: string, rel: string, s: string) => writeFileSync(join(root, rel), s);
    put(a, 'same.txt', 'v-live');
    put(b, 'same.txt', 'v-live');
    put(a, '.ha-sync/versions/d/x~20261207-101010.txt', 'v-kept');
    put(b, 'd/x.sync-conflict-20261207-101010-a.txt', 'v-conflict');
    put(b, 'd/.ha-sync-abc-123.tmp', 'partial');
    put(b, 'only-b.txt', 'v-b');
    const ledger = new Ledger();
    for (const v of ['v-live', 'v-kept', 'v-conflict', 'v-gone', 'v-mine', 'v-b'])
      ledger.wrote(Buffer.from(v), `${v}.txt`, 'a', 1, 0);
    ledger.destroyed(Buffer.from('v-mine'));
    const sa = await scanSide(a);
    const sb = await scanSide(b);
    expect(sb.temps).toEqual(['d/.ha-sync-abc-123.tmp']);
    expect(compareTrees(sa, sb)).toEqual([
      'only on b: d',
      'only on b: d/.ha-sync-abc-123.tmp',
      'only on b: d/x.sync-conflict-20261207-101010-a.txt',
      'only on b: only-b.txt',
    ]);
    const v = checkVersions(ledger, sa, sb);
    expect(v).toMatchObject({ tracked: 6, superseded: 1, live: 3, kept: 1 });
    expect(v.lost.map((l) => l.path)).toEqual(['v-gone.txt']);
  });
});
