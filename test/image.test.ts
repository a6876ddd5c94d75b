// The image, without a Docker engine: the Dockerfile's structure (stages, pinned Node 24 base,
// non-root numeric USER, exec-form ENTRYPOINT through tini, production-only runtime), the
// .dockerignore allowlist, and the runtime stage's layout rebuilt in a temp directory the way the
// Dockerfile builds it (`npm ci --omit=dev --ignore-scripts` + `npm rebuild better-sqlite3`, tsc from
// src/, the fastscan addon, package.json), then run from there: `ha-sync --help`, `ha-sync-ui --help`, a real sync of
// two folders (the embedded SQLite audit loads the native addon), and SIGTERM ending the dashboard.
//
// The production install takes about a minute (better-sqlite3 compiles when no prebuilt binary can
// be fetched). It is cached in node_modules/.cache/ha-sync-image-test/<hash of the lock file, the
// install commands and the Node version>; HA_SYNC_IMAGE_TEST_FRESH=1 forces a fresh one. With the
// registry unreachable and no cache the layout tests skip, saying why.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './k8s.helpers.js';

// ---- the Dockerfile, parsed ---------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  body: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (cur === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.trim().startsWith('#')) continue; // a comment inside a continued RUN
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push((cur + line).trim());
    cur = '';
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ');
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, name: f[2], body: [] });
    } else if (stages.length) stages[stages.length - 1]!.body.push({ op, args });
  }
  return stages;
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const runtime = stages[stages.length - 1]!;
const named = (n: string): Stage | undefined => stages.find((s) => s.name === n);
const ops = (s: Stage, op: string): string[] => s.body.filter((i) => i.op === op).map((i) => i.args);

/** The commands the runtime's node_modules come from; the layout test runs exactly these. */
const PROD_INSTALL = 'npm ci --omit=dev --ignore-scripts --no-audit --no-fund';
const NATIVE_REBUILD = 'npm rebuild better-sqlite3';

describe('Dockerfile', () => {
  it('is multi-stage on a pinned Node 24 image, with a slim runtime of the same release', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      // A full version and a Debian release: node:24 or node:lts would move under us.
      expect(s.from).toMatch(/^node:24\.\d+\.\d+-(bookworm|trixie)(-slim)?$/);
    }
    expect(runtime.from).toMatch(/-slim$/);
    const version = (from: string) => from.replace(/-slim$/, '');
    for (const s of stages) expect(version(s.from)).toBe(version(runtime.from));
  });

  it('the runtime stage gets production dependencies and dist/ only', () => {
    const copies = ops(runtime, 'COPY');
    const deps = copies.find((c) => c.includes('node_modules'));
    expect(deps).toMatch(/^--from=(\S+) \/app\/node_modules/);
    const depsStage = named(/--from=(\S+)/.exec(deps!)![1]!)!;
    expect(ops(depsStage, 'RUN').join(' && ')).toContain(PROD_INSTALL);
    expect(ops(depsStage, 'RUN').join(' && ')).toContain(NATIVE_REBUILD);
    expect(copies.some((c) => /^--from=\S+ \/app\/dist /.test(c))).toBe(true);
    // The fastscan addon, built in the build stage (required there), and nothing else of native/.
    expect(copies).toContain(
      '--from=build /app/native/build/Release/fastscan.node ./native/build/Release/fastscan.node',
    );
    expect(ops(named('build')!, 'RUN').join(' ')).toMatch(
      /HA_SYNC_FASTSCAN_REQUIRED=1 .*npm run build:native/,
    );
    // Nothing from the build context but package.json: no sources, no dev dependencies.
    for (const c of copies.filter((x) => !x.startsWith('--from='))) expect(c).toMatch(/^package\.json /);
    expect(ops(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)/);
  });

  it('runs as a non-root numeric user', () => {
    const users = ops(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!;
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const uid = Number(user.split(':')[0]);
    expect(uid).toBeGreaterThanOrEqual(1000);
  });

  it('exec-form ENTRYPOINT: tini forwards SIGTERM to node running ha-sync; ha-sync-ui on PATH', () => {
    const eps = ops(runtime, 'ENTRYPOINT');
    expect(eps).toHaveLength(1);
    const ep = JSON.parse(eps[0]!) as string[]; // exec form is a JSON array; shell form would not parse
    expect(ep.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(ep.slice(2)).toEqual(['node', '/app/dist/bin/ha-sync.js']);
    expect(ops(runtime, 'RUN').join(' ')).toMatch(/apt-get install [^&]*\btini\b/);
    const run = ops(runtime, 'RUN').join(' ');
    expect(run).toContain('ln -s /app/dist/bin/ha-sync.js /usr/local/bin/ha-sync');
    expect(run).toContain('ln -s /app/dist/bin/ha-sync-ui.js /usr/local/bin/ha-sync-ui');
    expect(DOCKERFILE).not.toMatch(/^\s*(ENTRYPOINT|CMD)\s+[^[\s]/m);
  });

  it('the build stage compiles with dev dependencies', () => {
    const build = stages.find((s) => ops(s, 'RUN').some((r) => r.includes('npm run build')))!;
    expect(build).toBeDefined();
    expect(ops(build, 'RUN').some((r) => /npm ci(?!.*--omit=dev)/.test(r))).toBe(true);
  });

  it('.dockerignore sends only package files, tsconfigs and src/', () => {
    const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const ignored = (path: string): boolean => {
      let out = false;
      for (const r of rules) {
        const neg = r.startsWith('!');
        const pat = neg ? r.slice(1) : r;
        const re = new RegExp(
          '^' +
            pat
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*\*/g, '\uE000')
              .replace(/\*/g, '[^/]*')
              .replace(/\uE000/g, '.*') +
            '(/.*)?$',
        );
        if (re.test(path)) out = !neg;
      }
      return out;
    };
    for (const p of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/cli/main.ts',
      'native/fastscan.c',
      'native/fastcopy.c',
      'native/binding.gyp',
      'scripts/build-native.mjs',
    ]) {
      expect(ignored(p), p).toBe(false);
    }
    for (const p of [
      'node_modules/x/index.js',
      'dist/bin/ha-sync.js',
      '.git/HEAD',
      'test/k8s.test.ts',
      'k8s/pairs.yaml',
      '.env',
      'native/build/Release/fastscan.node',
      'scripts/gen-k8s.mjs',
    ]) {
      expect(ignored(p), p).toBe(true);
    }
  });
});

