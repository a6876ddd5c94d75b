// The built CLI (`node dist/bin/ha-sync.js`, run `npm run build` first) with the lock: through a
// kubeconfig to the fake API server, and with the lock file. Audit: the embedded SQLite store in
// --log-dir (no --db-dsn), read back to check the iteration row.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  ftruncateSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { openSqlite } from '../src/audit/sqlite-driver.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './fake-kube/index.js';
import { tempDir, until } from './fake-kube/support.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/bin/ha-sync.js');
const NS = 'ha-it';

interface Run {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, POD_NAME: 'it-pod', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => text, exit };
}

let kube: FakeKube;
let tmp: { dir: string; cleanup: () => void };
let kubeconfig: string;
let n = 0;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  kube = await startFakeKube();
  tmp = tempDir('lock-it');
  kubeconfig = kube.writeKubeconfig(join(tmp.dir, 'kubeconfig'));
});
afterAll(async () => {
  await kube.stop();
  tmp.cleanup();
});

/** A fresh src / dest / log dir; src gets `files` (name -> size in bytes, sparse when large). */
function trees(files: Record<string, number>): { src: string; dest: string; logDir: string; pair: string } {
  n += 1;
  const base = join(tmp.dir, `case${n}`);
  const src = join(base, 'src');
  const dest = join(base, 'dest');
  const logDir = join(base, 'log');
  for (const d of [src, dest, logDir]) mkdirSync(d, { recursive: true });
  for (const [name, size] of Object.entries(files)) {
    if (size < 1 << 20) {
      writeFileSync(join(src, name), Buffer.alloc(size, name));
    } else {
      const fd = openSync(join(src, name), 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
    }
  }
  return { src, dest, logDir, pair: `it${n}` };
}

const args = (t: ReturnType<typeof trees>, extra: string[]): string[] => [
  'reconcile',
  '--src',
  t.src,
  '--dest',
  t.dest,
  '--pair',
  t.pair,
  '--log-dir',
  t.logDir,
  ...extra,
];
const leaseArgs = ['--lock', 'lease', '--kubeconfig', '', '--namespace', NS];
const withKube = (extra: string[] = []): string[] => {
  const a = [...leaseArgs, ...extra];
  a[3] = kubeconfig;
  return a;
};

/**
 * How the last run was recorded: its sync_iterations row in the SQLite store once flushed, else
 * the end record of the opslog left for the next run's flush.
 */
function lastOutcome(logDir: string): { status: string; error: string | null } | undefined {
  const file = join(logDir, 'ha-sync.sqlite');
  if (existsSync(file)) {
    const db = openSqlite(file, { busyTimeoutMs: 5000 });
    try {
      const row = db
        .prepare('SELECT status, error_message FROM sync_iterations ORDER BY id DESC LIMIT 1')
        .get() as { status: string; error_message: string | null } | undefined;
      if (row && row.status !== 'running') return { status: row.status, error: row.error_message };
    } finally {
      db.close();
    }
  }
  const opslog = readdirSync(logDir)
    .filter((f) => f.startsWith('opslog-'))
    .sort()
    .at(-1);
  if (!opslog) return undefined;
  const end = readFileSync(join(logDir, opslog), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"end"'))
    .at(-1);
  if (!end) return undefined;
  const e = JSON.parse(end) as { status: string; errorMessage: string | null };
  return { status: e.status, error: e.errorMessage };
}

/** Dest holds no temp file, and every file it holds is whole. */
/** Names in a synced tree, without ha-sync's own folder (its marker and kept versions). */
function synced(dir: string): string[] {
  return readdirSync(dir).filter((n) => n !== '.ha-sync');
}

function expectNoPartialFiles(t: ReturnType<typeof trees>, sizes: Record<string, number>): void {
  for (const name of synced(t.dest)) {
    expect(name).not.toMatch(/^\.ha-sync-.*\.tmp$/);
    expect(statSync(join(t.dest, name)).size).toBe(sizes[name]);
  }
}

describe('reconcile with the Lease (fake API through --kubeconfig)', () => {
  it('two runs of the same pair together: exactly one works, the other exits 0 naming the holder', async () => {
    const t = trees({ 'a.txt': 10, 'b.txt': 20 });
    // Hold every DELETE (the winner's release) until both runs have decided.
    const gate = kube.holdDeletes();
    const a = cli(args(t, withKube()));
    const b = cli(args(t, withKube()));
    const first = await Promise.race([a.exit.then(() => a), b.exit.then(() => b)]);
    const other = first === a ? b : a;
    expect(await first.exit).toBe(0);
    expect(first.out()).toMatch(/is held by it-pod\/\S+ until /);
    expect(first.out()).not.toMatch(/reconcile started/);
    gate();
    expect(await other.exit).toBe(0);
    expect(other.out()).toMatch(/reconcile finished/);
    expect(synced(t.dest).sort()).toEqual(['a.txt', 'b.txt']);
    expect(kube.get(NS, `ha-sync-${t.pair}`)).toBeUndefined();
    const holder = /held by (it-pod\/\S+) until/.exec(first.out())![1]!;
    expect(other.out()).toContain(holder.split('/')[1]!);
  });

  it('SIGTERM mid-copy: lease gone, exit 1, no partial file, iteration failed "terminated"', async () => {
    const sizes = { 'big1.bin': 96 << 20, 'big2.bin': 96 << 20, 'big3.bin': 96 << 20, 'big4.bin': 96 << 20 };
    const t = trees(sizes);
    const run = cli(args(t, withKube(['--workers', '1'])));
    await until(() => synced(t.dest).length > 0 || run.child.exitCode !== null, 'a copy to start', 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(1);
    expect(run.out()).toMatch(/terminated/);
    expect(kube.get(NS, `ha-sync-${t.pair}`)).toBeUndefined();
    expectNoPartialFiles(t, sizes);
    expect(synced(t.dest).length).toBeLessThan(4);
    const outcome = lastOutcome(t.logDir);
    expect(outcome?.status).toBe('failed');
    expect(outcome?.error).toMatch(/terminated/);
  });

  it('a lease lost mid-run (another holder appears) stops the run: exit 1, "lease lost", no partial file', async () => {
    // ttl 3 s: the holder reads the Lease every second. The copy (1.5 GB, one worker) outlasts that.
    const sizes: Record<string, number> = {};
    for (let i = 1; i <= 12; i++) sizes[`big${i}.bin`] = 128 << 20;
    const t = trees(sizes);
    const run = cli(args(t, withKube(['--workers', '1', '--lock-ttl', '3'])));
    await until(() => synced(t.dest).length > 0 || run.child.exitCode !== null, 'a copy to start', 30_000);
    const micro = new Date().toISOString().replace('Z', '000Z');
    kube.seed(NS, `ha-sync-${t.pair}`, {
      holderIdentity: 'thief/1',
      leaseDurationSeconds: 60,
      renewTime: micro,
      acquireTime: micro,
    });
    expect(await run.exit).toBe(1);
    expect(run.out()).toMatch(/lock lost: now held by thief\/1/);
    expect(kube.get(NS, `ha-sync-${t.pair}`)?.spec.holderIdentity).toBe('thief/1'); // not ours: kept
    expectNoPartialFiles(t, sizes);
    expect(synced(t.dest).length).toBeLessThan(12);
    expect(lastOutcome(t.logDir)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/lease lost/) as unknown,
    });
  });

  it('the API unreachable: one clear error, exit 1, nothing touched', async () => {
    const t = trees({ 'a.txt': 10 });
    const down = await startFakeKube();
    const cfg = down.writeKubeconfig(join(tmp.dir, `down${n}.kubeconfig`));
    await down.stop();
    const a = [...leaseArgs];
    a[3] = cfg;
    const run = cli(args(t, a));
    expect(await run.exit).toBe(1);
    expect(run.out()).toMatch(/Kubernetes API unreachable at http:\/\/127\.0\.0\.1:\d+/);
    expect(synced(t.dest)).toEqual([]);
  });

  it('a lease held by a live holder elsewhere: exit 0 naming it, nothing touched', async () => {
    const t = trees({ 'a.txt': 10 });
    const micro = new Date().toISOString().replace('Z', '000Z');
    kube.seed(NS, `ha-sync-${t.pair}`, {
      holderIdentity: 'applier-0/live',
      leaseDurationSeconds: 600,
      renewTime: micro,
      acquireTime: micro,
    });
    const run = cli(args(t, withKube()));
    expect(await run.exit).toBe(0);
    expect(run.out()).toMatch(/held by applier-0\/live until/);
    expect(synced(t.dest)).toEqual([]);
  });
});

/** A process that takes the file lock through the built module and keeps it until killed. */
function fileHolder(logDir: string, pair: string): { child: ChildProcess; held: Promise<void> } {
  const script = `
    import { openLock } from ${JSON.stringify(join(ROOT, 'dist/lock/index.js'))};
    import { systemClock } from ${JSON.stringify(join(ROOT, 'dist/clock.js'))};
    import { createLogger } from ${JSON.stringify(join(ROOT, 'dist/log.js'))};
    const lock = await openLock({ lock: 'file', lockTtlSeconds: 3600, lockWaitSeconds: 0, namespace: undefined,
      kubeconfig: undefined, pair: ${JSON.stringify(pair)}, logDir: ${JSON.stringify(logDir)}, clock: systemClock,
      log: createLogger({ silent: true }), env: {} });
    await lock.acquire({ holder: 'holder-proc/1', waitSeconds: 0 });
    console.log('held');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return { child, held };
}

describe('reconcile with the lock file', () => {
  it('a live holder: exit 0 naming it; after kill -9 the next run proceeds at once', async () => {
    const t = trees({ 'a.txt': 10 });
    const h = fileHolder(t.logDir, t.pair);
    await h.held;
    try {
      const blocked = cli(args(t, ['--lock', 'file']));
      expect(await blocked.exit).toBe(0);
      expect(blocked.out()).toMatch(/held by holder-proc\/1 until/);
      expect(synced(t.dest)).toEqual([]);
    } finally {
      h.child.kill('SIGKILL');
    }
    await new Promise((r) => h.child.once('close', r));
    // The lock file is still there, renewed moments ago with a one-hour ttl: the holder is dead.
    expect(existsSync(join(t.logDir, `ha-sync-${t.pair}.lock`))).toBe(true);
    const run = cli(args(t, ['--lock', 'file']));
    expect(await run.exit).toBe(0);
    expect(run.out()).toMatch(/reconcile finished/);
    expect(synced(t.dest)).toEqual(['a.txt']);
    expect(existsSync(join(t.logDir, `ha-sync-${t.pair}.lock`))).toBe(false);
  });

  it('auto without a cluster or kubeconfig uses the lock file', async () => {
    const t = trees({ 'a.txt': 10 });
    const h = fileHolder(t.logDir, t.pair);
    await h.held;
    try {
      const blocked = cli(args(t, []));
      expect(await blocked.exit).toBe(0);
      expect(blocked.out()).toMatch(/lock file .*held by holder-proc\/1/);
    } finally {
      h.child.kill('SIGKILL');
    }
  });

  it('SIGTERM mid-copy: lock file gone, exit 1, no partial file', async () => {
    const sizes = { 'big1.bin': 96 << 20, 'big2.bin': 96 << 20, 'big3.bin': 96 << 20, 'big4.bin': 96 << 20 };
    const t = trees(sizes);
    const run = cli(args(t, ['--lock', 'file', '--workers', '1']));
    await until(() => synced(t.dest).length > 0 || run.child.exitCode !== null, 'a copy to start', 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(1);
    expect(existsSync(join(t.logDir, `ha-sync-${t.pair}.lock`))).toBe(false);
    expectNoPartialFiles(t, sizes);
    expect(lastOutcome(t.logDir)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/terminated/) as unknown,
    });
  });

  it('an unusable log dir for the lock: one clear error, exit 1, nothing touched', async () => {
    const t = trees({ 'a.txt': 10 });
    // A directory where the lock file should be: it can be neither read nor replaced.
    mkdirSync(join(t.logDir, `ha-sync-${t.pair}.lock`));
    const run = cli(args(t, ['--lock', 'file']));
    expect(await run.exit).toBe(1);
    expect(run.out()).toMatch(/lock file .*EISDIR/);
    expect(synced(t.dest)).toEqual([]);
  });
});
