// The monitoring objects (k8s/pairs.yaml `monitoring:`): off by default, so a cluster without the
// Prometheus Operator gets none of its kinds; on, a PodMonitor for the watchers and appliers, a
// ServiceMonitor for the dashboard, a PrometheusRule and the Grafana dashboard ConfigMap. Every
// alert runs through `promtool test rules` (Debian's `prometheus` package), firing and quiet, and
// every metric an alert or a panel names is one the processes export (the contract below).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1';
import { GENERATOR, K8S_DIR, ROOT, type Obj, allContainers, parseDocs, podTemplate } from './k8s.helpers.js';
import { TESTED_ALERTS, promtoolTests } from './monitoring.cases.js';

// Manifests are untyped YAML: the checks walk them as `any` on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return */

/** Every series the watcher, the applier and the dashboard export (the issue 17 contract). */
const CONTRACT = new Set([
  'ha_sync_watcher_root_healthy',
  'ha_sync_watcher_pending_events',
  'ha_sync_watcher_files_indexed',
  'ha_sync_watcher_sweep_seconds',
  'ha_sync_watcher_events_published_total',
  'ha_sync_applier_lock_held',
  'ha_sync_applier_pending_events',
  'ha_sync_applier_event_lag_seconds',
  'ha_sync_applier_operations_total',
  'ha_sync_applier_conflicts_total',
  'ha_sync_applier_failures_total',
  'ha_sync_store_up',
  'ha_sync_iterations_24h',
  'ha_sync_last_iteration_status',
  'ha_sync_files_24h',
  'ha_sync_bytes_24h',
  'ha_sync_seconds_since_last_success',
  'ha_sync_stale_after_seconds',
  'ha_sync_stale',
  'ha_sync_versions_bytes',
  'ha_sync_conflicts_24h',
  'ha_sync_component_up',
]);
const metricsIn = (expr: string): string[] => [...expr.matchAll(/\bha_sync_[a-z0-9_]+/g)].map((m) => m[0]);
const ALERTS = [
  'HaSyncIterationFailed',
  'HaSyncPairStale',
  'HaSyncLiveLag',
  'HaSyncWatcherUnhealthy',
  'HaSyncConflicts',
  'HaSyncVersionsAreaLarge',
  'HaSyncComponentDown',
  'HaSyncAuditStoreDown',
];
const MONITORING_FILES = [
  'podmonitor.yaml',
  'servicemonitor-ui.yaml',
  'prometheusrule.yaml',
  'configmap-grafana-dashboard.yaml',
];
const DASHBOARD_FILE = join(K8S_DIR, 'monitoring', 'grafana-dashboard.json');
const SEED_LIST = readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8');

/**
 * The committed list with monitoring on, media live (one-way), photos live and two-way, the others
 * in dry-run, and HP's job hourly: media's hp-to-dell direction is then stale after 2 h, its
 * dell-to-hp after 30 min, and both of photos' (on the primary's schedule) after 30 min.
 */
function monitoredList(): string {
  const out = SEED_LIST.replace(
    /^monitoring: .*$/m,
    'monitoring: { enabled: true, labels: { release: kube-prometheus-stack }, lagAlertSeconds: 60, versionsAlertGiB: 100 }',
  )
    .replace('{ name: media, capacity: 2Ti }', '{ name: media, capacity: 2Ti, dryRun: false }')
    .replace(
      '{ name: photos, capacity: 500Gi }',
      '{ name: photos, capacity: 500Gi, mode: two-way, dryRun: false }',
    )
    .replace("schedule: '7,22,37,52 * * * *'", "schedule: '0 * * * *'");
  expect(out.match(/dryRun: false/g)).toHaveLength(2);
  expect(out).toContain("'0 * * * *'");
  return out;
}

let tmp = '';
let n = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ha-sync-monitoring-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function gen(list: string): { status: number | null; stderr: string; out: string } {
  const file = join(tmp, `pairs-${++n}.yaml`);
  writeFileSync(file, list);
  const out = join(tmp, `out-${n}`);
  const r = spawnSync(process.execPath, [GENERATOR, '--pairs', file, '--out', out], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, out };
}
const docs = (dir: string, f: string): Obj[] => parseDocs(readFileSync(join(dir, f), 'utf8'));
const selects = (sel: any, labels: Record<string, string>): boolean =>
  Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (sel.matchExpressions ?? []).every((e: any) => e.operator === 'In' && e.values.includes(labels[e.key]));

