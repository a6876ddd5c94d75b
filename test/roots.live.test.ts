// Issue 13's live-path holes, each through both live wirings: `ha-sync run` (in process: its
// pollers, in-process bus, applier, lock file, SQLite audit and baseline) and watch + apply over
// the real NATS JetStream on this machine (two pollers publishing, an applier consuming, each
// over its own connection; own stream and subject prefix).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Applier, fsOpsAdapter } from '../src/applier/index.js';
import { openAudit } from '../src/audit/index.js';
import { openBaseline, orientedBaseline } from '../src/baseline/index.js';
import { openBus, type NatsBus } from '../src/bus/index.js';
import { runCommand } from '../src/cli/run.js';
import { systemClock } from '../src/clock.js';
import { TEMP_RE, readMarker, tempName } from '../src/fsops/index.js';
import { openLock } from '../src/lock/index.js';
import type * as LogModule from '../src/log.js';
import { createLogger } from '../src/log.js';
import { runReconcile, verifyRoots } from '../src/reconciler/index.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { fileLockOptions, read, tempRoots, until } from './applier.helpers.js';
import { config, sink } from './reconcile.helpers.js';

// `run` builds its own logger: every logger of this file writes JSON lines here.
const captured = vi.hoisted(() => ({ lines: [] as string[] }));
vi.mock('../src/log.js', async (importOriginal) => {
  const m = await importOriginal<typeof LogModule>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured.lines.push(chunk.toString());
      if (process.env.TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  return {
    ...m,
    createLogger: (o: LogModule.LogOptions = {}) =>
      m.createLogger({ ...o, pretty: false, destination: sink }),
  };
});

const PAIR = 'holes';
const POLL_MS = 100;
const log = createLogger({});
const suffix = randomBytes(4).toString('hex');

interface Rig {
  readonly a: string;
  readonly b: string;
  readonly base: string;
  stop(): Promise<void>;
}

let rig: Rig | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await rig?.stop().catch(() => undefined);
  rig = undefined;
  for (const c of cleanups.splice(0).reverse()) c();
});

/** `ha-sync run --a dell=A --b hp=B --delete-missing`, in process; its first pass marks the roots. */
async function startRun(a: string, b: string, base: string, logs: string): Promise<Rig> {
  captured.lines.length = 0;
  const ac = new AbortController();
  const argv = ['--pair', PAIR, '--a', `dell=${a}`, '--b', `hp=${b}`, '--log-dir', logs, '--delete-missing'];
  const done = runCommand([...argv, '--poll-interval', String(POLL_MS)], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: { HOME: base },
    signal: ac.signal,
  });
  const exited = done.then(() => true);
  await until(
    'run follows changes live',
    async () =>
      captured.lines.some((s) => s.includes('following changes live')) ||
      (await Promise.race([exited, Promise.resolve(false)])),
    30_000,
  );
  return {
    a,
    b,
    base,
    stop: async () => {
      ac.abort();
      expect(await done).toBe(0);
    },
  };
}

/**
 * Watch + apply over the real NATS: a poller per side publishing on its own connection, the
 * applier consuming on another. A two-way reconcile run goes first, as the first CronJob would:
 * it marks the roots and carries over what was there before.
 */
async function startNats(a: string, b: string, base: string, logs: string): Promise<Rig> {
  captured.lines.length = 0;
  const first = await runReconcile(
    config(
      { src: a, dest: b, logDir: logs },
      { pair: PAIR, sides: { a: 'dell', b: 'hp' }, deleteMissing: true },
    ),
    { log, stdout: sink(), stderr: sink() },
  );
  expect(first.exitCode).toBe(0);
  const stream = `HASYNC_T_HOLES_${suffix}_${randomBytes(2).toString('hex')}`;
  const busOpts = {
    kind: 'nats' as const,
    url: 'nats://127.0.0.1:4222',
    stream,
    subjectPrefix: `hsh${suffix}`,
    logger: log,
  };
  const buses: NatsBus[] = [];
  for (let i = 0; i < 3; i++) {
    const bus = await openBus(busOpts);
    await bus.ready();
    buses.push(bus);
  }
  const store = await openBaseline({ pair: PAIR, dsn: null, logDir: logs, log });
  const baseline = orientedBaseline(store, 'dell', 'hp');
  const sides = [
    { label: 'dell', root: a },
    { label: 'hp', root: b },
  ] as const;
  const v = await verifyRoots(PAIR, sides, baseline, { dryRun: false, log });
  if (!v.ok) throw new Error(v.why);
  const ac = new AbortController();
  const wopts = { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs: POLL_MS, hotMs: 2000 };
  const watchers = sides.map(
    (s, i) =>
      new RootWatcher({ pair: PAIR, side: s.label, root: s.root }, wopts, {
        bus: buses[i]!,
        clock: systemClock,
        logger: log,
      }),
  );
  await Promise.all(watchers.map((w) => w.start(ac.signal)));
  const watching = Promise.all(watchers.map((w) => w.run(ac.signal)));
  const audit = await openAudit({ dsn: undefined, logDir: logs, log, clock: systemClock });
  const lock = await openLock(fileLockOptions(PAIR, logs, log));
  const applier = new Applier(
    {
      pair: PAIR,
      a: sides[0],
      b: sides[1],
      deleteMissing: true,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      holder: 'test/holes',
      idleReleaseMs: 1000,
    },
    { bus: buses[2]!, lock, audit, fs: fsOpsAdapter(), clock: systemClock, log, baseline },
  );
  const applying = applier.run(ac.signal);
  return {
    a,
    b,
    base,
    stop: async () => {
      ac.abort();
      await Promise.all([watching, applying]);
      await audit.close();
      await baseline.close();
      await buses[0]!.deleteStream().catch(() => undefined);
      for (const bus of buses) await bus.close();
    },
  };
}