describe('Makefile', () => {
  it("has the seed's targets: build, docker-build IMAGE=..., docker-push IMAGE=..., plus manifests and test", (ctx) => {
    if (spawnSync('make', ['--version']).status !== 0) ctx.skip('make is not installed');
    const dry = (...args: string[]) => spawnSync('make', ['-n', ...args], { cwd: ROOT, encoding: 'utf8' });
    expect(dry('build').stdout).toContain('npm run build');
    expect(dry('test').stdout).toContain('npm test');
    expect(dry('manifests').stdout).toContain('npm run manifests');
    expect(dry('docker-build', 'IMAGE=reg:5000/ha-sync:1.2.3').stdout).toMatch(
      /docker build .*-t reg:5000\/ha-sync:1\.2\.3 \./,
    );
    expect(dry('docker-push', 'IMAGE=reg:5000/ha-sync:1.2.3').stdout).toMatch(
      /docker push reg:5000\/ha-sync:1\.2\.3/,
    );
    // The default image is tagged with the package version, never :latest.
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(dry('docker-build').stdout).toContain(`ha-sync:${version}`);
  });
});

// ---- the runtime layout, rebuilt ---------------------------------------------------------------

/** True when a user other than the owner may run `file` (every directory on the way searchable). */
function othersCanRun(file: string): boolean {
  let p = file;
  for (;;) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
    p = dirname(p);
  }
}

/**
 * The image runs as uid 10001: so does the layout, when this test runs as root and both the Node
 * running it and this checkout (the cached node_modules) are reachable by that user (npx's node@24
 * lives under /root, 0700: then the layout runs as root).
 */
const RUN_AS =
  process.getuid?.() === 0 && othersCanRun(process.execPath) && othersCanRun(ROOT) ? 10001 : undefined;
let app = '';
let work = '';
let skipReason = '';

function sh(
  cmd: string,
  args: string[],
  cwd: string,
  extra: { env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...extra.env },
    maxBuffer: 64 << 20,
  });
}

const NETWORK_RE = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT)|network|getaddrinfo|offline/i;

const CACHE_ROOT = join(ROOT, 'node_modules', '.cache', 'ha-sync-image-test');

/**
 * A directory with include/node/ for the running Node: its own install when it has headers (the
 * system Node, the official image), else the matching node-<platform>-<arch> package from the npm
 * registry (npx node@24 ships no headers, and nodejs.org may be unreachable).
 */
