// Root markers: the marker file itself (parse, read, create, the cached guard), the rule that
// decides whether a pass may sync its roots (verifyRoots), and `ha-sync init`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMemoryBaseline } from '../src/baseline/index.js';
import { main } from '../src/cli/main.js';
import {
  MARKER_REL,
  RootGuard,
  createMarker,
  markerMismatch,
  parseMarker,
  readMarker,
} from '../src/fsops/index.js';
import { decideRoot, type IdOnRecord, type MarkerSeen } from '../src/core/index.js';
import { verifyRoots } from '../src/reconciler/index.js';
import { captureLogger, sink } from './reconcile.helpers.js';

let base: string;
beforeEach(() => {
  base = fs.mkdtempSync(join(tmpdir(), 'hasync-marker-'));
});
afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

function dir(name: string): string {
  const d = join(base, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

const good = { v: 1, pair: 'photos', side: 'dell', rootId: '0123456789abcdef', createdAt: 'x' };

describe('parseMarker', () => {
  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['another version', JSON.stringify({ ...good, v: 2 }), /unsupported version 2/],
    ['a bad pair', JSON.stringify({ ...good, pair: 'Photos!' }), /pair is not a valid/],
    ['a bad side', JSON.stringify({ ...good, side: '../x' }), /side is not a valid/],
    ['a short root id', JSON.stringify({ ...good, rootId: 'abc' }), /rootId is not 16 hex/],
    ['an uppercase root id', JSON.stringify({ ...good, rootId: '0123456789ABCDEF' }), /rootId/],
  ])('refuses %s', (_name, text, why) => {
    expect(parseMarker(text)).toMatch(why);
  });
  it('accepts a marker with or without a side, keeping only known fields', () => {
    expect(parseMarker(JSON.stringify({ ...good, extra: 1 }))).toEqual(good);
    const { side: _side, ...noSide } = good;
    expect(parseMarker(JSON.stringify(noSide))).toEqual(noSide);
  });
  it('matches by pair, and by side when both name one', () => {
    const m = parseMarker(JSON.stringify(good));
    if (typeof m === 'string') throw new Error(m);
    expect(markerMismatch('/r', m, 'photos', 'dell')).toBeNull();
    expect(markerMismatch('/r', m, 'photos', null)).toBeNull();
    expect(markerMismatch('/r', m, 'media', 'dell')?.trouble).toBe('other-pair');
    expect(markerMismatch('/r', m, 'photos', 'hp')?.trouble).toBe('other-side');
    expect(markerMismatch('/r', { ...m, side: undefined }, 'photos', 'hp')).toBeNull();
  });
});

