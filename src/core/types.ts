// The data the planning core works on. Everything here is plain data: no file handles, no clocks.
// Paths are relative to a tree root, '/'-separated, never starting with '/', never containing '..'.

/** What kind of thing a directory entry is. 'special' covers fifos, sockets and devices. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'special';

/** One directory entry as seen by lstat (symlinks are never followed). */
export interface Entry {
  /** The entry's name inside its directory (decoded, valid UTF-8). */
  readonly name: string;
  readonly kind: EntryKind;
  /** Bytes (files), target length (symlinks), 0 otherwise. */
  readonly size: number;
  /** Modification time, epoch milliseconds (fractional). */
  readonly mtimeMs: number;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  /** Symlink target text (symlinks only). */
  readonly target?: string;
}

/** The state a writer expects to find on disk (check-before-write). */
export interface Expected {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode?: number;
  readonly target?: string;
}

/**
 * One operation of a plan.
 * - create: dest has nothing at `path`; copy src's entry (file, dir or symlink).
 * - update: replace dest's entry with src's.
 * - touch: contents are equal (MD5): only set dest's mtime to src's (an update with 0 bytes moved).
 * - hash: same size, src newer: MD5 both and decide between touch and update (resolved by the shell).
 * - delete: remove dest's entry (only with --delete-missing).
 */
export type OpKind = 'create' | 'update' | 'touch' | 'hash' | 'delete';

export interface Op {
  readonly kind: OpKind;
  readonly path: string;
  /** What src holds at `path` (undefined for delete). */
  readonly src?: Entry;
  /** What dest holds at `path` (undefined for create). */
  readonly dest?: Entry;
}

/** Why an entry was not synced. Reported, counted; a 'fail' makes the run a partial failure. */
export type ProblemKind =
  /** A fifo, socket or device: skipped with a warning. */
  | 'special'
  /** A name that is not valid UTF-8: reported and skipped, never renamed. */
  | 'bad-name'
  /** A directory stands where the other side has a file (or the reverse) and --delete-missing is off. */
  | 'type-conflict'
  /** Could not read a directory or an entry. */
  | 'unreadable';

export interface Problem {
  readonly kind: ProblemKind;
  readonly path: string;
  readonly side: 'src' | 'dest';
  readonly message: string;
  /** True when this problem fails the file (counted as failed, run exits 3); false = warning. */
  readonly fails: boolean;
  /** The operation that could not be carried out, for the audit row (type conflicts). */
  readonly op?: 'create' | 'update';
  readonly src?: Entry;
  readonly dest?: Entry;
}

/** How the walker should treat a subdirectory. */
export type DescendMode =
  /** Both sides have the directory: compare. */
  | 'both'
  /** Only src has it (dest is being created): everything below is a create. */
  | 'src-only'
  /** Only dest has it and --delete-missing is on: everything below is a delete. */
  | 'dest-only';

export interface Descend {
  readonly path: string;
  readonly mode: DescendMode;
}

export interface PlanOptions {
  /** Two mtimes closer than this are equal. Milliseconds; seed default 2000. */
  readonly mtimeThresholdMs: number;
  /** Delete dest entries absent from src. Default false. */
  readonly deleteMissing: boolean;
}

export interface DirPlan {
  /** Operations in this directory, in name order. Deletes of directories come after their contents. */
  readonly ops: Op[];
  /** Subdirectories to walk next. */
  readonly descend: Descend[];
  readonly problems: Problem[];
  /**
   * Paths where dest's entry must be deleted before src's can be created (a type change with
   * --delete-missing). The shell deletes first, then reconciles these paths again.
   */
  readonly replace: string[];
}

/** One side's entry as the baseline recorded it (what lstat showed when both sides agreed). */
export interface BaseEntry {
  readonly kind: EntryKind;
  /** Bytes (files), target length (symlinks), 0 for directories. */
  readonly size: number;
  /** Exactly as lstat reported it on that side (epoch ms, fractional). */
  readonly mtimeMs: number;
  readonly target?: string;
}

/** The baseline of one path: each side's entry when the two last agreed, and the MD5 if known. */
export interface BaseRecord {
  /** The entry's name inside its directory. */
  readonly name: string;
  readonly a: BaseEntry;
  readonly b: BaseEntry;
  readonly md5: string | null;
}
