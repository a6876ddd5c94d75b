// Reads k8s/pairs.yaml, the one list of pairs, into a frozen config. Every problem is one line
// naming the entry; all problems are reported at once, and nothing is rendered while any remain.
import { posix } from 'node:path';
import YAML from 'yaml';
import { cronLongestGapMinutes } from './schedule.mjs';

/** Same rule as src/config/flags.ts PAIR_RE: a Kubernetes name part, a NATS token, a file name. */
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,53}[a-z0-9])?$/;
const QUANTITY_RE = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const CRON_RE = /^\S+( \S+){4}$/;
const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const NGINX = 'nginx.ingress.kubernetes.io';
/** Annotations that restrict who reaches the Ingress (nginx allow-list, basic auth, external auth). */
const ACCESS_ANNOTATIONS = [`${NGINX}/whitelist-source-range`, `${NGINX}/auth-type`, `${NGINX}/auth-url`];
/** What a writing pod may add back, on request (pairs[].capabilities). */
const WRITE_CAPABILITIES = ['CHOWN', 'FOWNER'];
/**
 * How a pair's CronJobs reconcile. `one-way` (the seed's default): two jobs, one per direction.
 * `two-way`: one job that walks both trees against the pair's baseline.
 */
const MODES = ['one-way', 'two-way'];

/** The seed's CronJob per direction, e.g. ha-sync-media-dell-to-hp. */
export const oneWayCronJobName = (pair, from, to) => `ha-sync-${pair}-${from}-to-${to}`;
/** The one CronJob of a `mode: two-way` pair, e.g. ha-sync-media-two-way. */
export const twoWayCronJobName = (pair) => `ha-sync-${pair}-two-way`;

/**
 * Parses pairs.yaml text into a frozen config. Throws Error with one line per problem.
 * @param {string} text
 */