describe('off by default', () => {
  const committed = join(K8S_DIR, 'generated');

  it('the committed list says monitoring.enabled: false; no Operator kind or dashboard is rendered', () => {
    expect(YAML.parse(SEED_LIST).monitoring).toEqual({
      enabled: false,
      labels: {},
      lagAlertSeconds: 60,
      versionsAlertGiB: 200,
    });
    const files = readdirSync(committed);
    for (const f of MONITORING_FILES) expect(files).not.toContain(f);
    const kinds = files.flatMap((f) => docs(committed, f).map((o) => o.kind));
    for (const k of ['PodMonitor', 'ServiceMonitor', 'PrometheusRule']) expect(kinds).not.toContain(k);
  });

  it('watchers and appliers serve /metrics on port `metrics` 9464 anyway, with the scrape annotations', () => {
    const live = readdirSync(committed).filter((f) => /^(watcher|applier)-/.test(f));
    expect(live.length).toBe(8);
    for (const f of live) {
      const d = docs(committed, f)[0]!;
      const c = allContainers(d)[0];
      expect(c.args, f).toContain('--metrics-port=9464');
      expect(c.ports, f).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
      for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe'])
        expect(c[p].httpGet, `${f} ${p}`).toEqual({ path: '/metrics', port: 'metrics' });
      expect(podTemplate(d)!.metadata.annotations, f).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9464',
        'prometheus.io/path': '/metrics',
      });
    }
  });
});

