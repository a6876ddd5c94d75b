// Core tier: the applier's decision as a table of named cases (no disk, no clock).
import { describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/bus/index.js';
import { decide, type Plan, type Stat } from '../src/applier/index.js';

const T = 1_700_000_000_000;
const file = (size: number, mtimeMs: number): Stat => ({ kind: 'file', size, mtimeMs });
const dir: Stat = { kind: 'dir', size: 0, mtimeMs: T };
const ev = (
  type: 'upsert' | 'delete',
  kind: ChangeEvent['kind'],
  size: number,
  mtimeMs: number,
  prev?: ChangeEvent['prev'],
): ChangeEvent => ({
  v: 1,
  pair: 'p',
  side: 'a',
  type,
  kind,
  path: 'x/y.txt',
  size,
  mtimeMs,
  ...(prev ? { prev } : {}),
  observedAt: T,
});
const opts = { deleteMissing: false, mtimeThresholdMs: 2000 };
const del = { deleteMissing: true, mtimeThresholdMs: 2000 };

const cases: [
  string,
  ChangeEvent,
  Stat | null,
  Stat | null,
  typeof opts,
  Plan['op'],
  Partial<Record<string, unknown>>?,
][] = [
  [
    'new file is created on the other side',
    ev('upsert', 'file', 5, T),
    file(5, T),
    null,
    opts,
    'copy',
    { from: 'origin', kind: 'create' },
  ],
  [
    'newer origin updates the other side',
    ev('upsert', 'file', 6, T + 10_000),
    file(6, T + 10_000),
    file(5, T),
    opts,
    'copy',
    { from: 'origin', kind: 'update' },
  ],
  [
    'newer other side wins and is copied back',
    ev('upsert', 'file', 6, T),
    file(6, T),
    file(5, T + 10_000),
    opts,
    'copy',
    { from: 'other', kind: 'update' },
  ],
  [
    'equal files (the echo) need nothing',
    ev('upsert', 'file', 5, T),
    file(5, T),
    file(5, T + 1500),
    opts,
    'none',
  ],
  [
    'same mtime, different size: the reporting side wins',
    ev('upsert', 'file', 7, T),
    file(7, T),
    file(5, T + 1000),
    opts,
    'copy',
    { from: 'origin' },
  ],
  [
    'same mtime, different size, stale event: nothing',
    ev('upsert', 'file', 9, T - 5),
    file(7, T),
    file(5, T),
    opts,
    'none',
  ],
  [
    'upsert whose file is gone again: its delete decides',
    ev('upsert', 'file', 5, T),
    null,
    file(5, T),
    opts,
    'none',
  ],
  ['new directory is created', ev('upsert', 'dir', 0, T), dir, null, opts, 'mkdir'],
  ['directory on both sides', ev('upsert', 'dir', 0, T), dir, dir, opts, 'none'],
  ['file vs directory is a conflict', ev('upsert', 'file', 5, T), file(5, T), dir, opts, 'conflict'],
  [
    'file vs symlink is a conflict',
    ev('upsert', 'file', 5, T),
    file(5, T),
    { kind: 'symlink', size: 3, mtimeMs: T },
    opts,
    'conflict',
  ],
  [
    'a fifo is never touched',
    ev('upsert', 'file', 5, T),
    { kind: 'special', size: 0, mtimeMs: T },
    null,
    opts,
    'none',
  ],
  [
    'delete without --delete-missing does nothing',
    ev('delete', 'file', 5, T),
    null,
    file(5, T),
    opts,
    'none',
  ],
  ['delete of a matching copy', ev('delete', 'file', 5, T), null, file(5, T), del, 'delete'],
  [
    'delete matching prev',
    ev('delete', 'file', 9, T + 60_000, { size: 5, mtimeMs: T }),
    null,
    file(5, T),
    del,
    'delete',
  ],
  [
    'delete vs changed other side: its version comes back',
    ev('delete', 'file', 5, T),
    null,
    file(8, T + 60_000),
    del,
    'copy',
    { from: 'other', kind: 'create' },
  ],
  ['delete already gone on both sides', ev('delete', 'file', 5, T), null, null, del, 'none'],
  [
    'stale delete: the file exists again on its side',
    ev('delete', 'file', 5, T),
    file(5, T + 60_000),
    file(5, T),
    del,
    'copy',
    { from: 'origin', kind: 'update' },
  ],
  ['delete of a directory: rmdir', ev('delete', 'dir', 0, T), null, dir, del, 'rmdir'],
  [
    'a deleted file where the other side has a directory',
    ev('delete', 'file', 5, T),
    null,
    dir,
    del,
    'conflict',
  ],
];

describe('decide', () => {
  it.each(cases)('%s', (_name, e, origin, other, o, op, extra) => {
    const plan = decide(e, origin, other, o);
    expect(plan.op).toBe(op);
    if (extra) expect(plan).toMatchObject(extra);
  });

  it('a delete expects exactly what it saw on the other side (re-checked before unlink)', () => {
    const plan = decide(ev('delete', 'file', 5, T), null, file(5, T + 1), del);
    expect(plan).toEqual({ op: 'delete', expect: file(5, T + 1) });
  });
});
