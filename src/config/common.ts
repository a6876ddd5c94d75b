// Flag groups shared by the commands that write (reconcile, apply, run) and read (ui, prune), so the
// same flag means the same thing everywhere.
import type { FlagSpecs } from './flags.js';
import { enumFlag, intFlag } from './flags.js';
import { parseDsn } from '../audit/index.js';

export const DEFAULT_LOG_DIR = '/var/log/ha-sync';

export const auditFlags = {
  'db-dsn': {
    type: 'string',
    valueName: 'dsn',
    env: 'HA_SYNC_DB_DSN',
    help: 'MySQL DSN: user:pass@tcp(host:3306)/db or mysql://user:pass@host:3306/db; without it, an SQLite file in --log-dir',
  },
  'log-dir': {
    type: 'string',
    valueName: 'path',
    default: DEFAULT_LOG_DIR,
    help: 'Directory for opslog files, the lock file and the embedded SQLite audit',
  },
  'log-retain-days': {
    type: 'string',
    valueName: 'n',
    default: '10',
    help: 'Delete opslogs older than N days',
  },
} as const satisfies FlagSpecs;

export const lockFlags = {
  'lock-ttl': {
    type: 'string',
    valueName: 'seconds',
    default: '3600',
    help: 'Lease duration; the holder renews every ttl/3; a holder silent this long is stale',
  },
  'lock-wait': {
    type: 'string',
    valueName: 'seconds',
    default: '0',
    help: 'Wait this long for a lock held by another run (0: log the holder and exit 0)',
  },
  lock: {
    type: 'string',
    valueName: 'lease|file',
    help: 'Lock backend; default: lease in a cluster or with a kubeconfig, else a lock file in --log-dir',
  },
  namespace: {
    type: 'string',
    valueName: 'ns',
    help: "Namespace of the Lease; default: the pod's service-account namespace, else infrastructure",
  },
  kubeconfig: {
    type: 'string',
    valueName: 'path',
    env: 'KUBECONFIG',
    help: 'Kubeconfig file for the Lease (outside a cluster)',
  },
} as const satisfies FlagSpecs;

export interface AuditConfig {
  /** MySQL DSN, or undefined for the embedded SQLite store. Never log it. */
  readonly dbDsn: string | undefined;
  readonly logDir: string;
  readonly logRetainDays: number;
}

export interface LockConfig {
  readonly lock: 'auto' | 'lease' | 'file';
  readonly lockTtlSeconds: number;
  readonly lockWaitSeconds: number;
  readonly namespace: string | undefined;
  readonly kubeconfig: string | undefined;
}

export function resolveAuditConfig(v: {
  'db-dsn': string | undefined;
  'log-dir': string | undefined;
  'log-retain-days': string | undefined;
}): AuditConfig {
  const logDir = v['log-dir'] ?? DEFAULT_LOG_DIR;
  const dbDsn = v['db-dsn'] === '' ? undefined : v['db-dsn'];
  // A malformed DSN is a usage error (exit 2), not a silently unaudited run. parseDsn never echoes
  // the password.
  if (dbDsn !== undefined) parseDsn(dbDsn);
  return {
    dbDsn,
    logDir,
    logRetainDays: intFlag('log-retain-days', v['log-retain-days'], 0, 36500, 10),
  };
}

export function resolveLockConfig(v: {
  'lock-ttl': string | undefined;
  'lock-wait': string | undefined;
  lock: string | undefined;
  namespace: string | undefined;
  kubeconfig: string | undefined;
}): LockConfig {
  return {
    lock: enumFlag('lock', v.lock, ['lease', 'file', 'auto'] as const, 'auto'),
    lockTtlSeconds: intFlag('lock-ttl', v['lock-ttl'], 3, 7 * 24 * 3600, 3600),
    lockWaitSeconds: intFlag('lock-wait', v['lock-wait'], 0, 7 * 24 * 3600, 0),
    namespace: v.namespace,
    kubeconfig: v.kubeconfig === '' ? undefined : v.kubeconfig,
  };
}

/** Days a kept version stays in `<root>/.ha-sync/versions/` (by the time in its name). */
export const KEEP_VERSIONS_DAYS_DEFAULT = 30;

/** For every command that writes (reconcile, apply, run). */
export const keepVersionsFlags = {
  'keep-versions-days': {
    type: 'string',
    valueName: 'n',
    default: String(KEEP_VERSIONS_DAYS_DEFAULT),
    help: 'Keep each file ha-sync replaces or deletes in <root>/.ha-sync/versions for N days (0 keeps none)',
  },
} as const satisfies FlagSpecs;

/** `--keep-versions-days`: a whole number of days from 0 (keep none) to 36500; default 30. */
export function keepVersionsDaysFlag(v: string | undefined): number {
  return intFlag('keep-versions-days', v, 0, 36500, KEEP_VERSIONS_DAYS_DEFAULT);
}
