// `ha-sync ui`: its flags (parsed without touching anything) and the command's life: listen,
// answer, stop on the signal and exit 0.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { parseUiArgs, uiCommand } from '../src/cli/ui.js';

describe('parseUiArgs', () => {
  it('has the documented defaults', () => {
    expect(parseUiArgs([], {})).toEqual({
      help: false,
      port: 8080,
      host: '127.0.0.1',
      dbDsn: undefined,
      logDir: '/var/log/ha-sync',
      scheduleMinutes: 15,
      pairScheduleMinutes: {},
      nats: null,
      verbose: false,
    });
    expect(Object.isFrozen(parseUiArgs([], {}))).toBe(true);
    // --live: heartbeats heard on NATS, the --nats-* flags as the other commands take them.
    expect(parseUiArgs(['--live', '--nats-url', 'nats://n:4222'], {}).nats).toMatchObject({
      natsUrl: 'nats://n:4222',
    });
  });
  it('reads every flag, and the DSN from HA_SYNC_DB_DSN', () => {
    const c = parseUiArgs(
      [
        '--port=9090',
        '--host',
        '127.0.0.1',
        '--log-dir',
        '/tmp/x',
        '--schedule-minutes',
        '30',
        '--pair-schedule',
        'media=120',
        '--pair-schedule=ai=5',
        '-v',
      ],
      { HA_SYNC_DB_DSN: 'ha:secret@tcp(mysql:3306)/general_db' },
    );
    expect(c).toMatchObject({
      port: 9090,
      host: '127.0.0.1',
      logDir: '/tmp/x',
      scheduleMinutes: 30,
      pairScheduleMinutes: { media: 120, ai: 5 },
      verbose: true,
      dbDsn: 'ha:secret@tcp(mysql:3306)/general_db',
    });
    expect(parseUiArgs(['--db-dsn', 'mysql://u:p@h/db'], { HA_SYNC_DB_DSN: 'x' }).dbDsn).toBe(
      'mysql://u:p@h/db',
    );
    expect(parseUiArgs([], { HA_SYNC_DB_DSN: '' }).dbDsn).toBeUndefined();
  });
  it.each([
    [['--port', 'abc'], "--port: expected an integer from 0 to 65535, got 'abc'"],
    [['--port', '70000'], "--port: expected an integer from 0 to 65535, got '70000'"],
    [['--schedule-minutes', '0'], "--schedule-minutes: expected an integer from 1 to 10080, got '0'"],
    [['--pair-schedule', 'media'], "--pair-schedule: expected pair=minutes such as media=60, got 'media'"],
    [['--pair-schedule', 'Media=5'], /^--pair-schedule: expected lowercase letters/],
    [['--pair-schedule', 'media=x'], "--pair-schedule: expected an integer from 1 to 10080, got 'x'"],
    [['--host', ''], "--host: expected an address such as 0.0.0.0, got ''"],
    [['--db-dsn', 'not a dsn'], /^--db-dsn: .*value not shown/],
    [['--nope'], /^unknown flag --nope/],
  ])('rejects %j with one line', (argv, message) => {
    expect(() => parseUiArgs(argv, {})).toThrow(message);
  });
  it('never echoes a DSN password', () => {
    expect(() => parseUiArgs(['--db-dsn', 'user:hunter2@tcp(host'], {})).toThrow(/^(?!.*hunter2)/);
  });
  it('--help skips validation', () => {
    expect(parseUiArgs(['--help', '--port', 'abc'], {}).help).toBe(true);
  });
});

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let buf = '';
  stream.on('data', (d: Buffer) => (buf += d.toString()));
  return { stream, text: () => buf };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('uiCommand', () => {
  it('prints help and exits 0', async () => {
    const out = capture();
    const code = await uiCommand(['--help'], {
      stdout: out.stream,
      stderr: out.stream,
      env: {},
      signal: new AbortController().signal,
    });
    expect(code).toBe(0);
    expect(out.text()).toContain('--schedule-minutes <n>');
    expect(out.text()).toContain('env: HA_SYNC_DB_DSN');
  });
  it('a bad flag is a usage error: one line, exit 2', async () => {
    const err = capture();
    const code = await main(['ui', '--port', 'abc'], {
      stdout: err.stream,
      stderr: err.stream,
      env: {},
      signal: new AbortController().signal,
    });
    expect(code).toBe(2);
    expect(err.text()).toBe("ha-sync ui: --port: expected an integer from 0 to 65535, got 'abc'\n");
  });
  it('serves until the signal, then exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-cli-'));
    const port = await freePort();
    const ac = new AbortController();
    const out = capture();
    const running = uiCommand(['--port', String(port), '--host', '127.0.0.1', '--log-dir', dir], {
      stdout: out.stream,
      stderr: out.stream,
      env: {},
      signal: ac.signal,
    });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 200 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 25));
      }
      expect(res?.status).toBe(200);
      expect(await res?.json()).toEqual({ status: 'ready', store: 'sqlite' });
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    } finally {
      ac.abort();
      expect(await running).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
