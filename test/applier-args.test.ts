// parseApplyArgs: flag syntax and values, without touching the filesystem or the network.
import { describe, expect, it } from 'vitest';
import { parseApplyArgs } from '../src/cli/apply.js';

const base = ['--pair', 'media', '--a', 'dell=/mnt/dell/media', '--b', 'hp=/mnt/hp/media'];

describe('parseApplyArgs', () => {
  it('resolves defaults: short lock ttl, threshold 2 s, 4 workers, 5-minute windows, no deletes', () => {
    const c = parseApplyArgs(base, {});
    expect(c).toMatchObject({
      pair: 'media',
      a: { label: 'dell', root: '/mnt/dell/media' },
      b: { label: 'hp', root: '/mnt/hp/media' },
      deleteMissing: false,
      mtimeThresholdMs: 2000,
      workers: 4,
      windowMs: 300_000,
      idleReleaseMs: 5000,
      ackWaitMs: 30_000,
      lock: { lock: 'auto', lockTtlSeconds: 30 },
      nats: { natsUrl: 'nats://127.0.0.1:4222' },
      audit: { logDir: '/var/log/ha-sync', dbDsn: undefined },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes explicit values, Go-style booleans and the environment', () => {
    const c = parseApplyArgs(
      [
        ...base,
        '--delete-missing=true',
        '--mtime-threshold',
        '0.5',
        '--workers=8',
        '--lock-ttl',
        '120',
        '--window',
        '60',
      ],
      { NATS_URL: 'nats://nats.infra:4222', HA_SYNC_DB_DSN: 'u:p@tcp(db:3306)/general_db' },
    );
    expect(c).toMatchObject({
      deleteMissing: true,
      mtimeThresholdMs: 500,
      workers: 8,
      windowMs: 60_000,
      lock: { lockTtlSeconds: 120 },
    });
    expect(c.nats.natsUrl).toBe('nats://nats.infra:4222');
    expect(c.audit.dbDsn).toBe('u:p@tcp(db:3306)/general_db');
  });

  it.each([
    [['--a', 'dell=/x', '--b', 'hp=/y'], /--pair is required/],
    [['--pair', 'media', '--b', 'hp=/y'], /--a is required/],
    [['--pair', 'media', '--a', '/just/a/path', '--b', 'hp=/y'], /--a: expected label=path/],
    [['--pair', 'media', '--a', 'dell=', '--b', 'hp=/y'], /--a: expected label=path/],
    [['--pair', 'media', '--a', 'dell=/x', '--b', 'dell=/y'], /different labels/],
    [['--pair', 'Media', '--a', 'dell=/x', '--b', 'hp=/y'], /--pair: expected lowercase/],
    [[...base, '--workers', '0'], /--workers: expected an integer from 1 to 256/],
    [[...base, '--mtime-threshold', 'two'], /--mtime-threshold: expected a number/],
    [[...base, '--nats-url', 'http://x y'], /--nats-url/],
    [[...base, '--bogus'], /unknown flag --bogus/],
  ])('rejects %j with one line', (argv, re) => {
    expect(() => parseApplyArgs(argv, {})).toThrow(re);
  });

  it('--help needs nothing else', () => {
    expect(parseApplyArgs(['--help'], {}).help).toBe(true);
  });
});
