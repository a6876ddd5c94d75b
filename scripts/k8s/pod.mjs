// What every ha-sync pod shares: names, paths, the container command lines, and the hardened
// container and pod specs. The validation test checks the rendered result (not this code): every
// pod non-root with a read-only root and an emptyDir /tmp, no capabilities, seccomp RuntimeDefault,
// requests and limits, POD_NAME from the downward API, a grace period long enough to finish or
// discard the file in flight.

/** Where each thing is mounted inside ha-sync pods. */
export const PATHS = Object.freeze({ logs: '/var/log/ha-sync', tmp: '/tmp', mnt: '/mnt' });
/** Names of the objects other objects refer to. */
export const NAMES = Object.freeze({
  serviceAccount: 'ha-sync',
  dbSecret: 'ha-sync-db-secret',
  dbSecretKey: 'HA_SYNC_DB_DSN',
  envConfigMap: 'ha-sync-env',
  logsPv: 'pv-ha-sync-logs',
  logsPvc: 'pvc-ha-sync-logs',
  image: 'ha-sync',
  nats: 'ha-sync-nats',
  ui: 'ha-sync-ui',
});

// ---------------------------------------------------------------------------------------------
// Command lines. Every ha-sync container's args come from these functions; the validation test
// parses each with the command's own parse<Cmd>Args, so a manifest cannot drift from the CLI.

/** Where server `server`'s copy of `pair` is mounted in a pod. */
export const mountPath = (server, pair) => `${PATHS.mnt}/${server}/${pair}`;

export function reconcileArgs(cfg, pair, from, to) {
  const args = [
    'reconcile',
    `--src=${mountPath(from, pair.name)}`,
    `--dest=${mountPath(to, pair.name)}`,
    `--pair=${pair.name}`,
    `--direction=${from}-to-${to}`,
    `--log-dir=${PATHS.logs}`,
    `--lock-wait=${cfg.lockWaitSeconds}`,
  ];
  // Both directions may delete: against the pair's baseline a one-way run deletes on dest only what
  // src deleted, never a file new on dest, and never re-creates what dest deleted, so the two jobs
  // are safe in either order (issue 12 §4). Only when the pair's entry asks for deletes.
  if (pair.deleteMissing) args.push('--delete-missing');
  if (pair.dryRun) args.push('--dry-run');
  return args;
}

/**
 * The one job of a `mode: two-way` pair: both trees against the baseline, the primary as `--a`
 * (the same sides as the pair's applier). Audit directions are named from the two labels.
 */
export function twoWayReconcileArgs(cfg, pair) {
  const a = cfg.primary;
  const b = cfg.secondary;
  const args = [
    'reconcile',
    `--pair=${pair.name}`,
    `--a=${a}=${mountPath(a, pair.name)}`,
    `--b=${b}=${mountPath(b, pair.name)}`,
    `--log-dir=${PATHS.logs}`,
    `--lock-wait=${cfg.lockWaitSeconds}`,
  ];
  if (pair.deleteMissing) args.push('--delete-missing');
  if (pair.dryRun) args.push('--dry-run');
  return args;
}

/** One watcher process per server, one `--watch pair:side:/root` per pair. */
export function watchArgs(cfg, server) {
  const args = ['watch'];
  for (const p of cfg.pairs) args.push(`--watch=${p.name}:${server}:${mountPath(server, p.name)}`);
  return args;
}

export function applyArgs(cfg, pair) {
  const a = cfg.primary;
  const b = cfg.secondary;
  const args = [
    'apply',
    `--pair=${pair.name}`,
    `--a=${a}=${mountPath(a, pair.name)}`,
    `--b=${b}=${mountPath(b, pair.name)}`,
    `--log-dir=${PATHS.logs}`,
  ];
  if (pair.deleteMissing) args.push('--delete-missing');
  return args;
}

export const uiArgs = () => ['ui', '--host=0.0.0.0', '--port=8080'];
export const pruneArgs = (cfg) => ['prune', `--older-than-days=${cfg.prune.olderThanDays}`];

// ---------------------------------------------------------------------------------------------
// Building blocks shared by every pod.

export const labels = (component, extra = {}) => ({
  'app.kubernetes.io/name': 'ha-sync',
  'app.kubernetes.io/part-of': 'ha-sync',
  'app.kubernetes.io/component': component,
  ...extra,
});

export const meta = (cfg, name, component, extra = {}) => ({
  name,
  namespace: cfg.namespace,
  labels: labels(component, extra),
});

export function podSecurityContext(cfg) {
  return {
    runAsNonRoot: true,
    runAsUser: cfg.runAs.user,
    runAsGroup: cfg.runAs.group,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export const containerSecurityContext = () => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
});

export const RESOURCES = {
  // A reconcile run holds one directory's listing at a time (<= 300 MB RSS at 1M files).
  reconcile: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  watcher: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  applier: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  ui: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
  prune: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
  nats: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
};

/** Long enough to finish the file in flight or discard its temp file, record, and release the Lease. */
const GRACE_SECONDS = 120;

/**
 * An ha-sync container: the image's entrypoint is `ha-sync`, so `args` starts with the command.
 * @param {{withDb: boolean, withNats: boolean}} opts
 */
export function haSyncContainer(name, args, resources, volumeMounts, opts) {
  const envFrom = [{ configMapRef: { name: NAMES.envConfigMap } }];
  if (opts.withDb) envFrom.push({ secretRef: { name: NAMES.dbSecret } });
  return {
    name,
    image: NAMES.image,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    envFrom,
    resources,
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'tmp', mountPath: PATHS.tmp }, ...volumeMounts],
  };
}

/** @param {{token: boolean, restartPolicy?: string}} opts */
export function podSpec(cfg, containers, volumes, opts) {
  return {
    serviceAccountName: NAMES.serviceAccount,
    // Only the Lease holders talk to the Kubernetes API.
    automountServiceAccountToken: opts.token,
    ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
    terminationGracePeriodSeconds: GRACE_SECONDS,
    securityContext: podSecurityContext(cfg),
    containers,
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }, ...volumes],
  };
}

export const pvcVolume = (name, claimName, readOnly = false) => ({
  name,
  persistentVolumeClaim: { claimName, ...(readOnly ? { readOnly: true } : {}) },
});
export const logsVolume = () => pvcVolume('logs', NAMES.logsPvc);
/** Data volumes are prefixed so a pair or server named `tmp` or `logs` cannot collide. */
export const dataVolume = (name) => `data-${name}`;
export const logsMount = () => ({ name: 'logs', mountPath: PATHS.logs });