const RIGS = { run: startRun, 'watch + apply over NATS': startNats } as const;

function roots(prefix: string): ReturnType<typeof tempRoots> {
  const t = tempRoots(prefix);
  cleanups.push(t.cleanup);
  return t;
}

/** Names directly in `dir`, without ha-sync's own folder. */
function names(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n !== '.ha-sync')
    .sort();
}

describe.each(Object.keys(RIGS) as (keyof typeof RIGS)[])('live path (%s)', (name) => {
  const start = RIGS[name];

  it('rename and rename back, a cp -p restore, and create-delete-create with one mtime all reach the other side', async () => {
    const t = roots('holes-ids');
    const r = (rig = await start(t.a, t.b, t.base, t.logs));
    writeFileSync(join(r.a, 'report.txt'), 'quarterly');
    await until('report on hp', () => read(join(r.b, 'report.txt')) === 'quarterly');
    renameSync(join(r.a, 'report.txt'), join(r.a, 'report-old.txt'));
    await until(
      'renamed on hp',
      () => existsSync(join(r.b, 'report-old.txt')) && !existsSync(join(r.b, 'report.txt')),
    );
    renameSync(join(r.a, 'report-old.txt'), join(r.a, 'report.txt'));
    await until('renamed back on hp', () => read(join(r.b, 'report.txt')) === 'quarterly');
    await until('old name gone on hp', () => !existsSync(join(r.b, 'report-old.txt')));

    // cp -p restore: the same bytes and mtime as the copy that was deleted.
    cpSync(join(r.a, 'report.txt'), join(r.base, 'saved.txt'), { preserveTimestamps: true });
    rmSync(join(r.a, 'report.txt'));
    await until('delete on hp', () => !existsSync(join(r.b, 'report.txt')));
    cpSync(join(r.base, 'saved.txt'), join(r.a, 'report.txt'), { preserveTimestamps: true });
    await until('restored on hp', () => read(join(r.b, 'report.txt')) === 'quarterly');

    // Create, delete, create again with the very same mtime.
    const m = new Date(Date.now() - 120_000);
    writeFileSync(join(r.a, 'x.txt'), 'same');
    utimesSync(join(r.a, 'x.txt'), m, m);
    await until('x on hp', () => read(join(r.b, 'x.txt')) === 'same');
    rmSync(join(r.a, 'x.txt'));
    await until('x deleted on hp', () => !existsSync(join(r.b, 'x.txt')));
    writeFileSync(join(r.a, 'x.txt'), 'same');
    utimesSync(join(r.a, 'x.txt'), m, m);
    await until('x again on hp', () => read(join(r.b, 'x.txt')) === 'same');
    // The same on hp: renamed away and back there too.
    renameSync(join(r.b, 'x.txt'), join(r.b, 'y.txt'));
    await until('y on dell', () => existsSync(join(r.a, 'y.txt')) && !existsSync(join(r.a, 'x.txt')));
    renameSync(join(r.b, 'y.txt'), join(r.b, 'x.txt'));
    await until(
      'x back on dell',
      () => read(join(r.a, 'x.txt')) === 'same' && !existsSync(join(r.a, 'y.txt')),
    );
  });

  it('a root emptied for a moment (its marker stays) does not stall the pair', async () => {
    const t = roots('holes-empty');
    writeFileSync(join(t.a, 'only.txt'), 'the only file');
    const r = (rig = await start(t.a, t.b, t.base, t.logs));
    await until('only.txt on hp', () => read(join(r.b, 'only.txt')) === 'the only file');
    renameSync(join(r.a, 'only.txt'), join(r.base, 'only.txt'));
    await until('emptied on hp too', () => names(r.b).length === 0);
    renameSync(join(r.base, 'only.txt'), join(r.a, 'only.txt'));
    await until('back on hp', () => read(join(r.b, 'only.txt')) === 'the only file');
    writeFileSync(join(r.b, 'later.txt'), 'made after');
    await until('a new file still crosses', () => read(join(r.a, 'later.txt')) === 'made after');
    expect(captured.lines.some((l) => l.includes('not mounted'))).toBe(false);
  });

  it("stale temps are swept where the applier works; a user's look-alike file is synced", async () => {
    const t = roots('holes-temps');
    mkdirSync(join(t.a, 'd'));
    const r = (rig = await start(t.a, t.b, t.base, t.logs));
    await until('d on hp', () => existsSync(join(r.b, 'd')));
    const m = await readMarker(r.b);
    if (!m.ok) throw new Error(m.why);
    const stale = tempName(m.marker.rootId);
    writeFileSync(join(r.b, 'd', stale), 'left by a writer killed mid-copy');
    writeFileSync(join(r.a, 'd', '.ha-sync-0123456789abcdef.tmp'), "the user's own file");
    writeFileSync(join(r.a, 'd', 'new.txt'), 'new');
    await until('new.txt on hp', () => read(join(r.b, 'd', 'new.txt')) === 'new');
    await until(
      'the look-alike on hp',
      () => read(join(r.b, 'd', '.ha-sync-0123456789abcdef.tmp')) === "the user's own file",
    );
    await until('the stale temp removed', () => !existsSync(join(r.b, 'd', stale)));
    expect(names(join(r.b, 'd'))).toEqual(['.ha-sync-0123456789abcdef.tmp', 'new.txt']);
  });
});

