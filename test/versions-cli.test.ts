// `ha-sync versions` and `ha-sync restore` through main(), on real temp directories: listing,
// restoring (latest and named), and bad input: exit 2 with one line naming the flag, nothing touched.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { VERSIONS_DIR, versionName } from '../src/core/index.js';
import { keepVersionsDaysFlag, keepVersionsFlags, parseFlags } from '../src/config/index.js';

function ctx(): { ctx: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const w = (f: (s: string) => void): Writable =>
    new Writable({
      write(c: Buffer, _e, cb) {
        f(c.toString());
        cb();
      },
    });
  return {
    ctx: {
      stdout: w((s) => (out += s)),
      stderr: w((s) => (err += s)),
      env: {},
      signal: new AbortController().signal,
    },
    out: () => out,
    err: () => err,
  };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = ctx();
  const code = await main(argv, c.ctx);
  return { code, out: c.out(), err: c.err() };
}

const T1 = Date.UTC(2026, 11, 1, 10, 0, 0);
const T2 = Date.UTC(2026, 11, 3, 12, 30, 5);

let tmp: string;
let root: string;

const put = (rel: string, body: string, mtimeS = 1_700_000_000): void => {
  fs.mkdirSync(join(root, rel, '..'), { recursive: true });
  fs.writeFileSync(join(root, rel), body);
  fs.utimesSync(join(root, rel), mtimeS, mtimeS);
};
const read = (rel: string): string => fs.readFileSync(join(root, rel), 'utf8');

