// Opslog files on their own: names, line validation, concurrent appends, reading back (twice, and
// after an unlink), a line cut short by a crash.
import {
  appendFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { openAudit } from '../src/audit/index.js';
import { OpslogFile, OpslogWriter, fileToken, opslogName, parseLine } from '../src/audit/opslog.js';
import { captureLog, end, header, op, tempDir, writeOpslog } from './audit.helpers.js';

/** Paths of this process's open descriptors that point at opslogs in `dir` (Linux /proc). */
function openOpslogFds(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(join(dir, 'opslog-'))) out.push(target);
    } catch {
      // The descriptor of the readdir itself, already closed.
    }
  }
  return out;
}

/** Makes the next FileHandle write fail as on a full disk. */
async function failNextWrite(dir: string): Promise<void> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  vi.spyOn(proto, 'write').mockRejectedValueOnce(
    Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('opslog names', () => {
  it('are opslog-<pair>-<direction>-<RFC3339 with ms, file-name safe>.jsonl', () => {
    expect(opslogName('media', 'dell-to-hp', Date.UTC(2026, 10, 26, 23, 24, 2, 7))).toBe(
      'opslog-media-dell-to-hp-2026-11-26T23-24-02.007Z.jsonl',
    );
  });
  it('never carry a path separator or control character', () => {
    expect(fileToken('../../etc/passwd')).toBe('.._.._etc_passwd');
    expect(fileToken("a'; DROP\n\\x")).toBe('a___DROP__x');
    expect(fileToken('')).toBe('_');
    expect(fileToken('x'.repeat(100))).toHaveLength(60);
  });
});

describe('parseLine', () => {
  const ok = { type: 'op', ...op(1) };
  it.each([
    ['not json', 'nope'],
    ['an array', '[1]'],
    ['null', 'null'],
    ['unknown type', '{"type":"weird"}'],
    ['bad operation', JSON.stringify({ ...ok, operation: 'move' })],
    ['empty path', JSON.stringify({ ...ok, filepath: '' })],
    ['negative size', JSON.stringify({ ...ok, sizeAfter: -1 })],
    ['fractional size', JSON.stringify({ ...ok, sizeAfter: 1.5 })],
    ['string time', JSON.stringify({ ...ok, startedAtMs: '2026' })],
    ['bad status', JSON.stringify({ ...ok, status: 'ok' })],
    ['header without runId', JSON.stringify({ v: 1, type: 'header', ...header(), runId: '' })],
    ['header of another version', JSON.stringify({ ...header(), v: 2, type: 'header' })],
    ['end with bad status', JSON.stringify({ type: 'end', ...end(), status: 'running' })],
    ['end without counts', JSON.stringify({ type: 'end', ...end(), counts: null })],
    ['iteration 0', '{"type":"iteration","iterationId":0}'],
    ['a kept path without its kind', JSON.stringify({ ...ok, keptPath: '.ha-sync/versions/a~1.txt' })],
    ['a kept kind without its path', JSON.stringify({ ...ok, keptKind: 'version' })],
    ['an unknown kept kind', JSON.stringify({ ...ok, keptPath: 'a.txt', keptKind: 'backup' })],
    ['an empty kept path', JSON.stringify({ ...ok, keptPath: '', keptKind: 'version' })],
    ['a kept path that is not a string', JSON.stringify({ ...ok, keptPath: 7, keptKind: 'version' })],
    ['a move without its old path', JSON.stringify({ ...ok, operation: 'move', movedFrom: null })],
    ['a move from an empty path', JSON.stringify({ ...ok, operation: 'move', movedFrom: '' })],
    ['a move onto itself', JSON.stringify({ ...ok, operation: 'move', movedFrom: ok.filepath })],
    ['a move from a number', JSON.stringify({ ...ok, operation: 'move', movedFrom: 7 })],
    [
      'a move with negative bytes not copied',
      JSON.stringify({ ...ok, operation: 'move', movedFrom: 'a', bytesNotCopied: -1 }),
    ],
    [
      'a move with fractional bytes not copied',
      JSON.stringify({ ...ok, operation: 'move', movedFrom: 'a', bytesNotCopied: 0.5 }),
    ],
    ['an old path on a create', JSON.stringify({ ...ok, movedFrom: 'elsewhere.bin' })],
    ['bytes not copied on an update', JSON.stringify({ ...ok, operation: 'update', bytesNotCopied: 3 })],
    [
      'an end with a bad moved count',
      JSON.stringify({ type: 'end', ...end(), counts: { ...end().counts, moved: -1 } }),
    ],
  ])('rejects %s', (_n, line) => {
    expect(parseLine(line).type).toBe('corrupt');
  });
  it('accepts the lines the writer writes (missing optional fields read as null)', () => {
    const read = { ...op(1), keptPath: null, keptKind: null };
    expect(parseLine(JSON.stringify(ok))).toEqual({ type: 'op', op: read });
    const { md5Before: _m, errorMessage: _e, ...sparse } = ok;
    expect(parseLine(JSON.stringify(sparse))).toEqual({ type: 'op', op: read });
    // A line written before ha-sync kept versions has no kept fields at all: nothing was kept.
    expect(Object.keys(ok)).not.toContain('keptPath');
    expect(parseLine(JSON.stringify({ ...ok, keptPath: null, keptKind: null }))).toEqual({
      type: 'op',
      op: read,
    });
    expect(parseLine('{"type":"iteration","iterationId":7}')).toEqual({ type: 'iteration', iterationId: 7 });
  });
  it('round-trips a move (file and directory); a line without move fields reads as no move', () => {
    const file = op(1, {
      operation: 'move',
      filepath: 'sorted/a.jpg',
      movedFrom: "inbox/it's <a>.jpg",
      sizeBefore: 7,
      sizeAfter: 7,
      md5After: null,
      bytesNotCopied: 7,
    });
    const parsed = parseLine(JSON.stringify({ type: 'op', ...file }));
    expect(parsed).toEqual({ type: 'op', op: { ...file, keptPath: null, keptKind: null } });
    const dir = {
      ...file,
      filepath: 'albums/2019',
      movedFrom: 'photos/2019',
      sizeBefore: null,
      sizeAfter: null,
    };
    for (const bytesNotCopied of [null, 9_000_000_000]) {
      expect(parseLine(JSON.stringify({ type: 'op', ...dir, bytesNotCopied }))).toEqual({
        type: 'op',
        op: { ...dir, bytesNotCopied, keptPath: null, keptKind: null },
      });
    }
    const { bytesNotCopied: _b, ...noBytes } = file;
    expect(parseLine(JSON.stringify({ type: 'op', ...noBytes }))).toMatchObject({
      op: { movedFrom: "inbox/it's <a>.jpg", bytesNotCopied: null },
    });
    // A line of an older version (or any other operation): no move fields; null when written.
    const plain = parseLine(JSON.stringify({ ...ok, movedFrom: null, bytesNotCopied: null }));
    expect(plain).toEqual({ type: 'op', op: { ...op(1), keptPath: null, keptKind: null } });
    expect(plain.type === 'op' && (plain.op.movedFrom ?? null)).toBeNull();
  });
  it('reads an end line without a moved count (written before moves) as no move', () => {
    const { moved: _m, ...counts } = end().counts;
    const parsed = parseLine(JSON.stringify({ type: 'end', ...end(), counts }));
    expect(parsed).toEqual({ type: 'end', end: end() });
    const moved = parseLine(
      JSON.stringify({ type: 'end', ...end({ counts: { ...end().counts, moved: 4 } }) }),
    );
    expect(moved.type === 'end' && moved.end.counts.moved).toBe(4);
  });
  it.each([
    ['a kept version', '.ha-sync/versions/photos/a~20261204-231500.jpg', 'version'],
    ['a conflict copy', 'photos/a.sync-conflict-20261204-231500-hp.jpg', 'conflict'],
    ['an odd but valid path', "x/it's <b>%_\\.txt", 'version'],
  ] as const)('round-trips %s', (_n, keptPath, keptKind) => {
    const o = op(1, { operation: 'update', sizeBefore: 5, keptPath, keptKind });
    expect(parseLine(JSON.stringify({ type: 'op', ...o }))).toEqual({ type: 'op', op: o });
  });
});

describe('OpslogWriter and OpslogFile', () => {
  it('keeps every concurrent append intact and reads them back twice, even after an unlink', async () => {
    const t = tempDir();
    try {
      const h = header();
      const w = await OpslogWriter.create(t.dir, h, { pid: 1, host: 'h' });
      // Same start time: the second file gets the next free millisecond, never the same file.
      const w2 = await OpslogWriter.create(t.dir, h, { pid: 1, host: 'h' });
      expect(w2.path).not.toBe(w.path);
      await w2.close();
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          w.append({ type: 'op', ...op(i, { filepath: `p/${i}/${'x'.repeat(i)}` }) }),
        ),
      );
      await w.append({ type: 'end', ...end() });
      await w.close();
      await expect(w.append({ type: 'op' })).rejects.toMatchObject({ code: 'INTERNAL' });

      const f = (await OpslogFile.open(w.path))!;
      try {
        unlinkSync(w.path);
        const s = await f.summarize();
        expect(s).toMatchObject({ ops: 500, corrupt: 0, end: end(), iterationId: null });
        expect(s.header).toMatchObject({ ...h, pid: 1, host: 'h' });
        const got: string[] = [];
        for await (const b of f.opBatches(s.ops, 64)) {
          expect(b.length).toBeLessThanOrEqual(64);
          got.push(...b.map((o) => o.filepath));
        }
        expect(got).toHaveLength(500);
        expect(new Set(got).size).toBe(500);
      } finally {
        await f.close();
      }
      expect(await OpslogFile.open(w.path)).toBeNull();
    } finally {
      t.remove();
    }
  });

  it('counts a line cut short by a crash as corrupt and keeps the ops before it', async () => {
    const t = tempDir();
    try {
      const w = await OpslogWriter.create(t.dir, header(), { pid: 1, host: 'h' });
      await w.append({ type: 'iteration', iterationId: 12 });
      await w.append({ type: 'op', ...op(1) });
      await w.append({ type: 'op', ...op(2, { status: 'fail' }) });
      // A move moves no bytes (its sizeAfter is the size of what was renamed).
      await w.append({
        type: 'op',
        ...op(3, { operation: 'move', movedFrom: 'old', sizeBefore: 9, sizeAfter: 9 }),
      });
      await w.close();
      appendFileSync(w.path, '{"type":"op","operation":"cre');
      const f = (await OpslogFile.open(w.path))!;
      try {
        const s = await f.summarize();
        expect(s).toMatchObject({ ops: 3, corrupt: 1, firstCorruptLine: 6, end: null, iterationId: 12 });
        expect(s.counts).toEqual({
          created: 1,
          updated: 0,
          deleted: 0,
          skipped: 0,
          failed: 1,
          moved: 1,
          bytesTransferred: 1001,
        });
        expect(s.lastOpMs).toBe(op(3).endedAtMs);
      } finally {
        await f.close();
      }
      expect(readFileSync(w.path, 'utf8').split('\n')[0]).toMatch(/^\{"v":1,"type":"header"/);
    } finally {
      t.remove();
    }
  });
});

