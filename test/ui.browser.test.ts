// The real page in a real browser: Debian's chromium driven by playwright-core, against the
// dashboard on 127.0.0.1 reading a seeded SQLite audit. Checks the cards and tables, that a hostile
// file name renders as text and runs nothing, that the page refreshes by itself, that the kept
// versions, conflicts and the file-history search show, and that the page breaks no CSP rule;
// saves test-results/dashboard.png, dashboard-history.png and dashboard-moves-*.png.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { buildApp } from '../src/ui/index.js';
import {
  HOSTILE_MOVED,
  HOSTILE_NAME,
  KEPT_CONFLICT,
  KEPT_PATH,
  seedHistory,
  seedKept,
  seedMoves,
  seedRun,
} from './ui-seed.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `ui.browser.test: skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`,
  );
}

const HOUR = 3600_000;

describe.skipIf(!haveChromium)('the dashboard in chromium', () => {
  const log = createLogger({ silent: true });
  let dir: string;
  let audit: Audit;
  let reader: AuditReader;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let ids: Record<string, number>;
  let kept: Record<string, number>;
  let moves: Record<string, number>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-browser-'));
    audit = await openAudit({ dsn: undefined, logDir: dir, log });
    const now = Date.now();
    // A day of hourly real syncs in both directions of photos and media, so the charts have bars.
    for (let h = 23; h >= 2; h--) {
      await seedRun(audit, {
        pair: 'photos',
        direction: 'hp-to-dell',
        startedAtMs: now - h * HOUR - 20 * 60_000,
        status: 'success',
        ops: Array.from({ length: (h * 7) % 5 }, (_, i) => ({
          operation: 'create' as const,
          filepath: `camera/${h}/img_${i}.jpg`,
          size: 1_500_000 + ((h * 13) % 7) * 900_000,
        })),
      });
      await seedRun(audit, {
        pair: 'media',
        direction: 'dell-to-hp',
        startedAtMs: now - h * HOUR,
        status: h === 9 ? 'partial_failure' : 'success',
        ops: Array.from({ length: (h * 3) % 4 }, (_, i) => ({
          operation: i === 2 ? ('update' as const) : ('create' as const),
          filepath: `series/s${h}/e${i}.mkv`,
          size: 300_000_000 + h * 10_000_000,
          ...(h === 9 && i === 0 ? { fail: 'ENOSPC: no space left on device' } : {}),
        })),
      });
    }
    ids = await seedHistory(audit, now);
    kept = await seedKept(audit, now);
    moves = await seedMoves(audit, now);
    reader = await openAuditReader({ dsn: undefined, logDir: dir, log });
    app = buildApp({ reader, clock: systemClock, schedule: { defaultMinutes: 15, perPairMinutes: {} } });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await reader?.close();
    await audit?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows conflicts, kept versions and the history of a file, with its restore commands', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    await page.clock.install();
    await page.goto(base + '/');
    await page.locator('.card').nth(2).waitFor();
    await page.clock.pauseAt(Date.now() + 1000);
    const card = (name: string) => page.locator(`.card[data-id="${name}"]`);

    // Each card: the conflicts of the last 7 days and the versions area of each side.
    await expect
      .poll(() => card('photos').locator('.kept-block').textContent())
      .toContain('Conflicts, last 7 days1');
    expect(await card('photos').locator('.conflict-list li').count()).toBe(1);
    expect(await card('photos').locator('.conflict-list .kept-path').textContent()).toBe(KEPT_CONFLICT);
    expect(await card('media').locator('.conflict-list .file-link').textContent()).toBe(
      `pictures/${HOSTILE_NAME}`,
    );
    expect(await card('media').locator('.vers tbody tr[data-id="hp"]').textContent()).toMatch(
      /^hp\/mnt\/hp\/media1,2344\.66 GiB29 d ago/,
    );
    expect(await card('photos').locator('.vers tbody tr').count()).toBe(2);
    expect(await card('games').locator('.kept-block').textContent()).toContain(
      'No versions area recorded yet',
    );
    expect(await page.locator('#cards img').count()).toBe(0);

    // An operation row says where the version it replaced went.
    await page.locator(`#activity-body tr[data-id="${kept.keptVersion}"]`).click();
    const keptRow = page.locator('#ops-body tr', { hasText: KEPT_PATH });
    await keptRow.waitFor();
    expect(await keptRow.locator('.kept').textContent()).toBe('version');
    expect(await keptRow.locator('.kept-path').textContent()).toBe(
      ".ha-sync/versions/docs/it's report~20261126-113000.txt",
    );

    // Clicking its file opens its history: newest first, dry runs told apart, restore commands.
    await keptRow.locator('td.path').click();
    const hist = page.locator('#history-body tr');
    await expect.poll(() => hist.count()).toBe(5);
    expect(await page.locator('#history-path').inputValue()).toBe(KEPT_PATH);
    expect(await page.locator('#history-summary').textContent()).toBe(
      `5 operations on ${KEPT_PATH} and its copies, newest first; 2 kept versions to restore.`,
    );
    expect(await hist.locator('.op').allTextContents()).toEqual([
      'delete',
      'delete',
      'create',
      'update',
      'update',
    ]);
    expect(await page.locator('#history-body tr.dry').count()).toBe(1);
    expect(await hist.nth(0).locator('code.cmd').textContent()).toBe(
      "ha-sync restore --root /mnt/dell/photos --path 'docs/it'\\''s report.txt' --version 'it'\\''s report~20261126-114500.txt'",
    );
    expect(await page.locator('#history-body code.cmd').count()).toBe(2);
    expect(await hist.nth(3).locator('.kept').textContent()).toBe('conflict copy');
    await mkdir('test-results', { recursive: true });
    await page.locator('#history').screenshot({ path: 'test-results/dashboard-history.png' });

    // Typing a path and pressing Enter searches (in the pair chosen); the hostile name stays text.
    expect(await page.locator('#history-pair').inputValue()).toBe('photos');
    await page.locator('#history-pair').selectOption('');
    await page.locator('#history-path').fill(`  pictures/${HOSTILE_NAME} `);
    await page.locator('#history-path').press('Enter');
    await expect.poll(() => hist.count()).toBe(2);
    expect(await hist.locator('td.path').allTextContents()).toEqual([
      `pictures/${HOSTILE_NAME}`,
      `pictures/${HOSTILE_NAME}`,
    ]);
    expect(await page.locator('#history img').count()).toBe(0);
    // A conflict link on a card searches its pair.
    await card('photos').locator('.conflict-list .file-link').click();
    await expect.poll(() => page.locator('#history-pair').inputValue()).toBe('photos');
    await expect.poll(() => hist.count()).toBe(5);
    // Nothing found, and nothing typed.
    await page.locator('#history-path').fill('no/such/file.txt');
    await page.locator('#history-go').click();
    await expect
      .poll(() => page.locator('#history-summary').textContent())
      .toBe('Nothing recorded for no/such/file.txt: no copy, update, delete, move or kept version of it.');
    expect(await page.locator('#history-wrap').isHidden()).toBe(true);
    await page.locator('#history-path').fill('   ');
    await page.locator('#history-go').click();
    expect(await page.locator('#history-summary').textContent()).toBe(
      'Type a path first, such as photos/2026/a.jpg.',
    );

    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows a move as a move, its name as text, and follows the file back across it', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const problems: string[] = [];
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    await page.clock.install();
    await page.goto(base + '/');
    await page.locator('.card').nth(2).waitFor();
    await page.clock.pauseAt(Date.now() + 1000);

    // The iteration says how many files it moved; its operations say what moved where.
    const it = page.locator(`#activity-body tr[data-id="${moves.moved}"]`);
    expect(await it.locator('td.num').nth(4).textContent()).toBe('2');
    await it.click();
    const ops = page.locator('#ops-body tr');
    await expect.poll(() => ops.count()).toBe(2);
    expect(await page.locator('#ops-summary').textContent()).toContain('2 moves (renamed, not copied)');
    expect(await page.locator('#ops-summary').textContent()).not.toContain('null');
    expect(await ops.locator('.op').allTextContents()).toEqual(['move', 'move']);
    expect(await ops.locator('.moved').allTextContents()).toEqual([
      `moved from inbox/${HOSTILE_MOVED} to sorted/${HOSTILE_MOVED}`,
      'moved from trips/2019 to albums/2019',
    ]);
    expect(await ops.locator('.not-copied').allTextContents()).toEqual([
      '1.91 MiB not copied',
      '1000 B not copied',
    ]);
    expect(await page.locator('#ops script, #ops img').count()).toBe(0);

    // Its file's history: the move, then its rows under the old path, marked as such.
    await ops.first().locator('td.path').click();
    const hist = page.locator('#history-body tr');
    await expect.poll(() => hist.count()).toBe(3);
    expect(await page.locator('#history-summary').textContent()).toBe(
      `3 operations on sorted/${HOSTILE_MOVED} and its copies, newest first; 2 under an earlier path, before a move.`,
    );
    expect(await hist.locator('td.path').allTextContents()).toEqual([
      `moved from inbox/${HOSTILE_MOVED} to sorted/${HOSTILE_MOVED}1.91 MiB not copied`,
      `inbox/${HOSTILE_MOVED}earlier path`,
      `inbox/${HOSTILE_MOVED}earlier path`,
    ]);
    expect(await hist.locator('.op').allTextContents()).toEqual(['move', 'update', 'create']);
    await mkdir('test-results', { recursive: true });
    await page.locator('#ops').screenshot({ path: 'test-results/dashboard-moves-ops.png' });
    await page.locator('#history').screenshot({ path: 'test-results/dashboard-moves-history.png' });
    // The old path's history ends with the move that took it away.
    await page.locator('#history-path').fill(`inbox/${HOSTILE_MOVED}`);
    await page.locator('#history-path').press('Enter');
    await expect
      .poll(() => page.locator('#history-summary').textContent())
      .toBe(
        `3 operations on inbox/${HOSTILE_MOVED} and its copies, newest first; then moved to sorted/${HOSTILE_MOVED}.`,
      );
    expect(await page.locator('#history script, #history img').count()).toBe(0);

    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows the pairs and the activity, renders a hostile file name as text, and refreshes', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('request', (r) => requests.push(r.url()));
    // A fake clock in the page: the 10-second refresh is run on demand, not waited for.
    await page.clock.install();
    await page.goto(base + '/');

    // Cards: one per pair, with the health each should have.
    await page.locator('.card').nth(2).waitFor();
    // Time in the page stops here (it flows naturally after install): no refresh runs by itself.
    await page.clock.pauseAt(Date.now() + 1000);
    expect(await page.locator('.card').count()).toBe(3);
    const card = (name: string) => page.locator(`.card[data-id="${name}"]`);
    await expect.poll(() => card('photos').locator('.card-head').textContent()).toContain('in sync');
    expect(await card('media').locator('.card-head').textContent()).toContain('failing');
    expect(await card('media').textContent()).toContain('partial failure');
    expect(await card('games').locator('.card-head').textContent()).toContain('stale');
    expect(await card('games').textContent()).toContain('Never synced for real');
    expect(await card('photos').locator('.mini tbody tr').count()).toBe(4);
    expect(await card('photos').locator('svg rect').count()).toBeGreaterThan(10);
    expect(await page.locator('#overall').textContent()).toMatch(/1 failing, 1 stale of 4 directions/);

    // Activity: newest first, dry runs told apart from real syncs.
    const rows = page.locator('#activity-body tr');
    expect(await rows.count()).toBe(50);
    expect(await rows.first().getAttribute('data-id')).toBe(String(ids.gamesDry));
    expect(await rows.first().locator('.kind').textContent()).toBe('DRY RUN');
    expect(await page.locator('#activity-body tr.dry').count()).toBe(3);
    expect(await page.locator(`#activity-body tr[data-id="${ids.mediaPartial}"] .kind`).textContent()).toBe(
      'REAL',
    );

    // Filters.
    await page.locator('.seg button[data-kind="dry"]').click();
    await expect.poll(() => rows.count()).toBe(3);
    await page.locator('.seg button[data-kind="all"]').click();
    await expect.poll(() => rows.count()).toBe(50);

    // Operations of the partly failed run: the hostile name is text, in red, and runs nothing.
    await page.locator(`#activity-body tr[data-id="${ids.mediaPartial}"]`).click();
    const bad = page.locator('#ops-body tr.bad');
    await bad.first().waitFor();
    expect(await bad.count()).toBe(1);
    expect(await bad.locator('td.path').textContent()).toBe(`pictures/${HOSTILE_NAME}`);
    expect(await bad.locator('td.msg').textContent()).toBe('EACCES: permission denied');
    // Runs in the page; this project's TypeScript has no DOM types, hence the local one.
    type Win = { getComputedStyle(el: unknown): { color: string } };
    expect(
      await bad.locator('td.msg').evaluate((el) => (globalThis as unknown as Win).getComputedStyle(el).color),
    ).toBe('rgb(198, 40, 40)');
    expect(await page.locator('#ops img, #cards img, #activity-body img').count()).toBe(0);
    expect(await page.locator('#ops-summary').textContent()).toContain('1 failed');

    // The page refreshes by itself: a new run appears after the 10-second tick.
    const newId = await seedRun(audit, {
      pair: 'ai',
      direction: 'dell-to-hp',
      startedAtMs: Date.now() - 1000,
      durationMs: 500,
      status: 'success',
      ops: [{ operation: 'create', filepath: 'models/tiny.bin', size: 42_000 }],
    });
    expect(await page.locator(`#activity-body tr[data-id="${newId}"]`).count()).toBe(0);
    await page.clock.runFor(10_000);
    await page.locator(`#activity-body tr[data-id="${newId}"]`).waitFor();
    await page.locator('.card[data-id="ai"]').waitFor();
    expect(await page.locator('.card').count()).toBe(4);

    await page.locator(`#activity-body tr[data-id="${ids.mediaPartial}"]`).click();
    await bad.first().waitFor();
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });

    // The store goes away: a red banner says so, and the last data stays on screen.
    await reader.close();
    await rm(dir, { recursive: true, force: true });
    await page.clock.runFor(10_000);
    await page.locator('#banner:not([hidden])').waitFor();
    expect(await page.locator('#banner').textContent()).toMatch(
      /^Cannot load the dashboard data: the audit store \(sqlite\) is unreachable or not answering; see the server log \(showing what was loaded at /,
    );
    expect(await page.locator('.card').count()).toBe(4);
    // The browser logs the failed fetches (503) as console errors; nothing else may appear.
    const unexpected = problems.filter((p) => !/status of 503/.test(p));

    expect(dialogs).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);
    await context.close();
  });
});
