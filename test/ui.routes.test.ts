// Every dashboard route through app.inject(), against the real embedded SQLite audit store seeded
// through the audit module's writing API. MariaDB: ui.integration.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { openAudit, openAuditReader, type Audit, type AuditReader } from '../src/audit/index.js';
import { ManualClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { CONTENT_SECURITY_POLICY, buildApp } from '../src/ui/index.js';
import { HOSTILE_MOVED, HOSTILE_NAME, seedHistory, seedMoves } from './ui-seed.js';

const log = createLogger({ silent: true });
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const schedule = { defaultMinutes: 15, perPairMinutes: {} };

let dir: string;
let audit: Audit;
let reader: AuditReader;
let app: FastifyInstance;
let clock: ManualClock;
let ids: Record<string, number>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-'));
  audit = await openAudit({ dsn: undefined, logDir: dir, log });
  ids = await seedHistory(audit, NOW);
  reader = await openAuditReader({ dsn: undefined, logDir: dir, log });
  clock = new ManualClock(NOW);
  app = buildApp({ reader, clock, schedule });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await reader?.close();
  await audit?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function get(url: string) {
  const res = await app.inject({ method: 'GET', url });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return
  return { status: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
}

describe('page and assets', () => {
  it('serves the page with a strict CSP and no inline script or style', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toContain('<script src="assets/app.js" defer></script>');
    expect(r.body).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/);
    expect(r.body).not.toMatch(/https?:\/\//);
  });
  it('serves the script, the stylesheet and the icon; the script never writes HTML', async () => {
    const js = await get('/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain('setInterval');
    expect(js.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(js.body).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    const css = await get('/assets/app.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.body).not.toMatch(/@import|url\(/);
    const icon = await get('/favicon.svg');
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
  });
});

describe('GET /api/pairs', () => {
  it('gives each pair and direction its last real sync and last dry-run separately, with staleness', async () => {
    const r = await get('/api/pairs');
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = r.json();
    expect(body.generatedAt).toBe(new Date(NOW).toISOString());
    const keys = body.pairs.map((p: { pair: string; direction: string }) => `${p.pair}/${p.direction}`);
    expect(keys).toEqual(['games/hp-to-dell', 'media/dell-to-hp', 'photos/dell-to-hp', 'photos/hp-to-dell']);
    const [games, media, photosAB, photosBA] = body.pairs;
    expect(photosAB.health).toBe('ok');
    expect(photosAB.stale).toBe(false);
    expect(photosAB.lastReal.dryRun).toBe(false);
    expect(photosAB.lastDryRun.id).toBe(ids.photosDry);
    expect(photosAB.lastDryRun.dryRun).toBe(true);
    expect(photosAB.staleAfterSeconds).toBe(1800);
    expect(photosBA.lastReal.id).toBe(ids.photosReal);
    expect(photosBA.lastDryRun).toBeNull();
    expect(photosBA.secondsSinceSuccess).toBe(10 * 60 - 30);
    expect(media.health).toBe('failed');
    expect(media.lastReal.id).toBe(ids.mediaPartial);
    expect(media.lastReal.status).toBe('partial_failure');
    expect(media.lastRealSuccess.id).toBe(ids.mediaOk);
    expect(media.stale).toBe(true); // its last success ended 49.5 min ago; failed outranks stale
    expect(media.secondsSinceSuccess).toBe(49 * 60 + 30);
    expect(games.health).toBe('stale');
    expect(games.stale).toBe(true);
    expect(games.lastReal).toBeNull();
    expect(games.secondsSinceSuccess).toBeNull();
    expect(games.lastDryRun.id).toBe(ids.gamesDry);
  });
  it('flags a pair stale once twice its schedule passed without a successful real sync', async () => {
    await clock.advance(30 * 60_000);
    try {
      const body = (await get('/api/pairs')).json();
      const photosBA = body.pairs.find(
        (p: { direction: string; pair: string }) => p.pair === 'photos' && p.direction === 'hp-to-dell',
      );
      expect(photosBA.secondsSinceSuccess).toBe(40 * 60 - 30);
      expect(photosBA.stale).toBe(true);
      expect(photosBA.health).toBe('stale');
    } finally {
      clock = new ManualClock(NOW);
      await app.close();
      app = buildApp({ reader, clock, schedule });
    }
  });
});

describe('GET /api/iterations', () => {
  it('lists newest first, 20 by default', async () => {
    const body = (await get('/api/iterations')).json();
    expect(body.iterations).toHaveLength(11);
    const starts = body.iterations.map((i: { startedAt: string }) => i.startedAt);
    expect([...starts].sort().reverse()).toEqual(starts);
    expect(body.iterations[0].id).toBe(ids.gamesDry);
  });
  it('filters by pair, dry_run, since and limit', async () => {
    const photos = (await get('/api/iterations?pair=photos&limit=500')).json().iterations;
    expect(photos).toHaveLength(8);
    expect(new Set(photos.map((i: { syncPair: string }) => i.syncPair))).toEqual(new Set(['photos']));
    const dry = (await get('/api/iterations?dry_run=1')).json().iterations;
    expect(dry.map((i: { id: number }) => i.id).sort()).toEqual([ids.gamesDry, ids.photosDry].sort());
    const real = (await get('/api/iterations?dry_run=0&limit=500')).json().iterations;
    expect(real).toHaveLength(9);
    expect(real.every((i: { dryRun: boolean }) => !i.dryRun)).toBe(true);
    const since = new Date(NOW - 9 * 60_000).toISOString();
    const recent = (await get(`/api/iterations?since=${encodeURIComponent(since)}`)).json().iterations;
    expect(recent.map((i: { id: number }) => i.id)).toEqual([ids.gamesDry, ids.photosDry, ids.mediaPartial]);
    expect((await get('/api/iterations?limit=2')).json().iterations).toHaveLength(2);
    expect((await get('/api/iterations?pair=nothing-here')).json().iterations).toEqual([]);
    // The seed's own spelling of the route: an empty pair means every pair.
    expect((await get('/api/iterations?pair=&limit=20')).json().iterations).toHaveLength(11);
  });
});

describe('GET /api/operations', () => {
  it("gives an iteration's operations, the hostile file name as plain data", async () => {
    const body = (await get(`/api/operations?iteration_id=${ids.mediaPartial}`)).json();
    expect(body.iterationId).toBe(ids.mediaPartial);
    expect(body.operations).toHaveLength(2);
    const bad = body.operations.find((o: { status: string }) => o.status === 'fail');
    expect(bad.filepath).toBe(`pictures/${HOSTILE_NAME}`);
    expect(bad.errorMessage).toBe('EACCES: permission denied');
    expect(
      (await get(`/api/operations?iteration_id=${ids.mediaPartial}&limit=1`)).json().operations,
    ).toHaveLength(1);
    expect((await get('/api/operations?iteration_id=999999')).json().operations).toEqual([]);
  });
});

describe('moves', () => {
  let moveDir: string;
  let moveAudit: Audit;
  let moveReader: AuditReader;
  let moveApp: FastifyInstance;
  let moveIds: Record<string, number>;
  beforeAll(async () => {
    moveDir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-moves-'));
    moveAudit = await openAudit({ dsn: undefined, logDir: moveDir, log });
    moveIds = await seedMoves(moveAudit, NOW);
    moveReader = await openAuditReader({ dsn: undefined, logDir: moveDir, log });
    moveApp = buildApp({ reader: moveReader, clock: new ManualClock(NOW), schedule });
  });
  afterAll(async () => {
    await moveApp?.close();
    await moveReader?.close();
    await moveAudit?.close();
    if (moveDir) await rm(moveDir, { recursive: true, force: true });
  });
  const json = async (url: string) => {
    const res = await moveApp.inject({ method: 'GET', url });
    expect(res.statusCode, url).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    return res.json();
  };

  it('counts the moves of an iteration, in the list and the pair summary', async () => {
    const its = (await json('/api/iterations?pair=photos')).iterations;
    expect(its.map((i: { id: number; filesMoved: number }) => [i.id, i.filesMoved])).toEqual([
      [moveIds.moved, 2],
      [moveIds.updated, 0],
      [moveIds.created, 0],
    ]);
    expect(its[0].totalBytesTransferred).toBe(0);
    expect((await json('/api/pairs')).pairs[0].lastReal).toMatchObject({ id: moveIds.moved, filesMoved: 2 });
    const m = (await moveApp.inject('/metrics')).body;
    expect(m).toContain('ha_sync_files_24h{pair="photos",direction="hp-to-dell",dry_run="0",kind="moved"} 2');
  });

  it('says what moved where and what it saved copying, the hostile name as plain data', async () => {
    const body = await json(`/api/operations?iteration_id=${moveIds.moved}`);
    expect(body.operations).toMatchObject([
      {
        operation: 'move',
        filepath: `sorted/${HOSTILE_MOVED}`,
        movedFrom: `inbox/${HOSTILE_MOVED}`,
        bytesNotCopied: 2_000_000,
        sizeBefore: 2_000_000,
        sizeAfter: 2_000_000,
        moveText: `moved from inbox/${HOSTILE_MOVED} to sorted/${HOSTILE_MOVED}`,
        notCopiedText: '1.91 MiB not copied',
      },
      {
        operation: 'move',
        filepath: 'albums/2019',
        movedFrom: 'trips/2019',
        sizeBefore: null,
        sizeAfter: null,
        moveText: 'moved from trips/2019 to albums/2019',
        notCopiedText: '1000 B not copied',
      },
    ]);
    // Rows of every other operation keep their shape, with the new fields null.
    const old = (await json(`/api/operations?iteration_id=${moveIds.created}`)).operations[0];
    expect(old).toMatchObject({ operation: 'create', movedFrom: null, bytesNotCopied: null, moveText: null });
    expect(old.notCopiedText).toBeNull();
  });

  it('follows the history of a file across its move, and ends the old path with the move', async () => {
    const enc = encodeURIComponent;
    const hist = (await json(`/api/history?path=${enc(`sorted/${HOSTILE_MOVED}`)}&pair=photos`)).history;
    expect(
      hist.map((h: { operation: string; filepath: string; followedPath: string }) => [
        h.operation,
        h.filepath,
        h.followedPath,
      ]),
    ).toEqual([
      ['move', `sorted/${HOSTILE_MOVED}`, `sorted/${HOSTILE_MOVED}`],
      ['update', `inbox/${HOSTILE_MOVED}`, `inbox/${HOSTILE_MOVED}`],
      ['create', `inbox/${HOSTILE_MOVED}`, `inbox/${HOSTILE_MOVED}`],
    ]);
    expect(hist[0]).toMatchObject({
      moveText: expect.stringMatching(/^moved from inbox\//),
      restoreCommand: null,
    });
    const old = (await json(`/api/history?path=${enc(`inbox/${HOSTILE_MOVED}`)}`)).history;
    expect(old.map((h: { operation: string }) => h.operation)).toEqual(['move', 'update', 'create']);
    expect(old[0].filepath).toBe(`sorted/${HOSTILE_MOVED}`);
    // A file in a moved directory: the directory's move, then its rows under the old directory.
    const inDir = (await json('/api/history?path=albums/2019/a.jpg')).history;
    expect(inDir.map((h: { moveText: string | null; filepath: string }) => h.moveText ?? h.filepath)).toEqual(
      ['moved from trips/2019 to albums/2019', 'trips/2019/a.jpg'],
    );
  });
});

describe('bad query strings get 400 and one JSON line', () => {
  it.each([
    ['/api/iterations?limit=0', "limit: expected an integer from 1 to 500, got '0'"],
    ['/api/iterations?limit=501', "limit: expected an integer from 1 to 500, got '501'"],
    ['/api/iterations?limit=abc', "limit: expected an integer from 1 to 500, got 'abc'"],
    ['/api/iterations?limit=1.5', "limit: expected an integer from 1 to 500, got '1.5'"],
    ['/api/iterations?limit=0x10', "limit: expected an integer from 1 to 500, got '0x10'"],
    ['/api/iterations?limit=', "limit: expected an integer from 1 to 500, got ''"],
    ['/api/iterations?limit=1&limit=2', 'limit: expected an integer from 1 to 500, got more than one value'],
    [
      '/api/iterations?pair=Bad%20Name',
      "pair: expected a pair name (lowercase letters, digits and '-', starting and ending with a letter or digit), got 'Bad Name'",
    ],
    ["/api/iterations?pair='%3B%20drop", /^pair: expected a pair name .*, got '\x27; drop'$/],
    ['/api/iterations?pair=-media', /^pair: expected a pair name/],
    ['/api/iterations?dry_run=2', "dry_run: expected 0 (real syncs) or 1 (dry runs), got '2'"],
    ['/api/iterations?dry_run=true', /^dry_run: expected 0/],
    [
      '/api/iterations?since=yesterday',
      "since: expected an ISO 8601 date-time with a time zone, such as 2026-01-31T12:00:00Z, got 'yesterday'",
    ],
    ['/api/iterations?since=2026-01-31T12:00:00', /^since: expected an ISO 8601 date-time with a time zone/],
    ['/api/iterations?since=2026-06-30T23:59:60Z', /^since: expected an ISO 8601 date-time/],
    ['/api/operations', 'iteration_id is required: a positive integer'],
    ['/api/operations?iteration_id=-1', "iteration_id: expected a positive integer, got '-1'"],
    ['/api/operations?iteration_id=0', "iteration_id: expected a positive integer, got '0'"],
    ['/api/operations?iteration_id=1.5', "iteration_id: expected a positive integer, got '1.5'"],
    ['/api/operations?iteration_id=x', "iteration_id: expected a positive integer, got 'x'"],
    ['/api/operations?iteration_id=1&limit=0', "limit: expected an integer from 1 to 500, got '0'"],
    ['/api/operations?iteration_id=%0Aevil', "iteration_id: expected a positive integer, got '?evil'"],
    ['/api/conflicts?days=0', "days: expected an integer from 1 to 365, got '0'"],
    ['/api/conflicts?days=366', "days: expected an integer from 1 to 365, got '366'"],
    ['/api/conflicts?days=7d', "days: expected an integer from 1 to 365, got '7d'"],
    ['/api/conflicts?limit=501', "limit: expected an integer from 1 to 500, got '501'"],
    ['/api/conflicts?pair=Bad', /^pair: expected a pair name/],
    ['/api/versions?pair=a_b', /^pair: expected a pair name .*, got 'a_b'$/],
    [
      '/api/history',
      "path is required: a file path relative to the pair's root, such as photos/a.jpg (1 to 4096 characters, not starting with '/')",
    ],
    ['/api/history?path=', /^path: expected a file path relative to the pair's root, .*, got ''$/],
    ['/api/history?path=%2Fetc%2Fpasswd', /^path: expected a file path .*, got '\/etc\/passwd'$/],
    ['/api/history?path=a%00b', /^path: expected a file path .*, got 'a\?b'$/],
    [`/api/history?path=${'x'.repeat(4097)}`, /^path: expected a file path .*, got 'x{80}\.\.\.'$/],
    ['/api/history?path=a&path=b', /^path: expected a file path .*, got more than one value$/],
    ['/api/history?path=a&limit=0', "limit: expected an integer from 1 to 500, got '0'"],
    ['/api/history?path=a&pair=-x', /^pair: expected a pair name/],
  ])('%s', async (url, message) => {
    const r = await get(url);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json();
    expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    expect(body.error).toBe('invalid_query');
    if (typeof message === 'string') expect(body.message).toBe(message);
    else expect(body.message).toMatch(message);
    expect(body.message).not.toContain('\n');
  });
  it('ignores unknown parameters (browsers add cache busters)', async () => {
    expect((await get('/api/iterations?_=123&limit=1')).status).toBe(200);
  });
});

describe('probes, metrics and unknown routes', () => {
  it('healthz and readyz answer 200', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await get('/readyz')).json()).toEqual({ status: 'ready', store: 'sqlite' });
  });
  it('unknown routes get 404 JSON', async () => {
    const r = await get('/nope?x=1');
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ error: 'not_found', message: 'no such route: GET /nope' });
    expect((await app.inject({ method: 'POST', url: '/api/pairs' })).statusCode).toBe(404);
  });
  it('exports iterations by status, files and bytes, and seconds since the last real success', async () => {
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = r.body;
    expect(m).toContain('ha_sync_store_up 1');
    expect(m).toContain(
      'ha_sync_iterations_24h{pair="photos",direction="dell-to-hp",dry_run="0",status="success"} 6',
    );
    expect(m).toContain(
      'ha_sync_iterations_24h{pair="media",direction="dell-to-hp",dry_run="0",status="partial_failure"} 1',
    );
    expect(m).toContain(
      'ha_sync_last_iteration_status{pair="media",direction="dell-to-hp",dry_run="0",status="partial_failure"} 1',
    );
    expect(m).toContain(
      'ha_sync_last_iteration_status{pair="media",direction="dell-to-hp",dry_run="0",status="success"} 0',
    );
    expect(m).toContain('ha_sync_files_24h{pair="media",direction="dell-to-hp",dry_run="0",kind="failed"} 1');
    expect(m).toContain(
      'ha_sync_files_24h{pair="photos",direction="dell-to-hp",dry_run="0",kind="created"} 6',
    );
    expect(m).toContain('ha_sync_bytes_24h{pair="media",direction="dell-to-hp",dry_run="0"} 730000000');
    expect(m).toContain('ha_sync_seconds_since_last_success{pair="photos",direction="hp-to-dell"} 570');
    expect(m).toContain('ha_sync_seconds_since_last_success{pair="games",direction="hp-to-dell"} +Inf');
    expect(m).toContain('ha_sync_stale{pair="games",direction="hp-to-dell"} 1');
    expect(m).toContain('ha_sync_stale_after_seconds{pair="photos",direction="dell-to-hp"} 1800');
  });
});

describe('an empty store', () => {
  it('answers every route with empty lists', async () => {
    const emptyDir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-empty-'));
    const r = await openAuditReader({ dsn: undefined, logDir: emptyDir, log });
    const a = buildApp({ reader: r, clock: new ManualClock(NOW), schedule });
    try {
      expect((await a.inject('/api/pairs')).json().pairs).toEqual([]);
      expect((await a.inject('/api/iterations')).json().iterations).toEqual([]);
      expect((await a.inject('/api/operations?iteration_id=1')).json().operations).toEqual([]);
      expect((await a.inject('/api/conflicts')).json()).toMatchObject({ counts: [], conflicts: [] });
      expect((await a.inject('/api/versions')).json().versions).toEqual([]);
      expect((await a.inject('/api/history?path=a.txt')).json().history).toEqual([]);
      expect((await a.inject('/readyz')).statusCode).toBe(200);
      const m = (await a.inject('/metrics')).body;
      expect(m).toContain('ha_sync_store_up 1');
      expect(m).not.toContain('ha_sync_stale{');
      expect((await a.inject('/')).statusCode).toBe(200);
    } finally {
      await a.close();
      await r.close();
      await rm(emptyDir, { recursive: true, force: true });
    }
  });
});

describe('the store down', () => {
  it('readyz and the API answer 503 JSON; healthz, the page and metrics stay up', async () => {
    const downDir = await mkdtemp(join(tmpdir(), 'ha-sync-ui-down-'));
    const r = await openAuditReader({ dsn: undefined, logDir: downDir, log });
    // The database file vanishes with its directory: every later call fails, as a lost store does.
    await r.close();
    await rm(downDir, { recursive: true, force: true });
    const a = buildApp({ reader: r, clock: new ManualClock(NOW), schedule });
    try {
      for (const url of [
        '/readyz',
        '/api/pairs',
        '/api/iterations',
        '/api/operations?iteration_id=1',
        '/api/conflicts',
        '/api/versions',
        '/api/history?path=a.txt',
      ]) {
        const res = await a.inject(url);
        expect(res.statusCode, url).toBe(503);
        expect(res.json()).toEqual({
          error: 'store_unavailable',
          message: 'the audit store (sqlite) is unreachable or not answering; see the server log',
        });
      }
      expect((await a.inject('/healthz')).statusCode).toBe(200);
      expect((await a.inject('/')).statusCode).toBe(200);
      const m = await a.inject('/metrics');
      expect(m.statusCode).toBe(200);
      expect(m.body).toContain('ha_sync_store_up 0');
    } finally {
      await a.close();
      await rm(downDir, { recursive: true, force: true });
    }
  });
  it('a store that does not answer gets 503 after the timeout (clock advanced, no sleeping)', async () => {
    const hung: AuditReader = {
      kind: 'mysql',
      ping: () => new Promise(() => undefined),
      pairs: () => new Promise(() => undefined),
      iterations: () => new Promise(() => undefined),
      operations: () => new Promise(() => undefined),
      conflicts: () => new Promise(() => undefined),
      versionsState: () => new Promise(() => undefined),
      fileHistory: () => new Promise(() => undefined),
      close: () => Promise.resolve(),
    };
    const c = new ManualClock(NOW);
    const a = buildApp({ reader: hung, clock: c, schedule, storeTimeoutMs: 5000 });
    try {
      await a.ready();
      const pending = a.inject('/readyz');
      while (c.pending === 0) await new Promise((r) => setImmediate(r));
      await c.advance(5000);
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('store_unavailable');
      expect(c.pending).toBe(0);
    } finally {
      await a.close();
    }
  });
});
