// `ha-sync watch` and `ha-sync tap` as commands: argument parsing (pure, no I/O), --help, config
// files, and both commands run in-process against the real NATS: a file written under the watched
// root comes out of tap as one line (and as JSON with --json), an invalid message as a warning.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { openBus } from '../src/bus/index.js';
import type { CliContext } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { formatDelivery, parseDuration, parseTapArgs, tapCommand } from '../src/cli/tap.js';
import { loadWatchConfig, parseWatchArgs, watchCommand } from '../src/cli/watch.js';
import { markRootSync } from './applier.helpers.js';

const base = mkdtempSync(join(tmpdir(), 'hasync-tapcli-'));
const suffix = randomBytes(4).toString('hex');
const STREAM = `HASYNC_TEST_TAP_${suffix}`;
const PREFIX = `hasynct${suffix}`;

afterAll(async () => {
  const b = await openBus({ kind: 'nats', stream: STREAM, subjectPrefix: PREFIX });
  await b.deleteStream().catch(() => undefined);
  await b.close();
  rmSync(base, { recursive: true, force: true });
});

function ctx(
  env: NodeJS.ProcessEnv = {},
): CliContext & { out: () => string; err: () => string; stop: () => void } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const ac = new AbortController();
  return { stdout, stderr, env, signal: ac.signal, out: () => out, err: () => err, stop: () => ac.abort() };
}