export function parsePairsConfig(text) {
  const raw = YAML.parse(text) ?? {};
  const problems = [];
  const fail = (m) => problems.push(m);

  const TOP = [
    'pairs',
    'servers',
    'logs',
    'nfsMountOptions',
    'namespace',
    'runAs',
    'lockWaitSeconds',
    'prune',
    'ui',
    'nats',
    'network',
    'monitoring',
  ];
  for (const k of Object.keys(raw))
    if (!TOP.includes(k)) fail(`unknown key '${k}' (known: ${TOP.join(', ')})`);

  const servers = Array.isArray(raw.servers) ? raw.servers : [];
  if (servers.length !== 2) fail(`servers: expected exactly two servers, got ${servers.length}`);
  for (const [i, s] of servers.entries()) {
    if (!NAME_RE.test(String(s?.name)))
      fail(`servers[${i}].name: expected a lowercase name, got '${s?.name}'`);
    if (typeof s?.address !== 'string' || s.address === '') fail(`servers[${i}].address: required`);
    if (!CRON_RE.test(String(s?.schedule)))
      fail(`servers[${i}].schedule: expected 5 cron fields, got '${s?.schedule}'`);
  }
  const serverNames = servers.map((s) => s?.name);
  if (new Set(serverNames).size !== serverNames.length) fail('servers: names must differ');

  const pairs = Array.isArray(raw.pairs) ? raw.pairs : [];
  if (pairs.length === 0) fail('pairs: expected at least one pair');
  const seen = new Set();
  const outPairs = [];
  for (const [i, p] of pairs.entries()) {
    const where = `pairs[${i}] (${p?.name ?? '?'})`;
    if (!NAME_RE.test(String(p?.name))) {
      fail(`${where}.name: expected lowercase letters, digits and '-' (at most 55), got '${p?.name}'`);
      continue;
    }
    if (seen.has(p.name)) fail(`${where}: duplicate pair name`);
    seen.add(p.name);
    if (!QUANTITY_RE.test(String(p.capacity)))
      fail(`${where}.capacity: expected a quantity like 500Gi, got '${p.capacity}'`);
    const path = p.path ?? `/data/${p.name}`;
    if (typeof path !== 'string' || !posix.isAbsolute(path)) fail(`${where}.path: expected an absolute path`);
    for (const k of ['dryRun', 'deleteMissing']) {
      if (p[k] !== undefined && typeof p[k] !== 'boolean') fail(`${where}.${k}: expected true or false`);
    }
    const mode = p.mode ?? 'one-way';
    if (!MODES.includes(mode)) fail(`${where}.mode: expected ${MODES.join(' or ')}, got '${p.mode}'`);
    const known = new Set([
      'name',
      'capacity',
      'path',
      'mode',
      'dryRun',
      'deleteMissing',
      'runAs',
      'capabilities',
    ]);
    for (const k of Object.keys(p)) if (!known.has(k)) fail(`${where}: unknown key '${k}'`);
    const pairRunAs = p.runAs === undefined ? undefined : parseRunAs(`${where}.runAs`, p.runAs, fail);
    const caps = p.capabilities ?? [];
    if (!Array.isArray(caps) || caps.some((c) => !WRITE_CAPABILITIES.includes(c))) {
      fail(`${where}.capabilities: expected a list of ${WRITE_CAPABILITIES.join(' and ')}`);
    }
    outPairs.push(
      Object.freeze({
        name: p.name,
        capacity: String(p.capacity),
        path,
        mode,
        dryRun: p.dryRun ?? true,
        deleteMissing: p.deleteMissing ?? false,
        ...(pairRunAs ? { runAs: pairRunAs } : {}),
        capabilities: Object.freeze(Array.isArray(caps) ? [...new Set(caps)] : []),
      }),
    );
  }

  // Kubernetes caps CronJob names at 52 characters (the controller appends a suffix per Job).
  // Only the names a pair's mode renders are checked.
  for (const p of outPairs) {
    const crons =
      p.mode === 'two-way'
        ? [twoWayCronJobName(p.name)]
        : [
            oneWayCronJobName(p.name, serverNames[0], serverNames[1]),
            oneWayCronJobName(p.name, serverNames[1], serverNames[0]),
          ];
    for (const cron of crons) {
      if (cron.length > 52)
        fail(
          `pairs (${p.name}): the CronJob name '${cron}' is longer than 52 characters; shorten the pair name`,
        );
    }
  }

  const logs = raw.logs ?? {};
  if (!serverNames.includes(logs.server)) fail(`logs.server: expected one of ${serverNames.join(', ')}`);
  if (typeof logs.path !== 'string' || !posix.isAbsolute(logs.path))
    fail('logs.path: expected an absolute path');
  if (!QUANTITY_RE.test(String(logs.capacity)))
    fail(`logs.capacity: expected a quantity, got '${logs.capacity}'`);
  // The logs volume must not sit inside a synced tree: that pair would copy (and with
  // --delete-missing, delete) opslogs, and the live watcher would publish every opslog append.
  for (const p of outPairs) {
    if (typeof logs.path === 'string' && isInsidePosix(p.path, logs.path)) {
      fail(`logs.path '${logs.path}' lies inside pair '${p.name}' (${p.path}); put it outside every pair`);
    }
  }

  const mountOptions = raw.nfsMountOptions ?? [];
  if (!Array.isArray(mountOptions) || mountOptions.some((o) => typeof o !== 'string')) {
    fail('nfsMountOptions: expected a list of strings');
  }
  const runAs = parseRunAs('runAs', raw.runAs ?? {}, fail);
  const namespace = raw.namespace ?? 'infrastructure';
  if (!NAME_RE.test(namespace)) fail(`namespace: invalid '${namespace}'`);
  const lockWaitSeconds = raw.lockWaitSeconds ?? 300;
  if (!Number.isInteger(lockWaitSeconds) || lockWaitSeconds < 0)
    fail('lockWaitSeconds: expected an integer >= 0');
  const prune = raw.prune ?? {};
  if (!CRON_RE.test(String(prune.schedule))) fail(`prune.schedule: expected 5 cron fields`);
  if (!Number.isInteger(prune.olderThanDays) || prune.olderThanDays < 1)
    fail('prune.olderThanDays: expected an integer >= 1');
  const ui = raw.ui ?? {};
  if (typeof ui.host !== 'string' || ui.host === '') fail('ui.host: required');
  const ingressAnnotations = ui.annotations ?? {};
  if (
    typeof ingressAnnotations !== 'object' ||
    Object.values(ingressAnnotations).some((v) => typeof v !== 'string')
  ) {
    fail("ui.annotations: expected a map of strings (quote values like 'true')");
  }
  const access = parseUiAccess(ui, ingressAnnotations, fail);
  const network = raw.network ?? {};
  for (const k of ['ingressNamespace', 'prometheusNamespace']) {
    if (network[k] !== undefined && !NAME_RE.test(String(network[k])))
      fail(`network.${k}: expected a namespace name, got '${network[k]}'`);
  }

  const nats = raw.nats ?? {};
  if (nats.external === undefined && typeof nats.image !== 'string')
    fail('nats.image: required unless nats.external');
  if (nats.external !== undefined && !/^(nats|tls):\/\/\S+$/.test(String(nats.external))) {
    fail(`nats.external: expected nats://host:port, got '${nats.external}'`);
  }
  if (nats.digest !== undefined && !DIGEST_RE.test(String(nats.digest)))
    fail(`nats.digest: expected sha256:<64 hex digits>, got '${nats.digest}'`);
  if (typeof nats.image === 'string' && nats.image.includes('@'))
    fail('nats.image: give the digest as nats.digest, not in the image');

  const monitoring = parseMonitoring(raw.monitoring, servers, fail);

  if (problems.length) throw new Error(`pairs.yaml:\n  ${problems.join('\n  ')}`);
  const [primary, secondary] = servers;
  return Object.freeze({
    pairs: Object.freeze(outPairs),
    servers: Object.freeze(
      servers.map((s) => Object.freeze({ name: s.name, address: s.address, schedule: s.schedule })),
    ),
    primary: primary.name,
    secondary: secondary.name,
    logs: Object.freeze({ server: logs.server, path: logs.path, capacity: String(logs.capacity) }),
    mountOptions: Object.freeze([...mountOptions]),
    runAs,
    namespace,
    lockWaitSeconds,
    prune: Object.freeze({ schedule: prune.schedule, olderThanDays: prune.olderThanDays }),
    ui: Object.freeze({
      host: ui.host,
      clusterIssuer: ui.clusterIssuer ?? 'letsencrypt-prod',
      ingressClassName: ui.ingressClassName,
      annotations: Object.freeze({ ...ingressAnnotations }),
      access,
    }),
    network: Object.freeze({
      ingressNamespace: network.ingressNamespace ?? 'ingress-nginx',
      prometheusNamespace: network.prometheusNamespace ?? 'monitoring',
    }),
    monitoring,

    nats: Object.freeze({
      external: nats.external,
      image: nats.image,
      digest: nats.digest,
      storage: String(nats.storage ?? '5Gi'),
      storageClassName: nats.storageClassName || undefined,
    }),
  });
}

