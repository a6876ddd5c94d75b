// Shell tier: the applier on real temp directories, through the in-process bus, with the real
// fsops, file lock and SQLite audit. Events are published by hand (as a watcher would).
import {
  mkdirSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  existsSync,
  readdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Applier, fsOpsAdapter, type ApplierConfig } from '../src/applier/index.js';
import { openAudit, openAuditReader, type Audit } from '../src/audit/index.js';
import { openMemoryBaseline } from '../src/baseline/index.js';
import { MemoryBus, type ChangeEvent, type EventBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import { syncIo, type Io } from '../src/fsops/index.js';
import { createLogger } from '../src/log.js';
import { eventFor, mtimeOf, read, tempRoots, until, fileLockOptions } from './applier.helpers.js';

const PAIR = 'docs';
const log = createLogger({ silent: !process.env.TEST_LOG, pretty: false });

interface Rig {
  a: string;
  b: string;
  logs: string;
  base: string;
  bus: MemoryBus;
  audit: Audit;
  applier: Applier;
  stop: () => Promise<void>;
  pub: (ev: ChangeEvent) => Promise<void>;
}

let rig: Rig;
let cleanup: () => void;

async function start(over: Partial<ApplierConfig> = {}): Promise<Rig> {
  const t = tempRoots('applier', PAIR);
  cleanup = t.cleanup;
  // Both roots hold a marker so neither looks unmounted (an empty root beside a full one).
  writeFileSync(join(t.a, 'marker'), 'm');
  writeFileSync(join(t.b, 'marker'), 'm');
  utimesSync(
    join(t.b, 'marker'),
    new Date(mtimeOf(join(t.a, 'marker'))),
    new Date(mtimeOf(join(t.a, 'marker'))),
  );
  const bus = new MemoryBus({ kind: 'memory' });
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(PAIR, t.logs, log));
  const baseline = openMemoryBaseline(PAIR);
  const applier = new Applier(
    {
      pair: PAIR,
      a: { label: 'dell', root: t.a },
      b: { label: 'hp', root: t.b },
      deleteMissing: false,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: 'test/applier',
      idleReleaseMs: 1000,
      ...over,
    },
    { bus, lock, audit, fs: fsOpsAdapter(), clock: systemClock, log, baseline },
  );
  const ac = new AbortController();
  const running = applier.run(ac.signal);
  return {
    ...t,
    bus,
    audit,
    applier,
    pub: (ev) => bus.publish(ev),
    stop: async () => {
      ac.abort();
      await running;
      await audit.close();
      await bus.close();
      await baseline.close();
    },
  };
}

/** Waits until the bus has nothing pending for the pair (every event settled). */
const drained = (): Promise<void> => until('queue drained', async () => (await rig.bus.pending(PAIR)) === 0);

afterEach(async () => {
  await rig?.stop().catch(() => undefined);
  cleanup?.();
});

