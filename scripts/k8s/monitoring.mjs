// The monitoring objects, rendered only when pairs.yaml says `monitoring: { enabled: true }`: they
// are kinds of the Prometheus Operator (PodMonitor, ServiceMonitor, PrometheusRule), which a
// cluster without it does not know, plus the Grafana dashboard as a ConfigMap for Grafana's sidecar.
//
// The metric names are a contract with the processes that export them: the watcher's and the
// applier's `/metrics` on port 9464 (`ha_sync_watcher_*`, `ha_sync_applier_*`) and the dashboard's
// on 8080 (every other `ha_sync_*`). test/monitoring.test.ts runs every alert through
// `promtool test rules`, firing and quiet.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directionGaps } from './schedule.mjs';
import { NAMES, labels } from './pod.mjs';

/** The one source of the Grafana dashboard: the generator copies it into a ConfigMap. */
export const GRAFANA_DASHBOARD_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'k8s',
  'monitoring',
  'grafana-dashboard.json',
);
/** The ConfigMap key Grafana's sidecar writes to a file of that name. */
export const GRAFANA_DASHBOARD_KEY = 'ha-sync.json';
/** Where the alerts are explained, with what to do about each. */
const RUNBOOK = 'docs/operations.md, "Alert"';

const monitoringMeta = (cfg, name, extra = {}) => ({
  name,
  namespace: cfg.namespace,
  // The extra labels from pairs.yaml first: they cannot take away ours (the documented
  // `kubectl delete -l app.kubernetes.io/component=monitoring` relies on them).
  labels: { ...cfg.monitoring.labels, ...labels('monitoring'), ...extra },
});

/** The watchers' and appliers' `/metrics`, by their container port `metrics`. */
function podMonitor(cfg) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: monitoringMeta(cfg, 'ha-sync-live'),
    spec: {
      selector: {
        matchLabels: { 'app.kubernetes.io/part-of': 'ha-sync' },
        matchExpressions: [
          { key: 'app.kubernetes.io/component', operator: 'In', values: ['watcher', 'applier'] },
        ],
      },
      podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    },
  };
}

/**
 * The dashboard's `/metrics`, through its Service's port `http`. Each scrape reads the audit
 * store, hence the longer interval.
 */
function serviceMonitor(cfg) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: monitoringMeta(cfg, NAMES.ui),
    spec: {
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'ha-sync', 'app.kubernetes.io/component': 'ui' },
      },
      endpoints: [{ port: 'http', path: '/metrics', interval: '60s' }],
    },
  };
}

/**
 * The staleness threshold of each direction of a pair, in seconds: twice the longest gap of the
 * schedule its CronJob runs on (config.mjs refuses, with monitoring on, a schedule without one).
 * @returns {{direction: string, seconds: number}[]}
 */
export const staleThresholds = (cfg, pair) =>
  directionGaps(cfg, pair).map(({ direction, minutes }) => ({ direction, seconds: 2 * 60 * minutes }));

/**
 * "No successful real sync within twice the schedule": one rule over every live pair, each
 * direction against its own threshold (pairs sharing a threshold share a clause).
 *
 * Why thresholds rendered here rather than `ha_sync_stale == 1` or the dashboard's
 * `ha_sync_stale_after_seconds`: the dashboard knows one schedule per pair (its `--schedule-minutes`
 * and `--pair-schedule`, which uiArgs also derives from pairs.yaml, a one-way pair taking its
 * slower direction's), while here each direction is judged by the very schedule its CronJob runs
 * on. And only the generator knows which pairs are still in dry-run: those never have a real
 * success (the dashboard calls them stale, rightly, since nothing was copied), and an alert on them
 * would fire from the first day and be silenced for good. A pair joins the rule when its line says
 * `dryRun: false`, with the same `npm run manifests`. With no live pair there is no rule (an empty
 * `or` is no expression).
 */
function staleRules(cfg) {
  /** "direction threshold" -> the pairs; direction '' when both directions share the threshold. */
  const clauses = new Map();
  for (const pair of cfg.pairs) {
    if (pair.dryRun) continue;
    const t = staleThresholds(cfg, pair);
    const parts = t[0].seconds === t[1].seconds ? [{ direction: '', seconds: t[0].seconds }] : t;
    for (const { direction, seconds } of parts) {
      const key = `${direction} ${seconds}`;
      clauses.set(key, [...(clauses.get(key) ?? []), pair.name]);
    }
  }
  if (clauses.size === 0) return [];
  const expr = [...clauses]
    .map(([key, pairs]) => {
      const [direction, seconds] = key.split(' ');
      const sel = pairs.length === 1 ? `pair="${pairs[0]}"` : `pair=~"${pairs.join('|')}"`;
      return `ha_sync_seconds_since_last_success{${sel}${direction ? `, direction="${direction}"` : ''}} > ${seconds}`;
    })
    .join('\nor\n');
  return [
    {
      alert: 'HaSyncPairStale',
      expr,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'ha-sync {{ $labels.pair }} {{ $labels.direction }}: no successful real sync for {{ $value | humanizeDuration }}',
        description: `Twice the schedule has passed without a successful real sync. Look at the last iterations in the dashboard and the CronJob's logs (${RUNBOOK}).`,
      },
    },
  ];
}