/** Every entry under `dir` with its kind, size, mtime and content (the "nothing touched" check). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = join(d, name);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${p}/ ${st.mtimeMs}`);
        walk(p);
      } else out.push(`${p} ${st.size} ${st.mtimeMs} ${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir);
  return out;
}

beforeEach(() => {
  tmp = fs.mkdtempSync(join(tmpdir(), 'ha-versions-cli-'));
  root = join(tmp, 'root');
  fs.mkdirSync(root);
  put('docs/a.txt', 'current');
  put(versionName('docs/a.txt', T1), 'oldest', 1_600_000_000);
  put(versionName('docs/a.txt', T2), 'newer', 1_650_000_000);
  put(versionName('b.txt', T1), 'b kept');
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ha-sync versions', () => {
  it('lists every kept version newest first (then by path), with its restore command', async () => {
    const r = await cli(['versions', '--root', root]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out.split('\n')).toEqual([
      'PATH        KEPT AT (UTC)         SIZE',
      'docs/a.txt  2026-12-03T12:30:05Z  5 bytes',
      `  ha-sync restore --root ${root} --path docs/a.txt --version 'a~20261203-123005.txt'`,
      'b.txt       2026-12-01T10:00:00Z  6 bytes',
      `  ha-sync restore --root ${root} --path b.txt --version 'b~20261201-100000.txt'`,
      'docs/a.txt  2026-12-01T10:00:00Z  6 bytes',
      `  ha-sync restore --root ${root} --path docs/a.txt --version 'a~20261201-100000.txt'`,
      '',
    ]);
  });

  it('--path narrows the list; none is exit 0 with "no kept versions"', async () => {
    const r = await cli(['versions', '--root', root, '--path', 'b.txt']);
    expect(r.code).toBe(0);
    expect(r.out.match(/^b\.txt /gm)).toHaveLength(1);
    expect(r.out).not.toMatch(/docs/);
    const none = await cli(['versions', '--root', root, '--path', 'nothing.txt']);
    expect(none).toEqual({ code: 0, out: `no kept versions of 'nothing.txt' in ${root}\n`, err: '' });
    fs.rmSync(join(root, '.ha-sync'), { recursive: true });
    expect(await cli(['versions', `--root=${root}`])).toEqual({
      code: 0,
      out: `no kept versions in ${root}\n`,
      err: '',
    });
  });

  it('prints its help', async () => {
    const r = await cli(['versions', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--root <path>/);
    expect(r.out).toMatch(/--path <rel>/);
  });
});

describe('ha-sync restore', () => {
  it('puts the latest version back, keeps the file it replaced, and leaves the version in place', async () => {
    const before = Date.now();
    const r = await cli(['restore', '--root', root, '--path', 'docs/a.txt']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^restored 'docs\/a\.txt' from \.ha-sync\/versions\/docs\/a~20261203-123005\.txt/);
    expect(read('docs/a.txt')).toBe('newer');
    // The restored file is a change of this side: its mtime is the restore's time.
    const m = fs.statSync(join(root, 'docs/a.txt')).mtimeMs;
    expect(m).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(m).toBeLessThanOrEqual(Date.now() + 1);
    expect(read(versionName('docs/a.txt', T2))).toBe('newer');
    const kept = /the file it replaced is kept as (\S+)/.exec(r.out)?.[1];
    expect(kept).toMatch(/^\.ha-sync\/versions\/docs\/a~\d{8}-\d{6}(-\d+)?\.txt$/);
    expect(read(kept!)).toBe('current');
  });

  it('restores the version named by --version, also where the file and its folder are gone', async () => {
    fs.rmSync(join(root, 'docs'), { recursive: true });
    const r = await cli([
      'restore',
      '--root',
      root,
      '--path',
      'docs/a.txt',
      '--version',
      'a~20261201-100000.txt',
    ]);
    expect(r.code).toBe(0);
    expect(read('docs/a.txt')).toBe('oldest');
    expect(r.out).not.toMatch(/replaced/);
  });

  it('the restore command versions prints works as printed', async () => {
    const listed = await cli(['versions', '--root', root, '--path', 'b.txt']);
    const line = listed.out.split('\n').find((l) => l.includes('ha-sync restore'))!;
    const argv = line
      .trim()
      .split(' ')
      .slice(1)
      .map((w) => w.replace(/^'(.*)'$/, '$1'));
    fs.unlinkSync(join(root, 'docs/a.txt')); // unrelated
    expect((await cli(argv)).code).toBe(0);
    expect(read('b.txt')).toBe('b kept');
  });

  it('refuses to replace a directory (exit 1, nothing touched)', async () => {
    fs.mkdirSync(join(root, 'b.txt'));
    const before = snapshot(tmp);
    const r = await cli(['restore', '--root', root, '--path', 'b.txt']);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/'b\.txt' is now a dir/);
    expect(snapshot(tmp)).toEqual(before);
  });

  it('refuses a root whose .ha-sync is a symlink (exit 1, one line, nothing touched)', async () => {
    const elsewhere = join(tmp, 'elsewhere');
    fs.renameSync(join(root, '.ha-sync'), elsewhere);
    fs.symlinkSync(elsewhere, join(root, '.ha-sync'));
    const before = snapshot(tmp);
    for (const argv of [
      ['restore', '--root', root, '--path', 'docs/a.txt'],
      ['versions', '--root', root],
    ]) {
      const r = await cli(argv);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        /^ha-sync (restore|versions): '.*\/\.ha-sync' is a symlink, not a directory.*\n$/,
      );
      expect(r.out).toBe('');
    }
    expect(snapshot(tmp)).toEqual(before);
  });

  it('prints its help', async () => {
    const r = await cli(['restore', '-h']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--version <name>/);
  });
});

describe('bad input: exit 2, one line naming the flag, nothing touched', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing --root', () => ['restore', '--path', 'b.txt'], /--root is required/],
    ['missing --path', () => ['restore', '--root', root], /--path is required/],
    [
      '--root does not exist',
      () => ['restore', '--root', join(tmp, 'nope'), '--path', 'b.txt'],
      /--root: .*does not exist/,
    ],
    [
      '--root is a file',
      () => ['restore', '--root', join(root, 'b.txt.x'), '--path', 'b'],
      /--root: .*not a directory/,
    ],
    [
      '--path absolute',
      () => ['restore', '--root', root, '--path', '/etc/passwd'],
      /--path: '\/etc\/passwd' is absolute/,
    ],
    [
      '--path with ..',
      () => ['restore', '--root', root, '--path', 'docs/../../x'],
      /--path: .* contains '\.\.'/,
    ],
    [
      '--path with NUL',
      () => ['restore', '--root', root, '--path', 'b\0.txt'],
      /--path: contains a NUL byte/,
    ],
    [
      '--path with //',
      () => ['restore', '--root', root, '--path', 'docs//a.txt'],
      /--path: .*empty or '\.' component/,
    ],
    [
      '--path inside .ha-sync',
      () => ['restore', '--root', root, '--path', `${VERSIONS_DIR}/b~20261201-100000.txt`],
      /--path: .* is inside \.ha-sync\//,
    ],
    [
      '--path through a symlinked parent',
      () => ['restore', '--root', root, '--path', 'linked/a.txt'],
      /--path: 'linked' under --root is a symlink/,
    ],
    [
      '--path through a file',
      () => ['restore', '--root', root, '--path', 'b.txt.x/a.txt'],
      /--path: 'b\.txt\.x' under --root is not a directory/,
    ],
    [
      'no versions of --path',
      () => ['restore', '--root', root, '--path', 'c.txt'],
      /--path: no kept versions of 'c\.txt'/,
    ],
    [
      '--version with a /',
      () => ['restore', '--root', root, '--path', 'b.txt', '--version', 'x/b~20261201-100000.txt'],
      /--version: expected a version's file name .*no '\/'/,
    ],
    [
      '--version not a version name',
      () => ['restore', '--root', root, '--path', 'b.txt', '--version', 'b.txt'],
      /--version: 'b\.txt' is not a kept version's name/,
    ],
    [
      '--version of another path',
      () => ['restore', '--root', root, '--path', 'b.txt', '--version', 'c~20261201-100000.txt'],
      /--version: 'c~20261201-100000\.txt' is a version of 'c\.txt', not of 'b\.txt'/,
    ],
    [
      '--version that does not exist',
      () => ['restore', '--root', root, '--path', 'b.txt', '--version', 'b~20261201-100001.txt'],
      /--version: no kept version 'b~20261201-100001\.txt' of 'b\.txt'/,
    ],
    ['unknown flag', () => ['restore', '--root', root, '--path', 'b.txt', '--force'], /unknown flag --force/],
    [
      'versions: --path absolute',
      () => ['versions', '--root', root, '--path', '/x'],
      /--path: '\/x' is absolute/,
    ],
    ['versions: missing --root', () => ['versions'], /--root is required/],
  ];
  it.each(cases)('%s', async (_name, argv, re) => {
    fs.writeFileSync(join(root, 'b.txt.x'), 'a file');
    fs.mkdirSync(join(tmp, 'outside'));
    fs.symlinkSync(join(tmp, 'outside'), join(root, 'linked'));
    const before = snapshot(tmp);
    const r = await cli(argv());
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^ha-sync (restore|versions): [^\n]+\n$/);
    expect(r.err).toMatch(re);
    expect(snapshot(tmp)).toEqual(before);
  });
});

describe('--keep-versions-days (the flag spec the writing commands share)', () => {
  const parse = (argv: string[]): number =>
    keepVersionsDaysFlag(parseFlags(argv, keepVersionsFlags).values['keep-versions-days']);
  it('defaults to 30; 0 keeps none', () => {
    expect(parse([])).toBe(30);
    expect(parse(['--keep-versions-days', '0'])).toBe(0);
    expect(parse(['--keep-versions-days=365'])).toBe(365);
  });
  it.each(['-1', '1.5', 'abc', '', '1e3', '36501'])('rejects %j with one line naming the flag', (v) => {
    expect(() => parse([`--keep-versions-days=${v}`])).toThrow(
      new RegExp(`^--keep-versions-days: expected an integer from 0 to 36500, got '${v}'$`),
    );
  });
});
