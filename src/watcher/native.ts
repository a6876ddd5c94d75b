// Native mode (`--mode native`): chokidar 5 on inotify, for a watcher running next to the disk
// (not over NFS, where other clients' writes raise no notification). The index is a flat map of
// what was last announced, so deletes carry the last known size and mtime and upserts their
// `prev`. The same unmounted-root rule as the poller applies: events are held in a short batch and
// published only if the root still holds its marker (`.ha-sync/root.json` of this pair and side).
import { lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { ChangeEvent, ChangeType } from '../bus/index.js';
import { ObservationIds, checkRelPath } from '../bus/index.js';
import { STATE_DIR } from '../core/index.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { FsIo } from './fsio.js';
import { parentDir } from './outbox.js';
import { RootGuard, isTempName } from '../fsops/index.js';
import { type FileMeta, metaOf, scanDir, walk } from './tree.js';

export interface NativeOptions {
  pair: string;
  side: string;
  root: string;
  /** Events are held this long (ms) and checked against the root's health in one go. Default 200. */
  batchMs: number;
  statTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  emit: (ev: ChangeEvent) => void;
}

type Meta = FileMeta | { kind: 'dir'; size: 0; mtimeMs: number };

export class NativeWatcher {
  private readonly index = new Map<string, Meta>();
  private readonly rootGuard: RootGuard;
  private rootId: string | null = null;
  private watcher: FSWatcher | null = null;
  private batch: { type: ChangeType; rel: string }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private unhealthy: string | null = null;
  private chain: Promise<void> = Promise.resolve();

  /** Every change this watcher reports is a new observation (the bus de-duplicates on it). */
  private readonly observations = new ObservationIds();

  constructor(readonly opts: NativeOptions) {
    this.rootGuard = new RootGuard(opts.root, opts.pair, opts.side);
  }

  get healthy(): boolean {
    return this.unhealthy === null;
  }

  /** Why the root is not healthy now, or null (for heartbeats). */
  get unhealthyReason(): string | null {
    return this.rootId === null ? 'root not available yet' : this.unhealthy;
  }

  get entriesIndexed(): number {
    return this.index.size;
  }

  /** Native mode does not sweep. */
  readonly sweep: { lastAt: number | null; ms: number | null } = { lastAt: null, ms: null };

  async start(signal: AbortSignal, announce = false): Promise<void> {
    const io = new FsIo(8, this.opts.statTimeoutMs);
    let logged = false;
    while (!signal.aborted) {
      try {
        const st = await lstat(this.opts.root);
        const marked = await this.rootGuard.check();
        if (!marked.ok) throw new Error(marked.why);
        this.rootId = marked.marker.rootId;
        const node = await scanDir(io, this.opts.root, '', st, { rootId: this.rootId });
        for (const [rel, n] of walk(node)) {
          this.index.set(rel, n.kind === 'dir' ? { kind: 'dir', size: 0, mtimeMs: n.mtimeMs } : n);
          if (announce) this.emit('upsert', rel, this.index.get(rel)!);
        }
        break;
      } catch (err) {
        if (!logged) {
          this.opts.logger.warn(
            { root: this.opts.root, err: errorMessage(err) },
            'root is not available; waiting for it',
          );
          logged = true;
        }
        try {
          await this.opts.clock.sleep(1000, signal);
        } catch {
          return;
        }
      }
    }
    if (signal.aborted) return;
    const stateDir = join(this.opts.root, STATE_DIR);
    const w = watch(this.opts.root, {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      atomic: false,
      ignored: (p: string) =>
        isTempName(p.slice(p.lastIndexOf(sep) + 1), this.rootId) ||
        p === stateDir ||
        p.startsWith(stateDir + sep),
    });
    this.watcher = w;
    const on = (type: ChangeType) => (p: string) => this.queue(type, p);
    w.on('add', on('upsert'));
    w.on('addDir', on('upsert'));
    w.on('change', on('upsert'));
    w.on('unlink', on('delete'));
    w.on('unlinkDir', on('delete'));
    w.on('error', (err: unknown) =>
      this.opts.logger.warn({ root: this.opts.root, err: errorMessage(err) }, 'native watcher error'),
    );
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  /** Waits until `signal` aborts, then stops watching. */
  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    if (this.timer) clearTimeout(this.timer);
    await this.chain;
    await this.watcher?.close();
  }

  private queue(type: ChangeType, abs: string): void {
    const rel = relative(this.opts.root, abs).split(sep).join('/');
    // Outside the root is '..' or '../x'; a name like '..notes' is inside and is announced.
    if (rel === '' || rel === '..' || rel.startsWith('../')) return;
    this.batch.push({ type, rel });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      const b = this.batch;
      this.batch = [];
      this.chain = this.chain
        .then(() => this.flush(b))
        .catch((err: unknown) =>
          this.opts.logger.warn(
            { root: this.opts.root, err: errorMessage(err), events: b.length },
            'native batch not published; the reconciler converges it',
          ),
        );
    }, this.opts.batchMs);
  }

  private async flush(batch: { type: ChangeType; rel: string }[]): Promise<void> {
    const health = await this.probe();
    if (!health.ok) {
      if (this.unhealthy === null) {
        this.opts.logger.warn(
          { root: this.opts.root, reason: health.reason },
          'root looks unmounted; publishing nothing until it is back',
        );
      }
      this.unhealthy = health.reason;
      return; // dropped on purpose: events seen while unmounted are not trusted
    }
    if (this.unhealthy !== null) this.opts.logger.info({ root: this.opts.root }, 'root is back; resuming');
    this.unhealthy = null;
    // A file being written raises a burst of 'change' events; only the last event of a path in
    // this batch needs the lstat below (an earlier upsert would only emit a state the outbox
    // replaces anyway). Deletes are all kept: each one drops a subtree from the index.
    const last = new Map<string, number>();
    batch.forEach(({ rel }, i) => last.set(rel, i));
    for (const [i, { type, rel }] of batch.entries()) {
      if (type === 'upsert' && last.get(rel) !== i) continue;
      if (checkRelPath(rel) !== null) continue;
      const before = this.index.get(rel);
      if (type === 'delete') {
        if (!before) continue;
        if (before.kind === 'dir') {
          // Children chokidar did not report (a whole tree removed at once), deepest first.
          const under = [...this.index.keys()]
            .filter((k) => k.startsWith(rel + '/'))
            .sort()
            .reverse();
          for (const k of under) {
            this.emit('delete', k, this.index.get(k)!);
            this.index.delete(k);
          }
        }
        this.index.delete(rel);
        this.emit('delete', rel, before);
        continue;
      }
      let st: Stats;
      try {
        st = await lstat(`${this.opts.root}/${rel}`);
      } catch {
        continue; // gone again: its unlink event follows
      }
      const m = metaOf(st);
      if (m === null) continue;
      const after: Meta = m === 'dir' ? { kind: 'dir', size: 0, mtimeMs: st.mtimeMs } : m;
      if (m === 'dir' && before?.kind === 'dir') continue;
      if (
        before &&
        before.kind === after.kind &&
        before.size === after.size &&
        before.mtimeMs === after.mtimeMs
      )
        continue;
      this.index.set(rel, after);
      this.emit(
        'upsert',
        rel,
        after,
        before && before.kind !== 'dir' && before.kind === after.kind ? before : undefined,
      );
    }
  }

  private async probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      const marked = await this.rootGuard.check();
      if (!marked.ok) return { ok: false, reason: marked.why };
      if (marked.marker.rootId !== this.rootId)
        return { ok: false, reason: 'root id changed: another folder was marked; restart the watcher' };
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `cannot read root: ${errorMessage(err)}` };
    }
  }

  private emit(type: ChangeType, path: string, n: Meta, prev?: Meta): void {
    this.opts.emit(this.event(type, path, n, prev));
  }

  private event(type: ChangeType, path: string, n: Meta, prev?: Meta): ChangeEvent {
    return {
      v: 1,
      pair: this.opts.pair,
      side: this.opts.side,
      type,
      kind: n.kind,
      path,
      size: n.size,
      mtimeMs: n.mtimeMs,
      ...(prev ? { prev: { size: prev.size, mtimeMs: prev.mtimeMs } } : {}),
      observedAt: this.opts.clock.now(),
      obs: this.observations.next(),
    };
  }

  /** Upserts for the current entries of `dirRel` (not recursive); used after outbox overflow. */
  reannounce(dirRel: string): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    for (const [rel, m] of this.index) {
      if (parentDir(rel) === dirRel) out.push(this.event('upsert', rel, m));
    }
    return out;
  }
}
