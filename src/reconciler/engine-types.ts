// Types and the task pool of the reconcile engine (engine.ts walks, carry.ts carries out).
import { stat } from 'node:fs/promises';
import type { OpRecord, IterationCounts } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { BaselineStore } from '../baseline/index.js';
import type { Entry, OpKind, PlanOptions, SideName } from '../core/index.js';
import type { BatchCopier, Io, Scanner } from '../fsops/index.js';
import { Limiter } from '../fsops/index.js';
import type { PackedScan } from '../fsops/index.js';
import type { Logger } from '../log.js';

/** What a finished operation looks like to the printer (dry-run) and the progress bar. */
export interface OpEvent {
  /** The plan's word: create/update/touch/delete, or 'fail' for an entry that could not be planned. */
  readonly kind: OpKind | 'fail';
  readonly path: string;
  /** The entry kind it concerns. */
  readonly entryKind: Entry['kind'];
  /** Bytes the op moves (create/update of a file), or the size removed (delete). */
  readonly size: number;
  readonly record: OpRecord;
  /** The side written to (one-way runs: always 'b', dest). */
  readonly to: SideName;
}

export interface EngineOptions {
  /** Side a's root (one-way: src). */
  readonly srcRoot: string;
  /** Side b's root (one-way: dest). */
  readonly destRoot: string;
  readonly plan: PlanOptions;
  /** Write into both sides (two-way). Default false: one-way, only dest (b) is written. */
  readonly twoWay?: boolean;
  /** Labels of the sides, for conflict copies' names. Default 'src' and 'dest'. */
  readonly labels?: { readonly a: string; readonly b: string };
  /** The pair's baseline; null or absent: safe mode (newest wins, nothing deleted). */
  readonly baseline?: BaselineStore | null;
  /**
   * Each root's id (its marker, see fsops marker.ts): our temp files there carry it, so a listing
   * tells them from a user's file of a similar name. Null or absent: the root has no marker (a dry
   * run's first meeting), and nothing in it is taken for a temp file.
   */
  readonly tempIds?: Readonly<Record<SideName, string | null>>;
  /** Keep every file overwritten or deleted in the side's versions area. Default true. */
  readonly keepVersions?: boolean;
  readonly workers: number;
  readonly dryRun: boolean;
  readonly maxDeletePercent: number;
  readonly force: boolean;
  readonly srcIo: Io;
  readonly destIo: Io;
  /** Io for single-path operations (async when either side is a network filesystem). */
  readonly opIo: Io;
  /** Directories scanned at once (1 on local disks; more on network filesystems). */
  readonly dirConcurrency: number;
  /** Metadata calls in flight per network tree. */
  readonly statConcurrency: number;
  /** Where dest listings come from (default: scanned on this thread with destIo). */
  readonly destScanner?: Scanner;
  /** Where src listings come from (default: scanned on this thread with srcIo). */
  readonly srcScanner?: Scanner;
  readonly signal: AbortSignal;
  /**
   * Aborted when the lock is lost (also part of `signal`). Passed to every file operation so a
   * copy in flight is discarded instead of renamed once another holder may be writing.
   */
  readonly lost?: AbortSignal;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Called once per finished operation (success or failure), in completion order. It should not
   * throw: if it does, the operation (already done on disk) is logged as unrecorded, and the run
   * stops like on SIGTERM (in-flight operations finish, nothing new starts, no deletes) and fails.
   */
  readonly onOp: (ev: OpEvent) => void | Promise<void>;
  /**
   * Copies small files of one directory in one call, off this thread (local trees, fastcopy
   * addon). Without it every copy goes through copyEntry. It must stop starting files once
   * `signal` aborts, and check `lost` before each rename.
   */
  readonly batchCopy?: BatchCopier;
  /** Called as the plan grows (for the progress bar): files and bytes newly planned. */
  readonly onPlanned?: (files: number, bytes: number) => void;
  /** Called as directories are listed: entries newly seen (both sides). */
  readonly onListed?: (entries: number) => void;
  /** Called when the walk is over and the held-back deletes start. */
  readonly onDeleting?: () => void;
}

export interface EngineResult {
  readonly counts: IterationCounts;
  /** The same counts split by the side written to. */
  readonly countsTo: Readonly<Record<SideName, IterationCounts>>;
  /** Why the run planned without a baseline, or null. */
  readonly safeMode: string | null;
  /** Why the run failed as a whole (guard, tree vanished, stop), or null. */
  readonly failure: string | null;
  readonly tempsRemoved: number;
}

export const EMPTY: Entry[] = [];

export interface SideScan {
  entries: Entry[];
  /** The listing packed (fastscan addon or listing worker): compared without unpacking. */
  packed?: PackedScan;
  /** Names listed whose entries could not be read (src: protects dest's entry from a delete). */
  unread?: ReadonlySet<string>;
  error?: unknown;
}

/**
 * Up to `size` tasks at once. A task's rejection goes to `onError` and never out of `submit` or
 * `drain`: a failed task must not abort the walk while other copies are still in flight (the lock
 * would be released under them), nor be left unhandled. Submitters wait in line for a slot (a
 * Limiter: first come, first served, no wake-up for the others), so many directories visited at
 * once cost nothing extra per task.
 */
export class Pool {
  private readonly slots: Limiter;
  /** Tasks submitted and not yet finished (waiting for a slot or running). */
  private pending = 0;
  private idle: (() => void)[] = [];
  constructor(
    size: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.slots = new Limiter(size);
  }
  /** Resolves once the task has started (not finished). */
  async submit(task: () => Promise<void>): Promise<void> {
    this.pending++;
    await new Promise<void>((started) => {
      void this.slots
        .run(() => {
          started();
          return task().catch(this.onError);
        })
        .finally(() => this.finished());
    });
  }
  private finished(): void {
    if (--this.pending > 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const r of idle) r();
  }
  /** Resolves when every task submitted so far is done. */
  drain(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise<void>((r) => this.idle.push(r));
  }
}

export function expectedOf(e: Entry): { kind: Entry['kind']; size: number; mtimeMs: number } {
  return { kind: e.kind, size: e.size, mtimeMs: e.mtimeMs };
}

/** The device and inode of a root directory (followed if a symlink), or null when it is gone. */
export async function rootIdentity(root: string): Promise<string | null> {
  try {
    const st = await stat(root);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

export function zeroCounts(): IterationCounts {
  return { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved: 0, bytesTransferred: 0 };
}
