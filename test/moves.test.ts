// Issue 16: moves are renames. The pure pairing rules (src/core/moves.ts) as tables, then real
// two-way runs: a folder moved on one side is renamed on the other (same inodes, 0 bytes copied,
// no version kept, one 'move' row), and the bad inputs the issue names.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BaseRecord, Entry } from '../src/core/index.js';
import {
  agreed,
  decideMove,
  goneSignature,
  knownMd5,
  listingSignature,
  moveHalf,
  sameDirectory,
  sameInode,
} from '../src/core/index.js';
import { openBaseline } from '../src/baseline/index.js';
import { runReconcile } from '../src/reconciler/index.js';
import { d, f } from './entries.helpers.js';
import {
  captureLogger,
  config,
  freeLock,
  memoryAudit,
  put,
  sink,
  snapshot,
  tempRoot,
  versionsOf,
} from './reconcile.helpers.js';

const rec = (e: Entry): BaseRecord => agreed(e.name, e, e);

describe('moveHalf: which decisions could be half of a move', () => {
  const file = f('x', 10, 1000);
  const empty = f('x', 0, 1000);
  const dir = d('x');
  it.each([
    ['a delete of a file with contents', { type: 'delete', on: 'b', entry: file }, rec(file), 'gone a file'],
    ['a delete of an empty file', { type: 'delete', on: 'b', entry: empty }, rec(empty), 'none'],
    [
      'a copy of a file with contents',
      { type: 'copy', from: 'a', to: 'b', src: file, dest: undefined },
      undefined,
      'appeared a file',
    ],
    ['a directory removed', { type: 'dir-one-side', on: 'b', then: 'remove' }, rec(dir), 'gone a dir'],
    [
      'a directory made, never seen',
      { type: 'dir-one-side', on: 'a', then: 'create' },
      undefined,
      'appeared a dir',
    ],
    [
      'a directory restored (it has a baseline)',
      { type: 'dir-one-side', on: 'a', then: 'create' },
      rec(dir),
      'none',
    ],
    ['a conflict', { type: 'conflict', winner: 'a', loser: 'b', win: file, lose: file }, rec(file), 'none'],
  ] as const)('%s', (_name, dec, base, want) => {
    const h = moveHalf(dec, base);
    expect(h ? `${h.half} ${h.side} ${h.kind}` : 'none').toBe(want);
  });
});

describe('decideMove', () => {
  const old = f('old', 10, 1000);
  const moved = { ...old, name: 'new' };
  const gone = { path: 'a/old', side: 'a' as const, base: rec(old) };
  const appeared = { path: 'b/new', side: 'a' as const, entry: moved };
  it.each([
    [
      'the old path still holds the baseline version: a rename on b',
      old,
      undefined,
      true,
      'move b a/old>b/new',
    ],
    ['the old path was edited on b: not a rename', f('old', 11, 5000), undefined, true, 'no-move'],
    ['gone on b too: not a rename', undefined, undefined, true, 'no-move'],
    ['different contents: not a rename', old, undefined, false, 'no-move'],
    ['onto a file b holds: a rename that keeps it', old, f('new', 3, 9), true, 'move b a/old>b/new replaces'],
  ] as const)('%s', (_name, oldThere, newThere, same, want) => {
    const m = decideMove(gone, appeared, oldThere, newThere, same);
    const word =
      m.type === 'move' ? `move ${m.on} ${m.from}>${m.to}${m.replaces ? ' replaces' : ''}` : m.type;
    expect(word).toBe(want);
  });
  it('a directory moved into its own subtree is refused', () => {
    const dir = d('x');
    const m = decideMove(
      { path: 'x', side: 'a', base: rec(dir) },
      { path: 'x/y/x', side: 'a', entry: dir },
      dir,
      undefined,
    );
    expect(m).toMatchObject({ type: 'no-move', why: expect.stringMatching(/inside one another/) });
  });
  it('directories pair by listing: names, kinds, sizes and mtimes; an empty one never', () => {
    const kids = [f('a.jpg', 5, 100), d('sub'), f('b.jpg', 7, 200)];
    expect(listingSignature(kids)).toBe(goneSignature('a', kids.map(rec)));
    expect(listingSignature([f('a.jpg', 5, 101), d('sub'), f('b.jpg', 7, 200)])).not.toBe(
      listingSignature(kids),
    );
    expect(listingSignature([])).toBeNull();
  });
});