/** Whether this process may mount (root, with a kernel that lets it): the bare-mount tests need it. */
function canMount(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = join(process.env.TMPDIR ?? '/tmp', `hasync-mountprobe-${suffix}`);
  mkdirSync(probe, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return null;
  } catch {
    return 'mount(8) is not permitted here';
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const mountProblem = canMount();

describe.skipIf(mountProblem !== null).each(Object.keys(RIGS) as (keyof typeof RIGS)[])(
  'a share unmounted under live sync (%s)',
  (name) => {
    const start = RIGS[name];

    // hp's root is a mount point holding a stale file; the share (a tmpfs, bind-mounted there so
    // it can be mounted again) covers it. `umount -l` uncovers the bare mount point while live sync
    // runs: nothing may be written into it, and once the share is back, what changed meanwhile
    // arrives.
    it('writes nothing into the bare mount point, and catches up when the share is back', async () => {
      const t = roots('holes-mount');
      const share = join(t.base, 'share');
      mkdirSync(share);
      writeFileSync(join(t.b, 'stale.txt'), 'written while nothing was mounted');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', share]);
      const mounted = { share: true, b: false };
      cleanups.push(() => {
        if (mounted.b) execFileSync('umount', ['-l', t.b]);
        if (mounted.share) execFileSync('umount', ['-l', share]);
      });
      execFileSync('mount', ['--bind', share, t.b]);
      mounted.b = true;
      writeFileSync(join(t.a, 'doc.txt'), 'v1');
      const r = (rig = await start(t.a, t.b, t.base, t.logs));
      await until('doc on the share', () => read(join(r.b, 'doc.txt')) === 'v1');
      expect((await readMarker(share)).ok).toBe(true);

      execFileSync('umount', ['-l', t.b]);
      mounted.b = false;
      writeFileSync(join(r.a, 'new.txt'), 'made while hp was unmounted');
      writeFileSync(join(r.a, 'doc.txt'), 'v2, edited while hp was unmounted');
      await until(
        'the applier saw it',
        () => captured.lines.some((l) => l.includes('counts as not mounted')),
        20_000,
      );
      await new Promise((res) => setTimeout(res, 1500));
      expect(readdirSync(t.b)).toEqual(['stale.txt']);
      // A reconcile run (the CronJob) refuses the bare mount point too: exit 1, nothing written.
      const cron = await runReconcile(
        config(
          { src: r.a, dest: t.b, logDir: t.logs },
          {
            pair: PAIR,
            sides: { a: 'dell', b: 'hp' },
            deleteMissing: true,
            lock: { ...config({ src: '', dest: '', logDir: '' }).lock, lockWaitSeconds: 60 },
          },
        ),
        { log, stdout: sink(), stderr: sink() },
      );
      expect(cron.exitCode).toBe(1);
      expect(cron.errorMessage).toMatch(/has no \.ha-sync\/root\.json/);
      expect(readdirSync(t.b)).toEqual(['stale.txt']);
      expect(existsSync(join(r.a, 'stale.txt'))).toBe(false);

      execFileSync('mount', ['--bind', share, t.b]);
      mounted.b = true;
      await until(
        'new.txt on the share',
        () => read(join(r.b, 'new.txt')) === 'made while hp was unmounted',
        40_000,
      );
      await until(
        'the edit on the share',
        () => read(join(r.b, 'doc.txt')) === 'v2, edited while hp was unmounted',
        40_000,
      );
      await rig.stop();
      rig = undefined;
      // The bare mount point below was never written.
      execFileSync('umount', ['-l', t.b]);
      mounted.b = false;
      expect(readdirSync(t.b)).toEqual(['stale.txt']);
      expect(readdirSync(share).filter((n) => TEMP_RE.test(n))).toEqual([]);
      expect(statSync(join(t.b, 'stale.txt')).size).toBe(33);
    });
  },
);
