#!/usr/bin/env node
// `npm run soak -- [--seed N] [--minutes M] [--files F] [--netfs] [--keep]` (issue 14): starts the
// real system on this machine (two watchers, the applier and reconcile runs every few seconds, over
// a private NATS JetStream and a private MariaDB), drives it with a seeded random workload and
// random faults, then checks the oracle (oracle.mjs) and prints one summary line. Exit 0 when
// nothing was lost, duplicated or left behind; 1 otherwise (with the command that reruns the
// seed); 2 when the run could not start (a bad flag, no MariaDB).
import './threads.mjs';
import process from 'node:process';
import console from 'node:console';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpslogArchive } from './archive.mjs';
import { UsageError, USAGE, parseArgs, rerunCommand } from './args.mjs';
import { Faults } from './faults.mjs';
import { checkAudit, checkVersions, compareTrees, scanSide } from './oracle.mjs';
import { countsLine, problems, summaryLine } from './report.mjs';
import { makeScript } from './script.mjs';
import { Mariadb, Nats, mountTmpfs, netfs, sleep, unmount } from './services.mjs';
import { System } from './system.mjs';
import { Ledger, Workload } from './workload.mjs';

/** Fixed phases around the workload (start-up, settling, final reconcile, oracle), in seconds. */
const OVERHEAD_S = 18;
/** Time the live system gets after the workload and the faults end, before it is stopped. */
const SETTLE_MS = 5000;

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`soak: ${err.message}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const t0 = Date.now();
const say = (m) => console.log(`[soak +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
const base = mkdtempSync(join(tmpdir(), 'ha-sync-soak-'));
const dirs = {
  nats: join(base, 'nats'),
  db: join(base, 'db'),
  logs: join(base, 'logs'),
  procLogs: join(base, 'proc-logs'),
  archive: join(base, 'opslog-archive'),
  bfs: join(base, 'bfs'),
};
for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
const nats = new Nats(dirs.nats);
const db = new Mariadb(dirs.db);
const cleanups = [];
let system = null;
const abort = new globalThis.AbortController();

async function cleanup() {
  await system?.killAll().catch(() => undefined);
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await nats.proc?.kill9();
  await db.proc?.kill9();
  if (!args.keep) rmSync(base, { recursive: true, force: true });
  else console.log(`soak: kept ${base}`);
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  say('SIGINT: stopping, cleaning up');
  abort.abort();
});

