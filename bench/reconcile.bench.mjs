// Reconcile benchmark, side by side with rsync in the same run. Prints each ratio and peak RSS.
//   1. initial copy into an empty dest (100k small files + a few files of hundreds of MB) vs rsync -a
//      (target <= 1.2x), best of 2 runs each
//   2. no-op over two identical 100k-file trees vs rsync -a --dry-run (target <= 1.0x), best of 3
//      runs each, taken in turns
//   2b. two-way no-op (`reconcile --a --b` against the saved baseline) over the same trees vs one
//      rsync -a --dry-run (target <= 1.0x), after one run that records the baseline, best of 3
//   3. peak RSS of a no-op over 1M files (target <= 300 MB)
//   4. no-op over a network filesystem (netfs: sshfs, 1 ms RTT), 3k files per tree, vs rsync
//      --dry-run (target >= 3x faster)
// Env: BENCH_SCALE (default 1) scales file counts and big-file sizes; BENCH_SKIP=rss,netfs,copy,noop
// skips parts; BENCH_DIR (default /tmp/ha-sync-bench) is where trees are built (removed after).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const BASE = process.env.BENCH_DIR ?? '/tmp/ha-sync-bench';
const BIN = join(process.cwd(), 'dist', 'bin', 'ha-sync.js');
// netfs as CI lays it out: `../shared/tools/netfs` beside the project root (never an absolute path).
const NETFS = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/tools/netfs');
// netfs gives its Python proxy half a second to start; a pyenv shim first in PATH takes most of it.
const NETFS_ENV = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };
const results = [];

fs.rmSync(BASE, { recursive: true, force: true });
fs.mkdirSync(BASE, { recursive: true });

/** Builds `n` small files across nested directories (100 per directory, 10 per parent). */
function smallTree(root, n, content = 'x'.repeat(100)) {
  const mtime = new Date('2026-01-01T00:00:00Z');
  for (let i = 0; i < n; i++) {
    const dir = join(
      root,
      `a${Math.floor(i / 1000) % 100}`,
      `b${Math.floor(i / 100) % 10}`,
      `c${Math.floor(i / 100000)}`,
    );
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
    const p = join(dir, `file-${i}.txt`);
    fs.writeFileSync(p, content);
    fs.utimesSync(p, mtime, mtime);
  }
}

function bigFiles(root, count, mb) {
  fs.mkdirSync(join(root, 'big'), { recursive: true });
  const chunk = Buffer.alloc(1 << 20);
  for (let f = 0; f < count; f++) {
    const fd = fs.openSync(join(root, 'big', `big-${f}.bin`), 'w');
    for (let i = 0; i < mb; i++) {
      chunk.fill((f * 31 + i) & 0xff);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
  }
}

/**
 * The two-way form over the same trees: `reconcile --a left=SRC --b right=DEST`. Same pair as the
 * one-way runs into DEST (its root marker names that pair), its own log dir (its own baseline).
 */
function twoWay(a, b) {
  const logDir = join(BASE, 'logs-two-way');
  fs.mkdirSync(logDir, { recursive: true });
  const env = {
    ...process.env,
    UV_THREADPOOL_SIZE: process.env.BENCH_THREADPOOL ?? process.env.UV_THREADPOOL_SIZE ?? '256',
  };
  return timed(
    process.execPath,
    [
      BIN,
      'reconcile',
      `--a=left=${a}`,
      `--b=right=${b}`,
      `--pair=bench-${b.split('/').pop()}`,
      `--log-dir=${logDir}`,
      '--lock=file',
    ],
    env,
  );
}

/** Runs a command under /usr/bin/time; returns seconds and peak RSS (MB). */
function timed(cmd, args, env = process.env) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env,
  });
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [secs, kb] = last.split(' ').map(Number);
  if (r.status !== 0) {
    console.error(r.stdout.slice(-2000), r.stderr.slice(-2000));
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  }
  if (process.env.BENCH_DEBUG) console.log(r.stdout.split('\n').slice(-6).join('\n'));
  // How ha-sync listed the trees (fastscan addon, worker threads, async), from its start line.
  const started = r.stdout.split('\n').find((l) => l.includes('"srcLister"'));
  const lister = started ? JSON.parse(started).srcLister : undefined;
  return { secs, rssMb: kb / 1024, lister };
}

