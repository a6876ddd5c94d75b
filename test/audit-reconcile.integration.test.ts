// The audit trail through the real CLI: `node dist/bin/ha-sync.js reconcile` against MariaDB (a
// fresh database for this file), with a lock file. Needs `npm run build` first.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, createTestDatabase, tempDir } from './audit.helpers.js';

const BIN = resolve(import.meta.dirname, '../dist/bin/ha-sync.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
}

function tree(root: string, files: Record<string, string>): void {
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), body);
    // A fixed, old mtime: newer-wins comparisons in the tests are deterministic.
    utimesSync(join(root, rel), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
  }
}

const opslogs = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('opslog-'));

describe('audit rows from real reconcile runs', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  function setup(pair: string) {
    const t = tempDir('hasync-audit-cli-');
    const src = join(t.dir, 'src');
    const dest = join(t.dir, 'dest');
    const logDir = join(t.dir, 'log');
    for (const d of [src, dest, logDir]) mkdirSync(d);
    const args = (extra: string[] = [], dsn = db.dsn): string[] => [
      'reconcile',
      `--src=${src}`,
      `--dest=${dest}`,
      `--pair=${pair}`,
      '--direction=dell-to-hp',
      `--log-dir=${logDir}`,
      '--lock=file',
      `--db-dsn=${dsn}`,
      ...extra,
    ];
    const iterations = (): Promise<Record<string, unknown>[]> =>
      db.query('SELECT * FROM sync_iterations WHERE sync_pair = ? ORDER BY id', [pair]);
    const operations = (iterationId: unknown): Promise<Record<string, unknown>[]> =>
      db.query('SELECT * FROM sync_operations WHERE iteration_id = ? ORDER BY filepath', [iterationId]);
    return { t, src, dest, logDir, args, iterations, operations };
  }

  it('a real run writes its iteration and one row per operation, and leaves no opslog', async () => {
    const s = setup('cli-rows');
    try {
      tree(s.src, { 'a.txt': 'aaa', 'sub/b.txt': 'bbbb' });
      tree(s.dest, { 'sub/b.txt': 'old' });
      const r = await cli(s.args());
      expect(r.code).toBe(0);
      expect(readFileSync(join(s.dest, 'a.txt'), 'utf8')).toBe('aaa');
      const its = await s.iterations();
      expect(its).toHaveLength(1);
      expect(its[0]).toMatchObject({
        direction: 'dell-to-hp',
        src: s.src,
        dest: s.dest,
        status: 'success',
        dry_run: 0,
        files_created: 1,
        files_updated: 1,
        files_failed: 0,
        total_bytes_transferred: 7,
        error_message: null,
      });
      expect(String(its[0]!.started_at)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
      const ops = await s.operations(its[0]!.id);
      expect(
        ops.map((o) => [o.operation, o.filepath, o.status, o.dry_run, o.size_before, o.size_after]),
      ).toEqual([
        ['create', 'a.txt', 'success', 0, null, 3],
        ['update', 'sub/b.txt', 'success', 0, 3, 4],
      ]);
      expect(opslogs(s.logDir)).toEqual([]);
    } finally {
      s.t.remove();
    }
  });

  it('dry-runs: rows with dry_run = 1, "already current" when nothing changed, new rows when it did, then a real run does the work', async () => {
    const s = setup('cli-dry');
    try {
      tree(s.src, { 'a.txt': 'aaa', 'b.txt': 'bb' });
      const d1 = await cli(s.args(['--dry-run']));
      expect(d1.code).toBe(0);
      expect(d1.stdout).toMatch(/a\.txt/);
      expect(existsSync(join(s.dest, 'a.txt'))).toBe(false);
      let its = await s.iterations();
      expect(its).toHaveLength(1);
      expect(its[0]).toMatchObject({ dry_run: 1, status: 'success' });
      const dryOps = await s.operations(its[0]!.id);
      expect(dryOps.map((o) => [o.operation, o.filepath, o.dry_run])).toEqual([
        ['create', 'a.txt', 1],
        ['create', 'b.txt', 1],
      ]);

      // Nothing changed: the message with the first dry-run's start time, and no new rows.
      const d2 = await cli(s.args(['--dry-run']));
      expect(d2.code).toBe(0);
      const at = `${String(its[0]!.started_at).replace(' ', 'T')}Z`;
      expect(d2.stdout).toContain(`Dry-run already current as of ${at}. Nothing has changed.`);
      expect(await s.iterations()).toHaveLength(1);

      // Something changed: a new dry-run is written.
      tree(s.src, { 'c.txt': 'c' });
      const d3 = await cli(s.args(['--dry-run']));
      expect(d3.code).toBe(0);
      expect(d3.stdout).not.toContain('already current');
      its = await s.iterations();
      expect(its).toHaveLength(2);
      expect(await s.operations(its[1]!.id)).toHaveLength(3);

      // A real run after the dry-runs still does its work (dry-run rows are never a baseline).
      const real = await cli(s.args());
      expect(real.code).toBe(0);
      for (const f of ['a.txt', 'b.txt', 'c.txt']) expect(existsSync(join(s.dest, f))).toBe(true);
      its = await s.iterations();
      expect(its.map((x) => x.dry_run)).toEqual([1, 1, 0]);
      expect(its[2]).toMatchObject({ files_created: 3, status: 'success' });
      // And the dry-run after the real run sees nothing to do: a new (empty) dry-run, not "current".
      const d4 = await cli(s.args(['--dry-run']));
      expect(d4.stdout).not.toContain('already current');
      its = await s.iterations();
      expect(its).toHaveLength(4);
      expect(await s.operations(its[3]!.id)).toEqual([]);
    } finally {
      s.t.remove();
    }
  });

  it('database down: the sync succeeds and the opslog stays; the next run flushes it once with its original times', async () => {
    const s = setup('cli-down');
    try {
      tree(s.src, { 'one.txt': '1', 'two.txt': '22' });
      const down = `root:@tcp(127.0.0.1:${await closedPort()})/${db.name}`;
      const r1 = await cli(s.args([], down));
      expect(r1.code).toBe(0);
      expect(existsSync(join(s.dest, 'two.txt'))).toBe(true);
      const left = opslogs(s.logDir);
      expect(left).toHaveLength(1);
      const lines = readFileSync(join(s.logDir, left[0]!), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; startedAtMs: number });
      const head = lines[0]!;
      const ops = lines.filter((l) => l.type === 'op');
      expect(ops).toHaveLength(2);
      expect(await s.iterations()).toEqual([]);

      tree(s.src, { 'three.txt': '333' });
      const r2 = await cli(s.args());
      expect(r2.code).toBe(0);
      expect(opslogs(s.logDir)).toEqual([]);
      const its = await s.iterations();
      expect(its).toHaveLength(2);
      const first = its.find(
        (x) => `${String(x.started_at).replace(' ', 'T')}Z` === new Date(head.startedAtMs).toISOString(),
      );
      expect(first).toMatchObject({ status: 'success', files_created: 2, dry_run: 0 });
      const firstOps = await s.operations(first!.id);
      expect(firstOps.map((o) => `${String(o.started_at).replace(' ', 'T')}Z`).sort()).toEqual(
        ops.map((o) => new Date(o.startedAtMs).toISOString()).sort(),
      );

      // Once: another run adds only its own iteration.
      const r3 = await cli(s.args());
      expect(r3.code).toBe(0);
      expect(await s.iterations()).toHaveLength(3);
      expect(await s.operations(first!.id)).toHaveLength(2);
    } finally {
      s.t.remove();
    }
  });

  it('never prints the password, whether the password is wrong or the host is bad', async () => {
    const s = setup('cli-secret');
    try {
      tree(s.src, { 'f.txt': 'f' });
      const secret = 'S3cr3t-Pw0rd!';
      const outs: string[] = [];
      for (const dsn of [
        `root:${secret}@tcp(127.0.0.1:3306)/${db.name}`,
        `mysql://root:${encodeURIComponent(secret)}@127.0.0.1:3306/${db.name}`,
        `root:${secret}@tcp(no-such-host.invalid:3306)/${db.name}`,
      ]) {
        const r = await cli(s.args(['--verbose'], dsn), { HA_SYNC_DEBUG: '1' });
        expect(r.code).toBe(0);
        outs.push(r.stdout, r.stderr);
        // The same DSN from the environment.
        const args = s.args(['--verbose']).filter((a) => !a.startsWith('--db-dsn'));
        const e = await cli(args, { HA_SYNC_DB_DSN: dsn, HA_SYNC_DEBUG: '1' });
        expect(e.code).toBe(0);
        outs.push(e.stdout, e.stderr);
      }
      const bad = await cli([
        'prune',
        '--older-than-days=1',
        `--db-dsn=root:${secret}@tcp(127.0.0.1:3306)/${db.name}`,
      ]);
      expect(bad.code).toBe(1);
      outs.push(bad.stdout, bad.stderr);
      const all = outs.join('\n');
      expect(all).toMatch(/unavailable|not reached/);
      expect(all).not.toContain(secret);
      expect(all).not.toContain(encodeURIComponent(secret));
      expect(all).not.toContain('S3cr3t');
    } finally {
      s.t.remove();
    }
  });
});