describe('monitoring: { enabled: true }', () => {
  let out = '';
  beforeAll(() => {
    const r = gen(monitoredList());
    expect(r.status, r.stderr).toBe(0);
    out = r.out;
  });
  const rule = (): Obj => docs(out, 'prometheusrule.yaml')[0]!;
  const rules = (): any[] => rule().spec.groups.flatMap((g: any) => g.rules);

  it('renders the four objects, lists them in the kustomization, with the extra labels', () => {
    const k = YAML.parse(readFileSync(join(out, 'kustomization.yaml'), 'utf8'));
    for (const f of MONITORING_FILES) {
      expect(k.resources).toContain(f);
      const [o] = docs(out, f);
      expect(o!.metadata.labels?.release, f).toBe('kube-prometheus-stack');
      expect(o!.metadata.labels?.['app.kubernetes.io/part-of'], f).toBe('ha-sync');
      expect(o!.metadata.namespace, f).toBe('infrastructure');
    }
    // Everything else is exactly what the switch off renders.
    const off = gen(monitoredList().replace('enabled: true', 'enabled: false'));
    expect(off.status, off.stderr).toBe(0);
    const offFiles = readdirSync(off.out).filter((f) => f !== 'kustomization.yaml');
    for (const f of offFiles)
      expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(off.out, f), 'utf8'));
    expect(readdirSync(out).sort()).toEqual([...offFiles, ...MONITORING_FILES, 'kustomization.yaml'].sort());
  });

  it("the PodMonitor selects every watcher's and applier's pods by their port `metrics`, nothing else", () => {
    const pm = docs(out, 'podmonitor.yaml')[0]!;
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    for (const f of readdirSync(out).filter((x) => x.endsWith('.yaml') && x !== 'kustomization.yaml')) {
      for (const o of docs(out, f)) {
        const t = podTemplate(o);
        if (!t) continue;
        const live = /^(watcher|applier)$/.test(t.metadata.labels['app.kubernetes.io/component']);
        expect(selects(pm.spec.selector, t.metadata.labels), o.metadata.name).toBe(live);
        if (live) expect(allContainers(o)[0].ports.map((p: any) => p.name)).toContain('metrics');
      }
    }
  });

  it("the ServiceMonitor selects the dashboard's Service by its port `http`", () => {
    const sm = docs(out, 'servicemonitor-ui.yaml')[0]!;
    const svc = docs(out, 'ui-service.yaml')[0]!;
    expect(selects(sm.spec.selector, svc.metadata.labels!)).toBe(true);
    expect(
      selects(sm.spec.selector, docs(out, 'nats.yaml').find((o) => o.kind === 'Service')!.metadata.labels!),
    ).toBe(false);
    expect(sm.spec.endpoints.map((e: any) => e.port)).toEqual(['http']);
    expect(svc.spec.ports.map((p: any) => p.name)).toContain('http');
  });

  it('the PrometheusRule: every alert, a severity and a summary each, only contract metrics', () => {
    expect([...new Set(rules().map((r) => r.alert))]).toEqual(ALERTS);
    for (const r of rules()) {
      expect(['info', 'warning', 'critical'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      for (const m of metricsIn(r.expr)) expect(CONTRACT.has(m), `${r.alert}: ${m}`).toBe(true);
    }
  });

  it("staleness: each live pair's directions against twice their CronJobs' schedules; no dry-run pair; the dashboard's too", () => {
    const stale = rules().filter((r) => r.alert === 'HaSyncPairStale');
    expect(stale.map((r) => r.expr)).toEqual([
      'ha_sync_seconds_since_last_success{pair="media", direction="dell-to-hp"} > 1800\n' +
        'or\n' +
        'ha_sync_seconds_since_last_success{pair="media", direction="hp-to-dell"} > 7200\n' +
        'or\n' +
        // Two-way: both directions on the primary's schedule.
        'ha_sync_seconds_since_last_success{pair="photos"} > 1800',
    ]);
    // The seed's schedules (both every 15 minutes): 2 x 15 min for each direction, one clause.
    const seedish = gen(monitoredList().replace("schedule: '0 * * * *'", "schedule: '7,22,37,52 * * * *'"));
    expect(seedish.status, seedish.stderr).toBe(0);
    const exprs = docs(seedish.out, 'prometheusrule.yaml')[0]!
      .spec.groups[0].rules.filter((r: any) => r.alert === 'HaSyncPairStale')
      .map((r: any) => r.expr);
    expect(exprs).toEqual(['ha_sync_seconds_since_last_success{pair=~"media|photos"} > 1800']);
    // The dashboard gets the same schedules, per pair (a one-way pair its slower direction's).
    const ui = (dir: string) => allContainers(docs(dir, 'ui-deployment.yaml')[0]!)[0].args as string[];
    expect(ui(out).filter((a) => /^--(schedule-minutes|pair-schedule)=/.test(a))).toEqual([
      '--schedule-minutes=60',
      '--pair-schedule=photos=15',
    ]);
    expect(ui(seedish.out)).toContain('--schedule-minutes=15');
    // Every pair in dry-run (the committed list): no staleness rule at all.
    const dry = gen(SEED_LIST.replace('enabled: false', 'enabled: true'));
    expect(dry.status, dry.stderr).toBe(0);
    const names = docs(dry.out, 'prometheusrule.yaml')[0]!.spec.groups[0].rules.map((r: any) => r.alert);
    expect(names).toEqual(ALERTS.filter((a) => a !== 'HaSyncPairStale'));
  });

  it('the Grafana dashboard ConfigMap holds k8s/monitoring/grafana-dashboard.json, for the sidecar', () => {
    const cm = docs(out, 'configmap-grafana-dashboard.yaml')[0]!;
    new ConfigMap(cm).validate();
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.data['ha-sync.json']).toBe(readFileSync(DASHBOARD_FILE, 'utf8'));
  });
});