function hasync(src, dest, extra = [], pair = `bench-${dest.split('/').pop()}`) {
  const logDir = join(BASE, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  // The production image sets UV_THREADPOOL_SIZE=256 (Node 20 cannot set it from inside an ES
  // module; Node >= 23.11 re-executes itself with it). BENCH_THREADPOOL overrides.
  const env = {
    ...process.env,
    UV_THREADPOOL_SIZE: process.env.BENCH_THREADPOOL ?? process.env.UV_THREADPOOL_SIZE ?? '256',
  };
  return timed(
    process.execPath,
    [BIN, `--src=${src}`, `--dest=${dest}`, `--pair=${pair}`, `--log-dir=${logDir}`, '--lock=file', ...extra],
    env,
  );
}

function report(name, ours, theirs, target, better) {
  const ratio = ours.secs / theirs.secs;
  const ok = better === 'lower' ? ratio <= target : theirs.secs / ours.secs >= target;
  const how = ours.lister ? `, ${ours.lister} listing` : '';
  const line = `${name}: ha-sync ${ours.secs.toFixed(2)} s (RSS ${ours.rssMb.toFixed(0)} MB${how}) vs rsync ${theirs.secs.toFixed(2)} s (RSS ${theirs.rssMb.toFixed(0)} MB): ${
    better === 'lower'
      ? `ratio ${ratio.toFixed(2)}x (target <= ${target}x)`
      : `${(theirs.secs / ours.secs).toFixed(2)}x faster (target >= ${target}x)`
  } ${ok ? 'OK' : 'MISSED'}`;
  console.log(line);
  results.push({ name, ok, line });
}

const N = Math.round(100_000 * SCALE);
const src = join(BASE, 'src');
const destOurs = join(BASE, 'dest-ours');
const destRsync = join(BASE, 'dest-rsync');

if (!SKIP.has('copy') || !SKIP.has('noop')) {
  let t = Date.now();
  smallTree(src, N);
  const bigMb = Math.max(8, Math.round(300 * SCALE));
  bigFiles(src, 3, bigMb);
  console.log(`built src: ${N} small files + 3 x ${bigMb} MB in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const best = (runs) => runs.reduce((a, b) => (b.secs < a.secs ? b : a));
  for (const d of [destOurs, destRsync, `${destOurs}-2`, `${destRsync}-2`]) fs.mkdirSync(d);
  execFileSync('sync');
  // Initial copy: twice each, in the order rsync, ours, ours, rsync (a machine whose disk slows
  // down or speeds up during the run favours neither), best of each; each copy starts with no
  // dirty pages left by the one before (writeback would slow it), and all read a warm source.
  const copies = { rsync: [], ours: [] };
  const copy = (who, dest) => {
    copies[who].push(
      who === 'rsync' ? timed('rsync', ['-a', `${src}/`, `${dest}/`]) : hasync(src, dest, ['--workers=8']),
    );
    execFileSync('sync');
  };
  if (!SKIP.has('copy')) {
    copy('rsync', destRsync);
    copy('ours', destOurs);
    copy('ours', `${destOurs}-2`);
    copy('rsync', `${destRsync}-2`);
    const secs = (runs) => runs.map((x) => x.secs.toFixed(1)).join(', ');
    console.log(`initial copies in turn: rsync ${secs(copies.rsync)} s; ha-sync ${secs(copies.ours)} s`);
    report(
      `initial copy (${N} files + 3 x ${bigMb} MB, best of 2 each)`,
      best(copies.ours),
      best(copies.rsync),
      1.2,
      'lower',
    );
  } else {
    execFileSync('cp', ['-a', `${src}/.`, destOurs]);
    execFileSync('cp', ['-a', `${src}/.`, destRsync]);
  }
  // No-op: three runs of each, taken in turns, best of each (both read warm trees).
  const rs = [];
  const os = [];
  for (let i = 0; i < 3; i++) {
    rs.push(timed('rsync', ['-a', '--dry-run', `${src}/`, `${destRsync}/`]));
    os.push(hasync(src, destOurs));
  }
  const all = (runs) => runs.map((x) => x.secs.toFixed(2)).join(', ');
  if (!SKIP.has('noop')) {
    console.log(
      `no-op runs in turn: rsync ${all(rs)} s; ha-sync ${all(os)} s (the first also verifies the baseline)`,
    );
    report(`no-op (${N} files, best of 3 each)`, best(os), best(rs), 1.0, 'lower');
    // Two-way: one run records the baseline of the pair, then three in turn with rsync's.
    const first = twoWay(src, destOurs);
    const tw = [];
    const rs2 = [];
    for (let i = 0; i < 3; i++) {
      rs2.push(timed('rsync', ['-a', '--dry-run', `${src}/`, `${destRsync}/`]));
      tw.push(twoWay(src, destOurs));
    }
    console.log(
      `two-way runs: first (records the baseline) ${first.secs.toFixed(2)} s; then ${all(tw)} s; rsync ${all(rs2)} s`,
    );
    report(`two-way no-op (${N} files, best of 3 each)`, best(tw), best(rs2), 1.0, 'lower');
  }
  t = Date.now();
  for (const d of [destRsync, destOurs, `${destOurs}-2`, `${destRsync}-2`])
    fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(src, { recursive: true, force: true });
}

if (!SKIP.has('rss')) {
  const M = Math.round(1_000_000 * SCALE);
  const rs = join(BASE, 'rss-src');
  const rd = join(BASE, 'rss-dest');
  const t = Date.now();
  smallTree(rs, M, 'y');
  execFileSync('cp', ['-a', rs, rd]);
  console.log(`built 2 x ${M} files in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const o = hasync(rs, rd);
  const line = `no-op over ${M} files: ${o.secs.toFixed(2)} s, peak RSS ${o.rssMb.toFixed(0)} MB (target <= 300 MB) ${o.rssMb <= 300 ? 'OK' : 'MISSED'}`;
  console.log(line);
  results.push({ name: 'rss', ok: o.rssMb <= 300, line });
  fs.rmSync(rs, { recursive: true, force: true });
  fs.rmSync(rd, { recursive: true, force: true });
}

if (!SKIP.has('netfs')) {
  const K = 3000;
  const s1 = join(BASE, 'net-server-src');
  const s2 = join(BASE, 'net-server-dest');
  const m1 = join(BASE, 'net-src');
  const m2 = join(BASE, 'net-dest');
  smallTree(s1, K);
  execFileSync('cp', ['-a', s1, s2]);
  // Each tool gets freshly mounted (cold) trees: sshfs caches what the previous one listed.
  const mount = () => {
    execFileSync(NETFS, ['up', s1, m1, '1'], { stdio: 'inherit', env: NETFS_ENV });
    execFileSync(NETFS, ['up', s2, m2, '1'], { stdio: 'inherit', env: NETFS_ENV });
  };
  const unmount = () => {
    spawnSync(NETFS, ['down', m1], { stdio: 'inherit', env: NETFS_ENV });
    spawnSync(NETFS, ['down', m2], { stdio: 'inherit', env: NETFS_ENV });
  };
  try {
    mount();
    const r = timed('rsync', ['-a', '--dry-run', `${m1}/`, `${m2}/`]);
    unmount();
    mount();
    const o = hasync(m1, m2);
    report(`no-op over netfs (${K} files per tree, 1 ms RTT)`, o, r, 3, 'higher');
  } finally {
    unmount();
  }
}

fs.rmSync(BASE, { recursive: true, force: true });
console.log('\nsummary:');
for (const r of results) console.log(`  ${r.ok ? 'OK    ' : 'MISSED'} ${r.line}`);