/** Defaults of the `monitoring:` block (k8s/pairs.yaml documents each key). */
export const MONITORING_DEFAULTS = Object.freeze({
  enabled: false,
  labels: Object.freeze({}),
  lagAlertSeconds: 60,
  versionsAlertGiB: 200,
});
const LABEL_KEY_RE =
  /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/**
 * The `monitoring:` block: off by default (a cluster without the Prometheus Operator has no
 * PodMonitor, ServiceMonitor or PrometheusRule kinds, and `kubectl apply` would refuse them). When
 * on, every server's schedule must have a known longest gap: the staleness alert is twice it.
 */
function parseMonitoring(v, servers, fail) {
  const m = v ?? {};
  if (typeof m !== 'object' || Array.isArray(m)) {
    fail('monitoring: expected a map such as { enabled: true }');
    return MONITORING_DEFAULTS;
  }
  const known = Object.keys(MONITORING_DEFAULTS);
  for (const k of Object.keys(m))
    if (!known.includes(k)) fail(`monitoring: unknown key '${k}' (known: ${known.join(', ')})`);
  const out = { ...MONITORING_DEFAULTS, ...m };
  if (typeof out.enabled !== 'boolean') fail('monitoring.enabled: expected true or false');
  const labels = out.labels ?? {};
  if (
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    Object.entries(labels).some(
      ([k, x]) => !LABEL_KEY_RE.test(k) || typeof x !== 'string' || !LABEL_VALUE_RE.test(x),
    )
  ) {
    fail(
      'monitoring.labels: expected a map of label names to strings, e.g. { release: kube-prometheus-stack }',
    );
  }
  if (!Number.isInteger(out.lagAlertSeconds) || out.lagAlertSeconds < 1)
    fail('monitoring.lagAlertSeconds: expected an integer >= 1');
  if (typeof out.versionsAlertGiB !== 'number' || !(out.versionsAlertGiB > 0))
    fail('monitoring.versionsAlertGiB: expected a number > 0');
  if (out.enabled === true) {
    for (const [i, s] of servers.entries()) {
      if (cronLongestGapMinutes(s?.schedule) === null)
        fail(
          `servers[${i}].schedule: monitoring needs its interval for the staleness alert; only the minute and hour fields may vary, got '${s?.schedule}'`,
        );
    }
  }
  return Object.freeze({ ...out, labels: Object.freeze({ ...labels }) });
}

