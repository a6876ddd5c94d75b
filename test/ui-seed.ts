// Seeds an audit store for the dashboard's tests through the audit module's own writing API
// (openAudit → beginRun → record → finish), so the dashboard is tested against rows exactly as a
// reconciler or applier leaves them.
import { randomUUID } from 'node:crypto';
import type { Audit, IterationEnd, OpRecord, OperationKind } from '../src/audit/index.js';

export const HOSTILE_NAME = '<img src=x onerror=alert(1)>.jpg';

export interface SeedRun {
  pair: string;
  direction: string;
  dryRun?: boolean;
  startedAtMs: number;
  /** Default 30 s after the start. */
  durationMs?: number;
  status: IterationEnd['status'];
  errorMessage?: string | null;
  ops?: SeedOp[];
}

export interface SeedOp {
  operation: OperationKind;
  filepath: string;
  size?: number;
  fail?: string;
  /** Where the version this operation replaced or deleted went. */
  kept?: { path: string; kind: 'version' | 'conflict' };
  /** A move: its old path, and the bytes a copy would have moved (a directory: no size). */
  moved?: { from: string; bytesNotCopied: number | null; dir?: boolean };
}

/** Writes one finished run and returns its iteration id (throws when it did not reach the store). */
export async function seedRun(audit: Audit, run: SeedRun): Promise<number> {
  const dryRun = run.dryRun ?? false;
  const rec = await audit.beginRun({
    runId: randomUUID(),
    pair: run.pair,
    direction: run.direction,
    src: `/mnt/${run.direction.split('-')[0] ?? 'a'}/${run.pair}`,
    dest: `/mnt/${run.direction.split('-').pop() ?? 'b'}/${run.pair}`,
    startedAtMs: run.startedAtMs,
    dryRun,
  });
  const counts = { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved: 0, bytesTransferred: 0 };
  let t = run.startedAtMs;
  for (const o of run.ops ?? []) {
    t += 10;
    const op: OpRecord = {
      operation: o.operation,
      filepath: o.filepath,
      sizeBefore: o.operation === 'create' || o.moved?.dir ? null : (o.size ?? 100),
      sizeAfter: o.operation === 'delete' || o.moved?.dir ? null : (o.size ?? 100),
      md5Before: null,
      md5After: null,
      startedAtMs: t,
      endedAtMs: t + 5,
      status: o.fail ? 'fail' : 'success',
      errorMessage: o.fail ?? null,
      ...(o.kept ? { keptPath: o.kept.path, keptKind: o.kept.kind } : {}),
      ...(o.moved ? { movedFrom: o.moved.from, bytesNotCopied: o.moved.bytesNotCopied } : {}),
    };
    await rec.record(op);
    if (o.fail) counts.failed++;
    else {
      if (o.operation === 'create') counts.created++;
      else if (o.operation === 'update') counts.updated++;
      else if (o.operation === 'move') counts.moved++;
      else counts.deleted++;
      if (!dryRun && (o.operation === 'create' || o.operation === 'update'))
        counts.bytesTransferred += o.size ?? 100;
    }
  }
  const res = await rec.finish({
    endedAtMs: run.startedAtMs + (run.durationMs ?? 30_000),
    status: run.status,
    counts,
    errorMessage: run.errorMessage ?? null,
  });
  if (!res.flushed || res.iterationId === null)
    throw new Error(`seed run of ${run.pair} did not reach the store`);
  return res.iterationId;
}

const MIN = 60_000;

/**
 * A small, varied history ending at `nowMs`: photos is healthy (real and dry-run, both directions),
 * media's last real sync partly failed (with the hostile file name), games never synced for real.
 */
export async function seedHistory(audit: Audit, nowMs: number): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  for (let i = 6; i >= 1; i--) {
    await seedRun(audit, {
      pair: 'photos',
      direction: 'dell-to-hp',
      startedAtMs: nowMs - i * 15 * MIN,
      status: 'success',
      ops: [
        { operation: 'create', filepath: `2026/trip/img_${i}01.jpg`, size: 2_500_000 * i },
        { operation: 'update', filepath: `2026/trip/img_${i}02.jpg`, size: 1_200_000 },
      ],
    });
  }
  ids.photosReal = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 10 * MIN,
    status: 'success',
    ops: [{ operation: 'delete', filepath: 'old/thumbs.db', size: 4096 }],
  });
  ids.photosDry = await seedRun(audit, {
    pair: 'photos',
    direction: 'dell-to-hp',
    dryRun: true,
    startedAtMs: nowMs - 5 * MIN,
    status: 'success',
    ops: [{ operation: 'create', filepath: '2026/trip/img_999.jpg', size: 3_000_000 }],
  });
  ids.mediaOk = await seedRun(audit, {
    pair: 'media',
    direction: 'dell-to-hp',
    startedAtMs: nowMs - 50 * MIN,
    status: 'success',
    ops: [{ operation: 'create', filepath: 'films/a.mkv', size: 700_000_000 }],
  });
  ids.mediaPartial = await seedRun(audit, {
    pair: 'media',
    direction: 'dell-to-hp',
    startedAtMs: nowMs - 8 * MIN,
    status: 'partial_failure',
    errorMessage: '1 file failed',
    ops: [
      { operation: 'create', filepath: 'music/ok.flac', size: 30_000_000 },
      {
        operation: 'create',
        filepath: `pictures/${HOSTILE_NAME}`,
        size: 1234,
        fail: 'EACCES: permission denied',
      },
    ],
  });
  ids.gamesDry = await seedRun(audit, {
    pair: 'games',
    direction: 'hp-to-dell',
    dryRun: true,
    startedAtMs: nowMs - 3 * MIN,
    status: 'success',
    ops: [{ operation: 'create', filepath: 'saves/slot1.sav', size: 512 }],
  });
  return ids;
}

