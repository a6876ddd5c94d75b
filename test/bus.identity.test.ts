// The bus layer's share of NATS identities, without a server: a delivery whose body names another
// pair or side than its subject is an error (the applier terminates it); the credential and TLS
// flags parse once, from flags or the environment, and a bad one is one line and exit 2 with no
// secret in it.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { natsBusOptions, openBus, toDelivery, type ChangeEvent } from '../src/bus/index.js';
import { inboxPrefixFor } from '../src/bus/nats.js';
import { parseApplyArgs } from '../src/cli/apply.js';
import { main } from '../src/cli/main.js';
import { parseTapArgs } from '../src/cli/tap.js';
import { parseWatchArgs } from '../src/cli/watch.js';

const ev: ChangeEvent = {
  v: 1,
  pair: 'media',
  side: 'dell',
  type: 'delete',
  kind: 'file',
  path: 'photos/a.jpg',
  size: 10,
  mtimeMs: 1_700_000_000_000,
  observedAt: 1_700_000_001_000,
};
const bytes = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

describe('toDelivery: the subject names the publisher', () => {
  it.each([
    ['its own subject', 'hasync.media.dell.events', null],
    [
      "the other side's subject",
      'hasync.media.hp.events',
      "event for media/dell arrived on subject 'hasync.media.hp.events'",
    ],
    ["another pair's subject", 'hasync.photos.dell.events', 'arrived on subject'],
    ['a subject of another shape', 'hasync.media.dell.health', 'arrived on subject'],
    ['a subject of too few tokens', 'media.dell', 'arrived on subject'],
  ])('an event for media/dell on %s', (_name, subject, error) => {
    const d = toDelivery(subject, bytes(ev), 2);
    expect(d.subject).toBe(subject);
    expect(d.deliveryCount).toBe(2);
    if (error === null) {
      expect(d.error).toBeUndefined();
      expect(d.event).toEqual(ev);
    } else {
      expect(d.event).toBeNull();
      expect(d.error).toContain(error);
    }
  });

  it('any subject prefix: only the pair and side tokens are compared', () => {
    expect(toDelivery('hstest.media.dell.events', bytes(ev), 1).event).toEqual(ev);
    expect(toDelivery('hstest.media.hp.events', bytes({ ...ev, side: 'hp' }), 1).event?.side).toBe('hp');
  });
});

describe('NATS credential and TLS flags', () => {
  it('come from flags or the environment, the same for watch, apply and tap', () => {
    const env = {
      NATS_USER: 'watch-dell',
      NATS_PASSWORD: 'pw-from-secret',
      NATS_TLS_CA: '/etc/ha-sync/nats/ca.crt',
    };
    const w = parseWatchArgs(['--watch', 'media:dell:/mnt/dell/media'], env);
    expect(w.nats).toMatchObject({
      natsUser: 'watch-dell',
      natsPassword: 'pw-from-secret',
      natsTlsCa: '/etc/ha-sync/nats/ca.crt',
      natsTlsCert: undefined,
    });
    expect(natsBusOptions(w.nats)).toMatchObject({
      user: 'watch-dell',
      password: 'pw-from-secret',
      tls: { caFile: '/etc/ha-sync/nats/ca.crt' },
    });
    const t = parseTapArgs(
      ['--nats-tls-ca', '/x/ca.crt', '--nats-tls-cert', '/x/c.crt', '--nats-tls-key', '/x/c.key'],
      {},
    );
    expect(natsBusOptions(t.nats).tls).toEqual({
      caFile: '/x/ca.crt',
      certFile: '/x/c.crt',
      keyFile: '/x/c.key',
    });
    const a = parseApplyArgs(['--pair', 'media', '--a', 'dell=/a', '--b', 'hp=/b', '--nats-tls-ca=/f'], {});
    expect(a.nats.natsTlsCa).toBe('/f');
    // No TLS flag, no tls option: the seed's plain connection.
    expect(natsBusOptions(parseTapArgs([], {}).nats).tls).toBeUndefined();
  });

  it.each([
    [['--nats-tls-cert', '/c.crt'], '--nats-tls-cert and --nats-tls-key go together: give both'],
    [['--nats-tls-key', '/c.key'], '--nats-tls-cert and --nats-tls-key go together: give both'],
    [['--nats-tls-ca', ' '], "--nats-tls-ca: expected a file path, got ' '"],
  ])('%j is one line, exit 2', async (argv, msg) => {
    let err = '';
    const sink = (keep: boolean): Writable =>
      new Writable({
        write(c: Buffer, _e, cb) {
          if (keep) err += c.toString();
          cb();
        },
      });
    const code = await main(['tap', ...argv], {
      stdout: sink(false),
      stderr: sink(true),
      env: {},
      signal: new AbortController().signal,
    });
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain(msg);
  });

  it('an unreadable TLS file is a usage error naming the flag, before any connection', async () => {
    await expect(
      openBus({ kind: 'nats', user: 'u', password: 'hunter2', tls: { caFile: '/nonexistent/ca.crt' } }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/^--nats-tls-ca: cannot read '\/nonexistent\/ca\.crt'/) as unknown,
    });
    await expect(
      openBus({ kind: 'nats', tls: { certFile: '/nonexistent/c.crt', keyFile: '/nonexistent/c.key' } }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('--nats-tls-cert') as unknown,
    });
  });

  it("each named user gets its own inbox prefix, as the server's permissions expect", () => {
    expect(inboxPrefixFor('apply-media')).toBe('_INBOX_apply-media');
    expect(inboxPrefixFor('watch-dell')).toBe('_INBOX_watch-dell');
    expect(inboxPrefixFor(undefined)).toBeUndefined();
    expect(inboxPrefixFor('a.b')).toBeUndefined();
    expect(inboxPrefixFor('a b')).toBeUndefined();
  });
});
