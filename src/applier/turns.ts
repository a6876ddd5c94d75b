// The applier's turns: one event per path at a time, at most `workers` paths at once.
//
// A worker slot is taken before the path's turn, so a worker never waits on a path while holding
// a slot another path's event needs. A nested call (a path decided on behalf of the event being
// handled: a directory above it, a moved folder's new place) runs in its caller's slot and waits
// only for the path.

export class PathTurns {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly waiters: (() => void)[] = [];
  private running = 0;

  constructor(private readonly workers: number) {}

  /** Runs `fn` in `path`'s turn, in a worker slot of its own (`nested`: the caller's). */
  async run<T>(path: string, fn: () => Promise<T>, nested = false): Promise<T> {
    if (nested) return this.turn(path, fn);
    if (this.running >= this.workers) await new Promise<void>((r) => this.waiters.push(r));
    this.running++;
    try {
      return await this.turn(path, fn);
    } finally {
      this.running--;
      this.waiters.shift()?.();
    }
  }

  private async turn<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.queues.set(path, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.queues.get(path) === tail) this.queues.delete(path);
    }
  }
}
