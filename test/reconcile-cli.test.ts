// The reconcile command as a process: `node dist/bin/ha-sync.js` (run `npm run build` first).
// Usage errors and exit codes, the seed's CronJob args, and kill -9 during a large copy.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseReconcileArgs } from '../src/cli/reconcile.js';
import { loadFastscan } from '../src/fsops/index.js';
import { anyTemp, put, snapshot, tempRoot } from './reconcile.helpers.js';

const BIN = join(import.meta.dirname, '..', 'dist', 'bin', 'ha-sync.js');
const env = (): NodeJS.ProcessEnv => {
  const e = { ...process.env };
  delete e.KUBECONFIG;
  delete e.HA_SYNC_DB_DSN;
  return e;
};
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
function dirs(): ReturnType<typeof tempRoot> {
  const d = tempRoot('ha-cli-');
  roots.push(d.root);
  return d;
}
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: env() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('parseReconcileArgs (pure)', () => {
  it("accepts the seed's CronJob args verbatim, with the seed's defaults", () => {
    const c = parseReconcileArgs(
      [
        '--src=/mnt/dell/media',
        '--dest=/mnt/hp/media',
        '--pair=media',
        '--direction=dell-to-hp',
        '--db-dsn=user:pw@tcp(mysql.infrastructure:3306)/general_db',
        '--log-dir=/var/log/ha-sync',
      ],
      {},
    );
    expect(c).toMatchObject({
      src: '/mnt/dell/media',
      dest: '/mnt/hp/media',
      pair: 'media',
      direction: 'dell-to-hp',
      audit: {
        dbDsn: 'user:pw@tcp(mysql.infrastructure:3306)/general_db',
        logDir: '/var/log/ha-sync',
        logRetainDays: 10,
      },
      lock: { lockTtlSeconds: 3600 },
      mtimeThresholdSeconds: 2,
      deleteMissing: false,
      workers: 4,
      dryRun: false,
      verbose: false,
      maxDeletePercent: 50,
      force: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('reads HA_SYNC_DB_DSN and Go-style booleans', () => {
    const c = parseReconcileArgs(
      [
        '--src',
        '/a',
        '--dest',
        '/b',
        '--pair',
        'p',
        '--delete-missing=true',
        '--dry-run',
        '--max-delete',
        '10',
      ],
      { HA_SYNC_DB_DSN: 'mysql://u@h/db' },
    );
    expect(c).toMatchObject({
      deleteMissing: true,
      dryRun: true,
      maxDeletePercent: 10,
      audit: { dbDsn: 'mysql://u@h/db' },
    });
  });
});

describe('usage errors: one line naming the flag, exit 2, nothing touched', () => {
  // Paths are known at collection time; the directories exist only while these tests run.
  const root = join(tmpdir(), `ha-cli-usage-${randomBytes(4).toString('hex')}`);
  const d = { root, src: join(root, 'src'), dest: join(root, 'dest'), logDir: join(root, 'logs') };
  beforeAll(() => {
    fs.mkdirSync(d.dest, { recursive: true });
    put(d.src, 'a', 'a');
    fs.writeFileSync(join(d.root, 'afile'), 'x');
    fs.mkdirSync(join(d.src, 'inner'));
  });
  afterAll(() => fs.rmSync(d.root, { recursive: true, force: true }));
  const ok = [`--src=${d.src}`, `--dest=${d.dest}`, '--pair=t', `--log-dir=${d.logDir}`, '--lock=file'];
  const without = (flag: string): string[] => ok.filter((a) => !a.startsWith(`--${flag}=`));
  it.each([
    ['missing --src', without('src'), /--src is required/],
    ['missing --dest', without('dest'), /--dest is required/],
    ['missing --pair', without('pair'), /--pair is required/],
    ['--workers 0', [...ok, '--workers', '0'], /--workers: expected an integer from 1 to 256, got '0'/],
    ['--mtime-threshold abc', [...ok, '--mtime-threshold', 'abc'], /--mtime-threshold: expected a number/],
    ['--max-delete 150', [...ok, '--max-delete=150'], /--max-delete: expected a number from 0 to 100/],
    ['unknown flag', [...ok, '--frobnicate'], /unknown flag --frobnicate/],
    ['bad pair name', [...without('pair'), '--pair=Media_1'], /--pair: expected lowercase/],
    [
      'src does not exist',
      [...without('src'), `--src=${d.root}/nope`],
      /--src: source directory .* does not exist/,
    ],
    ['dest is a file', [...without('dest'), `--dest=${d.root}/afile`], /--dest: .* is not a directory/],
    ['src equal to dest', [...without('dest'), `--dest=${d.src}`], /--src and --dest are the same directory/],
    ['dest inside src', [...without('dest'), `--dest=${d.src}/inner`], /--dest .* is inside --src/],
    ['bad boolean', [...ok, '--delete-missing=maybe'], /--delete-missing: expected true or false/],
    [
      'log dir inside dest',
      [...without('log-dir'), `--log-dir=${d.dest}/.ha-sync`],
      /--log-dir .* is inside --dest .* would be synced/,
    ],
    ['malformed DSN', [...ok, '--db-dsn=nonsense'], /--db-dsn: /],
  ])('%s', (_name, args, re) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
    expect(fs.readdirSync(d.dest)).toEqual([]);
  });
});

describe('the command', () => {
  it('--help documents every flag and the exit codes', () => {
    const r = cli(['reconcile', '--help']);
    expect(r.code).toBe(0);
    for (const f of [
      '--src',
      '--dest',
      '--pair',
      '--direction',
      '--db-dsn',
      '--lock-ttl',
      '--log-dir',
      '--log-retain-days',
      '--mtime-threshold',
      '--delete-missing',
      '--workers',
      '--dry-run',
      '--verbose',
      '--max-delete',
      '--force',
    ]) {
      expect(r.stdout).toContain(f);
    }
    expect(r.stdout).toMatch(/Exit codes: 0 success/);
    expect(r.stdout).toMatch(/3 partial failure/);
  });

  it('`ha-sync reconcile` and bare `ha-sync` both run; exit codes 0, 3 and 1', () => {
    const d = dirs();
    put(d.src, 'a', 'a');
    const base = [`--src=${d.src}`, `--dest=${d.dest}`, '--pair=t', `--log-dir=${d.logDir}`, '--lock=file'];
    // A one-way run marks only its dest; the source is marked by hand here (in a pair, the
    // opposite direction's run or a two-way run does it).
    expect(cli(['init', '--root', d.src, '--pair', 't', '--side', 'src']).code).toBe(0);
    expect(cli(['reconcile', ...base]).code).toBe(0);
    expect(snapshot(d.dest)).toEqual(['a file:a']);
    put(d.src, 'b', 'b');
    const bare = cli(base);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/"msg":"reconcile finished"/);
    // A file that cannot be replaced (immutable, as root) fails that file only: exit 3.
    put(d.src, 'c', 'new contents', 1_800_000_000);
    put(d.dest, 'c', 'old', 1_700_000_000);
    const immutable = spawnSync('chattr', ['+i', join(d.dest, 'c')]).status === 0;
    try {
      if (immutable) expect(cli(base).code).toBe(3);
    } finally {
      if (immutable) spawnSync('chattr', ['-i', join(d.dest, 'c')]);
    }
    fs.rmSync(join(d.dest, 'c'));
    put(d.dest, 'c/x', 'dir');
    // Emptied for real (its marker stays): the empty-source guard speaks.
    for (const n of fs.readdirSync(d.src))
      if (n !== '.ha-sync') fs.rmSync(join(d.src, n), { recursive: true });
    const guarded = cli([...base, '--delete-missing', '--max-delete=100']);
    expect(guarded.code).toBe(1);
    expect(guarded.stdout).toMatch(/source is empty/);
    // A folder without its marker (a bare mount point) is refused before anything is read.
    fs.rmSync(d.src, { recursive: true });
    fs.mkdirSync(d.src);
    const bare2 = cli([...base, '--delete-missing', '--max-delete=100']);
    expect(bare2.code).toBe(1);
    expect(bare2.stdout).toMatch(
      /has no \.ha-sync\/root\.json, but it held one \(root id [0-9a-f]{16}\) when pair 't' synced before: it looks like a bare mount point/,
    );
    expect(snapshot(d.dest)).toEqual(['a file:a', 'b file:b', 'c dir', 'c/x file:dir']);
    expect(snapshot(d.dest)).toHaveLength(4);
  });

  it.each([
    ['the fastscan addon (default)', {}, 'fastscan'],
    ['worker threads (HA_SYNC_FASTSCAN=0)', { HA_SYNC_FASTSCAN: '0' }, 'worker'],
    ['one thread (HA_SYNC_SCAN_WORKER=0)', { HA_SYNC_SCAN_WORKER: '0' }, 'direct'],
  ])('lists local trees through %s, with the same result', (_name, extra, lister) => {
    const d = dirs();
    put(d.src, 'same/a', 'same');
    put(d.dest, 'same/a', 'same');
    fs.utimesSync(
      join(d.dest, 'same/a'),
      fs.statSync(join(d.src, 'same/a')).atime,
      fs.statSync(join(d.src, 'same/a')).mtime,
    );
    put(d.src, 'd1/extra', 'e');
    put(d.src, 'gone/deep/x', 'x');
    const args = [
      BIN,
      `--src=${d.src}`,
      `--dest=${d.dest}`,
      '--pair=t',
      `--log-dir=${d.logDir}`,
      '--lock=file',
    ];
    // A first run makes both sides equal: the baseline then knows what src deletes next.
    expect(spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...env(), ...extra } }).status).toBe(
      0,
    );
    fs.rmSync(join(d.src, 'd1/extra'));
    fs.rmSync(join(d.src, 'gone'), { recursive: true });
    for (let i = 0; i < 50; i++) put(d.src, `d${i % 5}/f${i}`, String(i));
    const r = spawnSync(process.execPath, [...args, '--delete-missing', '--max-delete=100'], {
      encoding: 'utf8',
      env: { ...env(), ...extra },
    });
    expect(r.status).toBe(0);
    expect(snapshot(d.dest)).toEqual(snapshot(d.src));
    const started = r.stdout.split('\n').find((l) => l.includes('reconcile started'));
    if (lister !== 'fastscan' || loadFastscan({})) {
      expect(JSON.parse(started!)).toMatchObject({ srcLister: lister, destLister: lister });
    }
    const finished = JSON.parse(r.stdout.split('\n').find((l) => l.includes('reconcile finished'))!);
    expect(finished).toMatchObject({ created: 54, updated: 0, deleted: 4, failed: 0 });
  });

  it('kill -9 during a large copy leaves no partial file under a real name; the next run cleans up and completes', async () => {
    const d = dirs();
    const chunk = Buffer.alloc(8 << 20, 7);
    const fd = fs.openSync(join(d.src, 'big.bin'), 'w');
    for (let i = 0; i < 64; i++) {
      chunk[0] = i;
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    const size = fs.statSync(join(d.src, 'big.bin')).size;
    const args = [
      BIN,
      `--src=${d.src}`,
      `--dest=${d.dest}`,
      '--pair=t',
      `--log-dir=${d.logDir}`,
      '--lock=file',
    ];
    const child = spawn(process.execPath, args, { env: env(), stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    let sawTemp = false;
    for (let i = 0; i < 200_000 && child.exitCode === null; i++) {
      if (fs.readdirSync(d.dest).some(anyTemp)) {
        child.kill('SIGKILL');
        sawTemp = true;
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    await exited;
    expect(sawTemp).toBe(true);
    const big = join(d.dest, 'big.bin');
    if (fs.existsSync(big)) expect(fs.statSync(big).size).toBe(size); // renamed complete, never partial
    expect(fs.readdirSync(d.dest).filter(anyTemp).length).toBeLessThanOrEqual(1);
    // The killed run's lock file names a dead process: the next run takes it over.
    const again = cli(args.slice(1));
    expect(again.code).toBe(0);
    expect(fs.readdirSync(d.dest).filter((n) => n !== '.ha-sync')).toEqual(['big.bin']);
    expect(fs.statSync(big).size).toBe(size);
    expect(Math.abs(fs.statSync(big).mtimeMs - fs.statSync(join(d.src, 'big.bin')).mtimeMs)).toBeLessThan(1);
  });

  it('SIGTERM mid-run: in-flight copy finishes or is discarded, nothing new starts, exit 1; the next run completes', async () => {
    const d = dirs();
    bigFile(join(d.src, 'a-big.bin'), 48);
    for (let i = 0; i < 20; i++) put(d.src, `z${i}`, String(i));
    // One worker: the big file (first in name order) is in flight while the small ones wait, so
    // "nothing new starts after SIGTERM" is observable rather than a race with three other workers.
    const args = [
      BIN,
      `--src=${d.src}`,
      `--dest=${d.dest}`,
      '--pair=t',
      `--log-dir=${d.logDir}`,
      '--lock=file',
      '--workers=1',
    ];
    const child = spawn(process.execPath, args, { env: env(), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 200_000 && child.exitCode === null; i++) {
      if (fs.readdirSync(d.dest).some(anyTemp)) {
        child.kill('SIGTERM');
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    const code = await exited;
    if (code !== 0) {
      // Stopped in time (the usual case): failed, terminated, and no small file copied after it.
      expect(code).toBe(1);
      expect(out).toMatch(/terminated/);
      expect(fs.readdirSync(d.dest).filter((n) => n.startsWith('z')).length).toBeLessThan(20);
    }
    const big = join(d.dest, 'a-big.bin');
    if (fs.existsSync(big)) expect(fs.statSync(big).size).toBe(48 << 20);
    const again = cli(args.slice(1));
    expect(again.code).toBe(0);
    expect(snapshot(d.dest)).toEqual(snapshot(d.src));
  });
});

function bigFile(path: string, mb: number): void {
  const chunk = Buffer.alloc(1 << 20, 7);
  const fd = fs.openSync(path, 'w');
  for (let i = 0; i < mb; i++) {
    chunk[0] = i & 0xff;
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
}