describe('applier (memory bus, real disk)', () => {
  describe('without --delete-missing', () => {
    beforeEach(async () => {
      rig = await start();
    });

    it('creates, updates, makes directories, both directions, mtime kept', async () => {
      mkdirSync(join(rig.a, 'sub/deep'), { recursive: true });
      writeFileSync(join(rig.a, 'sub/deep/one.txt'), 'one');
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'sub/deep/one.txt'));
      await until('one.txt on hp', () => read(join(rig.b, 'sub/deep/one.txt')) === 'one');
      expect(mtimeOf(join(rig.b, 'sub/deep/one.txt'))).toBeCloseTo(
        mtimeOf(join(rig.a, 'sub/deep/one.txt')),
        0,
      );

      mkdirSync(join(rig.b, 'fromhp'));
      await rig.pub(eventFor(PAIR, 'hp', rig.b, 'fromhp'));
      await until('dir on dell', () => existsSync(join(rig.a, 'fromhp')));

      writeFileSync(join(rig.b, 'sub/deep/one.txt'), 'one, edited on hp');
      utimesSync(join(rig.b, 'sub/deep/one.txt'), new Date(), new Date(Date.now() + 10_000));
      await rig.pub(eventFor(PAIR, 'hp', rig.b, 'sub/deep/one.txt'));
      await until('edit back on dell', () => read(join(rig.a, 'sub/deep/one.txt')) === 'one, edited on hp');
      await drained();
      expect(rig.applier.stats.applied).toBe(3);
    });

    it('an echo of its own copy does not bounce back, and costs no stat', async () => {
      writeFileSync(join(rig.a, 'e.txt'), 'echo');
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'e.txt'));
      await until('copied', () => read(join(rig.b, 'e.txt')) === 'echo');
      // The hp watcher reports the copy: recognised from the cache.
      await rig.pub(eventFor(PAIR, 'hp', rig.b, 'e.txt'));
      await drained();
      expect(rig.applier.stats).toMatchObject({ applied: 1, echoes: 1 });
    });

    it('duplicate events are harmless', async () => {
      writeFileSync(join(rig.a, 'd.txt'), 'dup');
      const ev = eventFor(PAIR, 'dell', rig.a, 'd.txt');
      await rig.pub(ev);
      await rig.pub({ ...ev, observedAt: ev.observedAt + 1 });
      await until('copied', () => read(join(rig.b, 'd.txt')) === 'dup');
      await drained();
      expect(rig.applier.stats.applied).toBe(1);
    });

    it('a delete is not propagated without --delete-missing: the other copy comes back', async () => {
      writeFileSync(join(rig.a, 'keep.txt'), 'keep');
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'keep.txt'));
      await until('copied', () => read(join(rig.b, 'keep.txt')) === 'keep');
      const last = { size: 4, mtimeMs: mtimeOf(join(rig.a, 'keep.txt')) };
      rmSync(join(rig.a, 'keep.txt'));
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'keep.txt', 'delete', last));
      await until('restored on dell', () => read(join(rig.a, 'keep.txt')) === 'keep');
      await drained();
      expect(read(join(rig.b, 'keep.txt'))).toBe('keep');
      expect(rig.applier.stats.applied).toBe(2);
    });

    it('hostile events are rejected and nothing is written outside the roots', async () => {
      writeFileSync(join(rig.base, 'outside.txt'), 'secret');
      const good = eventFor(PAIR, 'dell', rig.a, 'marker');
      // Bypass the bus's own validation: the applier must refuse on its own.
      const hostile = ['../outside.txt', '../../x', '/etc/passwd', 'a/../../x', 'nul\0byte'];
      for (const path of hostile) {
        const d = await rig.applier.handle({ event: { ...good, path }, subject: 'test', deliveryCount: 1 });
        expect(d.action, path).toBe('term');
      }
      // A symlinked directory inside a root that points outside: never followed.
      symlinkSync(rig.base, join(rig.a, 'escape'));
      writeFileSync(join(rig.b, 'x.txt'), 'x');
      mkdirSync(join(rig.b, 'escape'));
      writeFileSync(join(rig.b, 'escape/outside.txt'), 'overwrite?');
      const d = await rig.applier.handle({
        event: eventFor(PAIR, 'hp', rig.b, 'escape/outside.txt'),
        subject: 'test',
        deliveryCount: 1,
      });
      expect(d.action).toBe('term');
      expect(read(join(rig.base, 'outside.txt'))).toBe('secret');
      // Wrong pair or unknown side: terminated too.
      expect(
        (await rig.applier.handle({ event: { ...good, pair: 'other' }, subject: 't', deliveryCount: 1 }))
          .action,
      ).toBe('term');
      expect(
        (await rig.applier.handle({ event: { ...good, side: 'mallory' }, subject: 't', deliveryCount: 1 }))
          .action,
      ).toBe('term');
      expect(
        (
          await rig.applier.handle({
            event: null,
            error: 'event is not JSON',
            subject: 't',
            deliveryCount: 1,
          })
        ).action,
      ).toBe('term');
      expect(readdirSync(rig.base).sort()).toEqual(['a', 'b', 'logs', 'outside.txt']);
    });

    it('does nothing while a root looks unmounted (missing), then resumes', async () => {
      writeFileSync(join(rig.a, 'u.txt'), 'u');
      await rig.applier.handle({
        event: eventFor(PAIR, 'dell', rig.a, 'marker'),
        subject: 't',
        deliveryCount: 1,
      });
      const hpRoot = rig.b;
      rmSync(hpRoot, { recursive: true });
      const d = await rig.applier.handle({
        event: eventFor(PAIR, 'dell', rig.a, 'u.txt'),
        subject: 't',
        deliveryCount: 1,
      });
      expect(d.action).toBe('nak');
      expect(existsSync(join(hpRoot, 'u.txt'))).toBe(false);
    });
  });

  describe('with --delete-missing', () => {
    beforeEach(async () => {
      rig = await start({ deleteMissing: true });
    });

    it('removes a matching copy; a changed copy wins and comes back; empty dirs go', async () => {
      writeFileSync(join(rig.a, 'gone.txt'), 'bye');
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'gone.txt'));
      await until('copied', () => read(join(rig.b, 'gone.txt')) === 'bye');
      const last = { size: 3, mtimeMs: mtimeOf(join(rig.a, 'gone.txt')) };
      rmSync(join(rig.a, 'gone.txt'));
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'gone.txt', 'delete', last));
      await until('deleted on hp', () => !existsSync(join(rig.b, 'gone.txt')));

      // hp changed its copy after dell's last known version: the delete must not win.
      writeFileSync(join(rig.a, 'both.txt'), 'v1');
      writeFileSync(join(rig.b, 'both.txt'), 'v2 edited on hp');
      utimesSync(join(rig.b, 'both.txt'), new Date(), new Date(Date.now() + 60_000));
      const v1 = { size: 2, mtimeMs: mtimeOf(join(rig.a, 'both.txt')) };
      rmSync(join(rig.a, 'both.txt'));
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'both.txt', 'delete', v1));
      await until('hp version back on dell', () => read(join(rig.a, 'both.txt')) === 'v2 edited on hp');
      expect(read(join(rig.b, 'both.txt'))).toBe('v2 edited on hp');

      mkdirSync(join(rig.a, 'emptydir'));
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'emptydir'));
      await until('dir made on hp', () => existsSync(join(rig.b, 'emptydir')));
      rmdirSync(join(rig.a, 'emptydir'));
      await rig.pub(
        eventFor(PAIR, 'dell', rig.a, 'emptydir', 'delete', { size: 0, mtimeMs: 0, kind: 'dir' }),
      );
      await until('dir removed', () => !existsSync(join(rig.b, 'emptydir')));
      await drained();
    });

    it('re-checks the roots uncached before a delete: an unmount within the cache window deletes nothing', async () => {
      writeFileSync(join(rig.b, 'keep.txt'), 'keep');
      const last = { size: 4, mtimeMs: mtimeOf(join(rig.b, 'keep.txt')) };
      // Warms the root-state cache: both roots look mounted.
      await rig.applier.handle({
        event: eventFor(PAIR, 'dell', rig.a, 'marker'),
        subject: 't',
        deliveryCount: 1,
      });
      // dell's root goes away right after (an unmount): its files all look deleted.
      rmSync(rig.a, { recursive: true });
      const d = await rig.applier.handle({
        event: eventFor(PAIR, 'dell', rig.a, 'keep.txt', 'delete', last),
        subject: 't',
        deliveryCount: 1,
      });
      expect(d.action).toBe('nak');
      expect(read(join(rig.b, 'keep.txt'))).toBe('keep');
    });

    it('audits each operation in a window per direction named from the labels', async () => {
      writeFileSync(join(rig.a, 'w1.txt'), 'one');
      writeFileSync(join(rig.b, 'w2.txt'), 'two');
      await rig.pub(eventFor(PAIR, 'dell', rig.a, 'w1.txt'));
      await rig.pub(eventFor(PAIR, 'hp', rig.b, 'w2.txt'));
      await until(
        'both copied',
        () => read(join(rig.b, 'w1.txt')) === 'one' && read(join(rig.a, 'w2.txt')) === 'two',
      );
      await drained();
      await rig.stop();
      const reader = await openAuditReader({ dsn: undefined, logDir: rig.logs, log });
      try {
        const its = await reader.iterations({ pair: PAIR, limit: 10 });
        expect(its.map((i) => i.direction).sort()).toEqual(['dell-to-hp', 'hp-to-dell']);
        for (const it of its) {
          expect(it).toMatchObject({ status: 'success', filesCreated: 1, dryRun: false });
          const ops = await reader.operations(it.id);
          expect(ops).toHaveLength(1);
          expect(ops[0]).toMatchObject({ operation: 'create', status: 'success' });
        }
      } finally {
        await reader.close();
      }
    });
  });
});