describe('readMarker and createMarker', () => {
  it('tells a missing root, a missing marker, a bad one and a good one apart', async () => {
    expect(await readMarker(join(base, 'nope'))).toMatchObject({ ok: false, trouble: 'no-root' });
    const r = dir('r');
    expect(await readMarker(r)).toMatchObject({ ok: false, trouble: 'no-marker' });
    fs.mkdirSync(join(r, '.ha-sync'));
    fs.writeFileSync(join(r, MARKER_REL), 'garbage');
    expect(await readMarker(r)).toMatchObject({ ok: false, trouble: 'bad-marker' });
    fs.rmSync(join(r, MARKER_REL));
    fs.symlinkSync('/etc/hostname', join(r, MARKER_REL));
    expect(await readMarker(r)).toMatchObject({ ok: false, trouble: 'bad-marker' });
    fs.rmSync(join(r, MARKER_REL));
    const m = await createMarker(r, { pair: 'photos', side: 'dell' });
    expect(m.rootId).toMatch(/^[0-9a-f]{16}$/);
    expect(await readMarker(r)).toEqual({ ok: true, marker: m });
  });
  it('never overwrites a marker unless asked; a symlinked .ha-sync is refused', async () => {
    const r = dir('r');
    const m = await createMarker(r, { pair: 'photos', side: 'dell' });
    await expect(createMarker(r, { pair: 'media', side: 'hp' })).rejects.toMatchObject({
      code: 'CHANGED_UNDER_US',
    });
    expect(await readMarker(r)).toEqual({ ok: true, marker: m });
    const again = await createMarker(r, { pair: 'photos', side: 'hp', replace: true, rootId: m.rootId });
    expect(again.rootId).toBe(m.rootId);
    expect(fs.readdirSync(join(r, '.ha-sync'))).toEqual(['root.json']); // no temp left
    const s = dir('s');
    fs.symlinkSync(dir('elsewhere'), join(s, '.ha-sync'));
    await expect(createMarker(s, { pair: 'p', side: null })).rejects.toMatchObject({
      code: 'STATE_DIR_UNSAFE',
    });
    expect(fs.readdirSync(join(base, 'elsewhere'))).toEqual([]);
    expect(await readMarker(s)).toMatchObject({ ok: false, trouble: 'bad-marker' });
  });
  it('the guard re-reads only a changed marker, and sees a bare mount point at once', async () => {
    const r = dir('r');
    await createMarker(r, { pair: 'photos', side: 'dell' });
    const g = new RootGuard(r, 'photos', 'dell');
    expect((await g.check()).ok).toBe(true);
    const id = g.rootId;
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    fs.renameSync(r, `${r}.real`);
    fs.mkdirSync(r);
    fs.writeFileSync(join(r, 'stale.txt'), 'stale');
    expect(await g.check()).toMatchObject({ ok: false, trouble: 'no-marker' });
    expect(g.rootId).toBeNull();
    fs.rmSync(r, { recursive: true });
    fs.renameSync(`${r}.real`, r);
    expect(await g.check()).toMatchObject({ ok: true });
    expect(g.rootId).toBe(id);
    await createMarker(r, { pair: 'photos', side: 'hp', replace: true });
    expect(await g.check()).toMatchObject({ ok: false, trouble: 'other-side' });
  });
});

describe('decideRoot (pure)', () => {
  const ok = { kind: 'ok', rootId: '0123456789abcdef' } as const;
  const none = { kind: 'none' } as const;
  const id = { kind: 'id', rootId: 'fedcba9876543210' } as const;
  const unknown = { kind: 'unknown', why: 'the baseline is unavailable' } as const;
  const run = { dryRun: false, source: false };
  it.each<[string, MarkerSeen, IdOnRecord, { dryRun: boolean; source: boolean }, unknown]>([
    ['a marked root of the pair is used', ok, none, run, { act: 'use', rootId: ok.rootId }],
    [
      'a foreign marker is refused as foreign',
      { kind: 'foreign', why: 'x' },
      none,
      run,
      { act: 'refuse', foreign: true },
    ],
    [
      'an unreadable marker is refused',
      { kind: 'bad', why: 'x' },
      none,
      run,
      { act: 'refuse', foreign: false },
    ],
    [
      'no marker, id on record: a bare mount point',
      none,
      id,
      run,
      { act: 'refuse', reason: { kind: 'was-marked' } },
    ],
    [
      'no marker, no record to ask: cannot tell',
      none,
      unknown,
      run,
      { act: 'refuse', reason: { kind: 'cannot-tell' } },
    ],
    ['never marked: its first sync marks it', none, none, run, { act: 'mark' }],
    [
      'never marked, a dry run: left unmarked',
      none,
      none,
      { dryRun: true, source: false },
      { act: 'unmarked', why: 'dry-run' },
    ],
    [
      "never marked, a one-way run's source: left unmarked",
      none,
      none,
      { dryRun: false, source: true },
      { act: 'unmarked', why: 'source' },
    ],
    [
      "a one-way run's source marked before and now bare: refused",
      none,
      id,
      { dryRun: false, source: true },
      { act: 'refuse' },
    ],
  ])('%s', (_n, marker, onRecord, o, want) => {
    expect(decideRoot(marker, onRecord, o)).toMatchObject(want as object);
  });
});

