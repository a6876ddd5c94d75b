// The watcher the way it runs: polling a network mount (netfs: sshfs with a 1 ms round trip, no
// change notifications for server-side writes, 1 s attribute cache) and publishing to the real
// NATS JetStream. Changes are written on the server side and must come out of the stream; a cut
// server must produce no delete events, only one clear log line, and events resume after heal.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBus, type ChangeEvent, type NatsBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { markRootSync } from './applier.helpers.js';

// netfs as CI lays it out: `../shared/tools/netfs` beside the project root (never an absolute path).
const NETFS = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/tools/netfs');
// A checkout without shared/ beside it (a fresh clone elsewhere) has no netfs: skipped, said once.
const haveNetfs = existsSync(NETFS);
if (!haveNetfs)
  console.warn(`watcher.netfs test: skipped: ${NETFS} is missing (CI lays shared/ beside the clone)`);
const suffix = randomBytes(4).toString('hex');
const base = mkdtempSync(join(tmpdir(), 'hasync-netfs-'));
const server = join(base, 'server');
const mount = join(base, 'mount');
const seen: ChangeEvent[] = [];
const logs: string[] = [];
let bus: NatsBus;
let tapBus: NatsBus;
const stop = new AbortController();
let running: Promise<void> | undefined;
let tapping: Promise<void> | undefined;
let watcher: RootWatcher;
/** The mount is cut (set by the cut test until it heals it). */
let cut = false;

// netfs starts a Python proxy and gives it half a second before sshfs connects. A pyenv shim
// first in PATH alone takes 0.45 s to start python (0.035 s for /usr/bin/python3), so under load
// the mount failed ("Connection reset by peer"): the system's own tools come first.
const NETFS_ENV = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };

function netfs(...args: string[]): void {
  execFileSync(NETFS, args, { stdio: 'pipe', timeout: 60_000, env: NETFS_ENV });
}