describe('applier run()', () => {
  it('rejects with the bus error when consume fails, instead of hanging on its ticker', async () => {
    const t = tempRoots('applier-run', PAIR);
    try {
      const bus = {
        kind: 'stub',
        consume: () => Promise.reject(new Error('consumer deleted')),
      } as unknown as EventBus;
      const applier = new Applier(
        {
          pair: PAIR,
          a: { label: 'dell', root: t.a },
          b: { label: 'hp', root: t.b },
          deleteMissing: false,
          mtimeThresholdMs: 2000,
          workers: 1,
          windowMs: 300_000,
          holder: 'test/applier',
        },
        {
          bus,
          lock: { kind: 'stub', name: 'stub', acquire: () => Promise.reject(new Error('unused')) },
          audit: {} as Audit,
          fs: fsOpsAdapter(),
          clock: systemClock,
          log,
        },
      );
      const ac = new AbortController();
      const settled = applier.run(ac.signal).then(
        () => 'resolved',
        (err: unknown) => (err as Error).message,
      );
      const hung = new Promise((r) => setTimeout(() => r('hung'), 3000).unref());
      expect(await Promise.race([settled, hung])).toBe('consumer deleted');
      ac.abort();
    } finally {
      t.cleanup();
    }
  });
});

describe('fsOpsAdapter copy', () => {
  it('a copy into an existing deep parent costs no per-level parent walk; missing parents are made', async () => {
    const t = tempRoots('adapter', PAIR);
    try {
      const deep = 'd1/d2/d3/d4/d5';
      mkdirSync(join(t.a, deep), { recursive: true });
      mkdirSync(join(t.b, deep), { recursive: true });
      writeFileSync(join(t.a, deep, 'f.txt'), 'deep');
      let lstats = 0;
      const io: Io = { ...syncIo, lstat: (p) => (lstats++, syncIo.lstat(p)) };
      const fs = fsOpsAdapter(io);
      const src = await fs.stat(t.a, `${deep}/f.txt`);
      lstats = 0;
      const r = await fs.copy(t.a, t.b, `${deep}/f.txt`, { src: src!, dest: null });
      expect(read(join(t.b, deep, 'f.txt'))).toBe('deep');
      expect(r.createdDirs).toEqual([]);
      expect(r.size).toBe(4);
      // One lstat for the parent, the copy's own checks, one lstat of the result: not 5+4+3+2+1.
      expect(lstats).toBeLessThanOrEqual(6);

      writeFileSync(join(t.a, 'd1/d2/g.txt'), 'g');
      rmSync(join(t.b, 'd1'), { recursive: true });
      const g = await fs.stat(t.a, 'd1/d2/g.txt');
      const r2 = await fs.copy(t.a, t.b, 'd1/d2/g.txt', { src: g!, dest: null });
      expect(r2.createdDirs).toEqual(['d1', 'd1/d2']);
      expect(read(join(t.b, 'd1/d2/g.txt'))).toBe('g');
    } finally {
      t.cleanup();
    }
  });
});