/** Every alert rule, in the order docs/operations.md lists them. */
export function alertRules(cfg) {
  const m = cfg.monitoring;
  return [
    {
      alert: 'HaSyncIterationFailed',
      expr: 'ha_sync_last_iteration_status{dry_run="0", status=~"failed|partial_failure"} == 1',
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'ha-sync {{ $labels.pair }} {{ $labels.direction }}: the last real sync ended {{ $labels.status }}',
        description: `The dashboard shows the iteration's error and its failed files in red (${RUNBOOK}).`,
      },
    },
    ...staleRules(cfg),
    {
      alert: 'HaSyncLiveLag',
      expr: `ha_sync_applier_event_lag_seconds > ${m.lagAlertSeconds}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `ha-sync {{ $labels.pair }}: the oldest live event has waited {{ $value | humanizeDuration }} (over ${m.lagAlertSeconds} s)`,
        description: `The applier is behind or stuck: check its pending events, failures and logs (${RUNBOOK}).`,
      },
    },
    {
      alert: 'HaSyncWatcherUnhealthy',
      expr: 'ha_sync_watcher_root_healthy == 0',
      for: '2m',
      labels: { severity: 'critical' },
      annotations: {
        summary:
          'ha-sync {{ $labels.pair }}: the {{ $labels.side }} root is unmounted, hung or without its marker',
        description: `Live sync of this side has stopped; the CronJobs refuse the root too. Check the NFS mount and the marker (${RUNBOOK}).`,
      },
    },
    {
      alert: 'HaSyncConflicts',
      expr: 'ha_sync_conflicts_24h > 0',
      labels: { severity: 'info' },
      annotations: {
        summary: 'ha-sync {{ $labels.pair }}: {{ $value }} conflict copies in the last 24 hours',
        description: `Both sides changed a file; the losing version was kept beside it as a .sync-conflict- copy. Resolve it by hand (${RUNBOOK}).`,
      },
    },
    {
      alert: 'HaSyncVersionsAreaLarge',
      expr: `ha_sync_versions_bytes / 2^30 > ${m.versionsAlertGiB}`,
      for: '30m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `ha-sync {{ $labels.pair }} {{ $labels.side }}: the kept-versions area holds {{ $value | humanize }} GiB (over ${m.versionsAlertGiB})`,
        description: `Old versions take space on the server: shorten their retention or prune .ha-sync/versions/ (${RUNBOOK}).`,
      },
    },
    {
      alert: 'HaSyncComponentDown',
      // Watchers and appliers only: they run all the time. A reconcile run's heartbeats stop when
      // it ends, and one that dies mid-run already shows as a failed iteration, then a stale pair.
      expr: 'ha_sync_component_up{component=~"watcher|applier"} == 0',
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'ha-sync {{ $labels.pair }}: the {{ $labels.component }}{{ if $labels.side }} {{ $labels.side }}{{ end }} sent no heartbeat for three periods',
        description: `Check the pod (kubectl get pods -l app.kubernetes.io/component={{ $labels.component }}) and its logs (${RUNBOOK}).`,
      },
    },
    {
      alert: 'HaSyncAuditStoreDown',
      expr: 'ha_sync_store_up == 0 or absent(ha_sync_store_up)',
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'ha-sync: the dashboard cannot read the audit store (or is not scraped)',
        description: `Every other dashboard series is absent meanwhile, so the sync alerts are blind (${RUNBOOK}).`,
      },
    },
  ];
}

function prometheusRule(cfg) {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: monitoringMeta(cfg, 'ha-sync'),
    spec: { groups: [{ name: 'ha-sync', rules: alertRules(cfg) }] },
  };
}

/** The Grafana dashboard for Grafana's sidecar, which loads ConfigMaps labelled grafana_dashboard. */
function grafanaDashboard(cfg) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: monitoringMeta(cfg, 'ha-sync-grafana-dashboard', { grafana_dashboard: '1' }),
    data: { [GRAFANA_DASHBOARD_KEY]: readFileSync(GRAFANA_DASHBOARD_FILE, 'utf8') },
  };
}

/**
 * File name -> objects, empty unless `monitoring.enabled`. The scrape annotations, the `metrics`
 * ports and the NetworkPolicy to them are rendered either way (objects.mjs, network.mjs).
 * @returns {[string, object[]][]}
 */
export function monitoringFiles(cfg) {
  if (!cfg.monitoring.enabled) return [];
  return [
    ['podmonitor.yaml', [podMonitor(cfg)]],
    ['servicemonitor-ui.yaml', [serviceMonitor(cfg)]],
    ['prometheusrule.yaml', [prometheusRule(cfg)]],
    ['configmap-grafana-dashboard.yaml', [grafanaDashboard(cfg)]],
  ];
}
