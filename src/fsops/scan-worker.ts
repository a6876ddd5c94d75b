// A worker thread that lists directories for the main thread (local disks): readdir + lstat run
// here, in parallel with the main thread's planning and with the other tree's worker. Requests
// arrive in batches and are answered in the order they came, several listings per message (a
// message costs tens of microseconds; a directory of a hundred files costs a few hundred).
import { parentPort } from 'node:worker_threads';
import { syncIo } from './io.js';
import type { PackedScan } from './packed.js';
import { pack, transferables } from './packed.js';
import { scanDir } from './scan.js';

export interface ScanRequest {
  readonly dirs: readonly { readonly id: number; readonly abs: string; readonly tempId: string | null }[];
}

export interface ScanResult {
  readonly id: number;
  readonly packed?: PackedScan;
  readonly error?: { code?: string; message: string };
}

export interface ScanReply {
  readonly results: ScanResult[];
}

/** A reply goes out once this many entries are listed (or when the queue runs dry). */
const REPLY_ENTRIES = 2048;

const port = parentPort;
if (port) {
  const queue: { id: number; abs: string; tempId: string | null }[] = [];
  let scheduled = false;
  const drain = async (): Promise<void> => {
    scheduled = false;
    let results: ScanResult[] = [];
    let transfer: ArrayBuffer[] = [];
    let entries = 0;
    const reply = (): void => {
      if (results.length === 0) return;
      port.postMessage({ results } satisfies ScanReply, transfer);
      results = [];
      transfer = [];
      entries = 0;
    };
    // Requests that arrive while this loop runs wait in the port (scanDir with sync calls only
    // awaits settled values, so no message event runs in between); they are drained next time.
    for (let head = 0; head < queue.length; head++) {
      const { id, abs, tempId } = queue[head]!;
      try {
        const packed = pack(await scanDir(abs, syncIo, undefined, tempId));
        results.push({ id, packed });
        // Moved, not copied: this thread never reads them again.
        transfer.push(...transferables(packed));
        entries += packed.count + 1;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        results.push({ id, error: { ...(e.code ? { code: e.code } : {}), message: e.message } });
        entries++;
      }
      if (entries >= REPLY_ENTRIES) reply();
    }
    queue.length = 0;
    reply();
  };
  port.on('message', (req: ScanRequest) => {
    for (const d of req.dirs) queue.push(d);
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => void drain());
    }
  });
}
