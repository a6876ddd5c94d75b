// The lock seam: one writer per pair. Backed by a Kubernetes Lease (in a cluster or with a
// kubeconfig) or a lock file in the log dir (laptop). Both have the same meaning: a holder, an
// expiry renewed every ttl/3, takeover of a stale holder, release on exit.

export interface LockHandle {
  /** `<pod-name>/<run-id>`. */
  readonly holder: string;
  /**
   * Aborted (reason: HaSyncError 'LOCK_LOST') when the lock is lost: renewal failed past the
   * deadline, or another holder appeared. A writer must stop starting operations at once.
   */
  readonly lost: AbortSignal;
  /** True while another process has asked for a turn (the live applier then yields). */
  contended(): boolean;
  /** Releases (deletes) the lock if still ours. Idempotent; never throws. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  holder: string;
  /** Seconds to wait for a held lock before giving up (0 = do not wait). */
  waitSeconds: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
}

export interface Lock {
  /** 'lease' | 'file', for logs. */
  readonly kind: string;
  /** Human name of the lock (Lease `ns/ha-sync-<pair>` or the lock file path). */
  readonly name: string;
  /**
   * Acquires the lock. Throws HaSyncError 'LOCK_HELD' (message names the holder and when it
   * expires) when another holder keeps it past `waitSeconds`, 'LOCK_UNAVAILABLE' when the backend
   * cannot be reached.
   */
  acquire(opts: AcquireOptions): Promise<LockHandle>;
}
