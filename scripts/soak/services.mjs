// The services a soak run owns: a private nats-server and a private mariadbd (never the machine's
// shared ones on 4222/3306: other tests run against those, and the soak kills its own), the tmpfs
// that can fill up, and the netfs mount. Each child writes to its own log file in the run's
// directory; everything started here is stopped by `stopAll`, also after a failure or SIGINT.
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** netfs as CI lays it out: beside the project, never an absolute path. */
export const NETFS = resolve(projectRoot, '../shared/tools/netfs');
/** netfs starts a Python proxy with half a second's grace: the system's python must come first. */
const NETFS_ENV = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function portOpen(port) {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.end();
      res(true);
    });
    s.on('error', () => res(false));
  });
}

async function waitUntil(what, cond, ms) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/**
 * One long-lived child process with a log file of its own (appended across restarts). `kill9`
 * and `start` are the fault injector's handles; `exited` resolves with the exit code.
 */
export class Proc {
  constructor(name, cmd, args, opts) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = opts.env ?? process.env;
    this.logPath = opts.logPath;
    this.child = null;
    this.exited = Promise.resolve(null);
    this.starts = 0;
  }

  start() {
    const fd = openSync(this.logPath, 'a');
    try {
      this.child = spawn(this.cmd, this.args, { env: this.env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.starts++;
    const child = this.child;
    this.exited = new Promise((r) => child.on('exit', (code, sig) => r(code ?? sig)));
    child.on('error', () => undefined);
    return this;
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill9() {
    if (!this.running) return false;
    this.child.kill('SIGKILL');
    await this.exited;
    return true;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code (or signal). */
  async stop(graceMs = 15_000) {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  tail(lines = 25) {
    try {
      return readFileSync(this.logPath, 'utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }
}

export class Nats {
  constructor(dir) {
    this.dir = dir;
    this.port = 0;
    this.proc = null;
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    mkdirSync(join(this.dir, 'js'), { recursive: true });
    this.proc ??= new Proc(
      'nats-server',
      '/usr/sbin/nats-server',
      ['-js', '-sd', join(this.dir, 'js'), '-a', '127.0.0.1', '-p', String(this.port)],
      { logPath: join(this.dir, 'nats-server.log') },
    );
    this.proc.start();
    await waitUntil('nats-server listening', () => portOpen(this.port), 20_000);
  }
}

export class Mariadb {
  constructor(dir) {
    this.dir = dir;
    this.port = 0;
    this.proc = null;
  }

  get dsn() {
    return `mysql://root@127.0.0.1:${this.port}/soak`;
  }

  get socket() {
    return join(this.dir, 'mysqld.sock');
  }

  /** Initialises the datadir once; throws with the installer's last lines when it fails. */
  async init() {
    const datadir = join(this.dir, 'data');
    try {
      await run(
        '/usr/bin/mariadb-install-db',
        [
          '--no-defaults',
          `--datadir=${datadir}`,
          ...(process.getuid?.() === 0 ? ['--user=root'] : []),
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
        ],
        { timeout: 120_000 },
      );
    } catch (err) {
      const tail = `${err.stderr ?? ''}${err.stdout ?? ''}`.trim().split('\n').slice(-2).join(' | ');
      throw new Error(`mariadb-install-db failed: ${err.message.split('\n')[0]} ${tail}`);
    }
    this.port = await freePort();
  }

  async start() {
    this.proc ??= new Proc(
      'mariadbd',
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--socket=${this.socket}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--performance-schema=OFF',
        '--innodb-buffer-pool-size=32M',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
      ],
      { logPath: join(this.dir, 'mariadbd.log') },
    );
    this.proc.start();
    await waitUntil(
      'mariadbd listening',
      async () => {
        if (!this.proc.running) throw new Error(`mariadbd exited: ${this.proc.tail(3)}`);
        return portOpen(this.port);
      },
      60_000,
    );
  }
}

/** Mounts a tmpfs of `sizeMb` at `dir`; false (and nothing mounted) when that is not allowed. */
export async function mountTmpfs(dir, sizeMb) {
  mkdirSync(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'soak-tmpfs', dir], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export async function unmount(dir) {
  await run('umount', [dir], { timeout: 10_000 }).catch(() =>
    run('umount', ['-l', dir], { timeout: 10_000 }).catch(() => undefined),
  );
}

export async function netfs(...args) {
  if (!existsSync(NETFS)) throw new Error(`netfs not found at ${NETFS} (expected ../shared/tools/netfs)`);
  await run(NETFS, args, { timeout: 90_000, env: NETFS_ENV });
}
