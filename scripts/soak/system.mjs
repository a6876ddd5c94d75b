// The system under test, as separate processes of the built CLI (dist/bin/ha-sync.js), wired the
// way the cluster runs them: one `watch` per side and one `apply` for the pair over the private
// NATS, a two-way `reconcile` every few seconds (the CronJob, compressed), all on the private
// MariaDB (audit and baseline) with the lock file in the log dir. Each process has its own log.
import process from 'node:process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc, sleep } from './services.mjs';

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bin/ha-sync.js');
export const PAIR = 'soak';
/** How often the reconcile "CronJob" starts a run. */
const RECONCILE_EVERY_MS = 4000;

export class System {
  /** roots: {a, b}; dirs: {logs, procLogs}; nats: Nats; db: Mariadb */
  constructor({ roots, dirs, nats, db, verbose }) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (or npm ci) first`);
    this.roots = roots;
    this.dirs = dirs;
    this.env = { ...process.env, HA_SYNC_DB_DSN: db.dsn, NATS_URL: nats.url };
    delete this.env.KUBECONFIG;
    this.verbose = verbose;
    mkdirSync(dirs.procLogs, { recursive: true });
    const nat = ['--nats-url', nats.url];
    const v = verbose ? ['--verbose'] : [];
    this.procs = {
      'watcher-a': this.proc('watcher-a', [
        'watch',
        '--pair',
        PAIR,
        '--side',
        'a',
        '--root',
        roots.a,
        '--poll-interval',
        '300',
        '--stat-timeout',
        '2000',
        ...nat,
        ...v,
      ]),
      'watcher-b': this.proc('watcher-b', [
        'watch',
        '--pair',
        PAIR,
        '--side',
        'b',
        '--root',
        roots.b,
        '--poll-interval',
        '300',
        ...nat,
        ...v,
      ]),
      applier: this.proc('applier', [
        'apply',
        '--pair',
        PAIR,
        '--a',
        `a=${roots.a}`,
        '--b',
        `b=${roots.b}`,
        '--delete-missing',
        '--log-dir',
        dirs.logs,
        '--lock',
        'file',
        '--idle-release',
        '1',
        '--ack-wait',
        '10',
        ...nat,
        ...v,
      ]),
    };
    this.reconcileRuns = 0;
    this.reconcileFailures = [];
    this.current = null;
    this.loop = null;
    this.stopped = false;
    this.paused = new Set();
  }

  proc(name, args) {
    return new Proc(name, process.execPath, [CLI, ...args], {
      env: this.env,
      logPath: join(this.dirs.procLogs, `${name}.log`),
    });
  }

  reconcileArgs(extra = []) {
    return [
      'reconcile',
      '--pair',
      PAIR,
      '--a',
      `a=${this.roots.a}`,
      '--b',
      `b=${this.roots.b}`,
      '--delete-missing',
      '--log-dir',
      this.dirs.logs,
      '--lock',
      'file',
      ...extra,
    ];
  }

  /** The initial two-way reconcile: copies the seeded tree and records the first baseline. */
  async initialReconcile() {
    const p = this.proc('reconcile-initial', this.reconcileArgs());
    const code = await p.start().exited;
    if (code !== 0) throw new Error(`the initial reconcile exited ${code}:\n${p.tail(15)}`);
  }

  startLive() {
    for (const p of Object.values(this.procs)) p.start();
    this.loop = this.reconcileLoop();
  }

  async reconcileLoop() {
    while (!this.stopped) {
      await sleep(RECONCILE_EVERY_MS);
      if (this.stopped || this.paused.has('reconcile')) continue;
      const p = this.proc('reconcile', this.reconcileArgs());
      this.current = p;
      const code = await p.start().exited;
      this.current = null;
      this.reconcileRuns++;
      // 0 done (or the applier held the lock), 3 some files failed (disk full, a file moving under
      // it), 1 a guard tripped or it was killed: all expected under faults. Recorded for the report.
      if (code !== 0) this.reconcileFailures.push(code);
    }
  }

  /** The `kill -9` fault: kills the target now; `restart` brings it back. */
  async kill(target) {
    if (target === 'reconcile') {
      // A run lasts a second or two and starts every few: wait for one to be under way.
      const end = Date.now() + RECONCILE_EVERY_MS + 2000;
      while (!this.current && Date.now() < end && !this.stopped) await sleep(50);
      this.paused.add('reconcile');
      return (await this.current?.kill9()) ?? false;
    }
    return this.procs[target].kill9();
  }

  restart(target) {
    if (target === 'reconcile') {
      this.paused.delete('reconcile');
      return;
    }
    if (!this.procs[target].running && !this.stopped) this.procs[target].start();
  }

  /** Whatever died on its own (not by a fault) since the last call, for the report. */
  deaths() {
    return Object.values(this.procs)
      .filter((p) => !p.running && p.starts > 0)
      .map((p) => p.name);
  }

  /** Stops the reconcile loop, then the watchers and the applier (SIGTERM: they finish cleanly). */
  async stopLive() {
    this.stopped = true;
    await this.loop;
    const codes = {};
    for (const [name, p] of Object.entries(this.procs)) codes[name] = await p.stop();
    return codes;
  }

  /** The final reconcile, with the lock to itself; returns its exit code. */
  async finalReconcile() {
    const p = this.proc('reconcile-final', this.reconcileArgs(['--lock-wait', '60']));
    this.final = p;
    return p.start().exited;
  }

  async killAll() {
    this.stopped = true;
    await Promise.all(
      [...Object.values(this.procs), this.current, this.final].filter(Boolean).map((p) => p.kill9()),
    );
  }

  logTails(lines) {
    return [...Object.values(this.procs), this.final]
      .filter(Boolean)
      .map((p) => `--- last lines of ${p.name} (${p.logPath}):\n${p.tail(lines)}`)
      .join('\n');
  }
}
