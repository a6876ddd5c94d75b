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
  /**
   * Inode number as lstat reports it, where the lister reports one. Never compared to decide
   * whether a side changed: only move detection uses it (src/core/moves.ts).
   */
  readonly ino?: number;
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
 * The word for a finished operation (dry-run lines, audit): create, update (contents copied over),
 * touch (contents equal by MD5: only the mtime set), delete.
 */
export type OpKind = 'create' | 'update' | 'touch' | 'delete' | 'move';

/** Why an entry was not synced. Reported, counted; a 'fail' makes the run a partial failure. */
export type ProblemKind =
  /** A fifo, socket or device: skipped with a warning. */
  | 'special'
  /** A name that is not valid UTF-8: reported and skipped, never renamed. */
  | 'bad-name'
  /** Could not read a directory or an entry. */
  | 'unreadable';

export interface Problem {
  readonly kind: ProblemKind;
  readonly path: string;
  readonly side: 'src' | 'dest';
  readonly message: string;
  /** True when this problem fails the file (counted as failed, run exits 3); false = warning. */
  readonly fails: boolean;
  /** The operation that could not be carried out, for the audit row (when known). */
  readonly op?: 'create' | 'update';
  readonly src?: Entry;
  readonly dest?: Entry;
}

export interface PlanOptions {
  /** Two mtimes closer than this are equal. Milliseconds; seed default 2000. */
  readonly mtimeThresholdMs: number;
  /** Carry deletes over to the other side (else the other side's copy comes back). Default false. */
  readonly deleteMissing: boolean;
}

/** One side's entry as the baseline recorded it (what lstat showed when both sides agreed). */
export interface BaseEntry {
  readonly kind: EntryKind;
  /** Bytes (files), target length (symlinks), 0 for directories. */
  readonly size: number;
  /** Exactly as lstat reported it on that side (epoch ms, fractional). */
  readonly mtimeMs: number;
  readonly target?: string;
  /**
   * Recorded too close to its own whole-second mtime to be trusted by size and mtime (see
   * src/core/racy.ts): the next decision compares contents.
   */
  readonly racy?: true;
  /** The inode number the entry had when recorded, if known (move detection only). */
  readonly ino?: number;
}

/** The baseline of one path: each side's entry when the two last agreed, and the MD5 if known. */
export interface BaseRecord {
  /** The entry's name inside its directory. */
  readonly name: string;
  readonly a: BaseEntry;
  readonly b: BaseEntry;
  readonly md5: string | null;
}
