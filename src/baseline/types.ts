// The baseline: per pair and per path, each side's entry as it was when the two sides last agreed.
// It is the common ancestor of the two-way decision, so it changes only through what ha-sync
// verified or did (a copy, a delete, a walk that found both sides equal), never through a guess.
import type { BaseRecord } from '../core/index.js';
import type { Logger } from '../log.js';

// The records themselves are the core's types (the baseline is the ancestor of its decision).
export type { BaseEntry, BaseRecord } from '../core/index.js';

/** Sets (`rec`) or drops (`rec: null`) the record of `dir/name`. `rec.name` must equal `name`. */
export interface BaselineChange {
  /** The directory, relative to the roots ('' = root, 'a/b' = nested; no leading or trailing '/'). */
  readonly dir: string;
  readonly name: string;
  readonly rec: BaseRecord | null;
}

/**
 * A pair's baseline. Every method throws HaSyncError('BASELINE_UNAVAILABLE') when the store cannot
 * be read or written; the caller then runs in safe mode (newest wins, nothing deleted) rather than
 * with a half-read baseline.
 */
export interface BaselineStore {
  readonly kind: 'sqlite' | 'mysql';
  /** Records of the entries directly in `dir` ('' = root), in name order (code-unit order). */
  readDir(dir: string): Promise<BaseRecord[]>;
  /** The record of one path ('a/b/c.txt'), or null. */
  readPath(path: string): Promise<BaseRecord | null>;
  /** Applies the changes in ONE transaction; clears the digest of every dir touched. */
  write(changes: readonly BaselineChange[]): Promise<void>;
  /** Drops every record at or below `path` ('' = the whole pair) and the digests of those dirs. */
  dropTree(path: string): Promise<void>;
  /** The directories at or below `path` that hold records (`path` itself included when it does). */
  treeDirs(path: string): Promise<string[]>;
  /** Digest the reconciler stored for `dir` (see setDigest), or null. */
  dirDigest(dir: string): Promise<string | null>;
  /** Stores a digest for `dir`: "the baseline of this dir was verified equal to a listing hashing to this". */
  setDigest(dir: string, digest: string): Promise<void>;
  /** Releases the file or connections. Idempotent; later calls throw BASELINE_UNAVAILABLE. */
  close(): Promise<void>;
}

export interface BaselineOptions {
  /** The pair the store is bound to (every record read or written belongs to it). */
  pair: string;
  /** MySQL DSN (Go or URL form); null or '' selects the SQLite file `<logDir>/baseline.sqlite`. */
  dsn: string | null;
  logDir: string;
  log: Logger;
  /** MySQL connect timeout, ms. Default 3000: a down database must not stall a run. */
  connectTimeoutMs?: number;
  /** MySQL statement timeout, ms. Default 60000. */
  queryTimeoutMs?: number;
  /** SQLite: how long to wait for another process's write lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}
