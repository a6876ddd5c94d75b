// Integration tier: NATS with identities. A nats-server started by this file on a free port, with
// the configuration `npm run manifests` renders (users, per-subject permissions, TLS) and the
// Secrets `gen-k8s.mjs --secrets` writes (a throw-away CA and server certificate, passwords), its
// JetStream store in a temp dir. Checks: a client without credentials (or without TLS) is refused;
// a watcher cannot publish for the other side, tap cannot publish at all; and a forged "delete from
// dell" removes nothing, while the same delete from dell's own identity does (`ha-sync apply`, the
// built CLI, as in the cluster).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { openBus, type ChangeEvent, type Delivery, type NatsBus } from '../src/bus/index.js';
import { createLogger } from '../src/log.js';
import { eventFor, read, until, freePort } from './applier.helpers.js';
import { GENERATOR, K8S_DIR, parseDocs } from './k8s.helpers.js';

const CLI = resolve('dist/bin/ha-sync.js');
const PAIR = 'live';
const STREAM = 'HASYNC';
const log = createLogger({ silent: true });

let tmp = '';
let server: ChildProcess | undefined;
let url = '';
let ca = '';
let passwords: Record<string, string> = {};
const opened: { close(): Promise<void> }[] = [];

/** The generator's output for a pairs.yaml with the one pair `live` on servers dell and hp. */
function generate(): { conf: string; serverEnv: Record<string, string> } {
  const doc = YAML.parse(readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8')) as Record<string, unknown>;
  doc.pairs = [{ name: PAIR, capacity: '1Gi' }];
  const pairsFile = join(tmp, 'pairs.yaml');
  writeFileSync(pairsFile, YAML.stringify(doc));
  const gen = (...args: string[]) => {
    const r = spawnSync(process.execPath, [GENERATOR, '--pairs', pairsFile, ...args], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  };
  gen('--out', join(tmp, 'generated'));
  gen('--secrets', join(tmp, 'secrets'));
  const nats = parseDocs(readFileSync(join(tmp, 'generated', 'nats.yaml'), 'utf8'));
  const conf = nats.find((o) => o.kind === 'ConfigMap')!.data['nats.conf'] as string;
  const users = parseDocs(readFileSync(join(tmp, 'secrets', 'nats-server-users.yaml'), 'utf8'))[0]!;
  return { conf, serverEnv: users.stringData as Record<string, string> };
}

/** The cluster's configuration with this machine's addresses and paths instead of the pod's. */
function localConf(conf: string, port: number, httpPort: number): string {
  const out = conf
    .replace(/^server_name: .*$/m, 'server_name: hasync_auth_test')
    .replace(/^listen: .*$/m, `listen: 127.0.0.1:${port}`)
    .replace(/^http: .*$/m, `http: 127.0.0.1:${httpPort}`)
    .replace(/store_dir: .*$/m, `store_dir: ${JSON.stringify(join(tmp, 'store'))}`)
    .replace(/cert_file: .*$/m, `cert_file: ${JSON.stringify(join(tmp, 'secrets', 'tls.crt'))}`)
    .replace(/key_file: .*$/m, `key_file: ${JSON.stringify(join(tmp, 'secrets', 'tls.key'))}`);
  expect(out).toContain(`listen: 127.0.0.1:${port}`);
  expect(out).toContain(join(tmp, 'secrets', 'tls.key'));
  return out;
}

async function as(
  user: string,
  over: { publishTimeoutMs?: number; logger?: typeof log } = {},
): Promise<NatsBus> {
  const bus = await openBus({
    kind: 'nats',
    url,
    user,
    password: passwords[user]!,
    tls: { caFile: ca },
    logger: over.logger ?? log,
    publishTimeoutMs: over.publishTimeoutMs ?? 5000,
  });
  opened.push(bus);
  return bus;
}

async function raw(opts: Parameters<typeof connect>[0]): Promise<NatsConnection> {
  const inbox = typeof opts?.user === 'string' ? { inboxPrefix: `_INBOX_${opts.user}` } : {};
  const nc = await connect({ servers: url, reconnect: false, timeout: 3000, ...inbox, ...opts });
  opened.push({ close: () => nc.close() });
  return nc;
}

async function streamMessages(): Promise<number> {
  const nc = await raw({ user: 'tap', pass: passwords.tap!, tls: { ca: readFileSync(ca, 'utf8') } });
  const jsm = await jetstreamManager(nc);
  const n = (await jsm.streams.info(STREAM)).state.messages;
  await nc.close();
  return n;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ha-sync-bus-auth-'));
  mkdirSync(join(tmp, 'store'));
  const { conf, serverEnv } = generate();
  const port = await freePort();
  const httpPort = await freePort();
  const confFile = join(tmp, 'nats.conf');
  writeFileSync(confFile, localConf(conf, port, httpPort));
  server = spawn('/usr/sbin/nats-server', ['-c', confFile], {
    stdio: 'ignore',
    env: { ...process.env, ...serverEnv },
  });
  url = `nats://127.0.0.1:${port}`;
  ca = join(tmp, 'secrets', 'ca.crt');
  const creds = JSON.parse(readFileSync(join(tmp, 'secrets', 'credentials.json'), 'utf8')) as {
    passwords: Record<string, string>;
  };
  passwords = creds.passwords;
  expect(Object.keys(passwords).sort()).toEqual([
    'apply-live',
    'reconcile-live',
    'tap',
    'ui',
    'watch-dell',
    'watch-hp',
  ]);
  // The applier's identity creates the stream, as the first applier to start in the cluster does.
  const applier = await as('apply-live');
  await applier.ready();
  await applier.pending(PAIR);
  await applier.close();
});

afterAll(async () => {
  for (const c of opened) await c.close().catch(() => undefined);
  server?.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('NATS with identities: who may connect', () => {
  it('refuses a client without credentials, with a wrong password, or without TLS', async () => {
    const tls = { ca: readFileSync(ca, 'utf8') };
    await expect(raw({ tls })).rejects.toThrow(/authoriz/i);
    await expect(raw({ tls, user: 'watch-dell', pass: 'wrong' })).rejects.toThrow(/authoriz/i);
    await expect(raw({ user: 'watch-dell', pass: passwords['watch-dell']!, tls: null })).rejects.toThrow();
    // The right user and password over TLS, verified against the generated CA: accepted.
    const nc = await raw({ tls, user: 'watch-dell', pass: passwords['watch-dell']! });
    expect(nc.isClosed()).toBe(false);
  });

  it('the bus says why it is refused (never with the password), and keeps trying', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(c: Buffer, _e, cb) {
          lines.push(c.toString());
          cb();
        },
      }),
    });
    const wrong = 'not-the-password-4711';
    const refused = await openBus({
      kind: 'nats',
      url,
      user: 'watch-dell',
      password: wrong,
      tls: { caFile: ca },
      logger,
    });
    opened.push(refused);
    await until('a refusal is logged', () => lines.some((l) => l.includes('nats refused the credentials')));
    // Without the CA the server's certificate cannot be verified.
    const untrusted = await openBus({
      kind: 'nats',
      url,
      user: 'watch-dell',
      password: passwords['watch-dell']!,
      tls: {},
      logger,
    });
    opened.push(untrusted);
    await until('a TLS failure is logged', () => lines.some((l) => l.includes('nats TLS failed')));
    expect(refused.connected || untrusted.connected).toBe(false);
    const all = lines.join('');
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(passwords['watch-dell']!);
  });
});

