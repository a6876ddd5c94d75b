// The reconciler's view of the baseline: per-directory reads, and writes gathered into batches
// (one transaction each). Safe mode: with no store, or once any read or write failed, every
// directory is planned without a baseline (newest wins, nothing is deleted) for the rest of the
// run, and nothing more is written: a run never goes on with a half-read baseline.
import { moveTree, type BaselineChange, type BaselineStore } from '../baseline/index.js';
import { racyRecord, settle, type BaseRecord } from '../core/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** Changes written per transaction. */
const BATCH = 2000;

export class BaselineSink {
  private pending: BaselineChange[] = [];
  /** Digests to store once the changes queued before them are written. */
  private digests: { dir: string; digest: string }[] = [];
  private broken: string | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: BaselineStore | null,
    private readonly log: Logger,
    /** A dry run reads the baseline but writes nothing. */
    private readonly readOnly: boolean,
  ) {
    if (!store) this.broken = 'no baseline store';
  }

  /** True when this run plans without a baseline (no store, or it failed). */
  get safe(): boolean {
    return this.broken !== null;
  }

  /** Why the run is in safe mode, or null. */
  get reason(): string | null {
    return this.broken;
  }

  private fail(err: unknown): void {
    if (this.broken) return;
    this.broken = errorMessage(err);
    this.pending = [];
    this.digests = [];
    this.log.warn(
      { err: this.broken },
      'baseline unavailable: the rest of this run keeps everything (newest wins, nothing is deleted)',
    );
  }

  /** The directory's records, or null in safe mode. */
  async readDir(dir: string): Promise<BaseRecord[] | null> {
    if (this.broken || !this.store) return null;
    try {
      return await this.store.readDir(dir);
    } catch (err) {
      this.fail(err);
      return null;
    }
  }

  async digest(dir: string): Promise<string | null> {
    if (this.broken || !this.store) return null;
    try {
      return await this.store.dirDigest(dir);
    } catch (err) {
      this.fail(err);
      return null;
    }
  }

  /**
   * Queues a record (null drops it). Each side's file entry is marked racy when it was recorded
   * too close to its whole-second mtime (src/core/racy.ts; mtimes are wall-clock times, so this
   * reads the wall clock). Returns true when the record is racy: its directory's digest must not
   * be stored, or the next run would skip the very check the mark asks for.
   */
  put(dir: string, name: string, rec: BaseRecord | null): boolean {
    const settled = rec === null ? null : settle(rec, Date.now());
    const racy = settled !== null && racyRecord(settled);
    if (this.broken || this.readOnly) return racy;
    this.pending.push({ dir, name, rec: settled });
    if (this.pending.length >= BATCH) void this.flush();
    return racy;
  }

  /**
   * A move's baseline (src/baseline/move.ts): what is queued is written first, then the records
   * of `from` and below are re-keyed to `to`. Answers the bytes of the files moved, or null when
   * the baseline failed (the run goes on in safe mode).
   */
  async moveTree(from: string, to: string): Promise<number | null> {
    await this.flush();
    if (this.broken || this.readOnly || !this.store) return null;
    try {
      return (await moveTree(this.store, from, to)).bytes;
    } catch (err) {
      this.fail(err);
      return null;
    }
  }

  /** Stores `digest` for `dir` after everything queued so far is written. */
  setDigest(dir: string, digest: string): void {
    if (this.broken || this.readOnly) return;
    this.digests.push({ dir, digest });
  }

  /** Writes what is queued (one transaction), then the digests. Never throws. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeNow());
    return this.writing;
  }

  private async writeNow(): Promise<void> {
    const store = this.store;
    if (this.broken || !store) return;
    const changes = this.pending;
    const digests = this.digests;
    this.pending = [];
    this.digests = [];
    try {
      if (changes.length > 0) await store.write(changes);
      for (const d of digests) await store.setDigest(d.dir, d.digest);
    } catch (err) {
      this.fail(err);
    }
  }
}
