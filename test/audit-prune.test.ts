// `ha-sync prune`: flag parsing (pure) and the command against both stores.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit } from '../src/audit/index.js';
import { main } from '../src/cli/main.js';
import { parsePruneArgs } from '../src/cli/prune.js';
import type { CliContext } from '../src/cli/context.js';
import { captureLog, createTestDatabase, end, header, op, tempDir } from './audit.helpers.js';

function ctx(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const w = (f: (s: string) => void): Writable =>
    new Writable({
      write(c: Buffer, _e, cb) {
        f(c.toString());
        cb();
      },
    });
  return {
    ctx: {
      stdout: w((s) => (out += s)),
      stderr: w((s) => (err += s)),
      env: {},
      signal: new AbortController().signal,
    },
    out: () => out,
    err: () => err,
  };
}

describe('parsePruneArgs', () => {
  it('parses flags and the DSN from the environment, frozen', () => {
    const c = parsePruneArgs(['--older-than-days=30', '--log-dir', '/x', '--batch-size', '100'], {
      HA_SYNC_DB_DSN: 'u:p@tcp(h:3306)/db',
    });
    expect(c).toEqual({
      help: false,
      olderThanDays: 30,
      dbDsn: 'u:p@tcp(h:3306)/db',
      logDir: '/x',
      batchSize: 100,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(parsePruneArgs(['--older-than-days', '0'], {})).toMatchObject({
      dbDsn: undefined,
      logDir: '/var/log/ha-sync',
      batchSize: 5000,
    });
    expect(parsePruneArgs(['--help'], {}).help).toBe(true);
  });

  it.each([
    [[], /--older-than-days is required/],
    [['--older-than-days=-1'], /--older-than-days: expected an integer from 0 to 36500, got '-1'/],
    [['--older-than-days', '3.5'], /--older-than-days: expected an integer/],
    [['--older-than-days', '3', '--batch-size', '0'], /--batch-size: expected an integer from 1/],
    [['--older-than-days', '3', '--db-dsn', 'nonsense'], /--db-dsn: no \/database/],
    [['--older-than-days', '3', '--nope'], /unknown flag --nope/],
  ])('rejects %j', (argv, re) => {
    expect(() => parsePruneArgs(argv, {})).toThrow(re);
  });
});

describe('ha-sync prune', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('prints help and usage errors per the CLI rules', async () => {
    const h = ctx();
    expect(await main(['prune', '--help'], h.ctx)).toBe(0);
    expect(h.out()).toMatch(/--older-than-days <n>/);
    const u = ctx();
    expect(await main(['prune'], u.ctx)).toBe(2);
    expect(u.err()).toBe(
      'ha-sync prune: --older-than-days is required: an integer number of days, e.g. 30\n',
    );
  });

  it('says so when there is no embedded database, and creates none', async () => {
    const t = tempDir();
    try {
      const c = ctx();
      expect(await main(['prune', '--older-than-days', '1', '--log-dir', t.dir], c.ctx)).toBe(0);
      expect(c.out()).toMatch(/no audit database at .*ha-sync\.sqlite; nothing to prune/);
    } finally {
      t.remove();
    }
  });

  it.each(['mysql', 'sqlite'])('deletes old rows from %s and prints the counts', async (kind) => {
    const t = tempDir();
    try {
      const dsn = kind === 'mysql' ? db.dsn : undefined;
      const { log } = captureLog();
      const a = await openAudit({ dsn, logDir: t.dir, log });
      try {
        const old = Date.now() - 40 * 86_400_000;
        for (const started of [old, old + 1000, Date.now() - 1000]) {
          const run = await a.beginRun(header({ startedAtMs: started }));
          await run.record(op(1, { startedAtMs: started }));
          await run.record(op(2, { startedAtMs: started }));
          await run.finish(end({ endedAtMs: started + 500 }));
        }
      } finally {
        await a.close();
      }
      const c = ctx();
      const argv = ['prune', '--older-than-days=30', '--batch-size=1', '--log-dir', t.dir];
      expect(await main(dsn ? [...argv, '--db-dsn', dsn] : argv, c.ctx)).toBe(0);
      expect(c.out()).toMatch(
        /^pruned 4 operations and 2 iterations started before \d{4}-\d\d-\d\dT.*Z from (mysql|sqlite):/,
      );
      if (kind === 'mysql') {
        expect(await db.query('SELECT COUNT(*) AS n FROM sync_operations')).toEqual([{ n: 2 }]);
        expect(await db.query('SELECT COUNT(*) AS n FROM sync_iterations')).toEqual([{ n: 1 }]);
      }
    } finally {
      t.remove();
    }
  });

  it('keeps flush markers so a leftover opslog can never be flushed twice', async () => {
    const t = tempDir();
    try {
      const { log } = captureLog();
      const a = await openAudit({ dsn: db.dsn, logDir: t.dir, log });
      try {
        const run = await a.beginRun(header({ runId: 'marker-kept-1' }));
        await run.record(op(1));
        await run.finish(end());
      } finally {
        await a.close();
      }
      const c = ctx();
      expect(
        await main(['prune', '--older-than-days=0', '--log-dir', t.dir, '--db-dsn', db.dsn], c.ctx),
      ).toBe(0);
      expect(await db.query("SELECT COUNT(*) AS n FROM sync_flushes WHERE run_id = 'marker-kept-1'")).toEqual(
        [{ n: 1 }],
      );
    } finally {
      t.remove();
    }
  });
});