describe('opslog descriptors are always closed', () => {
  it('a header write that fails closes the new file and removes it', async () => {
    const t = tempDir();
    try {
      await failNextWrite(t.dir);
      await expect(OpslogWriter.create(t.dir, header(), { pid: 1, host: 'h' })).rejects.toMatchObject({
        code: 'AUDIT_UNAVAILABLE',
      });
      expect(openOpslogFds(t.dir)).toEqual([]);
      expect(readdirSync(t.dir).filter((n) => n.startsWith('opslog-'))).toEqual([]);
    } finally {
      t.remove();
    }
  });

  it('finish() whose end line fails still closes the opslog, which keeps its ops', async () => {
    const t = tempDir();
    const audit = await openAudit({ dsn: undefined, logDir: t.dir, log: captureLog().log });
    try {
      const rec = await audit.beginRun(header());
      await rec.record(op(1));
      await failNextWrite(t.dir);
      await expect(rec.finish(end())).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      expect(openOpslogFds(t.dir)).toEqual([]);
      const [name] = readdirSync(t.dir).filter((n) => n.startsWith('opslog-'));
      expect(readFileSync(join(t.dir, name!), 'utf8')).toContain(op(1).filepath);
    } finally {
      await audit.close();
      t.remove();
    }
  });

  it('close() closes the opslogs of runs never finished; a later flush records them as interrupted', async () => {
    const t = tempDir();
    const audit = await openAudit({ dsn: undefined, logDir: t.dir, log: captureLog().log });
    await audit.beginRun(header());
    const rec = await audit.beginRun(header());
    await rec.record(op(1));
    expect(openOpslogFds(t.dir)).toHaveLength(2);
    await audit.close();
    try {
      expect(openOpslogFds(t.dir)).toEqual([]);
      const later = await openAudit({
        dsn: undefined,
        logDir: t.dir,
        log: captureLog().log,
        clock: new ManualClock(Date.now() + 10 * 60_000),
      });
      try {
        expect(await later.flushPending()).toEqual({ flushed: 2, waiting: 0, corrupt: 0 });
      } finally {
        await later.close();
      }
    } finally {
      t.remove();
    }
  });
});

describe('opslog retention', () => {
  it('--log-retain-days 0 never deletes an opslog a live writer elsewhere may still append to', async () => {
    const t = tempDir();
    const now = Date.now();
    const audit = await openAudit({
      dsn: undefined,
      logDir: t.dir,
      log: captureLog().log,
      clock: new ManualClock(now),
      staleAfterMs: 60_000,
    });
    try {
      const live = writeOpslog(t.dir, 'opslog-live.jsonl', header(), [op(1)], null);
      const idle = writeOpslog(t.dir, 'opslog-idle.jsonl', header(), [op(1)], null);
      utimesSync(live, new Date(now - 5_000), new Date(now - 5_000));
      utimesSync(idle, new Date(now - 120_000), new Date(now - 120_000));
      expect(await audit.cleanOldOpslogs(0)).toBe(1);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(idle)).toBe(false);
    } finally {
      await audit.close();
      t.remove();
    }
  });
});
