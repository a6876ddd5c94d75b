// The `promtool test rules` file for test/monitoring.test.ts: one test group per alert, with input
// series that make it fire and series beside them that must leave it quiet, evaluated once before
// its `for:` has passed (nothing) and once after (exactly the expected alerts, with their labels
// and rendered annotations).
//
// The rules come from the list monitoring.test.ts renders: media live and one-way, photos live and
// two-way, the other pairs in dry-run, HP's CronJob hourly (so media's hp-to-dell is stale after
// 2 h, its dell-to-hp and both of photos' after 30 min), lagAlertSeconds 60, versionsAlertGiB 100.

type Labels = Record<string, string>;
interface Series {
  series: string;
  values: string;
}
interface Expected {
  labels: Labels;
  summary: string;
}
interface Case {
  name: string;
  series: Series[];
  /** Evaluation time -> the alerts firing then. */
  checks: { at: string; alert: string; firing: Expected[] }[];
}

const GiB = 2 ** 30;
/** A value that stays +Inf (a pair without any real success); promtool has no `Infx30`. */
const INF30 = Array.from({ length: 31 }, () => 'Inf').join(' ');
const STORE = 'ha-sync: the dashboard cannot read the audit store (or is not scraped)';
const s = (metric: string, labels: Labels, values: string): Series => ({
  series: `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`,
  values,
});

