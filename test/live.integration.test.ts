// Integration tier, end to end over the real NATS JetStream: two pollers (one per side) publish,
// one applier consumes, on temp dirs; own stream and subject prefix, deleted after.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBaseline } from '../src/baseline/index.js';
import { Applier, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { openBus, type NatsBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { openLock } from '../src/lock/index.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { read, tempRoots, until, fileLockOptions } from './applier.helpers.js';

const log = createLogger({ silent: !process.env.TEST_LOG, verbose: !!process.env.TEST_LOG, pretty: false });
const suffix = randomBytes(4).toString('hex');
const stream = `HASYNC_T_LIVE_${suffix}`;
const prefix = `hsl${suffix}`;
let bus: NatsBus;

beforeAll(async () => {
  bus = await openBus({
    kind: 'nats',
    url: 'nats://127.0.0.1:4222',
    stream,
    subjectPrefix: prefix,
    logger: log,
    ackWaitMs: 5000,
  });
  await bus.ready();
});

afterAll(async () => {
  await bus.deleteStream().catch(() => undefined);
  await bus.close();
});

/** Two watchers and an applier for one pair, all in this process, over the shared NATS bus. */
async function startPair(pair: string, deleteMissing: boolean) {
  const t = tempRoots(`live-${pair}`, pair);
  writeFileSync(join(t.a, 'marker'), 'm');
  writeFileSync(join(t.b, 'marker'), 'm');
  utimesSync(join(t.b, 'marker'), new Date(), new Date(Date.now() - 1000));
  utimesSync(join(t.a, 'marker'), new Date(), new Date(Date.now() - 1000));
  const ac = new AbortController();
  const wopts = { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs: 200, hotMs: 2000 };
  const watchers = [
    new RootWatcher({ pair, side: 'dell', root: t.a }, wopts, { bus, clock: systemClock, logger: log }),
    new RootWatcher({ pair, side: 'hp', root: t.b }, wopts, { bus, clock: systemClock, logger: log }),
  ];
  await Promise.all(watchers.map((w) => w.start(ac.signal)));
  const watching = Promise.all(watchers.map((w) => w.run(ac.signal)));
  const audit = await openAudit({ dsn: undefined, logDir: t.logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(pair, t.logs, log));
  const baseline = await openBaseline({ pair, dsn: null, logDir: t.logs, log });
  const applier = new Applier(
    {
      pair,
      a: { label: 'dell', root: t.a },
      b: { label: 'hp', root: t.b },
      deleteMissing,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: `test/${pair}`,
    },
    { bus, lock, audit, fs: fsOpsAdapter(), clock: systemClock, log, baseline },
  );
  const applying = applier.run(ac.signal);
  return {
    ...t,
    applier,
    watchers,
    stop: async () => {
      ac.abort();
      await Promise.all([watching, applying]);
      await audit.close();
      await baseline.close();
      t.cleanup();
    },
  };
}

describe('live sync end to end (two pollers, NATS JetStream, applier)', () => {
  it('with --delete-missing: create, modify, mkdir, rename, delete, both directions; echoes do not bounce', async () => {
    const p = await startPair('e2e', true);
    try {
      // create on dell
      writeFileSync(join(p.a, 'a1.txt'), 'one');
      await until('a1 on hp', () => read(join(p.b, 'a1.txt')) === 'one');
      // mkdir + file on hp
      mkdirSync(join(p.b, 'photos/2026'), { recursive: true });
      writeFileSync(join(p.b, 'photos/2026/img.jpg'), 'jpeg');
      await until('img on dell', () => read(join(p.a, 'photos/2026/img.jpg')) === 'jpeg');
      // modify on hp (content change in place, newer mtime)
      writeFileSync(join(p.b, 'a1.txt'), 'one, edited on hp');
      await until('edit on dell', () => read(join(p.a, 'a1.txt')) === 'one, edited on hp');
      // rename on dell: a create and a delete
      renameSync(join(p.a, 'photos/2026/img.jpg'), join(p.a, 'photos/2026/renamed.jpg'));
      await until(
        'rename on hp',
        () =>
          read(join(p.b, 'photos/2026/renamed.jpg')) === 'jpeg' &&
          !existsSync(join(p.b, 'photos/2026/img.jpg')),
      );
      // delete on hp
      rmSync(join(p.b, 'a1.txt'));
      await until('delete on dell', () => !existsSync(join(p.a, 'a1.txt')));
      // Let the echoes of all that arrive: nothing bounces back, so the count stays put.
      await until('queue drained', async () => (await bus.pending('e2e')) === 0);
      const applied = p.applier.stats.applied;
      await new Promise((r) => setTimeout(r, 1500));
      await until('queue drained again', async () => (await bus.pending('e2e')) === 0);
      const s = p.applier.stats;
      expect(s.applied).toBe(applied);
      // a1 create, img create (with its parents, or photos + photos/2026 mkdir first), a1 update,
      // the rename (one move: the same file, renamed on hp), a1 delete: 5 file operations, at
      // most 2 directory ones.
      expect(s.applied).toBeGreaterThanOrEqual(5);
      expect(s.applied).toBeLessThanOrEqual(7);
      expect(s.echoes).toBeGreaterThan(0);
      expect(s.failed).toBe(0);
      expect(read(join(p.b, 'photos/2026/renamed.jpg'))).toBe('jpeg');
    } finally {
      await p.stop();
    }
  });

  it('without --delete-missing: a delete is not carried over, the other copy comes back; everything else syncs', async () => {
    const p = await startPair('keep', false);
    try {
      writeFileSync(join(p.b, 'k.txt'), 'kept');
      await until('k on dell', () => read(join(p.a, 'k.txt')) === 'kept');
      // dell's watcher must have seen the copy first, or it has no delete to report.
      await until('the copy seen on dell', () => p.applier.stats.echoes > 0);
      rmSync(join(p.a, 'k.txt'));
      mkdirSync(join(p.a, 'after'));
      writeFileSync(join(p.a, 'after/x.txt'), 'x');
      await until('later change arrived', () => read(join(p.b, 'after/x.txt')) === 'x');
      await until('k back on dell', () => read(join(p.a, 'k.txt')) === 'kept');
      await until('queue drained', async () => (await bus.pending('keep')) === 0);
      expect(read(join(p.b, 'k.txt'))).toBe('kept');
    } finally {
      await p.stop();
    }
  });
});
