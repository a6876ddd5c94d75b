// Public surface of the lock module: one writer per pair, through a Kubernetes Lease (in a cluster
// or with a kubeconfig) or a lock file in the log dir (a laptop). See docs/locking.md and the
// protocol comment at the top of lease.ts.
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { LockConfig } from '../config/index.js';
import { fileBackend, type ProcessIdentity } from './file.js';
import { acquire, type Backend } from './session.js';
import type { Lock } from './types.js';

export type * from './types.js';

export interface LockOptions extends LockConfig {
  pair: string;
  logDir: string;
  clock: Clock;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Bound on each Lease / file call, real-time ms. Default: min(10 s, renew interval / 2). */
  apiTimeoutMs?: number;
  /** How often the holder reads the lock between renewals (waiters, foreign holders). Default 10 s. */
  checkIntervalMs?: number;
  /** How often a waiter polls a held lock. Default: min(5 s, renew interval). */
  pollIntervalMs?: number;
  /** Service-account directory (tests). Default /var/run/secrets/kubernetes.io/serviceaccount. */
  serviceAccountDir?: string;
  /** Who this process is, for the lock file's stale detection (tests). Default: the real one. */
  processIdentity?: ProcessIdentity;
}

/** The holder identity: `<pod-name>/<run-id>` (pod name from POD_NAME, else the hostname). */
export { holderIdentity } from './holder.js';
export { WAITING_FRESH_MS } from './session.js';

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Which backend `--lock` selects: `auto` is the Lease in a cluster (the service-account token
 * exists) or with a kubeconfig (`--kubeconfig` / KUBECONFIG), else the lock file.
 */
export function lockKind(
  opts: Pick<LockOptions, 'lock' | 'kubeconfig'>,
  exists: (path: string) => boolean,
  saDir?: string,
): 'lease' | 'file' {
  if (opts.lock !== 'auto') return opts.lock;
  if (opts.kubeconfig) return 'lease';
  return exists(saDir ? `${saDir}/token` : SA_TOKEN) ? 'lease' : 'file';
}

/**
 * Opens the lock for `opts.pair` without taking it. Throws HaSyncError 'LOCK_UNAVAILABLE' when the
 * Lease backend cannot even be configured (unreadable kubeconfig).
 */
export async function openLock(opts: LockOptions): Promise<Lock> {
  const { existsSync } = await import('node:fs');
  const kind = lockKind(opts, existsSync, opts.serviceAccountDir);
  let backend: Backend;
  if (kind === 'lease') {
    // Loaded only when used: client-node is large and a laptop run never needs it.
    const { leaseBackend } = await import('./lease.js');
    backend = leaseBackend({
      pair: opts.pair,
      namespace: opts.namespace,
      kubeconfig: opts.kubeconfig,
      env: opts.env,
      serviceAccountDir: opts.serviceAccountDir,
    });
  } else {
    backend = fileBackend({ pair: opts.pair, logDir: opts.logDir, identity: opts.processIdentity });
  }
  const session = {
    ttlSeconds: opts.lockTtlSeconds,
    clock: opts.clock,
    log: opts.log,
    apiTimeoutMs: opts.apiTimeoutMs,
    checkIntervalMs: opts.checkIntervalMs,
    pollIntervalMs: opts.pollIntervalMs,
  };
  return {
    kind: backend.kind,
    name: backend.name,
    acquire: (a) => acquire(backend, session, a),
  };
}
