// A worker thread that scans directories for the main thread (local disks): readdir + lstat run
// here, in parallel with the main thread's own scanning and planning. Requests are answered in
// the order they arrive; the main thread asks in the order it will consume (breadth first).
import { parentPort } from 'node:worker_threads';
import { syncIo } from './io.js';
import { pack } from './packed.js';
import { scanDir } from './scan.js';

export interface ScanRequest {
  id: number;
  abs: string;
}

const port = parentPort;
if (port) {
  port.on('message', (req: ScanRequest) => {
    scanDir(req.abs, syncIo).then(
      (scan) => {
        const packed = pack(scan);
        port.postMessage({ id: req.id, packed }, [packed.nums.buffer as ArrayBuffer]);
      },
      (err: unknown) => {
        const e = err as NodeJS.ErrnoException;
        port.postMessage({ id: req.id, error: { code: e.code, message: e.message } });
      },
    );
  });
}
