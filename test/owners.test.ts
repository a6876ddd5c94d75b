// Owners and groups: copies keep uid and gid where the process may chown (root here); a process
// that may not keeps going and says so once per run; the audit records the owner change (opslog
// line and sync_operations' owner_before / owner_after, migrated in place on SQLite).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAudit, openSqlite, sqlitePath } from '../src/audit/index.js';
import { parseLine } from '../src/audit/opslog.js';
import { EXTRA_COLUMNS, SQLITE_SCHEMA } from '../src/audit/schema.js';
import type { Expected } from '../src/core/index.js';
import type { Io, OpResult } from '../src/fsops/index.js';
import {
  asyncIo,
  copyEntry,
  loadFastscan,
  nativeCopier,
  nodeAsyncIo,
  nodeSyncIo,
  Owners,
  syncIo,
} from '../src/fsops/index.js';
import { captureLog, end, header, op, tempDir } from './audit.helpers.js';

const isRoot = process.geteuid?.() === 0;
const WWW = 33; // www-data

let root: string;
let src: string;
let dest: string;
beforeEach(() => {
  root = fs.mkdtempSync(join(tmpdir(), 'ha-owners-'));
  src = join(root, 'src');
  dest = join(root, 'dest');
  fs.mkdirSync(join(src, 'd'), { recursive: true });
  fs.mkdirSync(join(dest, 'd'), { recursive: true });
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

const exp = (p: string): Expected => {
  const st = fs.lstatSync(p);
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'special';
  return { kind, size: kind === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs };
};
const owner = (p: string): string => {
  const st = fs.lstatSync(p);
  return `${st.uid}:${st.gid}`;
};

describe.each([
  ['the addon (sync)', syncIo],
  ['the addon (thread pool)', asyncIo],
  ['node:fs (sync)', nodeSyncIo],
  ['node:fs (thread pool)', nodeAsyncIo],
] as const)('owners kept on copies through %s', (_n, io) => {
  it.skipIf(!isRoot)(
    'files, directories and symlinks keep 33:33, setuid bits too (skipped unless root: only root may give files away)',
    async () => {
      fs.writeFileSync(join(src, 'd', 'f'), 'data');
      fs.chmodSync(join(src, 'd', 'f'), 0o4755);
      fs.mkdirSync(join(src, 'd', 'sub'), { mode: 0o2775 });
      fs.chmodSync(join(src, 'd', 'sub'), 0o2775);
      fs.symlinkSync('f', join(src, 'd', 'ln'));
      fs.writeFileSync(join(dest, 'd', 'f'), 'old'); // owned by root: replaced by a 33:33 file
      for (const n of ['f', 'sub']) fs.chownSync(join(src, 'd', n), WWW, WWW);
      fs.chmodSync(join(src, 'd', 'f'), 0o4755); // chown cleared it
      fs.lchownSync(join(src, 'd', 'ln'), WWW, WWW);
      const warn = vi.fn();
      const owners = new Owners(warn);
      const rs: OpResult[] = [];
      for (const n of ['f', 'sub', 'ln']) {
        const p = join(dest, 'd', n);
        const planned = { src: exp(join(src, 'd', n)), dest: fs.existsSync(p) ? exp(p) : null };
        rs.push(await copyEntry(src, dest, `d/${n}`, planned, { io, owners }));
      }
      expect(rs).toEqual([
        { ok: true, bytes: 4, owner: { before: '0:0', after: '33:33' } },
        { ok: true, bytes: 0, owner: { before: null, after: '33:33' } },
        { ok: true, bytes: 0, owner: { before: null, after: '33:33' } },
      ]);
      for (const n of ['f', 'sub', 'ln']) expect(owner(join(dest, 'd', n))).toBe('33:33');
      expect(fs.statSync(join(dest, 'd', 'f')).mode & 0o7777).toBe(0o4755);
      expect(fs.statSync(join(dest, 'd', 'sub')).mode & 0o7777).toBe(0o2775);
      expect(warn).not.toHaveBeenCalled();
    },
  );

  it('a process that may not chown keeps copying and says so once (EPERM from the io layer)', async () => {
    // Files of "another user": the process pretends to be uid 4242, so every file needs a chown.
    vi.spyOn(process, 'geteuid').mockReturnValue(4242);
    let tries = 0;
    const refusing: Io = {
      ...io,
      lchown: () => {
        tries++;
        throw Object.assign(new Error('EPERM: operation not permitted, lchown'), {
          code: 'EPERM',
          syscall: 'lchown',
        });
      },
    };
    const warn = vi.fn();
    const owners = new Owners(warn);
    for (let i = 0; i < 5; i++) fs.writeFileSync(join(src, 'd', `f${i}`), `data ${i}`);
    const rs: OpResult[] = [];
    for (let i = 0; i < 5; i++) {
      const planned = { src: exp(join(src, 'd', `f${i}`)), dest: null };
      rs.push(await copyEntry(src, dest, `d/f${i}`, planned, { io: refusing, owners }));
    }
    for (const r of rs) expect(r).toMatchObject({ ok: true, ownerDenied: true });
    for (let i = 0; i < 5; i++) expect(fs.readFileSync(join(dest, 'd', `f${i}`), 'utf8')).toBe(`data ${i}`);
    expect(tries).toBe(1); // refused once, then not tried again this run
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/cannot keep owners and groups \(chown: EPERM\)/);
  });
});

describe('owners kept by the batched copier', () => {
  const addon = loadFastscan({});
  it.skipIf(!addon || !isRoot)(
    'gives a copy its source uid and gid (skipped unless root and the addon is built)',
    async () => {
      fs.writeFileSync(join(src, 'd', 'f'), 'data');
      fs.chownSync(join(src, 'd', 'f'), WWW, WWW);
      fs.writeFileSync(join(src, 'd', 'mine'), 'mine');
      const items = ['f', 'mine'].map((name) => ({ name, src: exp(join(src, 'd', name)), dest: null }));
      const rs = await nativeCopier(addon!)!(src, dest, 'd', items);
      const ino = (name: string): number => fs.lstatSync(join(dest, 'd', name)).ino;
      expect(rs).toEqual([
        { ok: true, bytes: 4, ino: ino('f'), owner: { before: null, after: '33:33' } },
        { ok: true, bytes: 4, ino: ino('mine') },
      ]);
      expect(owner(join(dest, 'd', 'f'))).toBe('33:33');
      expect(owner(join(dest, 'd', 'mine'))).toBe('0:0');
    },
  );
});

describe('the audit of owner changes', () => {
  it('opslog lines carry ownerBefore / ownerAfter; lines without them still parse', () => {
    const o = op(1, { operation: 'update', sizeBefore: 3, ownerBefore: '0:0', ownerAfter: '33:33' });
    expect(parseLine(JSON.stringify({ type: 'op', ...o }))).toEqual({
      type: 'op',
      op: { ...o, keptPath: null, keptKind: null },
    });
    const old = op(2);
    const parsed = parseLine(JSON.stringify({ type: 'op', ...old }));
    expect(parsed).toMatchObject({ type: 'op' });
    expect(parsed).not.toHaveProperty('op.ownerAfter');
    for (const bad of ['33', 'root:root', 33, '1:2:3']) {
      expect(parseLine(JSON.stringify({ type: 'op', ...old, ownerAfter: bad })).type).toBe('corrupt');
    }
  });

  it('an SQLite file from before gains owner_before / owner_after in place, and they are written', async () => {
    const t = tempDir();
    const { log } = captureLog();
    try {
      // A file with the kept columns but not the owner ones: what the previous version made.
      const db0 = openSqlite(sqlitePath(t.dir), { busyTimeoutMs: 1000 });
      db0.exec(SQLITE_SCHEMA);
      for (const [table, column, , type] of EXTRA_COLUMNS.filter((c) => c[1].startsWith('kept_'))) {
        db0.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
      db0.close();
      for (let i = 0; i < 2; i++) {
        const a = await openAudit({ dsn: undefined, logDir: t.dir, log });
        try {
          const h = header({ pair: 'media', startedAtMs: Date.UTC(2026, 11, 7, 10, i) });
          const r = await a.beginRun(h);
          await r.record(
            op(1, { operation: 'update', sizeBefore: 3, ownerBefore: '0:0', ownerAfter: '33:33' }),
          );
          await r.record(op(2));
          expect((await r.finish(end({ endedAtMs: h.startedAtMs + 1000 }))).flushed).toBe(true);
        } finally {
          await a.close();
        }
      }
      const db = openSqlite(sqlitePath(t.dir), { busyTimeoutMs: 1000 });
      try {
        const cols = (db.prepare('PRAGMA table_info(sync_operations)').all() as { name: string }[]).map(
          (c) => c.name,
        );
        expect(cols.slice(-6)).toEqual([
          'kept_path',
          'kept_kind',
          'owner_before',
          'owner_after',
          'moved_from',
          'bytes_not_copied',
        ]);
        expect(db.prepare('SELECT owner_before, owner_after FROM sync_operations ORDER BY id').all()).toEqual(
          [
            { owner_before: '0:0', owner_after: '33:33' },
            { owner_before: null, owner_after: null },
            { owner_before: '0:0', owner_after: '33:33' },
            { owner_before: null, owner_after: null },
          ],
        );
      } finally {
        db.close();
      }
    } finally {
      t.remove();
    }
  });
});

describe('a process that may not chown, for real (a child run as nobody)', () => {
  const DIST = join(import.meta.dirname, '..', 'dist', 'fsops', 'index.js');
  it.skipIf(!isRoot || !fs.existsSync(DIST))(
    'copies go on, owned by the child, with one warning for the run (skipped unless root and built)',
    () => {
      fs.chmodSync(root, 0o755);
      for (const d of [dest, join(dest, 'd')]) fs.chownSync(d, 65534, 65534);
      for (let i = 0; i < 4; i++) {
        fs.writeFileSync(join(src, 'd', `f${i}`), `data ${i}`);
        fs.chownSync(join(src, 'd', `f${i}`), WWW, WWW);
      }
      // Two files through the batched copier (when built), two through copyEntry, one Owners.
      const script = `
        const f = await import(${JSON.stringify(DIST)});
        const fs = await import('node:fs');
        const lines = [];
        const owners = new f.Owners((l) => lines.push(l));
        const exp = (p) => { const s = fs.lstatSync(p); return { kind: 'file', size: s.size, mtimeMs: s.mtimeMs }; };
        const src = ${JSON.stringify(src)}, dest = ${JSON.stringify(dest)};
        const results = [];
        const addon = f.loadFastscan();
        if (addon) {
          const items = ['f0', 'f1'].map((name) => ({ name, src: exp(src + '/d/' + name), dest: null }));
          for (const r of await f.nativeCopier(addon)(src, dest, 'd', items)) {
            if (r.ownerDenied) owners.denied('EPERM');
            results.push(r);
          }
        }
        for (const n of addon ? ['f2', 'f3'] : ['f0', 'f1', 'f2', 'f3']) {
          results.push(await f.copyEntry(src, dest, 'd/' + n, { src: exp(src + '/d/' + n), dest: null }, { owners }));
        }
        console.log(JSON.stringify({ results, lines }));
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as { results: OpResult[]; lines: string[] };
      expect(out.results).toHaveLength(4);
      for (const x of out.results) expect(x).toMatchObject({ ok: true, ownerDenied: true });
      expect(out.lines).toHaveLength(1);
      expect(out.lines[0]).toMatch(/^cannot keep owners and groups \(chown: EPERM\)/);
      for (let i = 0; i < 4; i++) {
        expect(fs.readFileSync(join(dest, 'd', `f${i}`), 'utf8')).toBe(`data ${i}`);
        expect(owner(join(dest, 'd', `f${i}`))).toBe('65534:65534');
      }
    },
  );
});
