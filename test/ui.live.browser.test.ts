// The live strip in a real browser (Debian's chromium, playwright-core): the dashboard's board is fed
// heartbeats as NATS would deliver them; a watcher that went silent is named red, and so is NATS
// once the dashboard loses it; a hostile reason renders as text. Saves test-results/dashboard-live.png.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { ManualClock, systemClock } from '../src/clock.js';
import { HealthBoard, encodeBeat, type Beat, type PlainBus } from '../src/health/index.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import { seedRun } from './ui-seed.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

describe.skipIf(!haveChromium)('the live strip in chromium', () => {
  const log = createLogger({ silent: true });
  const clock = new ManualClock(Date.now());
  const board = new HealthBoard(clock, log);
  const link = { up: true };
  const stop = new AbortController();
  // The bus as the board sees it: only whether NATS is connected matters here.
  const bus: PlainBus = {
    prefix: 'hasync',
    get linkUp() {
      return link.up;
    },
    publishPlain: () => true,
    subscribePlain: (_s, _f, signal) =>
      new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
  };
  let dir: string;
  let audit: Audit;
  let reader: AuditReader;
  let app: FastifyInstance;
  let base: string;

  const beat = (b: Partial<Beat> & Pick<Beat, 'component'>): void => {
    const full = {
      v: 1,
      pair: 'photos',
      at: clock.now(),
      everyMs: 5000,
      ...(b.component === 'watcher'
        ? { side: 'dell', root: 'ok', filesIndexed: 12, lastSweepAt: null, sweepMs: null, pending: 0 }
        : {
            lockHeld: true,
            pending: 0,
            oldestMs: 0,
            opsPerMin: 3,
            lastError: null,
            conflictsToday: 0,
            keptToday: 0,
            blocked: null,
          }),
      ...b,
    } as Beat;
    const side = full.component === 'watcher' ? full.side : '_apply';
    board.take(`hasync.photos.${side}.health`, encodeBeat(full));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-live-'));
    audit = await openAudit({ dsn: undefined, logDir: dir, log });
    await seedRun(audit, {
      pair: 'photos',
      direction: 'dell-to-hp',
      startedAtMs: Date.now() - 60_000,
      status: 'success',
      ops: [],
    });
    reader = await openAuditReader({ dsn: undefined, logDir: dir, log });
    void board.listen(bus, stop.signal);
    app = buildApp({
      reader,
      clock: systemClock,
      schedule: { defaultMinutes: 15, perPairMinutes: {} },
      health: board,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    stop.abort();
    await app?.close();
    await reader?.close();
    await audit?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names a silent watcher red, then NATS, with the top badge saying so', async () => {
    const { chromium } = (await import('playwright-core')).default;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      beat({ component: 'watcher', side: 'dell' });
      beat({ component: 'watcher', side: 'hp', root: 'ok' });
      beat({ component: 'applier' });
      await page.goto(base + '/');
      const strip = page.locator('.strip[data-pair="photos"]');
      await strip.waitFor();
      expect(await strip.getAttribute('data-light')).toBe('green');
      expect(await page.locator('#overall').textContent()).toMatch(/in sync/);

      // dell's watcher stops; the others keep beating.
      await clock.advance(20_000);
      beat({ component: 'watcher', side: 'hp', reason: undefined });
      beat({ component: 'applier', lastError: null });
      await page.reload();
      const dell = strip.locator('.comp[data-component="watcher"][data-side="dell"]');
      await expect.poll(() => dell.getAttribute('class')).toBe('comp red');
      expect(await dell.textContent()).toMatch(/watcher dell.*silent for 20 s/);
      expect(await strip.locator('.comp[data-side="hp"]').getAttribute('class')).toBe('comp green');
      expect(await page.locator('#overall').textContent()).toBe('Live sync stopped: photos watcher dell');

      // A hostile reason from the bus is text, never markup.
      beat({ component: 'watcher', side: 'hp', root: 'unmounted', reason: '<img src=x onerror=alert(1)>' });
      await page.reload();
      const hp = strip.locator('.comp[data-side="hp"]');
      await expect.poll(() => hp.textContent()).toMatch(/<img src=x onerror=alert\(1\)>/);
      expect(await page.locator('#strips img').count()).toBe(0);

      // NATS lost: every component is named red for it.
      link.up = false;
      await page.reload();
      await expect.poll(() => strip.locator('.comp.red').count()).toBe(4);
      expect(await strip.textContent()).toMatch(/NATS unreachable/);
      expect(await strip.locator('.comp[data-component="nats"]').textContent()).toBe(
        'NATSunreachable from the dashboard',
      );
      await mkdir('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/dashboard-live.png', fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