describe('applier audit', () => {
  it('an operation done but not in the opslog is not acked; it is recorded when the event returns', async () => {
    const t = tempRoots('applier-owed', PAIR);
    try {
      writeFileSync(join(t.a, 'marker'), 'm');
      writeFileSync(join(t.b, 'marker'), 'm');
      mkdirSync(join(t.a, 'sub'));
      writeFileSync(join(t.a, 'sub', 'f.txt'), 'data');
      const recorded: string[] = [];
      let failNext = true;
      const audit = {
        beginRun: (h: { runId: string }) =>
          Promise.resolve({
            runId: h.runId,
            record: (op: { filepath: string }) => {
              if (failNext) {
                failNext = false;
                return Promise.reject(new Error('ENOSPC: write failed'));
              }
              recorded.push(op.filepath);
              return Promise.resolve();
            },
            finish: () => Promise.resolve({ iterationId: null, flushed: false }),
          }),
      } as unknown as Audit;
      const lock = await openLock(fileLockOptions(PAIR, t.logs, log));
      const applier = new Applier(
        {
          pair: PAIR,
          a: { label: 'dell', root: t.a },
          b: { label: 'hp', root: t.b },
          deleteMissing: false,
          mtimeThresholdMs: 2000,
          workers: 1,
          windowMs: 300_000,
          holder: 'test/applier',
        },
        { bus: new MemoryBus({ kind: 'memory' }), lock, audit, fs: fsOpsAdapter(), clock: systemClock, log },
      );
      const ev = eventFor(PAIR, 'dell', t.a, 'sub/f.txt');
      const first = await applier.handle({ event: ev, subject: 't', deliveryCount: 1 });
      expect(read(join(t.b, 'sub', 'f.txt'))).toBe('data'); // the copy happened
      expect(first.action).toBe('nak'); // but the parent's record failed: no ack yet
      const second = await applier.handle({ event: ev, subject: 't', deliveryCount: 2 });
      expect(second.action).toBe('ack');
      expect(recorded).toEqual(['sub', 'sub/f.txt']);
      await applier.close();
    } finally {
      t.cleanup();
    }
  });
});