describe('identity by inode', () => {
  const at = (e: Entry, ino?: number): Entry => (ino === undefined ? e : { ...e, ino });
  const file = f('x', 10, 1000);
  it.each([
    ['the same inode', at(file, 7), at(file, 7), true],
    ['another inode', at(file, 7), at(file, 8), false],
    ['no inode recorded (a baseline from before inodes)', file, at(file, 7), false],
    ['no inode listed (a lister that reports none)', at(file, 7), file, false],
    ['the same number for a directory and a file', at(d('x'), 7), at(file, 7), false],
  ] as const)('a file: %s', (_name, was, now, want) => {
    expect(sameInode(rec(was).a, now)).toBe(want);
  });
  it('a racy entry is never trusted by its inode (an in-place re-save keeps it)', () => {
    const racy = { ...rec(at(file, 7)).a, racy: true as const };
    expect(sameInode(racy, at(file, 7))).toBe(false);
  });

  const kids = [f('a.jpg', 5, 100), f('b.jpg', 7, 200), at(d('sub'), 40)];
  const dirRec = rec(at(d('album'), 9));
  const below = kids.map(rec);
  it.each([
    ['the same listing, no inodes anywhere', rec(d('album')), d('new'), kids, true],
    [
      'the same inode, a file added and one edited inside',
      dirRec,
      at(d('new'), 9),
      [f('a.jpg', 5, 100), f('b.jpg', 9, 300), f('c.jpg', 1, 400)],
      true,
    ],
    [
      'the same inode, only a subdirectory of the same inode left',
      dirRec,
      at(d('new'), 9),
      [at(d('sub'), 40)],
      true,
    ],
    [
      'the same inode, nothing as recorded (a new folder given a freed inode)',
      dirRec,
      at(d('new'), 9),
      [f('a.jpg', 5, 101), at(d('sub'), 41)],
      false,
    ],
    ['another inode and a changed listing', dirRec, at(d('new'), 10), [f('a.jpg', 5, 100)], false],
    ['the same inode but empty now', dirRec, at(d('new'), 9), [], false],
  ] as const)('a directory: %s', (_name, base, now, children, want) => {
    expect(sameDirectory('a', base, below, now, children)).toBe(want);
  });
});

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

async function twoWay(dirs: ReturnType<typeof tempRoot>, deleteMissing = true, dryRun = false) {
  const audit = memoryAudit();
  const cap = captureLogger();
  const out = sink();
  const r = await runReconcile(
    config(dirs, {
      sides: { a: 'dell', b: 'hp' },
      direction: 'dell-to-hp',
      deleteMissing,
      maxDeletePercent: 100,
      dryRun,
    }),
    {
      log: cap.log,
      openAudit: () => Promise.resolve(audit),
      openLock: () => Promise.resolve(freeLock()),
      stdout: out,
      stderr: sink(),
      env: {},
    },
  );
  return { r, ops: audit.runs.flatMap((x) => x.ops), logs: cap.lines(), stdout: out.text() };
}

