// What every ha-sync pod shares: names, paths, the container command lines, and the hardened
// container and pod specs. The validation test checks the rendered result (not this code): every
// pod non-root with a read-only root and an emptyDir /tmp, no capabilities, seccomp RuntimeDefault,
// requests and limits, POD_NAME from the downward API, a grace period long enough to finish or
// discard the file in flight.

import { directionGaps } from './schedule.mjs';

/** Where each thing is mounted inside ha-sync pods. */
export const PATHS = Object.freeze({ logs: '/var/log/ha-sync', tmp: '/tmp', mnt: '/mnt' });
/** Names of the objects other objects refer to. */
export const NAMES = Object.freeze({
  /** Bound to the Lease Role: only the Lease holders (reconcile CronJobs, appliers) use it. */
  serviceAccount: 'ha-sync',
  /** Bound to nothing: the dashboard, watchers, prune and NATS. */
  plainServiceAccount: 'ha-sync-no-rbac',
  dbSecret: 'ha-sync-db-secret',
  /** The dashboard's read-only DSN (SELECT only), under the same key HA_SYNC_DB_DSN. */
  dbReadOnlySecret: 'ha-sync-db-readonly',
  dbSecretKey: 'HA_SYNC_DB_DSN',
  /** NATS: the server's certificate and key, the users' passwords, the CA clients verify with. */
  natsTls: 'ha-sync-nats-tls',
  natsServerUsers: 'ha-sync-nats-server-users',
  natsCa: 'ha-sync-nats-ca',
  envConfigMap: 'ha-sync-env',
  logsPv: 'pv-ha-sync-logs',
  logsPvc: 'pvc-ha-sync-logs',
  image: 'ha-sync',
  nats: 'ha-sync-nats',
  ui: 'ha-sync-ui',
});

/**
 * The port the watcher and applier serve Prometheus's `/metrics` on (`--metrics-port`), named
 * `metrics` in their containers: the PodMonitor and the NetworkPolicy refer to it by name and
 * number.
 */
export const METRICS_PORT = 9464;

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
    '--heartbeat',
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
    '--heartbeat',
  ];
  if (pair.deleteMissing) args.push('--delete-missing');
  if (pair.dryRun) args.push('--dry-run');
  return args;
}

/** One watcher process per server, one `--watch pair:side:/root` per pair. */
export function watchArgs(cfg, server) {
  const args = ['watch'];
  for (const p of cfg.pairs) args.push(`--watch=${p.name}:${server}:${mountPath(server, p.name)}`);
  args.push(`--metrics-port=${METRICS_PORT}`);
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
    `--metrics-port=${METRICS_PORT}`,
  ];
  if (pair.deleteMissing) args.push('--delete-missing');
  return args;
}

/**
 * The dashboard judges staleness by the schedules the CronJobs run on: `--schedule-minutes` is the
 * longest gap most pairs have, `--pair-schedule` names a pair whose differs (per pair, not per
 * direction: a one-way pair takes its slower direction's). When a schedule has no single interval
 * (a day field set; refused anyway with `monitoring` on) the dashboard keeps its own default.
 */
export function uiArgs(cfg) {
  const args = ['ui', '--host=0.0.0.0', '--port=8080', '--live'];
  const perPair = cfg.pairs.map((p) => {
    const gaps = directionGaps(cfg, p).map((d) => d.minutes);
    return { pair: p.name, minutes: gaps.includes(null) ? null : Math.max(...gaps) };
  });
  if (perPair.some((x) => x.minutes === null)) return args;
  const count = new Map();
  for (const { minutes } of perPair) count.set(minutes, (count.get(minutes) ?? 0) + 1);
  // The most common interval; on a tie, the shortest.
  const [usual] = [...count].sort(([m1, n1], [m2, n2]) => n2 - n1 || m1 - m2)[0];
  args.push(`--schedule-minutes=${usual}`);
  for (const { pair, minutes } of perPair)
    if (minutes !== usual) args.push(`--pair-schedule=${pair}=${minutes}`);
  return args;
}
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

/**
 * The pod's uid/gid: the pair's own `runAs` when it has one (e.g. owncloud's files belong to
 * www-data, 33:33), else the top-level one. `supplementalGroups` lets one pod read files of
 * several pairs (a watcher serves every pair of its server).
 */