/** The path whose history `seedKept` writes: updated, in conflict, deleted, and its copy synced. */
export const KEPT_PATH = "docs/it's report.txt";
export const KEPT_CONFLICT = "docs/it's report.sync-conflict-20261126-114000-dell.txt";
export const KEPT_VERSION = ".ha-sync/versions/docs/it's report~20261126-113000.txt";
export const KEPT_DELETED = ".ha-sync/versions/docs/it's report~20261126-114500.txt";

/**
 * Kept versions and conflict copies in photos (both directions, roots /mnt/<side>/photos as
 * seedRun names them) and a hostile conflict in media, within the last hour of `nowMs`; an older
 * conflict 10 days back; a dry run that kept nothing; and the versions-area state of three sides.
 */
export async function seedKept(audit: Audit, nowMs: number): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  ids.oldConflict = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 10 * 24 * 60 * MIN,
    status: 'success',
    ops: [
      {
        operation: 'update',
        filepath: 'old.txt',
        kept: { path: 'old.sync-conflict-20261116-120000-dell.txt', kind: 'conflict' },
      },
    ],
  });
  ids.keptVersion = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 30 * MIN,
    status: 'success',
    ops: [
      { operation: 'create', filepath: 'docs/other.txt', size: 7 },
      { operation: 'update', filepath: KEPT_PATH, size: 10, kept: { path: KEPT_VERSION, kind: 'version' } },
    ],
  });
  ids.conflict = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 20 * MIN,
    status: 'success',
    ops: [
      { operation: 'update', filepath: KEPT_PATH, size: 12, kept: { path: KEPT_CONFLICT, kind: 'conflict' } },
    ],
  });
  ids.copySynced = await seedRun(audit, {
    pair: 'photos',
    direction: 'dell-to-hp',
    startedAtMs: nowMs - 19 * MIN,
    status: 'success',
    ops: [{ operation: 'create', filepath: KEPT_CONFLICT, size: 11 }],
  });
  ids.dryDelete = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    dryRun: true,
    startedAtMs: nowMs - 16 * MIN,
    status: 'success',
    ops: [{ operation: 'delete', filepath: KEPT_PATH, size: 12 }],
  });
  ids.deleted = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 15 * MIN,
    status: 'success',
    ops: [
      { operation: 'delete', filepath: KEPT_PATH, size: 12, kept: { path: KEPT_DELETED, kind: 'version' } },
    ],
  });
  ids.hostileConflict = await seedRun(audit, {
    pair: 'media',
    direction: 'dell-to-hp',
    startedAtMs: nowMs - 12 * MIN,
    status: 'success',
    ops: [
      {
        operation: 'update',
        filepath: `pictures/${HOSTILE_NAME}`,
        size: 99,
        kept: {
          path: 'pictures/<img src=x onerror=alert(1)>.sync-conflict-20261126-114800-hp.jpg',
          kind: 'conflict',
        },
      },
    ],
  });
  await audit.recordVersionsState('photos', 'dell', '/mnt/dell/photos', {
    files: 2,
    bytes: 22,
    oldestMs: nowMs - 30 * MIN,
  });
  await audit.recordVersionsState('photos', 'hp', '/mnt/hp/photos', { files: 0, bytes: 0, oldestMs: null });
  await audit.recordVersionsState('media', 'hp', '/mnt/hp/media', {
    files: 1234,
    bytes: 5_000_000_000,
    oldestMs: nowMs - 29 * 24 * 60 * MIN,
  });
  return ids;
}

/** A file name no page may read as markup, for the moves `seedMoves` writes. */
export const HOSTILE_MOVED = '<script>alert(2)</script> & "x".jpg';

/**
 * Moves in photos (hp-to-dell), 50 to 40 minutes before `nowMs`: a file with a hostile name
 * created, updated, then moved from inbox/ to sorted/; a file created in trips/2019, whose
 * directory is then moved to albums/2019.
 */
export async function seedMoves(audit: Audit, nowMs: number): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  ids.created = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 50 * MIN,
    status: 'success',
    ops: [
      { operation: 'create', filepath: `inbox/${HOSTILE_MOVED}`, size: 2_000_000 },
      { operation: 'create', filepath: 'trips/2019/a.jpg', size: 1000 },
    ],
  });
  ids.updated = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 45 * MIN,
    status: 'success',
    ops: [{ operation: 'update', filepath: `inbox/${HOSTILE_MOVED}`, size: 2_000_000 }],
  });
  ids.moved = await seedRun(audit, {
    pair: 'photos',
    direction: 'hp-to-dell',
    startedAtMs: nowMs - 40 * MIN,
    status: 'success',
    ops: [
      {
        operation: 'move',
        filepath: `sorted/${HOSTILE_MOVED}`,
        size: 2_000_000,
        moved: { from: `inbox/${HOSTILE_MOVED}`, bytesNotCopied: 2_000_000 },
      },
      {
        operation: 'move',
        filepath: 'albums/2019',
        moved: { from: 'trips/2019', bytesNotCopied: 1000, dir: true },
      },
    ],
  });
  return ids;
}