describe('a reconcile run carries a move as a rename', () => {
  it('a folder of files moved on dell: renamed on hp, same inodes, 0 bytes, no versions, one move row', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    for (let i = 0; i < 20; i++)
      put(t.src, `photos/2019/img ${i}.jpg`, `photo ${i} `.repeat(100), 1_700_000_000 + i);
    put(t.src, 'albums/keep.txt', 'k', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    const inode = (p: string): number => fs.statSync(join(t.dest, p)).ino;
    const before = inode('photos/2019/img 7.jpg');
    fs.renameSync(join(t.src, 'photos/2019'), join(t.src, 'albums/2019'));
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(snapshot(t.dest)).toEqual(snapshot(t.src));
    expect(inode('albums/2019/img 7.jpg')).toBe(before);
    expect(versionsOf(t.dest)).toEqual([]);
    expect(ops.map((o) => `${o.operation} ${o.movedFrom ?? ''}>${o.filepath}`)).toEqual([
      'move photos/2019>albums/2019',
    ]);
    expect(ops[0]!.bytesNotCopied).toBe(10 * 800 + 10 * 900);
    // The next run finds nothing to do: the baseline followed the move.
    expect((await twoWay(t)).ops).toEqual([]);
  });

  it('a folder moved on dell and then changed inside: renamed on hp by its inode, the changes follow', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    for (let i = 0; i < 10; i++)
      put(t.src, `shows/s1/ep ${i}.mkv`, `episode ${i} `.repeat(100), 1_700_000_000 + i);
    put(t.src, 'library/keep.txt', 'k', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    const inode = (p: string): number => fs.statSync(join(t.dest, p)).ino;
    const before = inode('shows/s1/ep 3.mkv');
    fs.renameSync(join(t.src, 'shows/s1'), join(t.src, 'library/s1'));
    put(t.src, 'library/s1/ep 0.mkv', 'a new cut', 1_700_000_900);
    put(t.src, 'library/s1/ep 10.mkv', 'a new episode', 1_700_000_900);
    fs.rmSync(join(t.src, 'library/s1/ep 9.mkv'));
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(snapshot(t.dest)).toEqual(snapshot(t.src));
    expect(inode('library/s1/ep 3.mkv')).toBe(before);
    expect(ops.map((o) => `${o.operation} ${o.movedFrom ?? ''}>${o.filepath}`).sort()).toEqual([
      'create >library/s1/ep 10.mkv',
      'delete >library/s1/ep 9.mkv',
      'move shows/s1>library/s1',
      'update >library/s1/ep 0.mkv',
    ]);
    // The replaced and the deleted episode are kept as versions; nothing else was copied.
    expect(versionsOf(t.dest).sort()).toEqual([
      `library/s1/ep 0~T.mkv file:${'episode 0 '.repeat(100)}`,
      `library/s1/ep 9~T.mkv file:${'episode 9 '.repeat(100)}`,
    ]);
    expect((await twoWay(t)).ops).toEqual([]);
  });

  it("the baseline holds each side's own inode, also for small files copied in a batch", async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'small.txt', 'tiny', 1_700_000_000);
    put(t.src, 'docs/note.txt', 'a note', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    const store = await openBaseline({ pair: 't', dsn: null, logDir: t.logDir, log: captureLogger().log });
    try {
      for (const p of ['small.txt', 'docs', 'docs/note.txt']) {
        const rec = await store.readPath(p);
        expect([p, rec?.a.ino, rec?.b.ino]).toEqual([
          p,
          fs.lstatSync(join(t.src, p)).ino,
          fs.lstatSync(join(t.dest, p)).ino,
        ]);
      }
    } finally {
      await store.close();
    }
  });

  it('files moved between folders on hp: renamed on dell; the ones edited meanwhile are not', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'in/a.txt', 'aaaa', 1_700_000_000);
    put(t.src, 'in/b.txt', 'bbbbbb', 1_700_000_000);
    put(t.src, 'out/x', 'x', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    fs.renameSync(join(t.dest, 'in/a.txt'), join(t.dest, 'out/a.txt'));
    fs.renameSync(join(t.dest, 'in/b.txt'), join(t.dest, 'out/b.txt'));
    put(t.src, 'in/b.txt', 'edited on dell', 1_700_000_500);
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(ops.filter((o) => o.operation === 'move').map((o) => `${o.movedFrom}>${o.filepath}`)).toEqual([
      'in/a.txt>out/a.txt',
    ]);
    expect(snapshot(t.src)).toEqual(snapshot(t.dest));
    expect(snapshot(t.src)).toContain('in/b.txt file:edited on dell');
    expect(snapshot(t.src)).toContain('out/b.txt file:bbbbbb');
  });

  it('onto an existing file: its version is kept first, and the move row says where', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'f.txt', 'moved contents', 1_700_000_000);
    put(t.src, 'g.txt', 'old g', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    fs.renameSync(join(t.src, 'f.txt'), join(t.src, 'g.txt'));
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(ops.map((o) => `${o.operation} ${o.movedFrom ?? ''}>${o.filepath}`)).toEqual(['move f.txt>g.txt']);
    expect(ops[0]!.keptPath).toMatch(/^\.ha-sync\/versions\/g~\d{8}-\d{6}\.txt$/);
    expect(ops[0]!.keptKind).toBe('version');
    expect(versionsOf(t.dest)).toEqual(['g~T.txt file:old g']);
  });

  it('a dry run shows each move as one move line, and changes nothing', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    for (let i = 0; i < 5; i++)
      put(t.src, `photos/2019/img ${i}.jpg`, `photo ${i} `.repeat(100), 1_700_000_000 + i);
    put(t.src, 'in/a.txt', 'aaaa', 1_700_000_000);
    put(t.src, 'out/k', 'k', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    fs.renameSync(join(t.src, 'photos/2019'), join(t.src, 'albums-2019'));
    fs.renameSync(join(t.dest, 'in/a.txt'), join(t.dest, 'out/a.txt'));
    const before = [snapshot(t.src), snapshot(t.dest)];
    const dry = await twoWay(t, true, true);
    expect(dry.r.exitCode).toBe(0);
    expect([snapshot(t.src), snapshot(t.dest)]).toEqual(before);
    expect(dry.stdout.trim().split('\n').sort()).toEqual([
      expect.stringMatching(
        /^Dry run: 0 to create, 0 to update, 0 mtime-only, 0 to delete, 2 to move, 0 failing/,
      ),
      'move    albums-2019  dir  on hp  (from photos/2019)',
      'move    out/a.txt  4  on dell  (from in/a.txt)',
    ]);
    // The real run then does what the dry run said.
    const { ops } = await twoWay(t);
    expect(ops.map((o) => `${o.operation} ${o.movedFrom ?? ''}>${o.filepath}`).sort()).toEqual([
      'move in/a.txt>out/a.txt',
      'move photos/2019>albums-2019',
    ]);
    expect(snapshot(t.dest)).toEqual(snapshot(t.src));
  });

  it('without --delete-missing a move is not paired: the old path comes back, nothing is lost', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'f.txt', 'contents', 1_700_000_000);
    expect((await twoWay(t, false)).r.exitCode).toBe(0);
    fs.renameSync(join(t.src, 'f.txt'), join(t.src, 'g.txt'));
    const { ops } = await twoWay(t, false);
    expect(ops.some((o) => o.operation === 'move')).toBe(false);
    expect(snapshot(t.src)).toEqual(['f.txt file:contents', 'g.txt file:contents']);
  });

  it('a move into .ha-sync/ is a delete, never a rename into the state folder', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'f.txt', 'contents', 1_700_000_000);
    put(t.src, 'k.txt', 'k', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    fs.renameSync(join(t.src, 'f.txt'), join(t.src, '.ha-sync', 'f.txt'));
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(ops.map((o) => `${o.operation} ${o.filepath}`)).toEqual(['delete f.txt']);
    expect(versionsOf(t.dest)).toEqual(['f~T.txt file:contents']);
  });
});