describe('verifyRoots', () => {
  const sides = (): { label: string; root: string }[] => [
    { label: 'dell', root: dir('a') },
    { label: 'hp', root: dir('b') },
  ];
  it("a pair's first meeting marks both roots (a dry run marks none)", async () => {
    const store = openMemoryBaseline('photos');
    const s = sides();
    const dry = await verifyRoots('photos', s, store, { dryRun: true, log: captureLogger().log });
    expect(dry).toEqual({ ok: true, ids: [null, null] });
    expect(fs.existsSync(join(s[0]!.root, MARKER_REL))).toBe(false);
    const v = await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log });
    if (!v.ok) throw new Error(v.why);
    const a = await readMarker(s[0]!.root);
    expect(a).toMatchObject({ ok: true, marker: { pair: 'photos', side: 'dell', rootId: v.ids[0] } });
    expect(v.ids[0]).not.toBe(v.ids[1]);
    // Again: the same ids.
    expect(await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log })).toEqual(v);
  });
  it('a root without its marker whose id is on record is a bare mount point: refused, nothing written', async () => {
    const store = openMemoryBaseline('photos');
    const s = sides();
    const first = await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log });
    if (!first.ok) throw new Error(first.why);
    // The share goes away: its mount point is bare, with a stale file in it.
    fs.renameSync(s[1]!.root, `${s[1]!.root}.real`);
    fs.mkdirSync(s[1]!.root);
    fs.writeFileSync(join(s[1]!.root, 'stale.txt'), 'stale');
    const v = await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log });
    expect(v).toMatchObject({ ok: false, foreign: false });
    expect(!v.ok && v.why).toMatch(
      new RegExp(
        `held one \\(root id ${first.ids[1]}\\).*bare mount point.*ha-sync init --root .* --pair photos --side hp`,
      ),
    );
    expect(fs.readdirSync(s[1]!.root)).toEqual(['stale.txt']);
    // Back: the same ids.
    fs.rmSync(s[1]!.root, { recursive: true });
    fs.renameSync(`${s[1]!.root}.real`, s[1]!.root);
    expect(await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log })).toEqual(first);
  });
  it('a side never marked (a baseline from before markers) gets its marker on its next sync', async () => {
    const store = openMemoryBaseline('photos');
    await store.write([
      {
        dir: '',
        name: 'x',
        rec: {
          name: 'x',
          a: { kind: 'file', size: 1, mtimeMs: 1 },
          b: { kind: 'file', size: 1, mtimeMs: 1 },
          md5: null,
        },
      },
    ]);
    const s = sides();
    const v = await verifyRoots('photos', s, store, { dryRun: false, log: captureLogger().log });
    expect(v.ok).toBe(true);
    expect((await readMarker(s[1]!.root)).ok).toBe(true);
  });
  it("a one-way run's source is never marked by it (said so), even read-only; its dest is marked", async () => {
    const s = sides();
    const src = { ...s[0]!, readOnly: true };
    fs.writeFileSync(join(src.root, 'a.txt'), 'a');
    // Read-only for this process: a read-only bind mount as root, the mode bits otherwise.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      execFileSync('mount', ['--bind', src.root, src.root]);
      execFileSync('mount', ['-o', 'remount,ro,bind', src.root]);
    } else fs.chmodSync(src.root, 0o555);
    try {
      const cap = captureLogger();
      const v = await verifyRoots('photos', [src, s[1]!], openMemoryBaseline('photos'), {
        dryRun: false,
        log: cap.log,
      });
      expect(v).toMatchObject({ ok: true });
      expect(v.ok && v.ids[0]).toBeNull();
      expect(v.ok && v.ids[1]).toMatch(/^[0-9a-f]{16}$/);
      expect(cap.lines().some((l) => String(l.msg).includes('the source holds no'))).toBe(true);
      // A read-only side that must be written (two-way) is refused instead.
      const two = await verifyRoots('photos', [s[0]!, s[1]!], openMemoryBaseline('photos'), {
        dryRun: false,
        log: cap.log,
      });
      expect(two).toMatchObject({ ok: false });
    } finally {
      if (asRoot) execFileSync('umount', [src.root]);
      else fs.chmodSync(src.root, 0o755);
    }
  });
  it('without a baseline a first sync cannot be told from a bare mount point: refused', async () => {
    const v = await verifyRoots('photos', sides(), null, { dryRun: false, log: captureLogger().log });
    expect(v).toMatchObject({ ok: false, foreign: false });
    expect(!v.ok && v.why).toMatch(/baseline is unavailable/);
  });
  it('a root marked for another pair or side is refused as foreign', async () => {
    const s = sides();
    await createMarker(s[1]!.root, { pair: 'media', side: 'hp' });
    const v = await verifyRoots('photos', s, openMemoryBaseline('photos'), {
      dryRun: false,
      log: captureLogger().log,
    });
    expect(v).toMatchObject({ ok: false, foreign: true });
    expect(!v.ok && v.why).toMatch(/belongs to pair 'media'/);
  });
});

