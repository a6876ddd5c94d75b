// File-system calls for the poller, each bounded by a timeout and a concurrency limit. On a
// network filesystem whose server vanished a stat can hang for minutes; the watcher must notice
// (ETIMEDOUT) instead of stalling. The hung call still occupies a libuv thread until the kernel
// gives up, which is why the poller stops issuing calls after a timeout and only probes the root,
// one call at a time, until the mount answers again.
import { lstat, lstatSync, readdir, readdirSync } from 'node:fs';
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

/** A counting semaphore: at most `limit` calls in flight; waiters are served in order. */
class Gate {
  private active = 0;
  private queue: (() => void)[] = [];
  private head = 0;
  constructor(private readonly limit: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.release();
    }
  }
  private release(): void {
    if (this.head >= this.queue.length) return;
    const next = this.queue[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head); // compact: O(1) amortised, no Array.shift
      this.head = 0;
    }
    next();
  }
}

interface Pending {
  startedAt: number;
  op: string;
  reject: (e: Error) => void;
}

/**
 * Calls in flight are checked by one watchdog timer (not a timer per call: at thousands of stats
 * a second, per-call timers cost more CPU than the stats). A call older than the timeout is
 * failed with ETIMEDOUT; its late answer is ignored.
 */
export class FsIo {
  /** Calls issued (stats + listings), for metrics and the benchmark. */
  calls = 0;
  private readonly gate: Gate;
  private readonly inflight = new Set<Pending>();
  private watchdog: NodeJS.Timeout | null = null;
  constructor(
    private readonly concurrency: number,
    private readonly timeoutMs: number,
    /** Synchronous calls (local filesystems only: they cannot be timed out). */
    readonly sync = false,
  ) {
    this.gate = new Gate(concurrency);
  }

  /**
   * lstat of every `dir/name`: a Stats, undefined when the entry is gone, or the Error. Sync mode
   * yields to the event loop every few hundred calls.
   */
  async statMany(
    dir: string,
    names: readonly string[],
    stop?: () => boolean,
  ): Promise<(Stats | undefined | Error)[]> {
    const out: (Stats | undefined | Error)[] = new Array<Stats | undefined | Error>(names.length);
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    if (this.sync) {
      for (let i = 0; i < names.length; i++) {
        if ((i & 255) === 255) {
          await new Promise<void>((r) => setImmediate(r));
          if (stop?.()) return out.fill(Object.assign(new Error('aborted'), { code: 'EABORTED' }), i);
        }
        this.calls++;
        try {
          out[i] = lstatSync(prefix + names[i]!, { throwIfNoEntry: false });
        } catch (err) {
          out[i] = isGone(err) ? undefined : (err as Error);
        }
      }
      return out;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const i = next++;
        if (stop?.()) {
          out[i] = Object.assign(new Error('aborted'), { code: 'EABORTED' });
          continue;
        }
        try {
          out[i] = await this.lstat(prefix + names[i]!);
        } catch (err) {
          out[i] = isGone(err) ? undefined : (err as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, names.length) }, worker));
    return out;
  }

  private check(): void {
    const now = Date.now();
    for (const p of this.inflight) {
      if (now - p.startedAt >= this.timeoutMs) {
        this.inflight.delete(p);
        p.reject(new FsTimeoutError(p.op, this.timeoutMs));
      }
    }
    if (this.inflight.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }

  private bounded<T>(
    op: string,
    f: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void,
  ): Promise<T> {
    return this.gate.run(
      () =>
        new Promise<T>((resolve, reject) => {
          this.calls++;
          const p: Pending = { startedAt: Date.now(), op, reject };
          this.inflight.add(p);
          if (!this.watchdog) {
            this.watchdog = setInterval(() => this.check(), Math.max(50, Math.min(1000, this.timeoutMs / 4)));
            this.watchdog.unref();
          }
          f((err, v) => {
            if (!this.inflight.delete(p)) return; // already timed out
            if (err) reject(err);
            else resolve(v);
          });
        }),
    );
  }

  async lstat(path: string): Promise<Stats> {
    if (this.sync) {
      this.calls++;
      return lstatSync(path);
    }
    return this.bounded('lstat', (cb) => lstat(path, cb));
  }

  async readdir(path: string): Promise<string[]> {
    if (this.sync) {
      this.calls++;
      return readdirSync(path);
    }
    return this.bounded('readdir', (cb) => readdir(path, cb));
  }
}

/** Runs `f` over `items` with at most `n` running at once; stops starting new ones when `stop()`. */
export async function mapLimited<T>(
  items: readonly T[],
  n: number,
  f: (t: T) => Promise<void>,
  stop?: () => boolean,
): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length && !stop?.()) await f(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
