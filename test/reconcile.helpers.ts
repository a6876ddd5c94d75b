// Helpers for reconcile tests: build trees, snapshot them, an in-memory audit and simple locks.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Audit, DryRunKey, IterationEnd, IterationHeader, OpRecord } from '../src/audit/index.js';
import { HaSyncError } from '../src/errors.js';
import { TEMP_RE, createMarker } from '../src/fsops/index.js';
import type { Lock } from '../src/lock/index.js';
import { createLogger, type Logger } from '../src/log.js';
import type { ReconcileConfig } from '../src/reconciler/index.js';

export function tempRoot(prefix = 'ha-rec-'): { root: string; src: string; dest: string; logDir: string } {
  const root = fs.mkdtempSync(join(tmpdir(), prefix));
  const src = join(root, 'src');
  const dest = join(root, 'dest');
  const logDir = join(root, 'logs');
  fs.mkdirSync(src);
  fs.mkdirSync(dest);
  fs.mkdirSync(logDir);
  return { root, src, dest, logDir };
}

/** Writes a file (creating parents) with an optional mtime in epoch seconds. */
export function put(root: string, rel: string, content: string | Buffer = '', mtimeS?: number): void {
  const p = join(root, rel);
  fs.mkdirSync(join(p, '..'), { recursive: true });
  fs.writeFileSync(p, content);
  if (mtimeS !== undefined) fs.utimesSync(p, mtimeS, mtimeS);
}

/** Every entry below root: 'path file:<content>' | 'path dir' | 'path -> target'. */
/** Every entry under `root` (its `.ha-sync/` state folder left out), sorted. */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
      if (rel === '' && name.toString() === '.ha-sync') continue;
      const n =
        name.toString('latin1') === name.toString('utf8') ? name.toString('utf8') : name.toString('latin1');
      const abs = Buffer.concat([Buffer.from(dir + '/'), name]);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        out.push(`${r} dir`);
        walk(abs.toString(), r);
      } else if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(abs).toString()}`);
      else if (st.isFile()) out.push(`${r} file:${fs.readFileSync(abs).toString()}`);
      else out.push(`${r} special`);
    }
  };
  walk(root, '');
  return out.sort();
}

/** The kept versions under `root`, as `dir/name~TAG.ext file:contents` with the tag cut to `~T`. */
export function versionsOf(root: string): string[] {
  const v = join(root, '.ha-sync', 'versions');
  if (!fs.existsSync(v)) return [];
  return snapshot(v)
    .filter((l) => !l.endsWith(' dir'))
    .map((l) => l.replace(/~\d{8}-\d{6}(-\d+)?/, '~T'));
}

export interface MemoryAudit extends Audit {
  runs: { header: IterationHeader; ops: OpRecord[]; end: IterationEnd | null }[];
}

/** An in-memory audit that keeps what a run recorded, and answers lastDryRun from it. */
export function memoryAudit(): MemoryAudit {
  const runs: MemoryAudit['runs'] = [];
  return {
    kind: 'memory',
    runs,
    flushPending: () => Promise.resolve({ flushed: 0, waiting: 0, corrupt: 0 }),
    beginRun: (header) => {
      const run = { header, ops: [] as OpRecord[], end: null as IterationEnd | null };
      runs.push(run);
      return Promise.resolve({
        runId: header.runId,
        record: (op) => {
          run.ops.push(op);
          return Promise.resolve();
        },
        finish: (end) => {
          run.end = end;
          return Promise.resolve({ iterationId: runs.length, flushed: true });
        },
      });
    },
    lastDryRun: () => {
      const last = [...runs].reverse().find((r) => r.header.dryRun && r.end?.status === 'success');
      if (!last) return Promise.resolve(null);
      const ops: DryRunKey[] = last.ops.map((o) => ({
        filepath: o.filepath,
        operation: o.operation,
        sizeBefore: o.sizeBefore,
      }));
      return Promise.resolve({ startedAt: new Date(last.header.startedAtMs), ops });
    },
    cleanOldOpslogs: () => Promise.resolve(0),
    recordVersionsState: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

export function freeLock(lost?: AbortSignal): Lock & { released: number } {
  const l = {
    kind: 'test',
    name: 'test',
    released: 0,
    acquire: ({ holder }: { holder: string }) =>
      Promise.resolve({
        holder,
        lost: lost ?? new AbortController().signal,
        contended: () => false,
        release: () => {
          l.released++;
          return Promise.resolve();
        },
      }),
  };
  return l;
}

export function heldLock(): Lock {
  return {
    kind: 'test',
    name: 'test',
    acquire: () =>
      Promise.reject(
        new HaSyncError('LOCK_HELD', 'lock ha-sync-t is held by pod-x/run-1 until 2026-11-27T00:00:00Z'),
      ),
  };
}

export function config(
  dirs: { src: string; dest: string; logDir: string },
  over: Partial<ReconcileConfig> = {},
): ReconcileConfig {
  return {
    src: dirs.src,
    dest: dirs.dest,
    pair: 't',
    direction: 'fwd',
    keepVersionsDays: 30,
    audit: { dbDsn: undefined, logDir: dirs.logDir, logRetainDays: 10 },
    lock: {
      lock: 'file',
      lockTtlSeconds: 3600,
      lockWaitSeconds: 0,
      namespace: undefined,
      kubeconfig: undefined,
    },
    mtimeThresholdSeconds: 2,
    deleteMissing: false,
    workers: 4,
    dryRun: false,
    verbose: false,
    maxDeletePercent: 50,
    force: false,
    ...over,
  };
}

/** A writable that keeps what was written. */
export function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

export function captureLogger(verbose = false): { log: Logger; lines: () => Record<string, unknown>[] } {
  const out = sink();
  const log = createLogger({ destination: out, verbose, pretty: false });
  return {
    log,
    lines: () =>
      out
        .text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Whether `name` looks like a temp file of ours, in any root (tests: "no temp file left"). */
export function anyTemp(name: string): boolean {
  return TEMP_RE.test(name);
}

/** Marks `dir` as a root of `pair` (side optional) and returns its root id. */
export async function markRoot(dir: string, pair = 't', side: string | null = null): Promise<string> {
  return (await createMarker(dir, { pair, side })).rootId;
}
