// Live health end to end: two `ha-sync watch` processes and `ha-sync apply` (the built CLI) send
// heartbeats through a nats-server this test starts (so it can kill it); the dashboard's board
// hears them and its app answers /api/health and /metrics. A watcher killed is named red within
// 30 s and green again after its restart; NATS killed makes the dashboard say so, and heals.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditReader } from '../src/audit/index.js';
import { openBus, type NatsBus } from '../src/bus/index.js';
import { systemClock } from '../src/clock.js';
import { HealthBoard, parseBeat, type ReconcileBeat } from '../src/health/index.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import { freePort, tempRoots } from './applier.helpers.js';

const CLI = resolve('dist/bin/ha-sync.js');
const PAIR = 'hl';
const log = createLogger({ silent: true });
const t = tempRoots('health', PAIR);
const store = join(t.base, 'js');
const prefix = `hsl${randomBytes(3).toString('hex')}`;
const stream = `HASYNC_T_HEALTH_${randomBytes(3).toString('hex')}`;
let port = 0;
let server: ChildProcess | undefined;
const procs = new Map<string, ChildProcess>();
let bus: NatsBus;
const stopBoard = new AbortController();
let board: HealthBoard;
let app: ReturnType<typeof buildApp>;
const metricsPorts: Record<string, number> = {};

async function startServer(): Promise<void> {
  server = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 300));
}