async function waitFor(what: string, f: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!f()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('parseWatchArgs', () => {
  it('accepts one root, repeated --watch, and NATS settings from flags or the environment', () => {
    const c = parseWatchArgs(
      [
        '--pair',
        'media',
        '--side',
        'dell',
        '--root',
        '/mnt/media',
        '--watch',
        'docs:dell:/mnt/docs',
        '--poll-interval=500',
      ],
      { NATS_URL: 'nats://nats.infra:4222', NATS_TOKEN: 's3cret' },
    );
    expect(c.roots).toEqual([
      { pair: 'media', side: 'dell', root: '/mnt/media' },
      { pair: 'docs', side: 'dell', root: '/mnt/docs' },
    ]);
    expect(c.watcher).toMatchObject({ mode: 'poll', pollIntervalMs: 500, initialSync: false });
    expect(c.nats).toMatchObject({
      natsUrl: 'nats://nats.infra:4222',
      natsToken: 's3cret',
      stream: 'HASYNC',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [[], 'nothing to watch'],
    [['--pair', 'media'], '--pair, --side and --root go together'],
    [['--watch', 'media:dell'], "--watch: expected pair:side:/root, got 'media:dell'"],
    [['--watch', 'Media:dell:/x'], 'pair must be lowercase'],
    [['--watch', 'm:dell:/x', '--watch', 'm:dell:/y'], 'watched twice'],
    [['--watch', 'm:d:/x', '--mode', 'inotify'], "--mode: expected one of poll, native, got 'inotify'"],
    [['--watch', 'm:d:/x', '--sweep-rate=-1'], '--sweep-rate: expected an integer from 0'],
    [['--watch', 'm:d:/x', '--nats-url', 'http://x y'], '--nats-url: expected nats://host:port'],
    [['--watch', 'm:d:/x', '--nats-token', 't', '--nats-user', 'u'], 'exclusive'],
    [['--watch', 'm:d:/x', '--nats-password', 'p'], '--nats-password needs --nats-user'],
    [['--watch', 'm:d:/x', '--bogus'], 'unknown flag --bogus'],
  ])('rejects %j with one line', (argv, msg) => {
    expect(() => parseWatchArgs(argv, {})).toThrow(msg);
  });

  it('reads roots from a JSON or YAML config file', async () => {
    const j = join(base, 'w.json');
    const y = join(base, 'w.yaml');
    writeFileSync(j, JSON.stringify({ watch: [{ pair: 'media', side: 'hp', root: '/srv/media' }] }));
    writeFileSync(
      y,
      'watch:\n  - pair: media\n    side: hp\n    root: /srv/media\n  - {pair: docs, side: hp, root: /srv/docs}\n',
    );
    expect(await loadWatchConfig(j)).toEqual([{ pair: 'media', side: 'hp', root: '/srv/media' }]);
    expect((await loadWatchConfig(y)).map((r) => r.pair)).toEqual(['media', 'docs']);
    writeFileSync(j, '{"watch": [{"pair": "media", "side": "hp", "root": "relative"}]}');
    await expect(loadWatchConfig(j)).rejects.toThrow('must be an absolute path');
    writeFileSync(j, '{nope');
    await expect(loadWatchConfig(j)).rejects.toThrow('is not valid JSON');
    await expect(loadWatchConfig(join(base, 'missing.json'))).rejects.toThrow('cannot read');
  });
});

describe('parseTapArgs', () => {
  it('parses filters and durations', () => {
    expect(parseTapArgs(['--pair', 'media', '--side', 'hp', '--json', '--since', '1h30m'], {})).toMatchObject(
      {
        pair: 'media',
        side: 'hp',
        json: true,
        sinceMs: 5_400_000,
      },
    );
    expect(parseDuration('since', '90s')).toBe(90_000);
    expect(() => parseTapArgs(['--since', '5 minutes'], {})).toThrow('--since: expected a duration');
    expect(() => parseTapArgs(['--since', '0s'], {})).toThrow('--since');
    expect(() => parseTapArgs(['--pair', 'a.b'], {})).toThrow('--pair');
  });

  it('formats one line per event and a warning for an invalid message', () => {
    const line = formatDelivery({
      subject: 'hasync.media.dell.events',
      deliveryCount: 1,
      event: {
        v: 1,
        pair: 'media',
        side: 'dell',
        type: 'upsert',
        kind: 'file',
        path: 'a b.txt',
        size: 3,
        mtimeMs: 0,
        observedAt: 1000,
      },
    });
    expect(line).toBe(
      '1970-01-01T00:00:01.000Z media dell upsert file "a b.txt" size=3 mtime=1970-01-01T00:00:00.000Z',
    );
    expect(formatDelivery({ subject: 's', deliveryCount: 1, event: null, error: 'path is absolute' })).toBe(
      'warning: invalid event on s: path is absolute',
    );
  });
});

describe('commands', () => {
  it('print --help and exit 0', async () => {
    const c = ctx();
    expect(await main(['watch', '--help'], c)).toBe(0);
    expect(c.out()).toContain('--sweep-rate');
    expect(c.out()).not.toContain('--subject-prefix');
    const t = ctx();
    expect(await main(['tap', '--help'], t)).toBe(0);
    expect(t.out()).toContain("nats sub 'hasync.>'");
    const bad = ctx();
    expect(await main(['watch', '--watch', 'x'], bad)).toBe(2);
    expect(bad.err()).toBe("ha-sync watch: --watch: expected pair:side:/root, got 'x'\n");
  });

  it('watch publishes a new file and tap prints it (plain and --json); invalid messages are warnings', async () => {
    const root = join(base, 'root');
    mkdirSync(root);
    markRootSync(root, 'media', 'dell'); // a watcher watches only a root that holds its marker
    writeFileSync(join(root, 'existing.txt'), 'e');
    const nats = ['--stream', STREAM, '--subject-prefix', PREFIX];
    const w = ctx();
    const watching = watchCommand(
      ['--pair', 'media', '--side', 'dell', '--root', root, '--poll-interval', '200', ...nats],
      w,
    );
    const t = ctx();
    const tapping = tapCommand(['--pair', 'media', ...nats], t);
    const tj = ctx();
    const tappingJson = tapCommand(['--json', '--side', 'dell', ...nats], tj);
    await waitFor('the watcher to start', () => w.out().includes('"watching"'));
    await new Promise((r) => setTimeout(r, 1000)); // taps deliver new events only: let them subscribe

    writeFileSync(join(root, 'new file.txt'), 'hello');
    await waitFor('the tap line', () => t.out().includes('"new file.txt"'));
    expect(t.out()).toMatch(/^\S+Z media dell upsert file "new file.txt" size=5 mtime=\S+Z\n$/m);
    await waitFor('the json line', () => tj.out().includes('new file.txt'));
    expect(JSON.parse(tj.out().trim().split('\n')[0]!)).toMatchObject({
      v: 1,
      path: 'new file.txt',
      size: 5,
    });
    expect(t.out()).not.toContain('existing.txt');

    const nc = await connect({ servers: '127.0.0.1:4222' });
    nc.publish(`${PREFIX}.media.dell.events`, JSON.stringify({ v: 1, path: '/etc/passwd' }));
    await nc.flush();
    await nc.close();
    await waitFor('the warning', () => t.err().includes('warning: invalid event'));
    expect(t.err()).toContain(`warning: invalid event on ${PREFIX}.media.dell.events:`);

    w.stop();
    t.stop();
    tj.stop();
    expect(await watching).toBe(0);
    expect(await tapping).toBe(0);
    expect(await tappingJson).toBe(0);
  });
});