function parseRunAs(where, v, fail) {
  const o = v ?? {};
  for (const k of ['user', 'group']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) fail(`${where}.${k}: expected a non-zero uid/gid`);
  }
  return Object.freeze({ user: o.user, group: o.group });
}

/**
 * The dashboard's Ingress must say who may reach it: `ui.access` (allowList of CIDRs, a basic-auth
 * Secret, or an oauth2-proxy URL), or an equivalent annotation of its own. Returns the annotations
 * the access rule adds. The one line names the choices.
 */
function parseUiAccess(ui, annotations, fail) {
  const a = ui.access ?? {};
  const known = ['allowList', 'basicAuthSecret', 'oauth2Proxy'];
  for (const k of Object.keys(a)) if (!known.includes(k)) fail(`ui.access: unknown key '${k}'`);
  const out = {};
  if (a.allowList !== undefined) {
    if (!Array.isArray(a.allowList) || a.allowList.length === 0 || a.allowList.some((c) => !CIDR_RE.test(c)))
      fail(`ui.access.allowList: expected a list of CIDRs such as 192.168.2.0/24`);
    else out[`${NGINX}/whitelist-source-range`] = a.allowList.join(',');
  }
  if (a.basicAuthSecret !== undefined) {
    if (!NAME_RE.test(String(a.basicAuthSecret))) fail('ui.access.basicAuthSecret: expected a Secret name');
    out[`${NGINX}/auth-type`] = 'basic';
    out[`${NGINX}/auth-secret`] = String(a.basicAuthSecret);
    out[`${NGINX}/auth-realm`] = 'ha-sync';
  }
  if (a.oauth2Proxy !== undefined) {
    if (!/^https?:\/\/\S+$/.test(String(a.oauth2Proxy))) fail('ui.access.oauth2Proxy: expected a URL');
    const base = String(a.oauth2Proxy).replace(/\/+$/, '');
    out[`${NGINX}/auth-url`] = `${base}/oauth2/auth`;
    out[`${NGINX}/auth-signin`] = `${base}/oauth2/start?rd=$escaped_request_uri`;
  }
  const guarded = [...Object.keys(out), ...Object.keys(annotations ?? {})].some((k) =>
    ACCESS_ANNOTATIONS.includes(k),
  );
  if (!guarded) {
    fail(
      'ui: the dashboard Ingress has no access rule; set ui.access.allowList (CIDRs), ui.access.basicAuthSecret or ui.access.oauth2Proxy',
    );
  }
  return Object.freeze(out);
}

function isInsidePosix(outer, inner) {
  const rel = posix.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !posix.isAbsolute(rel));
}
