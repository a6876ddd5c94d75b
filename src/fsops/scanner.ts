// Where directory listings come from. `directScanner` scans on the calling thread; `workerScanner`
// hands them to a worker thread and lets the caller ask ahead (`prefetch`), so the two trees of a
// local reconcile are read on two cores at once.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { syncIo } from './io.js';
import type { Io } from './io.js';
import type { DirScan, Limiter } from './scan.js';
import { scanDir } from './scan.js';
import type { PackedScan } from './packed.js';
import { unpack } from './packed.js';

export interface Scanner {
  /** Lists `abs`. Throws like readdir when the directory cannot be read. */
  scan(abs: string): Promise<DirScan>;
  /** Hints that `abs` will be scanned soon (no-op for a direct scanner). */
  prefetch(abs: string): void;
  close(): Promise<void>;
}

export function directScanner(io: Io, limiter?: Limiter): Scanner {
  return {
    scan: (abs) => scanDir(abs, io, limiter),
    prefetch: () => undefined,
    close: () => Promise.resolve(),
  };
}

interface Reply {
  id: number;
  packed?: PackedScan;
  error?: { code?: string; message: string };
}

/**
 * A scanner backed by a worker thread. Returns null when the worker cannot be started (e.g. when
 * running from TypeScript sources under a test runner): callers fall back to `directScanner`.
 * At most `maxAhead` prefetched listings are held at once, so memory does not grow with the tree.
 */
export function workerScanner(maxAhead = 64): Scanner | null {
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
  const byPath = new Map<string, Promise<DirScan>>();
  const waiting = new Map<number, { resolve: (s: DirScan) => void; reject: (e: Error) => void }>();
  const paths = new Map<number, string>();
  let broken: Error | null = null;
  worker.on('message', (r: Reply) => {
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    if (r.packed) w.resolve(unpack(r.packed));
    else w.reject(Object.assign(new Error(r.error?.message ?? 'scan failed'), { code: r.error?.code }));
  });
  worker.on('error', (err) => {
    broken = err;
    for (const [id, w] of waiting) {
      const abs = paths.get(id)!;
      scanDir(abs, syncIo).then(w.resolve, w.reject);
    }
    waiting.clear();
  });
  const request = (abs: string): Promise<DirScan> => {
    // A broken worker must not fail the run: scan on this thread instead.
    if (broken) return scanDir(abs, syncIo);
    const id = nextId++;
    const p = new Promise<DirScan>((resolve, reject) => waiting.set(id, { resolve, reject }));
    paths.set(id, abs);
    worker.postMessage({ id, abs });
    return p.finally(() => paths.delete(id));
  };
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
    close: async () => {
      byPath.clear();
      await worker.terminate();
    },
  };
}
