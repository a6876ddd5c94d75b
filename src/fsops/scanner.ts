// Where directory listings come from. `directScanner` scans on the calling thread. For local
// trees, where a listing is CPU work (a system call per entry), two scanners let the caller ask
// ahead (`prefetch`) so both trees are read on all cores at once: `fastScanner` through the
// fastscan addon on the thread pool, else `workerScanner` through node:fs on a worker thread.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { syncIo } from './io.js';
import type { Io } from './io.js';
import type { DirScan } from './scan.js';
import { Limiter, scanDir } from './scan.js';
import type { FastscanAddon } from './native.js';
import { fastScanDirs } from './native.js';
import { PackedDirScan } from './packed.js';
import type { ScanReply, ScanRequest } from './scan-worker.js';

export interface Scanner {
  /** Lists `abs`. Throws like readdir when the directory cannot be read. */
  scan(abs: string): Promise<DirScan>;
  /** Hints that `abs` will be scanned soon (no-op for a direct scanner). */
  prefetch(abs: string): void;
  close(): Promise<void>;
}

/** The scanned root's id when a listing is made (temp file names carry it), or null. */
export type TempIdOf = () => string | null;
const noTempId: TempIdOf = () => null;

export function directScanner(io: Io, limiter?: Limiter, tempId: TempIdOf = noTempId): Scanner {
  return {
    scan: (abs) => scanDir(abs, io, limiter, tempId()),
    prefetch: () => undefined,
    close: () => Promise.resolve(),
  };
}

/**
 * A Scanner over `request`: listings asked for ahead (`prefetch`) are held until scanned, at most
 * `maxAhead` at once, so memory does not grow with the tree.
 */
function readAhead(
  request: (abs: string) => Promise<DirScan>,
  maxAhead: number,
  stop: () => Promise<void>,
): Scanner {
  const byPath = new Map<string, Promise<DirScan>>();
  return {
    scan: (abs) => {
      const p = byPath.get(abs);
      if (p) {
        byPath.delete(abs);
        return p;
      }
      return request(abs);
    },
    prefetch: (abs) => {
      if (byPath.has(abs) || byPath.size >= maxAhead) return;
      const p = request(abs);
      p.catch(() => undefined); // surfaced when scanned
      byPath.set(abs, p);
    },
    close: () => {
      byPath.clear();
      return stop();
    },
  };
}

/** Directories listed per addon call, at most. */
const FAST_BATCH = 16;

/**
 * A scanner backed by the fastscan addon. Listings asked for in one turn of the event loop go out
 * together, up to FAST_BATCH directories per thread pool call, at most `inFlight` calls at once:
 * the work is CPU, and more calls than cores only contend. (Measured on a 100k-file no-op with
 * the pool at 256 threads, as set for network trees: one call per directory, 64 at once, walked
 * in 0.35 s; 16 per call, 4 at once, in 0.27 s.) Up to `maxAhead` prefetched listings are queued
 * or held at once, so memory does not grow with the tree.
 */
export function fastScanner(
  addon: FastscanAddon,
  maxAhead = 64,
  inFlight = 4,
  tempId: TempIdOf = noTempId,
): Scanner {
  const limiter = new Limiter(Math.max(1, inFlight));
  let outbox: { abs: string; resolve: (s: DirScan) => void; reject: (e: unknown) => void }[] = [];
  const send = (): void => {
    const all = outbox;
    outbox = [];
    for (let i = 0; i < all.length; i += FAST_BATCH) {
      const batch = all.slice(i, i + FAST_BATCH);
      void limiter
        .run(() =>
          fastScanDirs(
            addon,
            batch.map((b) => b.abs),
            tempId(),
          ),
        )
        .then(
          (results) =>
            results.forEach((r, j) => {
              if (r instanceof Error) batch[j]!.reject(r);
              else batch[j]!.resolve(new PackedDirScan(r));
            }),
          (err: unknown) => batch.forEach((b) => b.reject(err)),
        );
    }
  };
  const request = (abs: string): Promise<DirScan> =>
    new Promise<DirScan>((resolve, reject) => {
      if (outbox.length === 0) queueMicrotask(send);
      outbox.push({ abs, resolve, reject });
    });
  return readAhead(request, maxAhead, () => Promise.resolve());
}

/**
 * A scanner backed by a worker thread. Returns null when the worker cannot be started (e.g. when
 * running from TypeScript sources under a test runner): callers fall back to `directScanner`.
 * At most `maxAhead` prefetched listings are held at once, so memory does not grow with the tree.
 * Requests made in one turn of the event loop go to the worker as one message.
 */
export function workerScanner(maxAhead = 64, tempId: TempIdOf = noTempId): Scanner | null {
  // Only from the built package: under a TypeScript test runner there is no scan-worker.js.
  if (!import.meta.url.endsWith('.js')) return null;
  const url = new URL('./scan-worker.js', import.meta.url);
  if (!existsSync(url)) return null;
  let worker: Worker;
  try {
    worker = new Worker(url);
  } catch {
    return null;
  }
  worker.unref();
  let nextId = 1;
  const waiting = new Map<
    number,
    { abs: string; resolve: (s: DirScan) => void; reject: (e: Error) => void }
  >();
  let outbox: ScanRequest['dirs'][number][] = [];
  let broken: Error | null = null;
  worker.on('message', (reply: ScanReply) => {
    for (const r of reply.results) {
      const w = waiting.get(r.id);
      if (!w) continue;
      waiting.delete(r.id);
      if (r.packed) w.resolve(new PackedDirScan(r.packed));
      else {
        w.reject(
          Object.assign(
            new Error(r.error?.message ?? 'scan failed'),
            r.error?.code ? { code: r.error.code } : {},
          ),
        );
      }
    }
  });
  worker.on('error', (err) => {
    broken = err;
    for (const w of waiting.values()) scanDir(w.abs, syncIo, undefined, tempId()).then(w.resolve, w.reject);
    waiting.clear();
  });
  const send = (): void => {
    const dirs = outbox;
    outbox = [];
    if (dirs.length === 0) return;
    if (broken) {
      for (const d of dirs) {
        const w = waiting.get(d.id);
        waiting.delete(d.id);
        if (w) scanDir(w.abs, syncIo, undefined, tempId()).then(w.resolve, w.reject);
      }
      return;
    }
    worker.postMessage({ dirs } satisfies ScanRequest);
  };
  const request = (abs: string): Promise<DirScan> => {
    // A broken worker must not fail the run: scan on this thread instead.
    if (broken) return scanDir(abs, syncIo, undefined, tempId());
    const id = nextId++;
    const p = new Promise<DirScan>((resolve, reject) => waiting.set(id, { abs, resolve, reject }));
    if (outbox.length === 0) queueMicrotask(send);
    outbox.push({ id, abs, tempId: tempId() });
    return p;
  };
  return readAhead(request, maxAhead, () => worker.terminate().then(() => undefined));
}