describe('the Grafana dashboard', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
  const panels = (dash.panels as any[]).filter((p) => p.type !== 'row');
  const exprs = panels.flatMap((p) => (p.targets as any[]).map((t) => t.expr as string));

  it('a current schema, the data source and the pairs as template variables', () => {
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dash.uid).toBe('ha-sync');
    const vars = dash.templating.list as any[];
    expect(vars.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    expect(vars.find((v) => v.name === 'pair')).toMatchObject({
      type: 'query',
      includeAll: true,
      multi: true,
    });
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(p.datasource);
    }
    expect(new Set(dash.panels.map((p: any) => p.id)).size).toBe(dash.panels.length);
    for (const p of dash.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('panels for every part of the contract the issue names, and only contract metrics', () => {
    const used = new Set(exprs.flatMap(metricsIn));
    for (const m of used) expect(CONTRACT.has(m), m).toBe(true);
    for (const m of [
      'ha_sync_component_up',
      'ha_sync_applier_event_lag_seconds',
      'ha_sync_watcher_pending_events',
      'ha_sync_applier_pending_events',
      'ha_sync_applier_operations_total',
      'ha_sync_conflicts_24h',
      'ha_sync_watcher_root_healthy',
      'ha_sync_watcher_sweep_seconds',
      'ha_sync_versions_bytes',
      'ha_sync_last_iteration_status',
      'ha_sync_seconds_since_last_success',
    ])
      expect(used.has(m), m).toBe(true);
    // Every query is filtered by the pair variable.
    for (const e of exprs) expect(e).toContain('pair=~"$pair"');
  });
});

describe('pairs.yaml `monitoring:` is validated', () => {
  it.each([
    ['monitoring: { enabled: yes }', /monitoring\.enabled: expected true or false/],
    ['monitoring: { enabled: true, lagAlertSecs: 60 }', /monitoring: unknown key 'lagAlertSecs'/],
    [
      'monitoring: { enabled: true, lagAlertSeconds: 0 }',
      /monitoring\.lagAlertSeconds: expected an integer >= 1/,
    ],
    [
      'monitoring: { enabled: true, versionsAlertGiB: -1 }',
      /monitoring\.versionsAlertGiB: expected a number > 0/,
    ],
    ['monitoring: { enabled: true, labels: { release: 1 } }', /monitoring\.labels: expected a map/],
  ])('%s', (line, message) => {
    const r = gen(SEED_LIST.replace(/^monitoring: .*$/m, line));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('with monitoring on, a schedule without one interval (a day field set) is refused; off, it is fine', () => {
    const weekly = SEED_LIST.replace("schedule: '*/15 * * * *'", "schedule: '0 3 * * 1'");
    const on = gen(weekly.replace('enabled: false', 'enabled: true'));
    expect(on.status).toBe(2);
    expect(on.stderr).toMatch(/servers\[0\]\.schedule: monitoring needs its interval .*'0 3 \* \* 1'/);
    const off = gen(weekly);
    expect(off.status, off.stderr).toBe(0);
    // The dashboard then keeps its own default schedule.
    const args = allContainers(docs(off.out, 'ui-deployment.yaml')[0]!)[0].args as string[];
    expect(args.filter((a) => a.startsWith('--schedule-minutes') || a.startsWith('--pair-schedule'))).toEqual(
      [],
    );
  });

  it("a cron schedule's longest gap, in minutes", async () => {
    const url = pathToFileURL(join(ROOT, 'scripts', 'k8s', 'schedule.mjs')).href;
    const { cronLongestGapMinutes: gap } = (await import(url)) as {
      cronLongestGapMinutes: (s: string) => number | null;
    };
    expect(gap('*/15 * * * *')).toBe(15);
    expect(gap('7,22,37,52 * * * *')).toBe(15);
    expect(gap('0 * * * *')).toBe(60);
    expect(gap('0,10 * * * *')).toBe(50);
    expect(gap('30 3 * * *')).toBe(24 * 60);
    expect(gap('0 8-18/2 * * *')).toBe(14 * 60);
    expect(gap('5/20 * * * *')).toBe(20);
    expect(gap('* * * * *')).toBe(1);
    for (const bad of ['0 3 * * 1', '0 3 1 * *', '@hourly', '61 * * * *', '*/0 * * * *', 'a * * * *'])
      expect(gap(bad), bad).toBeNull();
  });
});

const PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const SKIP_REASON =
  'promtool is not on the PATH (apt-get install prometheus): the alert expressions are not run';

describe.skipIf(!PROMTOOL)(PROMTOOL ? 'promtool' : `promtool: skipped, ${SKIP_REASON}`, () => {
  let dir = '';
  beforeAll(() => {
    const r = gen(monitoredList());
    expect(r.status, r.stderr).toBe(0);
    dir = r.out;
    const groups = docs(dir, 'prometheusrule.yaml')[0]!.spec.groups;
    writeFileSync(join(dir, 'rules.yaml'), YAML.stringify({ groups }));
    writeFileSync(join(dir, 'rules.test.yaml'), YAML.stringify(promtoolTests('rules.yaml', groups)));
  });
  const run = (...args: string[]) => spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });

  it('check rules: the rules and their annotation templates parse', () => {
    const r = run('check', 'rules', 'rules.yaml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('test rules: each alert fires on its input series, and stays quiet on the others', () => {
    expect(TESTED_ALERTS).toEqual(ALERTS);
    const r = run('test', 'rules', 'rules.test.yaml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
  });
});