async function waitFor<T>(what: string, f: () => T | undefined | false, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > until)
      throw new Error(
        `timed out waiting for ${what}; seen: ${JSON.stringify(seen.map((e) => `${e.type} ${e.path}`))}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

const find = (type: string, path: string): ChangeEvent | undefined =>
  seen.find((e) => e.type === type && e.path === path);

beforeAll(async () => {
  if (!haveNetfs) return;
  mkdirSync(server);
  markRootSync(server, 'media', 'dell');
  mkdirSync(join(server, 'docs'));
  for (let i = 0; i < 20; i++) writeFileSync(join(server, 'docs', `f${i}.txt`), `file ${i}`);
  writeFileSync(join(server, 'keep.txt'), 'keep');
  netfs('up', server, mount, '1');

  const opts = { stream: `HASYNC_TEST_WATCH_${suffix}`, subjectPrefix: `hasyncw${suffix}` };
  bus = await openBus({ kind: 'nats', ...opts });
  tapBus = await openBus({ kind: 'nats', ...opts });
  await bus.ready();
  await tapBus.ready();
  const tapStarted = Date.now();
  tapping = tapBus.watch(
    { pair: 'media', sinceMs: tapStarted },
    (d) => d.event && seen.push(d.event),
    stop.signal,
  );

  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  watcher = new RootWatcher(
    { pair: 'media', side: 'dell', root: mount },
    { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs: 300, statTimeoutMs: 2000, sweepRate: 2000 },
    { bus, clock: systemClock, logger: createLogger({ destination: sink }) },
  );
  await watcher.start(stop.signal);
  running = watcher.run(stop.signal);
}, 90_000);

afterAll(async () => {
  stop.abort();
  await running?.catch(() => undefined);
  await tapping?.catch(() => undefined);
  // Heal only a mount left cut (a failed test): `heal` on a healed mount starts a second proxy,
  // and `down` stops only the one it recorded last, so the first one was left running.
  if (cut) {
    try {
      netfs('heal', mount);
    } catch {
      /* already healed */
    }
  }
  if (haveNetfs) netfs('down', mount);
  await bus?.deleteStream().catch(() => undefined);
  await bus?.close();
  await tapBus?.close();
  rmSync(base, { recursive: true, force: true });
}, 90_000);

describe.skipIf(!haveNetfs)('watcher over a network mount, publishing to JetStream', () => {
  it('publishes nothing for the files that were there at start', async () => {
    writeFileSync(join(server, 'marker-start.txt'), 'm');
    await waitFor('the marker', () => find('upsert', 'marker-start.txt'));
    expect(seen.filter((e) => e.path.startsWith('docs/') || e.path === 'keep.txt')).toEqual([]);
  });

  it('sees a server-side create, in-place modify, mkdir, rename and delete', async () => {
    writeFileSync(join(server, 'docs', 'new.txt'), 'hello');
    const created = await waitFor('create', () => find('upsert', 'docs/new.txt'));
    expect(created).toMatchObject({ v: 1, pair: 'media', side: 'dell', kind: 'file', size: 5 });

    appendFileSync(join(server, 'docs', 'f3.txt'), ' and more');
    const modified = await waitFor('modify', () => find('upsert', 'docs/f3.txt'));
    expect(modified.size).toBe('file 3 and more'.length);
    expect(modified.prev).toMatchObject({ size: 'file 3'.length });

    mkdirSync(join(server, 'sub'));
    writeFileSync(join(server, 'sub', 'inner.txt'), 'x');
    await waitFor('mkdir', () => find('upsert', 'sub'));
    await waitFor('file in new dir', () => find('upsert', 'sub/inner.txt'));
    expect(find('upsert', 'sub')!.kind).toBe('dir');

    renameSync(join(server, 'docs', 'f1.txt'), join(server, 'docs', 'f1-renamed.txt'));
    await waitFor('rename: delete of the old name', () => find('delete', 'docs/f1.txt'));
    await waitFor('rename: upsert of the new name', () => find('upsert', 'docs/f1-renamed.txt'));

    unlinkSync(join(server, 'docs', 'f2.txt'));
    const deleted = await waitFor('delete', () => find('delete', 'docs/f2.txt'));
    expect(deleted).toMatchObject({ kind: 'file', size: 'file 2'.length });
  });

  it('a cut server yields no delete events and one clear log line; events resume after heal', async () => {
    const before = seen.length;
    cut = true;
    netfs('cut', mount);
    // Server-side changes during the cut, including a delete.
    unlinkSync(join(server, 'docs', 'f5.txt'));
    await waitFor(
      'the unmounted log line',
      () => logs.some((l) => l.includes('root looks unmounted')),
      60_000,
    );
    // Keep it cut a little longer, through several polls.
    await new Promise((r) => setTimeout(r, 2000));
    expect(seen.slice(before).filter((e) => e.type === 'delete')).toEqual([]);
    expect(logs.filter((l) => l.includes('root looks unmounted'))).toHaveLength(1);
    const line = JSON.parse(logs.find((l) => l.includes('root looks unmounted'))!);
    expect(line).toMatchObject({ pair: 'media', side: 'dell', root: mount });
    expect(typeof line.reason).toBe('string');

    netfs('heal', mount);
    cut = false;
    await waitFor('the back log line', () => logs.some((l) => l.includes('root is back')), 60_000);
    writeFileSync(join(server, 'after-heal.txt'), 'ok');
    await waitFor('a create after heal', () => find('upsert', 'after-heal.txt'), 60_000);
    // The delete made on the server during the cut is real, and is published after heal.
    await waitFor('the delete made during the cut', () => find('delete', 'docs/f5.txt'), 60_000);
    expect(
      seen
        .filter((e) => e.type === 'delete')
        .map((e) => e.path)
        .sort(),
    ).toEqual(['docs/f1.txt', 'docs/f2.txt', 'docs/f5.txt']);
  });

  it('a hung server (calls that never answer) times out instead of stalling, and recovers', async () => {
    // SIGSTOP the netfs proxy: the connection stays open and every call on the mount hangs.
    const proxyPid = Number(readFileSync(`${mount}.netfs/proxy.pid`, 'utf8').trim());
    const before = seen.length;
    const unmountedBefore = logs.filter((l) => l.includes('root looks unmounted')).length;
    process.kill(proxyPid, 'SIGSTOP');
    try {
      unlinkSync(join(server, 'docs', 'f6.txt'));
      await waitFor(
        'the unmounted log line',
        () => logs.filter((l) => l.includes('root looks unmounted')).length > unmountedBefore,
        60_000,
      );
      const line = JSON.parse(logs.filter((l) => l.includes('root looks unmounted')).at(-1)!);
      expect(line.reason).toMatch(/ETIMEDOUT|EIO|ENOTCONN|probe/);
      expect(seen.slice(before).filter((e) => e.type === 'delete')).toEqual([]);
    } finally {
      process.kill(proxyPid, 'SIGCONT');
    }
    writeFileSync(join(server, 'after-hang.txt'), 'ok');
    await waitFor('a create after the hang', () => find('upsert', 'after-hang.txt'), 60_000);
    await waitFor('the delete made during the hang', () => find('delete', 'docs/f6.txt'), 60_000);
  });
});
