// NetworkPolicies: every ha-sync pod starts from "nothing in, nothing out", then each component
// gets exactly the connections it makes (docs/operations.md, "Security model"):
//
//   all ha-sync pods       -> DNS (53)
//   reconcilers, appliers  -> the Kubernetes API (443, 6443), MySQL (3306)
//   watchers, appliers, reconcilers, ui -> NATS (4222) (reconcilers and the dashboard: heartbeats only)
//   dashboard, prune       -> MySQL (3306)
//   ingress controller     -> dashboard (8080);  Prometheus -> dashboard (8080), NATS monitor (8222),
//                             watchers' and appliers' /metrics (9464)
//
// NFS is mounted by the kubelet on the node, not from the pod's network: no rule is needed for it.
import { METRICS_PORT, meta } from './pod.mjs';

const COMPONENT = 'app.kubernetes.io/component';
const PART_OF = { 'app.kubernetes.io/part-of': 'ha-sync' };
const MYSQL_PORT = 3306;
const API_PORTS = [443, 6443];

const tcp = (port) => ({ port, protocol: 'TCP' });
const components = (...names) => ({
  matchLabels: PART_OF,
  matchExpressions: [{ key: COMPONENT, operator: 'In', values: names }],
});
const namespace = (name) => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
});

function policy(cfg, name, podSelector, spec) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(cfg, name, 'network'),
    spec: { podSelector, ...spec },
  };
}

/** The port of an external NATS URL (4222 when it names none). */
function externalNatsPort(url) {
  const m = /:(\d+)\/?$/.exec(url.split(',')[0].trim());
  return m ? Number(m[1]) : 4222;
}

export function networkPolicies(cfg) {
  const { ingressNamespace, prometheusNamespace } = cfg.network;
  const natsPods = {
    matchLabels: { 'app.kubernetes.io/name': 'ha-sync', [COMPONENT]: 'nats' },
  };
  const toNats =
    cfg.nats.external === undefined
      ? [{ to: [{ podSelector: natsPods }], ports: [tcp(4222)] }]
      : [{ ports: [tcp(externalNatsPort(cfg.nats.external))] }];
  const out = [
    policy(cfg, 'ha-sync-default-deny', { matchLabels: PART_OF }, { policyTypes: ['Ingress', 'Egress'] }),
    policy(
      cfg,
      'ha-sync-dns',
      { matchLabels: PART_OF },
      {
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 53, protocol: 'UDP' }, tcp(53)] }],
      },
    ),
    policy(cfg, 'ha-sync-api-server', components('reconciler', 'applier'), {
      policyTypes: ['Egress'],
      egress: [{ ports: API_PORTS.map(tcp) }],
    }),
    policy(cfg, 'ha-sync-mysql', components('reconciler', 'applier', 'ui', 'prune'), {
      policyTypes: ['Egress'],
      egress: [{ ports: [tcp(MYSQL_PORT)] }],
    }),
    policy(cfg, 'ha-sync-nats-clients', components('watcher', 'applier', 'reconciler', 'ui'), {
      policyTypes: ['Egress'],
      egress: toNats,
    }),
    policy(cfg, 'ha-sync-ui', components('ui'), {
      policyTypes: ['Ingress'],
      ingress: [{ from: [namespace(ingressNamespace), namespace(prometheusNamespace)], ports: [tcp(8080)] }],
    }),
    // The live components' /metrics, only to the namespace that scrapes them (whether or not
    // pairs.yaml turns `monitoring` on: an annotation-driven Prometheus scrapes them too).
    policy(cfg, 'ha-sync-metrics', components('watcher', 'applier'), {
      policyTypes: ['Ingress'],
      ingress: [{ from: [namespace(prometheusNamespace)], ports: [tcp(METRICS_PORT)] }],
    }),
  ];
  if (cfg.nats.external === undefined) {
    // Clients only from the watchers and appliers; the monitor port (8222: /varz, /connz, /jsz
    // name every client) only from the namespace that scrapes it. Probes come from the kubelet.
    out.push(
      policy(cfg, 'ha-sync-nats', natsPods, {
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: components('watcher', 'applier', 'reconciler', 'ui') }],
            ports: [tcp(4222)],
          },
          { from: [namespace(prometheusNamespace)], ports: [tcp(8222)] },
        ],
      }),
    );
  }
  return out;
}
