// Integration tier: `ha-sync apply` (the built CLI, a separate process) against the real NATS
// JetStream on this machine, own stream and subject prefix, events published as a watcher would.
// Covers: killed mid-stream and restarted (nothing lost), NATS restarted mid-stream (own server),
// hostile raw messages rejected with nothing written outside the roots, duplicates harmless.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  statSync,
  writeFileSync,
  writeSync,
  readdirSync,
  existsSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsBus } from '../src/bus/index.js';
import { openBus } from '../src/bus/index.js';
import { TEMP_RE } from '../src/fsops/index.js';
import { createLogger } from '../src/log.js';
import { eventFor, read, tempRoots, until, freePort } from './applier.helpers.js';

const CLI = resolve('dist/bin/ha-sync.js');
const PAIR = 'live';
const log = createLogger({ silent: true });
const suffix = randomBytes(4).toString('hex');

interface Proc {
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function startApply(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, 'apply', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NATS_URL: '' },
  });
  const out: string[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(...b.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (b: Buffer) => out.push(...b.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

describe('ha-sync apply over NATS JetStream', () => {
  const stream = `HASYNC_T_APPLY_${suffix}`;
  const prefix = `hst${suffix}`;
  const t = tempRoots('live-apply', PAIR);
  let bus: NatsBus;
  const procs: Proc[] = [];

  const applyArgs = (
    extra: string[] = [],
    url = 'nats://127.0.0.1:4222',
    s = stream,
    p = prefix,
    logs = t.logs,
  ): string[] => [
    '--pair',
    PAIR,
    '--a',
    `dell=${t.a}`,
    '--b',
    `hp=${t.b}`,
    '--nats-url',
    url,
    '--stream',
    s,
    '--subject-prefix',
    p,
    '--log-dir',
    logs,
    '--lock',
    'file',
    '--delete-missing',
    '--workers',
    '4',
    '--ack-wait',
    '3',
    ...extra,
  ];

  beforeAll(async () => {
    writeFileSync(join(t.a, 'marker'), 'm');
    writeFileSync(join(t.b, 'marker'), 'm');
    bus = await openBus({
      kind: 'nats',
      url: 'nats://127.0.0.1:4222',
      stream,
      subjectPrefix: prefix,
      logger: log,
    });
    await bus.ready();
  });

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await bus.deleteStream().catch(() => undefined);
    await bus.close();
    t.cleanup();
  });

  it('killed mid-stream and restarted: nothing is lost; SIGTERM exits 0', async () => {
    mkdirSync(join(t.a, 'k'));
    const N = 60;
    for (let i = 0; i < N; i++) writeFileSync(join(t.a, `k/f${i}.txt`), `content ${i}`);
    const first = startApply(applyArgs(['--workers', '1']));
    procs.push(first);
    for (let i = 0; i < N; i++) await bus.publish(eventFor(PAIR, 'dell', t.a, `k/f${i}.txt`));
    await until(
      'some copied',
      () =>
        existsSync(join(t.b, 'k')) &&
        readdirSync(join(t.b, 'k')).filter((n) => n.endsWith('.txt')).length >= 3,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${first.out.join('\n')}`);
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const second = startApply(applyArgs());
    procs.push(second);
    await until(
      'all copied after restart',
      () => {
        for (let i = 0; i < N; i++) if (read(join(t.b, `k/f${i}.txt`)) !== `content ${i}`) return false;
        return true;
      },
      30_000,
    );
    // Duplicates (a republished change, a redelivery) are harmless.
    await bus.publish({ ...eventFor(PAIR, 'dell', t.a, 'k/f1.txt'), observedAt: Date.now() + 5 });
    await until('queue drained', async () => (await bus.pending(PAIR)) === 0);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.out.join('\n')).toContain('applier stopped');
  });

  it('kill -9 during a large copy leaves a temp file; the restarted applier removes it and copies again', async () => {
    mkdirSync(join(t.a, 'big'));
    const chunk = randomBytes(1 << 20);
    const fd = openSync(join(t.a, 'big', 'video.bin'), 'w');
    for (let i = 0; i < 300; i++) writeSync(fd, chunk);
    closeSync(fd);
    const first = startApply(applyArgs(['--workers', '1']));
    procs.push(first);
    await bus.publish(eventFor(PAIR, 'dell', t.a, 'big'));
    await bus.publish(eventFor(PAIR, 'dell', t.a, 'big/video.bin'));
    const temps = (): string[] =>
      existsSync(join(t.b, 'big')) ? readdirSync(join(t.b, 'big')).filter((n) => TEMP_RE.test(n)) : [];
    let seen = false;
    for (let i = 0; i < 2_000_000 && first.child.exitCode === null; i++) {
      if (temps().length > 0) {
        first.child.kill('SIGKILL');
        seen = true;
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    await first.exited;
    expect(seen).toBe(true);
    expect(temps()).toHaveLength(1); // what the killed copy left
    const second = startApply(applyArgs());
    procs.push(second);
    await until(
      'copied after the restart',
      () => statSync(join(t.b, 'big', 'video.bin'), { throwIfNoEntry: false })?.size === 300 << 20,
      60_000,
    );
    await until('queue drained', async () => (await bus.pending(PAIR)) === 0);
    expect(temps()).toEqual([]);
    expect(second.out.join('\n')).toMatch(/removed stale temp files/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('rejects hostile raw messages; nothing is written outside the roots', async () => {
    const proc = startApply(applyArgs());
    procs.push(proc);
    writeFileSync(join(t.a, 'ok.txt'), 'fine');
    const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
    try {
      const base = eventFor(PAIR, 'dell', t.a, 'ok.txt');
      const subject = `${prefix}.${PAIR}.dell.events`;
      for (const path of ['../../x', '/tmp/evil-abs', '../outside.txt', 'a/../../../x']) {
        const r = await nc.request(subject, JSON.stringify({ ...base, path }), { timeout: 2000 });
        expect(r.data.length).toBeGreaterThan(0); // the stream's PubAck: stored
      }
      // A message claiming another side than its subject's: rejected as well.
      await nc.request(subject, JSON.stringify({ ...base, side: 'hp' }), { timeout: 2000 });
      await nc.request(subject, 'not json', { timeout: 2000 });
      await bus.publish(base);
    } finally {
      await nc.close();
    }
    await until('ok.txt copied', () => read(join(t.b, 'ok.txt')) === 'fine');
    await until('queue drained', async () => (await bus.pending(PAIR)) === 0);
    expect(existsSync(join(t.base, 'x'))).toBe(false);
    expect(existsSync('/tmp/evil-abs')).toBe(false);
    expect(readdirSync(t.base).sort()).toEqual(['a', 'b', 'logs']);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.out.join('\n')).toMatch(/event rejected/);
  });

  it('NATS restarted mid-stream: everything still arrives', async () => {
    const port = await freePort();
    const sd = join(t.base, 'nats-store');
    mkdirSync(sd, { recursive: true });
    const startNats = (): ChildProcess =>
      spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', sd], {
        stdio: 'ignore',
      });
    let nats = startNats();
    const url = `nats://127.0.0.1:${port}`;
    const own = await openBus({
      kind: 'nats',
      url,
      stream: 'HASYNC_RESTART',
      subjectPrefix: 'hsr',
      logger: log,
    });
    const logs = join(t.base, 'logs2');
    mkdirSync(logs);
    try {
      await own.ready();
      mkdirSync(join(t.a, 'n'));
      const proc = startApply(applyArgs([], url, 'HASYNC_RESTART', 'hsr', logs));
      procs.push(proc);
      const N = 20;
      for (let i = 0; i < N; i++) writeFileSync(join(t.a, `n/g${i}.txt`), `g${i}`);
      for (let i = 0; i < N / 2; i++) await own.publish(eventFor(PAIR, 'dell', t.a, `n/g${i}.txt`));
      nats.kill('SIGKILL');
      await new Promise((r) => nats.on('exit', r));
      nats = startNats();
      await own.ready();
      for (let i = N / 2; i < N; i++) {
        // Publishing retries until the client has reconnected.
        await until(`publish g${i}`, async () =>
          own.publish(eventFor(PAIR, 'dell', t.a, `n/g${i}.txt`)).then(
            () => true,
            () => false,
          ),
        );
      }
      await until(
        'all arrived after the NATS restart',
        () => {
          for (let i = 0; i < N; i++) if (read(join(t.b, `n/g${i}.txt`)) !== `g${i}`) return false;
          return true;
        },
        40_000,
      );
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      await own.close();
      nats.kill('SIGKILL');
    }
  });
});
