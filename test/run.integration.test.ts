// End to end: `ha-sync run` as the README's "fresh machine" command runs it: the built CLI, two
// temp folders, files written on both sides, SIGINT, clean exit.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRunArgs } from '../src/cli/run.js';
import { read, tempRoots, until } from './applier.helpers.js';

const CLI = resolve('dist/bin/ha-sync.js');

describe('parseRunArgs', () => {
  it('defaults: pair local, lock file, state dir under XDG_STATE_HOME or ~/.local/state', () => {
    const c = parseRunArgs(['--a', 'laptop=/x', '--b', 'usb=/y'], { HOME: '/home/u' });
    expect(c).toMatchObject({
      pair: 'local',
      lock: { lock: 'file', lockTtlSeconds: 30 },
      audit: { logDir: '/home/u/.local/state/ha-sync' },
    });
    expect(parseRunArgs(['--a', 'l=/x', '--b', 'u=/y'], { XDG_STATE_HOME: '/s' }).audit.logDir).toBe(
      '/s/ha-sync',
    );
    expect(
      parseRunArgs(['--a', 'l=/x', '--b', 'u=/y', '--log-dir', '~/st'], { HOME: '/h' }).audit.logDir,
    ).toBe('/h/st');
  });
  it('rejects bad input with one line', () => {
    expect(() => parseRunArgs(['--a', 'x', '--b', 'u=/y'], {})).toThrow(/--a: expected label=path/);
    expect(() => parseRunArgs(['--a', 'Bad=/x', '--b', 'u=/y'], {})).toThrow(/--a: expected lowercase/);
    expect(() => parseRunArgs(['--a', 'l=/x', '--b', 'l=/y'], {})).toThrow(/different labels/);
    expect(() => parseRunArgs(['--b', 'l=/y'], {})).toThrow(/--a is required/);
    expect(() => parseRunArgs(['--a', 'l=/x', '--b', 'u=/y', '--workers', '0'], {})).toThrow(/--workers/);
  });
});

describe('ha-sync run (end to end)', () => {
  const t = tempRoots('run');
  afterAll(() => t.cleanup());

  it('equalizes both ways, follows changes both ways, exits 0 on SIGINT', async () => {
    // Before: each side has something the other lacks, and one file newer on b.
    mkdirSync(join(t.a, 'docs'));
    writeFileSync(join(t.a, 'docs/only-a.txt'), 'A');
    writeFileSync(join(t.b, 'only-b.txt'), 'B');
    writeFileSync(join(t.a, 'shared.txt'), 'old');
    writeFileSync(join(t.b, 'shared.txt'), 'newer on b');
    utimesSync(join(t.a, 'shared.txt'), new Date(), new Date(Date.now() - 3600_000));
    const state = join(t.base, 'state');

    const child = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--a',
        `laptop=${t.a}`,
        '--b',
        `usb=${t.b}`,
        '--log-dir',
        state,
        '--delete-missing',
        '--poll-interval',
        '200',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: string[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    child.stderr.on('data', (b: Buffer) => out.push(b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await until('live', () => out.join('').includes('following changes live'), 30_000);
      expect(read(join(t.b, 'docs/only-a.txt'))).toBe('A');
      expect(read(join(t.a, 'only-b.txt'))).toBe('B');
      expect(read(join(t.a, 'shared.txt'))).toBe('newer on b');

      // Live, both directions: create, modify, mkdir, rename, delete.
      writeFileSync(join(t.a, 'live-a.txt'), 'from a');
      mkdirSync(join(t.b, 'newdir'));
      writeFileSync(join(t.b, 'newdir/live-b.txt'), 'from b');
      await until(
        'creates crossed',
        () => read(join(t.b, 'live-a.txt')) === 'from a' && read(join(t.a, 'newdir/live-b.txt')) === 'from b',
      );
      writeFileSync(join(t.b, 'live-a.txt'), 'edited on b');
      utimesSync(join(t.b, 'live-a.txt'), new Date(), new Date(Date.now() + 5000));
      await until('modify crossed', () => read(join(t.a, 'live-a.txt')) === 'edited on b');
      const { renameSync } = await import('node:fs');
      renameSync(join(t.a, 'docs/only-a.txt'), join(t.a, 'docs/renamed.txt'));
      await until(
        'rename crossed',
        () => read(join(t.b, 'docs/renamed.txt')) === 'A' && !existsSync(join(t.b, 'docs/only-a.txt')),
      );
      rmSync(join(t.b, 'only-b.txt'));
      await until('delete crossed', () => !existsSync(join(t.a, 'only-b.txt')));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out.join('')).toContain('stopped cleanly');
    expect(existsSync(join(state, 'ha-sync.sqlite'))).toBe(true);
  });
});
