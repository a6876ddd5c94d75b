// Every error ha-sync raises on purpose is a HaSyncError with a stable `code`. Callers match on the
// code, never on the message. Per-file failures are not exceptions: they are data (failed
// operations / Problems in the audit) so one bad file never aborts a run.

export type ErrorCode =
  /** Bad command-line input or configuration: exit 2, nothing touched. */
  | 'USAGE'
  /** A tree (src, dest, a watched root) is missing, unreadable or not a directory. */
  | 'TREE_UNAVAILABLE'
  /** A safety guard refused the run (empty source, too many deletes). */
  | 'GUARD_TRIPPED'
  /** The lock (Lease or lock file) is held by another holder. */
  | 'LOCK_HELD'
  /** The lock was lost while the run held it. */
  | 'LOCK_LOST'
  /** The lock backend (Kubernetes API, lock file) could not be reached or answered badly. */
  | 'LOCK_UNAVAILABLE'
  /** The run was stopped by SIGTERM / SIGINT. */
  | 'TERMINATED'
  /** The audit store (MySQL / SQLite) could not be reached or rejected a write. */
  | 'AUDIT_UNAVAILABLE'
  /** An opslog file could not be parsed. */
  | 'OPSLOG_CORRUPT'
  /** The event bus (NATS) could not be reached. */
  | 'BUS_UNAVAILABLE'
  /** Bytes from outside (a NATS message, an HTTP query, an opslog line) failed validation. */
  | 'INVALID_INPUT'
  /** A path is unsafe: absolute, `..`, NUL, or it escapes its root through a symlink. */
  | 'UNSAFE_PATH'
  /** The file on disk no longer matches what the plan expected (check-before-write). */
  | 'CHANGED_UNDER_US'
  /** The baseline store (MySQL / SQLite) could not be read or written: sync runs in safe mode. */
  | 'BASELINE_UNAVAILABLE'
  /** A side's `.ha-sync/` state directory is a symlink or a file: the run is refused. */
  | 'STATE_DIR_UNSAFE'
  /** A kept version asked for (restore) does not exist. */
  | 'VERSION_NOT_FOUND'
  /** Anything else: a bug. */
  | 'INTERNAL';

export class HaSyncError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HaSyncError';
    this.code = code;
  }
}

export function isHaSyncError(err: unknown, code?: ErrorCode): err is HaSyncError {
  return err instanceof HaSyncError && (code === undefined || err.code === code);
}

export const usage = (message: string): HaSyncError => new HaSyncError('USAGE', message);

/** One line describing any thrown value, for logs and audit rows. Never includes a stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !(err instanceof HaSyncError) && !err.message.includes(code)
      ? `${code}: ${err.message}`
      : err.message;
  }
  return String(err);
}

/** Process exit codes, documented in `ha-sync --help`. */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  PARTIAL: 3,
} as const;