describe('the baseline MD5 and racy entries', () => {
  it('stands for a side only when its entry there is not racy', () => {
    const file = f('x', 10, 1000);
    const r: BaseRecord = { ...rec(file), md5: 'a'.repeat(32) };
    const racyB: BaseRecord = { ...r, b: { ...r.b, racy: true } };
    expect(knownMd5(r, 'b')).toBe('a'.repeat(32));
    expect(knownMd5(racyB, 'b')).toBeUndefined();
    expect(knownMd5(racyB, 'a')).toBe('a'.repeat(32));
    expect(knownMd5({ ...r, md5: null }, 'a')).toBeUndefined();
  });

  it('a file moved on dell while hp re-saved its old path in the same second: the re-save is not renamed', async () => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    const sec = Math.floor(Date.now() / 1000); // recorded within 3 s of it: racy
    put(t.src, 'in/a.txt', 'version one', sec);
    put(t.src, 'out/keep.txt', 'k', 1_700_000_000);
    expect((await twoWay(t)).r.exitCode).toBe(0);
    put(t.dest, 'in/a.txt', 'version TWO', sec); // same size, same mtime
    fs.renameSync(join(t.src, 'in/a.txt'), join(t.src, 'out/a.txt'));
    const { r, ops } = await twoWay(t);
    expect(r.exitCode).toBe(0);
    expect(ops.some((o) => o.operation === 'move')).toBe(false);
    expect(snapshot(t.src)).toEqual(snapshot(t.dest));
    expect(snapshot(t.src)).toContain('out/a.txt file:version one');
    // With dell's copy gone, the racy entry has nothing to be compared with: hp's re-save is
    // deleted as unchanged, and kept as a version (never renamed into out/a.txt over dell's).
    expect(versionsOf(t.dest)).toEqual(['in/a~T.txt file:version TWO']);
  });
});

describe('a move that cannot be a rename', () => {
  it('across filesystems on the other side: copied instead, and nothing is lost', async (ctx) => {
    const t = tempRoot('ha-move-');
    roots.push(t.root);
    put(t.src, 'f.bin', 'payload '.repeat(1000), 1_700_000_000);
    fs.mkdirSync(join(t.src, 'other'));
    expect((await twoWay(t)).r.exitCode).toBe(0);
    // hp's 'other' is another filesystem (a tmpfs), so a rename into it fails with EXDEV.
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', join(t.dest, 'other')]);
    if (mounted.status !== 0) return ctx.skip('needs root to mount a tmpfs');
    try {
      fs.renameSync(join(t.src, 'f.bin'), join(t.src, 'other/f.bin'));
      const { r, ops, logs } = await twoWay(t);
      expect(r.exitCode).toBe(0);
      expect(ops.map((o) => `${o.operation} ${o.filepath}`).sort()).toEqual([
        'create other/f.bin',
        'delete f.bin',
      ]);
      expect(fs.readFileSync(join(t.dest, 'other/f.bin'), 'utf8')).toBe('payload '.repeat(1000));
      expect(JSON.stringify(logs)).toMatch(/another filesystem: not a rename/);
    } finally {
      spawnSync('umount', ['-l', join(t.dest, 'other')]);
    }
  });
});