export function podSecurityContext(cfg, pair, supplementalGroups = []) {
  const runAs = pair?.runAs ?? cfg.runAs;
  // A pair with its own uid still writes the shared logs volume (opslogs), which belongs to the
  // top-level group: that group is a supplementary one of its pods.
  const all = pair?.runAs ? [...supplementalGroups, cfg.runAs.group] : supplementalGroups;
  const groups = [...new Set(all)].filter((g) => g !== runAs.group).sort((x, y) => x - y);
  return {
    runAsNonRoot: true,
    runAsUser: runAs.user,
    runAsGroup: runAs.group,
    ...(groups.length ? { supplementalGroups: groups } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Every capability dropped. `add` (only CHOWN and FOWNER, only for a pair whose entry asks with
 * `capabilities:`, only on pods that write) takes the pod out of the "restricted" Pod Security
 * profile into "baseline": docs/operations.md, "Security model".
 */
export const containerSecurityContext = (add = []) => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'], ...(add.length ? { add: [...add] } : {}) },
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

/**
 * The `metrics` port of a watcher or applier container and its probes, all on `/metrics`.
 * Readiness only gates the rollout (no Service sends traffic to these pods). Liveness restarts a
 * process that stopped answering for two minutes; the startup probe gives it ten minutes to begin
 * serving, so a slow first start is not taken for a hang.
 */
export function metricsEndpoint() {
  // A fresh object per probe: shared ones would be written as YAML anchors.
  const get = () => ({ httpGet: { path: '/metrics', port: 'metrics' }, timeoutSeconds: 5 });
  return {
    ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
    startupProbe: { ...get(), periodSeconds: 10, failureThreshold: 60 },
    readinessProbe: { ...get(), periodSeconds: 10, failureThreshold: 3 },
    livenessProbe: { ...get(), periodSeconds: 20, failureThreshold: 6 },
  };
}

/** Pod annotations for an annotation-driven Prometheus (one without the Operator's PodMonitor). */
export const scrapeAnnotations = (port) => ({
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(port),
  'prometheus.io/path': '/metrics',
});

/** Long enough to finish the file in flight or discard its temp file, record, and release the Lease. */
const GRACE_SECONDS = 120;

/**
 * An ha-sync container: the image's entrypoint is `ha-sync`, so `args` starts with the command.
 * `withDb`: the read-write DSN secret, or 'read-only' for the dashboard's. `nats`: the identity's
 * env (scripts/k8s/nats.mjs natsClientEnv). `capabilities`: what to add back (see above).
 * @param {{withDb: boolean | 'read-only', nats?: {env: object[], envFrom: object[], volumeMount: object}, capabilities?: string[]}} opts
 */
export function haSyncContainer(name, args, resources, volumeMounts, opts) {
  const envFrom = [{ configMapRef: { name: NAMES.envConfigMap } }];
  if (opts.withDb === 'read-only') envFrom.push({ secretRef: { name: NAMES.dbReadOnlySecret } });
  else if (opts.withDb) envFrom.push({ secretRef: { name: NAMES.dbSecret } });
  if (opts.nats) envFrom.push(...opts.nats.envFrom);
  return {
    name,
    image: NAMES.image,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...(opts.nats ? opts.nats.env : []),
    ],
    envFrom,
    resources,
    securityContext: containerSecurityContext(opts.capabilities ?? []),
    volumeMounts: [
      { name: 'tmp', mountPath: PATHS.tmp },
      ...volumeMounts,
      ...(opts.nats ? [opts.nats.volumeMount] : []),
    ],
  };
}

/** @param {{token: boolean, restartPolicy?: string, pair?: object, supplementalGroups?: number[]}} opts */
export function podSpec(cfg, containers, volumes, opts) {
  return {
    // Only the Lease holders talk to the Kubernetes API; every other pod gets an unbound account.
    serviceAccountName: opts.token ? NAMES.serviceAccount : NAMES.plainServiceAccount,
    automountServiceAccountToken: opts.token,
    ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy } : {}),
    terminationGracePeriodSeconds: GRACE_SECONDS,
    securityContext: podSecurityContext(cfg, opts.pair, opts.supplementalGroups),
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