async function main() {
  const minutes = args.minutes;
  const durationMs = Math.max(10_000, Math.round(minutes * 60_000 - OVERHEAD_S * 1000));
  say(
    `seed ${args.seed}, ${minutes} min (workload ${durationMs / 1000} s), ${args.files} files${args.netfs ? ', netfs' : ''}, in ${base}`,
  );

  // Services: a private MariaDB (its own datadir, socket and port) and a private NATS.
  try {
    await db.init();
    await db.start();
  } catch (err) {
    console.log(`soak: cannot start a private MariaDB: ${err.message.split('\n')[0]}`);
    return 2;
  }
  await nats.start();

  // Side b lives on a small tmpfs, as a subdirectory: the ballast file that fills it sits beside
  // the root, on the same filesystem but outside the synced tree (and outside ha-sync's `.ha-sync/`,
  // which belongs to ha-sync), so only the disk-full condition reaches the system, not the file.
  const tmpfsMb = Math.min(2048, Math.round(96 + 64 * Math.max(0, minutes - 1)));
  let ballast = null;
  let rootB = join(base, 'b');
  if (await mountTmpfs(dirs.bfs, tmpfsMb)) {
    cleanups.push(() => unmount(dirs.bfs));
    rootB = join(dirs.bfs, 'root');
    ballast = join(dirs.bfs, 'ballast');
  } else {
    say('cannot mount a tmpfs (not root?): the disk-full fault is skipped');
  }
  mkdirSync(rootB, { recursive: true });

  // Side a: a plain directory, or with --netfs the netfs mount of a server directory.
  let rootA = join(base, 'a');
  let server = null;
  let mount = null;
  mkdirSync(rootA, { recursive: true });
  if (args.netfs) {
    server = join(base, 'a-server');
    mount = join(base, 'a-mount');
    mkdirSync(server, { recursive: true });
    await netfs('up', server, mount, '1');
    // Only `down`: a `heal` of a mount that is not cut would start a second proxy, which `down`
    // (it stops the proxy whose pid it recorded last) would leave running.
    cleanups.push(() => netfs('down', mount));
    rootA = mount;
  }

  const script = makeScript(args.seed, {
    files: args.files,
    durationMs,
    ratePerSec: 6,
    netfs: args.netfs,
  });
  const ledger = new Ledger();
  const workload = new Workload({ seed: args.seed, roots: { a: rootA, b: rootB }, server, ledger });
  system = new System({ roots: { a: rootA, b: rootB }, dirs, nats, db, verbose: args.verbose });
  const archive = new OpslogArchive(dirs.logs, dirs.archive);
  archive.start();

  await workload.seedTree(script.initial);
  await system.initialReconcile();
  say(`seeded ${script.initial.length} files; live system starting`);
  system.startLive();
  await sleep(2000);

  const faults = new Faults({
    system,
    nats,
    db,
    netfsMount: mount,
    netfsCmd: netfs,
    ballast,
    log: args.verbose ? say : () => undefined,
  });
  const schedule = script.faults.filter((f) => args.faults.includes(f.kind));
  say(`workload: ${script.ops.length} ops, ${schedule.length} faults scheduled`);
  await Promise.all([workload.run(script.ops, abort.signal), faults.run(schedule, abort.signal)]);
  await faults.healAll();
  if (abort.signal.aborted) {
    console.log(`soak: interrupted; rerun with: ${rerunCommand(args)}`);
    return 130;
  }
  say(
    `workload done: ${workload.done} ops done, ${workload.timedOut} timed out, errors: ${countsLine(workload.errors)}; ` +
      `faults: ${countsLine(faults.byKind)}${faults.failures.length ? `; fault errors: ${faults.failures.join('; ')}` : ''}`,
  );

  // The journal of what the workload and the faults did, with epoch ms to match the processes' logs.
  writeFileSync(
    join(dirs.procLogs, 'journal.log'),
    [...workload.journal, ...faults.journal].sort().join('\n') + '\n',
  );
  await sleep(SETTLE_MS);
  const codes = await system.stopLive();
  say(`live system stopped (exit codes ${JSON.stringify(codes)}); ${system.reconcileRuns} reconcile runs`);
  const finalCode = await system.finalReconcile();
  const { archive: opslogs, pending } = await archive.stop();

  const a = await scanSide(server ?? rootA);
  const b = await scanSide(rootB);
  const diffs = compareTrees(a, b);
  const versions = checkVersions(ledger, a, b);
  const { parseLine } = await import('../../dist/audit/opslog.js');
  const { toDbTime } = await import('../../dist/audit/rows.js');
  const audit = await checkAudit({ dsn: db.dsn, archive: opslogs, pending, parseLine, toDbTime });
  say(
    `versions: ${versions.tracked} tracked, ${versions.superseded} superseded by the workload, ` +
      `${versions.live} live, ${versions.kept} only kept, ${versions.lost.length} lost; ` +
      `audit: ${audit.opslogs} opslogs, ${audit.ops} ops, ${audit.unverified} iterations unverified; ` +
      `conflict copies: ${a.conflicts.length}`,
  );

  const found = problems({
    diffs,
    temps: [...a.temps.map((t) => `a/${t}`), ...b.temps.map((t) => `b/${t}`)],
    versions,
    audit,
    finalCode,
  });
  console.log(
    summaryLine({
      ops: workload.done,
      faults: faults.injected,
      versions: versions.tracked,
      lost: versions.lost.length,
      dup: audit.duplicate,
      seconds: Math.round((Date.now() - t0) / 1000),
    }),
  );
  if (found.length === 0) return 0;
  for (const p of found) console.log(`soak: ${p}`);
  console.log(system.logTails(20));
  for (const p of [nats.proc, db.proc])
    console.log(`--- last lines of ${p.name} (${p.logPath}):\n${p.tail(8)}`);
  console.log(`soak: FAILED; rerun with: ${rerunCommand(args)} (add --keep to keep the logs)`);
  return 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.log(`soak: ${err.stack ?? err}`);
  if (system) console.log(system.logTails(20));
  console.log(`soak: FAILED; rerun with: ${rerunCommand(args)}`);
} finally {
  await cleanup();
}
process.exit(code);
