// File-system calls for the poller, each bounded by a timeout and a concurrency limit. On a
// network filesystem whose server vanished a stat can hang for minutes; the watcher must notice
// (ETIMEDOUT) instead of stalling. The hung call still occupies a libuv thread until the kernel
// gives up, which is why the poller stops issuing calls after a timeout and only probes the root,
// one call at a time, until the mount answers again.
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export class FsTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(op: string, ms: number) {
    super(`${op} did not answer within ${ms} ms`);
  }
}

/** Errors that mean "this entry is not there" rather than "the filesystem is unwell". */
export function isGone(err: unknown): boolean {
  const c = (err as NodeJS.ErrnoException | undefined)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
}

export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
}

/** A counting semaphore: at most `limit` calls in flight. */
export class Gate {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export class FsIo {
  /** Calls issued (stats + listings), for metrics and the benchmark. */
  calls = 0;
  private readonly gate: Gate;
  constructor(
    concurrency: number,
    private readonly timeoutMs: number,
  ) {
    this.gate = new Gate(concurrency);
  }

  private bounded<T>(op: string, f: () => Promise<T>): Promise<T> {
    return this.gate.run(() => {
      this.calls++;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => reject(new FsTimeoutError(op, this.timeoutMs)), this.timeoutMs);
        f().then(
          (v) => {
            clearTimeout(t);
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(t);
            reject(e); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
          },
        );
      });
    });
  }

  lstat(path: string): Promise<Stats> {
    return this.bounded('lstat', () => lstat(path));
  }

  readdir(path: string): Promise<string[]> {
    return this.bounded('readdir', () => readdir(path));
  }
}