function nodeHeaders(): string {
  const own = dirname(dirname(process.execPath));
  if (existsSync(join(own, 'include', 'node', 'node.h'))) return own;
  const version = process.version.slice(1);
  const dir = join(CACHE_ROOT, `node-headers-${version}`);
  if (existsSync(join(dir, 'package', 'include', 'node', 'node.h'))) return join(dir, 'package');
  mkdirSync(dir, { recursive: true });
  const spec = `node-${process.platform}-${process.arch}@${version}`;
  const pack = sh('npm', ['pack', spec], dir);
  const tgz = pack.stdout.trim().split('\n').pop() ?? '';
  if (pack.status !== 0 || !tgz) {
    const out = `${pack.stdout}\n${pack.stderr}`;
    if (NETWORK_RE.test(out))
      throw Object.assign(new Error(`registry unreachable: npm pack ${spec}`), { skip: true });
    throw new Error(`npm pack ${spec} failed:\n${out}`);
  }
  const tar = sh('tar', ['xzf', tgz, 'package/include'], dir);
  rmSync(join(dir, tgz), { force: true });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  return join(dir, 'package');
}

/** node_modules as the Dockerfile's deps stage makes it (cached by inputs; see the header). */
function productionNodeModules(): string {
  const key = createHash('sha256')
    .update(readFileSync(join(ROOT, 'package.json')))
    .update(readFileSync(join(ROOT, 'package-lock.json')))
    .update(PROD_INSTALL + NATIVE_REBUILD + process.version)
    .digest('hex')
    .slice(0, 16);
  const cache = join(CACHE_ROOT, key);
  if (existsSync(join(cache, '.complete')) && !process.env.HA_SYNC_IMAGE_TEST_FRESH)
    return join(cache, 'node_modules');
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(cache, 'package.json'));
  cpSync(join(ROOT, 'package-lock.json'), join(cache, 'package-lock.json'));
  // node-gyp builds against the headers of the Node that runs this test (and will load the addon).
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    npm_config_nodedir: nodeHeaders(),
  };
  for (const cmd of [PROD_INSTALL, NATIVE_REBUILD]) {
    const [bin, ...args] = cmd.split(' ');
    const r = sh(bin!, args, cache, { env });
    if (r.status !== 0) {
      const out = `${r.stdout}\n${r.stderr}`;
      if (NETWORK_RE.test(out))
        throw Object.assign(new Error(`registry unreachable: ${cmd}: ${out.trim().split('\n').pop()}`), {
          skip: true,
        });
      throw new Error(`${cmd} failed (${r.status}):\n${out}`);
    }
  }
  writeFileSync(join(cache, '.complete'), new Date().toISOString());
  return join(cache, 'node_modules');
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ha-sync-image-'));
  chmodSync(work, 0o755);
  app = join(work, 'app');
  mkdirSync(app);
  let modules: string;
  try {
    modules = productionNodeModules();
  } catch (err) {
    if ((err as { skip?: boolean }).skip) {
      skipReason = (err as Error).message;
      return;
    }
    throw err;
  }
  symlinkSync(modules, join(app, 'node_modules'));
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  // The build stage: tsc over src/ with the build config, into this layout's dist/.
  const tsc = sh(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      join(app, 'dist'),
    ],
    ROOT,
  );
  expect(tsc.status, `tsc failed:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
  // The build stage's fastscan addon (this checkout's, built by npm ci), where the runtime has it.
  const addon = join(ROOT, 'native', 'build', 'Release', 'fastscan.node');
  if (existsSync(addon)) {
    mkdirSync(join(app, 'native', 'build', 'Release'), { recursive: true });
    cpSync(addon, join(app, 'native', 'build', 'Release', 'fastscan.node'));
  }
  // The runtime stage's chmod and symlinks onto PATH.
  const bin = join(app, 'bin');
  mkdirSync(bin);
  for (const name of ['ha-sync', 'ha-sync-ui']) {
    chmodSync(join(app, 'dist', 'bin', `${name}.js`), 0o755);
    symlinkSync(join(app, 'dist', 'bin', `${name}.js`), join(bin, name));
  }
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The image's environment: PATH with our bin, production mode, no DSN, no kubeconfig. */
function imageEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    // Our bin first, then the Node running this test (the CLI's `#!/usr/bin/env node` finds it).
    PATH: `${join(app, 'bin')}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    NODE_ENV: 'production',
    POD_NAME: 'image-test-0',
  };
  return env;
}

function runImage(cmd: string, args: string[], cwd = work): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: imageEnv(),
    ...(RUN_AS ? { uid: RUN_AS, gid: RUN_AS } : {}),
    timeout: 120_000,
  });
}

describe('the runtime layout (production node_modules + dist/)', () => {
  it('holds production dependencies only', (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    for (const dev of ['typescript', 'vitest', 'eslint', 'kubernetes-models', 'playwright-core']) {
      expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    }
    for (const dep of ['better-sqlite3', 'fastify', 'mysql2', '@nats-io/jetstream']) {
      expect(existsSync(join(app, 'node_modules', dep)), dep).toBe(true);
    }
    expect(
      existsSync(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')),
    ).toBe(true);
  });

  it('ha-sync --help and ha-sync-ui --help from PATH (as uid 10001 when run as root)', (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const top = runImage('ha-sync', ['--help']);
    expect(top.status, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/Commands:/);
    expect(top.stdout).toMatch(/reconcile/);
    const ui = runImage('ha-sync-ui', ['--help']);
    expect(ui.status, ui.stderr).toBe(0);
    expect(ui.stdout).toMatch(/--port/);
    expect(ui.stderr).toBe('');
  });

  it('a tiny real sync of two folders, audited in the embedded SQLite store', (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const root = mkdtempSync(join(work, 'sync-'));
    const src = join(root, 'src');
    const dest = join(root, 'dest');
    const logs = join(root, 'logs');
    for (const d of [root, src, dest, logs, join(src, 'sub dir')]) {
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o755);
    }
    writeFileSync(join(src, 'a.txt'), 'hello\n');
    writeFileSync(join(src, 'sub dir', 'b.bin'), Buffer.alloc(70_000, 7));
    const past = new Date('2024-01-02T03:04:05Z');
    utimesSync(join(src, 'a.txt'), past, past);
    if (RUN_AS) for (const d of [dest, logs]) chownSync(d, RUN_AS, RUN_AS);
    const r = runImage('ha-sync', [
      'reconcile',
      `--src=${src}`,
      `--dest=${dest}`,
      '--pair=image-test',
      '--direction=a-to-b',
      `--log-dir=${logs}`,
      '--lock=file',
    ]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    if (existsSync(join(app, 'native', 'build', 'Release', 'fastscan.node'))) {
      expect(r.stdout).toMatch(/"srcLister":"fastscan","destLister":"fastscan","copier":"fastcopy"/);
    }
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('hello\n');
    expect(statSync(join(dest, 'a.txt')).mtimeMs).toBe(past.getTime());
    expect(readFileSync(join(dest, 'sub dir', 'b.bin')).equals(Buffer.alloc(70_000, 7))).toBe(true);
    // The audit went to the embedded SQLite file, read with the layout's own driver (node:sqlite or its
    // better-sqlite3 native addon).
    const q = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { openSqlite } = await import(process.argv[1]); const db = openSqlite(process.argv[2], { busyTimeoutMs: 5000 });
         process.stdout.write(JSON.stringify(db.prepare('SELECT status, dry_run, files_created FROM sync_iterations').all())); db.close();`,
        join(app, 'dist', 'audit', 'sqlite-driver.js'),
        join(logs, 'ha-sync.sqlite'),
      ],
      { cwd: app, encoding: 'utf8' },
    );
    expect(q.status, `${q.stderr}\nlog dir: ${readdirSync(logs).join(', ')}\n${r.stdout}`).toBe(0);
    const rows = JSON.parse(q.stdout) as { status: string; dry_run: number; files_created: number }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'success', dry_run: 0 });
    expect(rows[0]!.files_created).toBeGreaterThanOrEqual(2);
    // Once more: nothing left to do, still exit 0.
    const again = runImage('ha-sync', [
      'reconcile',
      `--src=${src}`,
      `--dest=${dest}`,
      '--pair=image-test',
      `--log-dir=${logs}`,
      '--lock=file',
    ]);
    expect(again.status, again.stderr).toBe(0);
  });

  it('SIGTERM reaches node: the dashboard stops cleanly with exit 0', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const logs = mkdtempSync(join(work, 'ui-'));
    chmodSync(logs, 0o755);
    if (RUN_AS) chownSync(logs, RUN_AS, RUN_AS);
    const child = spawn('ha-sync-ui', ['--host=127.0.0.1', '--port=0', `--log-dir=${logs}`], {
      cwd: work,
      env: imageEnv(),
      ...(RUN_AS ? { uid: RUN_AS, gid: RUN_AS } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((res, rej) => {
      lines.on('line', (l) => {
        if (/listening/i.test(l)) res();
      });
      void exited.then((code) => rej(new Error(`ha-sync-ui exited ${code} before listening: ${stderr}`)));
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
