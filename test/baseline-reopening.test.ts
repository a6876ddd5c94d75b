// reopeningBaseline, and the applier's start with the database down (found by the soak, issue 14):
// an applier that started while MySQL was unreachable got no baseline store at all and ran in safe
// mode (nothing deleted, nothing recorded) until it was restarted. Now it gets a store that opens
// the real one once it can.
import { describe, expect, it } from 'vitest';
import { openMemoryBaseline, reopeningBaseline, type BaselineStore } from '../src/baseline/index.js';
import { MemoryBus } from '../src/bus/index.js';
import { openAudit } from '../src/audit/index.js';
import { parseApplyArgs, startApplier } from '../src/cli/apply.js';
import { systemClock } from '../src/clock.js';
import { HaSyncError, isHaSyncError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { tempRoots } from './applier.helpers.js';

const rec = {
  name: 'f.txt',
  a: { kind: 'file' as const, size: 1, mtimeMs: 1000 },
  b: { kind: 'file' as const, size: 1, mtimeMs: 1000 },
  md5: null,
};

/** A store whose first `failures` opens fail as a down database does. */
function flaky(failures: number): { open: () => Promise<BaselineStore>; opens: () => number } {
  let n = 0;
  return {
    open: () => {
      n++;
      if (n <= failures)
        return Promise.reject(new HaSyncError('BASELINE_UNAVAILABLE', 'connect ECONNREFUSED'));
      return Promise.resolve(openMemoryBaseline('p'));
    },
    opens: () => n,
  };
}

const unavailable = (err: unknown): boolean => isHaSyncError(err, 'BASELINE_UNAVAILABLE');

describe('reopeningBaseline', () => {
  it('throws BASELINE_UNAVAILABLE while the store cannot be opened, then opens it on a later call', async () => {
    const f = flaky(2);
    const s = reopeningBaseline('mysql', f.open);
    await expect(s.readPath('f.txt')).rejects.toSatisfy(unavailable);
    await expect(s.write([{ dir: '', name: 'f.txt', rec }])).rejects.toSatisfy(unavailable);
    await s.write([{ dir: '', name: 'f.txt', rec }]);
    expect(await s.readPath('f.txt')).toMatchObject({ name: 'f.txt' });
    expect(await s.readDir('')).toHaveLength(1);
    expect(f.opens()).toBe(3);
    await s.close();
    await expect(s.readDir('')).rejects.toSatisfy(unavailable);
  });

  it('opens once for calls made together, and never after close', async () => {
    const f = flaky(0);
    const s = reopeningBaseline('sqlite', f.open);
    await Promise.all([s.readDir(''), s.readPath('x'), s.dirDigest('')]);
    expect(f.opens()).toBe(1);
    const g = flaky(0);
    const t = reopeningBaseline('sqlite', g.open);
    const pending = t.readDir('');
    await t.close();
    await expect(pending).rejects.toSatisfy(unavailable);
    await expect(t.readDir('')).rejects.toSatisfy(unavailable);
  });

  it('reports a non-baseline error of the open as BASELINE_UNAVAILABLE', async () => {
    const s = reopeningBaseline('mysql', () => Promise.reject(new Error('boom')));
    await expect(s.readDir('')).rejects.toSatisfy(unavailable);
  });
});

describe('startApplier with the database down', () => {
  it('gives the applier a baseline store that is opened once the database is back (not none for good)', async () => {
    const t = tempRoots('apply-db-down');
    const log = createLogger({ silent: true });
    // Port 1 on loopback: connection refused at once, as a MariaDB that is restarting.
    const dsn = 'mysql://root@127.0.0.1:1/soak';
    const cfg = parseApplyArgs(
      [
        '--pair',
        'p',
        '--a',
        `a=${t.a}`,
        '--b',
        `b=${t.b}`,
        '--log-dir',
        t.logs,
        '--lock',
        'file',
        '--db-dsn',
        dsn,
      ],
      {},
    );
    const audit = await openAudit({ dsn, logDir: t.logs, log, clock: systemClock });
    const bus = new MemoryBus({ kind: 'memory' });
    try {
      const started = await startApplier(cfg, { a: cfg.a, b: cfg.b }, 'test/p', {
        bus,
        audit,
        clock: systemClock,
        log,
        env: {},
      });
      expect(started.baseline).not.toBeNull();
      expect(started.applier.baseline).toBe(started.baseline);
      await expect(started.baseline!.readPath('x')).rejects.toSatisfy(unavailable);
      await started.baseline!.close();
    } finally {
      await audit.close();
      await bus.close();
      t.cleanup();
    }
  });
});