const CASES: Case[] = [
  {
    name: 'HaSyncIterationFailed: a real sync failed for 5 minutes; not a dry run, not one that recovered',
    series: [
      s(
        'ha_sync_last_iteration_status',
        { pair: 'media', direction: 'dell-to-hp', dry_run: '0', status: 'failed' },
        '1x20',
      ),
      s(
        'ha_sync_last_iteration_status',
        { pair: 'media', direction: 'dell-to-hp', dry_run: '0', status: 'success' },
        '0x20',
      ),
      s(
        'ha_sync_last_iteration_status',
        { pair: 'media', direction: 'hp-to-dell', dry_run: '1', status: 'failed' },
        '1x20',
      ),
      s(
        'ha_sync_last_iteration_status',
        { pair: 'photos', direction: 'dell-to-hp', dry_run: '0', status: 'partial_failure' },
        '1x3 0x16',
      ),
    ],
    checks: [
      { at: '4m', alert: 'HaSyncIterationFailed', firing: [] },
      {
        at: '10m',
        alert: 'HaSyncIterationFailed',
        firing: [
          {
            labels: {
              pair: 'media',
              direction: 'dell-to-hp',
              dry_run: '0',
              status: 'failed',
              severity: 'warning',
            },
            summary: 'ha-sync media dell-to-hp: the last real sync ended failed',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncPairStale: each direction against twice its own schedule; never a pair in dry-run',
    series: [
      // Over 1800 s from minute 6: fires at 16.
      s('ha_sync_seconds_since_last_success', { pair: 'media', direction: 'dell-to-hp' }, '1500+60x30'),
      // Over 1800 but under its 7200 (HP's hourly job).
      s('ha_sync_seconds_since_last_success', { pair: 'media', direction: 'hp-to-dell' }, '3600+60x30'),
      // Never a real success (+Inf): fires after `for`.
      s('ha_sync_seconds_since_last_success', { pair: 'photos', direction: 'hp-to-dell' }, INF30),
      s('ha_sync_seconds_since_last_success', { pair: 'photos', direction: 'dell-to-hp' }, '60x30'),
      // In dry-run: no rule, whatever the dashboard says.
      s('ha_sync_seconds_since_last_success', { pair: 'owncloud', direction: 'dell-to-hp' }, INF30),
    ],
    checks: [
      { at: '9m', alert: 'HaSyncPairStale', firing: [] },
      {
        at: '20m',
        alert: 'HaSyncPairStale',
        firing: [
          {
            labels: { pair: 'media', direction: 'dell-to-hp', severity: 'warning' },
            summary: 'ha-sync media dell-to-hp: no successful real sync for 45m 0s',
          },
          {
            labels: { pair: 'photos', direction: 'hp-to-dell', severity: 'warning' },
            summary: 'ha-sync photos hp-to-dell: no successful real sync for +Inf',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncLiveLag: the oldest event waited over 60 s for 5 minutes; not a burst, not exactly 60',
    series: [
      s('ha_sync_applier_event_lag_seconds', { pair: 'media' }, '0 30 90x20'),
      s('ha_sync_applier_event_lag_seconds', { pair: 'photos' }, '90x3 0x20'),
      s('ha_sync_applier_event_lag_seconds', { pair: 'games' }, '60x20'),
    ],
    checks: [
      { at: '6m', alert: 'HaSyncLiveLag', firing: [] },
      {
        at: '10m',
        alert: 'HaSyncLiveLag',
        firing: [
          {
            labels: { pair: 'media', severity: 'warning' },
            summary: 'ha-sync media: the oldest live event has waited 1m 30s (over 60 s)',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncWatcherUnhealthy: a root unhealthy for 2 minutes; not a flapping one',
    series: [
      s('ha_sync_watcher_root_healthy', { pair: 'media', side: 'dell' }, '1 1 0x10'),
      s('ha_sync_watcher_root_healthy', { pair: 'media', side: 'hp' }, '1x12'),
      s('ha_sync_watcher_root_healthy', { pair: 'photos', side: 'dell' }, '0 1 0 1 0 1 0 1 0 1 0 1'),
    ],
    checks: [
      { at: '3m', alert: 'HaSyncWatcherUnhealthy', firing: [] },
      {
        at: '6m',
        alert: 'HaSyncWatcherUnhealthy',
        firing: [
          {
            labels: { pair: 'media', side: 'dell', severity: 'critical' },
            summary: 'ha-sync media: the dell root is unmounted, hung or without its marker',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncConflicts: conflict copies in the last 24 hours, at once',
    series: [
      s('ha_sync_conflicts_24h', { pair: 'media' }, '0 0 2x10'),
      s('ha_sync_conflicts_24h', { pair: 'photos' }, '0x12'),
    ],
    checks: [
      { at: '1m', alert: 'HaSyncConflicts', firing: [] },
      {
        at: '5m',
        alert: 'HaSyncConflicts',
        firing: [
          {
            labels: { pair: 'media', severity: 'info' },
            summary: 'ha-sync media: 2 conflict copies in the last 24 hours',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncVersionsAreaLarge: over versionsAlertGiB (100) for 30 minutes; not at exactly 100',
    series: [
      s('ha_sync_versions_bytes', { pair: 'media', side: 'dell' }, `${150 * GiB}x40`),
      s('ha_sync_versions_bytes', { pair: 'media', side: 'hp' }, `${50 * GiB}x40`),
      s('ha_sync_versions_bytes', { pair: 'photos', side: 'dell' }, `${100 * GiB}x40`),
    ],
    checks: [
      { at: '20m', alert: 'HaSyncVersionsAreaLarge', firing: [] },
      {
        at: '40m',
        alert: 'HaSyncVersionsAreaLarge',
        firing: [
          {
            labels: { pair: 'media', side: 'dell', severity: 'warning' },
            summary: 'ha-sync media dell: the kept-versions area holds 150 GiB (over 100)',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncComponentDown: a watcher or applier without heartbeat for 5 minutes; not one that came back, not a finished reconcile run',
    series: [
      s('ha_sync_component_up', { pair: 'media', component: 'watcher', side: 'dell' }, '0x10'),
      s('ha_sync_component_up', { pair: 'media', component: 'applier' }, '1x10'),
      s('ha_sync_component_up', { pair: 'photos', component: 'applier' }, '0x10'),
      s('ha_sync_component_up', { pair: 'photos', component: 'reconcile' }, '0x10'),
      s('ha_sync_component_up', { pair: 'photos', component: 'watcher', side: 'hp' }, '0 0 1x8'),
    ],
    checks: [
      { at: '4m', alert: 'HaSyncComponentDown', firing: [] },
      {
        at: '8m',
        alert: 'HaSyncComponentDown',
        firing: [
          {
            labels: { pair: 'media', component: 'watcher', side: 'dell', severity: 'warning' },
            summary: 'ha-sync media: the watcher dell sent no heartbeat for three periods',
          },
          {
            labels: { pair: 'photos', component: 'applier', severity: 'warning' },
            summary: 'ha-sync photos: the applier sent no heartbeat for three periods',
          },
        ],
      },
    ],
  },
  {
    name: 'HaSyncAuditStoreDown: the store did not answer for 10 minutes',
    series: [s('ha_sync_store_up', {}, '0x15')],
    checks: [
      { at: '5m', alert: 'HaSyncAuditStoreDown', firing: [] },
      {
        at: '12m',
        alert: 'HaSyncAuditStoreDown',
        firing: [{ labels: { severity: 'warning' }, summary: STORE }],
      },
    ],
  },
  {
    name: 'HaSyncAuditStoreDown: the dashboard is not scraped at all',
    series: [s('ha_sync_conflicts_24h', { pair: 'media' }, '0x15')],
    checks: [
      {
        at: '12m',
        alert: 'HaSyncAuditStoreDown',
        firing: [{ labels: { severity: 'warning' }, summary: STORE }],
      },
    ],
  },
  {
    name: 'HaSyncAuditStoreDown: quiet while the store answers',
    series: [s('ha_sync_store_up', {}, '1x15')],
    checks: [{ at: '12m', alert: 'HaSyncAuditStoreDown', firing: [] }],
  },
];

/** Names of the alerts the cases cover, for the test's "every alert is tested" check. */
export const TESTED_ALERTS = [...new Set(CASES.flatMap((c) => c.checks.map((k) => k.alert)))];

/**
 * The promtool unit-test document. Each expected alert's description is the rule's own, with
 * `{{ $labels.x }}` filled in (the templates in summaries are spelled out above instead, so the
 * test checks what they render to).
 */
export function promtoolTests(
  ruleFile: string,
  groups: { rules: { alert: string; annotations: Labels }[] }[],
) {
  const descriptionOf = (alert: string, labels: Labels): string => {
    const rule = groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
    if (!rule) throw new Error(`no rule ${alert}`);
    return (rule.annotations.description ?? '').replace(
      /\{\{ \$labels\.(\w+) \}\}/g,
      (_, k: string) => labels[k] ?? '',
    );
  };
  return {
    rule_files: [ruleFile],
    evaluation_interval: '1m',
    tests: CASES.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: c.series,
      alert_rule_test: c.checks.map((k) => ({
        eval_time: k.at,
        alertname: k.alert,
        exp_alerts: k.firing.map((e) => ({
          exp_labels: e.labels,
          exp_annotations: { summary: e.summary, description: descriptionOf(k.alert, e.labels) },
        })),
      })),
    })),
  };
}
