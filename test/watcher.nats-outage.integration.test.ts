// NATS unreachable, then back: the watcher keeps polling, keeps the changes (coalesced), and
// publishes them once a server answers. Uses a private nats-server on a random port with its own
// store directory, killed and restarted by the test; the watcher starts before the server exists.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBus, type ChangeEvent, type Delivery, type NatsBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_WATCHER_OPTIONS, RootWatcher } from '../src/watcher/index.js';
import { markRootSync } from './applier.helpers.js';

const base = mkdtempSync(join(tmpdir(), 'hasync-outage-'));
const root = join(base, 'root');
const store = join(base, 'store');
const suffix = randomBytes(4).toString('hex');
let port = 0;
let server: ChildProcess | undefined;
let bus: NatsBus;
const logs: string[] = [];
const stop = new AbortController();
let running: Promise<void> | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function startServer(): Promise<void> {
  server = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 300));
}

async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.exitCode !== null) return;
  const exited = new Promise((r) => s.once('exit', r));
  s.kill('SIGKILL');
  await exited;
}

async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 45_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every event a drain has acked, as JSON. */
const acked = new Set<string>();

/**
 * Drains the pair's durable consumer (acking) for a short while; returns what came. Delivery is at
 * least once: an ack the server had not yet written when it was SIGKILLed is lost, and the event
 * comes again after the restart. Such a repeat of an event acked earlier is acked and left out.
 */
async function drain(b: NatsBus, pair: string, want: number): Promise<ChangeEvent[]> {
  const got: ChangeEvent[] = [];
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 20_000);
  await b.consume(
    pair,
    // eslint-disable-next-line @typescript-eslint/require-await
    async (d: Delivery) => {
      if (d.event) {
        const key = JSON.stringify(d.event);
        if (!acked.has(key)) got.push(d.event);
        acked.add(key);
      }
      if (got.length >= want) setImmediate(() => ac.abort());
      return { action: 'ack' };
    },
    { signal: ac.signal },
  );
  clearTimeout(t);
  return got;
}

beforeAll(async () => {
  mkdirSync(root);
  markRootSync(root, 'outage', 'dell');
  mkdirSync(store);
  writeFileSync(join(root, 'old.txt'), 'old');
  port = await freePort();
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ destination: sink });
  // The server does not exist yet: opening the bus must not fail or wait.
  bus = await openBus({
    kind: 'nats',
    url: `nats://127.0.0.1:${port}`,
    stream: `HASYNC_TEST_OUT_${suffix}`,
    logger,
  });
  const w = new RootWatcher(
    { pair: 'outage', side: 'dell', root },
    { ...DEFAULT_WATCHER_OPTIONS, pollIntervalMs: 200 },
    { bus, clock: systemClock, logger },
  );
  await w.start(stop.signal);
  running = w.run(stop.signal);
}, 30_000);

afterAll(async () => {
  stop.abort();
  await running?.catch(() => undefined);
  await bus?.close();
  await stopServer();
  rmSync(base, { recursive: true, force: true });
}, 30_000);

describe('watcher while NATS is away', () => {
  it('keeps the changes made before the server ever started and publishes them once it is up', async () => {
    writeFileSync(join(root, 'a.txt'), 'a');
    writeFileSync(join(root, 'b.txt'), 'bb');
    writeFileSync(join(root, 'b.txt'), 'bbb'); // coalesced with the first write of b
    await waitFor('the cannot-publish log line', () => logs.some((l) => l.includes('cannot publish')));
    await startServer();
    await waitFor('the bus to connect', () => bus.connected);
    const got = await drain(bus, 'outage', 2);
    expect(got.map((e) => `${e.type} ${e.path} ${e.size}`).sort()).toEqual([
      'upsert a.txt 1',
      'upsert b.txt 3',
    ]);
  });

  it('survives the server being killed and restarted: changes made meanwhile still arrive', async () => {
    await stopServer();
    await waitFor('the bus to notice', () => !bus.connected);
    unlinkSync(join(root, 'old.txt'));
    writeFileSync(join(root, 'c.txt'), 'cccc');
    await new Promise((r) => setTimeout(r, 1000)); // several polls with NATS down
    await startServer();
    await waitFor('the bus to reconnect', () => bus.connected);
    const got = await drain(bus, 'outage', 2);
    expect(got.map((e) => `${e.type} ${e.path} ${e.size}`).sort()).toEqual([
      'delete old.txt 3',
      'upsert c.txt 4',
    ]);
    expect(logs.some((l) => l.includes('publishing again'))).toBe(true);
    // Credentials never appear, and the URL is logged without them.
    expect(logs.join('')).not.toMatch(/password|token=/i);
  });
});