async function kill(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

const nats = (): string[] => [
  '--nats-url',
  `nats://127.0.0.1:${port}`,
  '--stream',
  stream,
  '--subject-prefix',
  prefix,
];

function startWatcher(side: 'dell' | 'hp'): void {
  const root = side === 'dell' ? t.a : t.b;
  const p = spawn(
    process.execPath,
    [
      CLI,
      'watch',
      '--pair',
      PAIR,
      '--side',
      side,
      '--root',
      root,
      '--poll-interval',
      '200',
      ...nats(),
      '--metrics-port',
      String(metricsPorts[side]),
    ],
    { stdio: 'ignore', env: { ...process.env, NATS_URL: '' } },
  );
  procs.set(side, p);
}

function startApplier(): void {
  const p = spawn(
    process.execPath,
    [
      CLI,
      'apply',
      '--pair',
      PAIR,
      '--a',
      `dell=${t.a}`,
      '--b',
      `hp=${t.b}`,
      ...nats(),
      '--log-dir',
      t.logs,
      '--lock',
      'file',
      '--metrics-port',
      String(metricsPorts.apply),
    ],
    { stdio: 'ignore', env: { ...process.env, NATS_URL: '' } },
  );
  procs.set('apply', p);
}

interface HealthView {
  enabled: boolean;
  pairs: {
    pair: string;
    light: string;
    components: { component: string; side: string; light: string; reason: string }[];
  }[];
}

async function health(): Promise<HealthView> {
  const r = await app.inject({ method: 'GET', url: '/api/health' });
  return r.json<HealthView>();
}

function component(
  h: HealthView,
  component: string,
  side = '',
): { light: string; reason: string } | undefined {
  return h.pairs
    .find((p) => p.pair === PAIR)
    ?.components.find((c) => c.component === component && c.side === side);
}

/** Polls `f` every 200 ms until it holds; returns the seconds it took. */
async function within(what: string, f: () => Promise<boolean>, ms = 45_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await f()) return (Date.now() - start) / 1000;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const allGreen = async (): Promise<boolean> => {
  const h = await health();
  return ['watcher:dell', 'watcher:hp', 'applier:'].every((k) => {
    const [c, s] = k.split(':');
    return component(h, c!, s)?.light === 'green';
  });
};

beforeAll(async () => {
  mkdirSync(store);
  port = await freePort();
  for (const k of ['dell', 'hp', 'apply']) metricsPorts[k] = await freePort();
  await startServer();
  bus = await openBus({
    kind: 'nats',
    url: `nats://127.0.0.1:${port}`,
    stream,
    subjectPrefix: prefix,
    logger: log,
  });
  await bus.ready();
  board = new HealthBoard(systemClock, log);
  void board.listen(bus, stopBoard.signal);
  const reader = await openAuditReader({ dsn: undefined, logDir: t.logs, log });
  app = buildApp({
    reader,
    clock: systemClock,
    schedule: { defaultMinutes: 15, perPairMinutes: {} },
    health: board,
  });
  startWatcher('dell');
  startWatcher('hp');
  startApplier();
});

afterAll(async () => {
  for (const p of procs.values()) await kill(p);
  stopBoard.abort();
  await app?.close();
  await bus?.close();
  await kill(server);
  t.cleanup();
});

describe('live health', () => {
  it('every component reports green; the watcher and applier serve /metrics', async () => {
    await within('all green', allGreen);
    const m = await (await fetch(`http://127.0.0.1:${metricsPorts.dell}/metrics`)).text();
    expect(m).toMatch(new RegExp(`ha_sync_watcher_root_healthy\\{pair="${PAIR}",side="dell"\\} 1`));
    const a = await (await fetch(`http://127.0.0.1:${metricsPorts.apply}/metrics`)).text();
    expect(a).toMatch(new RegExp(`ha_sync_applier_lock_held\\{pair="${PAIR}"\\} [01]`));
    expect(a).toMatch(/ha_sync_applier_event_lag_seconds/);
    expect((await fetch(`http://127.0.0.1:${metricsPorts.apply}/other`)).status).toBe(404);
  });

  it('a watcher killed is named red within 30 s (page and /metrics), and green again after its restart', async () => {
    await within('all green', allGreen);
    await kill(procs.get('dell'));
    const red = await within(
      'watcher dell red',
      async () => component(await health(), 'watcher', 'dell')?.light === 'red',
    );
    expect(red).toBeLessThan(30);
    expect(component(await health(), 'watcher', 'dell')?.reason).toMatch(/silent for \d+ s/);
    expect(component(await health(), 'watcher', 'hp')?.light).toBe('green');
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(
      new RegExp(`ha_sync_component_up\\{pair="${PAIR}",component="watcher",side="dell"\\} 0`),
    );
    expect(metrics).toMatch(
      new RegExp(`ha_sync_component_up\\{pair="${PAIR}",component="watcher",side="hp"\\} 1`),
    );
    startWatcher('dell');
    const green = await within(
      'watcher dell green again',
      async () => component(await health(), 'watcher', 'dell')?.light === 'green',
    );
    console.log(
      `health: watcher killed -> red in ${red.toFixed(1)} s; restarted -> green in ${green.toFixed(1)} s`,
    );
  });

  it('a reconcile run with --heartbeat reports its progress, then that it is done', async () => {
    const seen: ReconcileBeat[] = [];
    const ac = new AbortController();
    const listening = bus.subscribePlain(
      `${prefix}.${PAIR}._reconcile.health`,
      (_s, data) => {
        const b = parseBeat(data, { pair: PAIR, side: '_reconcile' });
        if (typeof b !== 'string' && b.component === 'reconcile') seen.push(b);
      },
      ac.signal,
    );
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 300; i++) writeFileSync(join(t.a, `r${i}.txt`), String(i));
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'reconcile',
        '--a',
        `dell=${t.a}`,
        '--b',
        `hp=${t.b}`,
        '--pair',
        PAIR,
        '--log-dir',
        t.logs,
        '--lock',
        'file',
        '--lock-wait',
        '60',
        '--heartbeat',
        ...nats(),
      ],
      { env: { ...process.env, NATS_URL: '' }, encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    await within('the last beat', () => Promise.resolve(seen.some((b) => b.phase === 'done')), 10_000);
    ac.abort();
    await listening;
    expect(seen[0]).toMatchObject({ component: 'reconcile', pair: PAIR, direction: 'dell-to-hp' });
    expect(seen.at(-1)).toMatchObject({ phase: 'done' });
    expect(seen.at(-1)!.filesSeen).toBeGreaterThanOrEqual(300);
  });

  it('NATS killed: the dashboard says so within 30 s, and heals when NATS is back', async () => {
    await within('all green', allGreen);
    await kill(server);
    const red = await within('NATS named', async () =>
      /NATS unreachable/.test(JSON.stringify(await health())),
    );
    expect(red).toBeLessThan(30);
    await startServer();
    const green = await within('green after NATS is back', allGreen, 60_000);
    console.log(`health: NATS killed -> red in ${red.toFixed(1)} s; back -> green in ${green.toFixed(1)} s`);
  });
});