describe('ha-sync init', () => {
  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out = sink();
    const err = sink();
    const code = await main(['init', ...argv], {
      stdout: out,
      stderr: err,
      env: {},
      signal: new AbortController().signal,
    });
    return { code, out: out.text(), err: err.text() };
  }

  it.each([
    [[], /--pair is required/],
    [['--root', '/nope/x', '--pair', 'p', '--side', 'a'], /does not exist/],
    [['--root', '.', '--pair', 'Bad Pair', '--side', 'a'], /--pair: expected/],
    [['--root', '.', '--pair', 'p', '--side', 'a b'], /--side: expected/],
    [['--root', '.', '--pair', 'p'], /--side is required/],
    [['--bogus'], /bogus/],
  ])('bad input %j: one line, exit 2', async (argv, why) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(why);
  });

  it('marks a folder; again is a no-op; another pair needs --force; a missing side is filled in', async () => {
    const r = dir('r');
    const first = await cli(['--root', r, '--pair', 'photos', '--side', 'dell']);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/marked '.*' as side 'dell' of pair 'photos'/);
    const m = await readMarker(r);
    if (!m.ok) throw new Error(m.why);
    const again = await cli(['--root', r, '--pair', 'photos', '--side', 'dell']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already side 'dell'/);
    const other = await cli(['--root', r, '--pair', 'media', '--side', 'dell']);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/belongs to pair 'photos'.*--force/);
    expect(await readMarker(r)).toEqual(m);
    const forced = await cli(['--root', r, '--pair', 'media', '--side', 'dell', '--force']);
    expect(forced.code).toBe(0);
    expect(await readMarker(r)).toMatchObject({ ok: true, marker: { pair: 'media' } });
    // A marker of an unlabelled run gains its side and keeps its id.
    const u = dir('u');
    const made = await createMarker(u, { pair: 'photos', side: null });
    expect((await cli(['--root', u, '--pair', 'photos', '--side', 'hp'])).code).toBe(0);
    expect(await readMarker(u)).toMatchObject({ ok: true, marker: { side: 'hp', rootId: made.rootId } });
  });

  it('refuses a symlinked .ha-sync (exit 1, nothing written through it)', async () => {
    const r = dir('r');
    const elsewhere = dir('elsewhere');
    fs.symlinkSync(elsewhere, join(r, '.ha-sync'));
    const res = await cli(['--root', r, '--pair', 'photos', '--side', 'dell']);
    expect(res.code).toBe(1);
    expect(res.err.trim().split('\n')).toHaveLength(1);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});