describe('NATS with identities: the subject names the publisher', () => {
  const ev = (side: string, path: string): ChangeEvent => ({
    v: 1,
    pair: PAIR,
    side,
    type: 'upsert',
    kind: 'file',
    path,
    size: 1,
    mtimeMs: 1_700_000_000_000,
    observedAt: Date.now(),
  });

  it("a watcher publishes its own side's events; the server rejects the other side's", async () => {
    const hp = await as('watch-hp', { publishTimeoutMs: 1500 });
    await hp.ready();
    const before = await streamMessages();
    await hp.publish(ev('hp', 'own.txt'));
    await expect(hp.publish(ev('dell', 'forged.txt'))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(await streamMessages()).toBe(before + 1);
  });

  it('tap reads every event and cannot publish anything', async () => {
    const dellWatcher = await as('watch-dell');
    await dellWatcher.ready();
    await dellWatcher.publish(ev('dell', 'for-tap.txt'));
    const tap = await as('tap');
    const seen: Delivery[] = [];
    const stop = new AbortController();
    const watching = tap.watch({ pair: PAIR, sinceMs: 0 }, (d) => seen.push(d), stop.signal);
    await until('tap sees the stored event', () => seen.some((d) => d.event?.path === 'for-tap.txt'));
    stop.abort();
    await watching;
    const nc = await raw({ user: 'tap', pass: passwords.tap!, tls: { ca: readFileSync(ca, 'utf8') } });
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    const before = await streamMessages();
    for (const subject of [`hasync.${PAIR}.dell.events`, `hasync.${PAIR}.hp.events`])
      nc.publish(subject, JSON.stringify(ev('dell', 'from-tap.txt')));
    // Nor can it pull (and so take) the applier's events from its durable consumer.
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.hasync-apply-${PAIR}`, JSON.stringify({ batch: 1 }));
    await nc.flush();
    const denied = () => errors.filter((e) => /permissions violation for publish/i.test(e));
    await until('the server says no three times', () => denied().length >= 3);
    expect(denied().join('\n')).toContain(`hasync-apply-${PAIR}`);
    expect(await streamMessages()).toBe(before);
    // Looking at the backlog of the applier's consumer is allowed: that is only reading.
    const jsm = await jetstreamManager(nc);
    expect((await jsm.consumers.info(STREAM, `hasync-apply-${PAIR}`)).name).toBe(`hasync-apply-${PAIR}`);
  });
});

describe('NATS with identities: a forged delete removes nothing', () => {
  it("only dell's identity can make the applier delete hp's copy of what dell lost", async () => {
    const base = join(tmp, 'sync');
    const dell = join(base, 'dell');
    const hp = join(base, 'hp');
    const logs = join(base, 'logs');
    for (const d of [dell, hp, logs]) mkdirSync(d, { recursive: true });
    writeFileSync(join(dell, 'marker'), 'm');
    writeFileSync(join(hp, 'marker'), 'm');
    writeFileSync(join(dell, 'photo.jpg'), 'precious');
    writeFileSync(join(hp, 'photo.jpg'), 'precious');
    // The baseline records photo.jpg on both sides; then it is gone from dell only.
    const sides = ['--pair', PAIR, '--a', `dell=${dell}`, '--b', `hp=${hp}`, '--log-dir', logs];
    const rec = spawnSync(process.execPath, [CLI, 'reconcile', ...sides, '--lock', 'file'], {
      encoding: 'utf8',
    });
    expect(rec.status, rec.stderr + rec.stdout).toBe(0);
    const st = statSync(join(dell, 'photo.jpg'));
    const last = { size: st.size, mtimeMs: st.mtimeMs };
    unlinkSync(join(dell, 'photo.jpg'));

    // The applier, as in the cluster: its identity from the environment, TLS with the CA.
    const child = spawn(
      process.execPath,
      [CLI, 'apply', ...sides, '--delete-missing', '--lock', 'file', '--nats-url', url, '--nats-tls-ca', ca],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NATS_USER: 'apply-live', NATS_PASSWORD: passwords['apply-live']! },
      },
    );
    const out: string[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    child.stderr.on('data', (b: Buffer) => out.push(b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    opened.push({
      close: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    });
    const del = eventFor(PAIR, 'dell', dell, 'photo.jpg', 'delete', last);
    const hpWatcher = await as('watch-hp', { publishTimeoutMs: 1500 });
    await hpWatcher.ready();
    const applier = await as('apply-live');
    await applier.ready();

    // 1. hp's watcher publishes "dell deleted photo.jpg" on dell's subject: the server refuses.
    await expect(hpWatcher.publish(del)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    // 2. On its own subject with a body claiming dell: stored, then refused by the bus layer.
    const nc = await raw({
      user: 'watch-hp',
      pass: passwords['watch-hp']!,
      tls: { ca: readFileSync(ca, 'utf8') },
    });
    const ack = await nc.request(`hasync.${PAIR}.hp.events`, JSON.stringify(del), { timeout: 3000 });
    expect(ack.string()).toContain(STREAM);
    await until('the applier drained its queue', async () => (await applier.pending(PAIR)) === 0, 30_000);
    await until('the forged event is logged', () => /arrived on subject/.test(out.join('')));
    expect(read(join(hp, 'photo.jpg'))).toBe('precious');

    // 3. The same delete from dell's own identity: the applier carries it out (kept as a version).
    const dellWatcher = await as('watch-dell');
    await dellWatcher.ready();
    await dellWatcher.publish({ ...del, observedAt: Date.now() });
    await until('the real delete is applied', () => !existsSync(join(hp, 'photo.jpg')), 30_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // No password in anything the applier printed.
    expect(out.join('')).not.toContain(passwords['apply-live']!);
  });
});
