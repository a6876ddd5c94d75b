// The bundled NATS server: its configuration (TLS for every client, one user per identity with
// per-subject permissions), the StatefulSet and Services, and what the clients need to reach it.
//
// Identities (docs/operations.md, "Security model"):
//   watch-<server>  publishes only `hasync.<pair>.<server>.events` (and `.health`, kept for the
//                   live-health heartbeats) of every pair: the subject names the publisher's side.
//   apply-<pair>    reads only its pair's durable consumer `hasync-apply-<pair>` and acks on it.
//   tap             read-only: ordered (ephemeral) consumers on event subjects and plain
//                   subscriptions to them; never an applier's durable, never a publish.
//   reconcile-<pair> the pair's reconcile CronJobs: publish only their progress heartbeat
//                   `hasync.<pair>._reconcile.health`.
//   ui              the dashboard's live health: subscribes to the heartbeats
//                   (`hasync.*.*.health`) and nothing else; publishes nothing.
// An applier also publishes its heartbeat, `hasync.<pair>._apply.health`.
// Each user subscribes only to its own inbox `_INBOX_<user>.>` (src/bus inboxPrefixFor), so no
// identity reads another's replies. Passwords are not in this file: the server reads them from
// its environment (`$NATS_PASS_<USER>`), loaded from the Secret ha-sync-nats-server-users that
// `node scripts/gen-k8s.mjs --secrets` writes.
import {
  NAMES,
  PATHS,
  RESOURCES,
  containerSecurityContext,
  labels,
  meta,
  podSecurityContext,
} from './pod.mjs';

/** The stream and subject prefix the CLI uses by default (src/bus/nats.ts). */
export const STREAM = 'HASYNC';
export const PREFIX = 'hasync';
/** Where the server's TLS files are mounted, and where clients find the CA. */
export const NATS_TLS_DIR = '/etc/nats-tls';
export const CLIENT_CA_DIR = '/etc/ha-sync/nats';

export const watcherUser = (server) => `watch-${server}`;
export const applierUser = (pair) => `apply-${pair}`;
export const TAP_USER = 'tap';
export const UI_USER = 'ui';
export const reconcileUser = (pair) => `reconcile-${pair}`;
/** The server-side environment variable holding a user's password. */
export const passwordEnv = (user) => `NATS_PASS_${user.toUpperCase().replace(/-/g, '_')}`;
/** The client Secret of one identity (NATS_USER, NATS_PASSWORD). */
export const clientSecret = (user) => `ha-sync-nats-${user}`;

const durable = (pair) => `hasync-apply-${pair}`;
const api = (rest) => `$JS.API.${rest}`;

/** Every identity: user name and its publish/subscribe permissions. */
export function natsIdentities(cfg) {
  const inbox = (user) => `_INBOX_${user}.>`;
  const streamRead = [api('INFO'), api(`STREAM.INFO.${STREAM}`)];
  const out = [];
  for (const s of cfg.servers) {
    const user = watcherUser(s.name);
    const own = cfg.pairs.flatMap((p) => [
      `${PREFIX}.${p.name}.${s.name}.events`,
      `${PREFIX}.${p.name}.${s.name}.health`,
    ]);
    out.push({
      user,
      role: 'watcher',
      // Creating the stream when it is missing; never updating, purging or deleting it.
      publish: { allow: [...own, ...streamRead, api(`STREAM.CREATE.${STREAM}`)] },
      subscribe: { allow: [inbox(user)] },
    });
  }
  for (const p of cfg.pairs) {
    const user = applierUser(p.name);
    const d = durable(p.name);
    out.push({
      user,
      role: 'applier',
      publish: {
        allow: [
          ...streamRead,
          api(`STREAM.CREATE.${STREAM}`),
          api(`STREAM.UPDATE.${STREAM}`),
          api(`CONSUMER.INFO.${STREAM}.${d}`),
          api(`CONSUMER.CREATE.${STREAM}.${d}`),
          api(`CONSUMER.CREATE.${STREAM}.${d}.>`),
          api(`CONSUMER.DURABLE.CREATE.${STREAM}.${d}`),
          api(`CONSUMER.MSG.NEXT.${STREAM}.${d}`),
          `$JS.ACK.${STREAM}.${d}.>`,
          `${PREFIX}.${p.name}._apply.health`,
        ],
      },
      subscribe: { allow: [inbox(user)] },
    });
  }
  // tap: reads. Any consumer name, but only filtered on event subjects, and never an applier's
  // durable (a tap that pulled from it would take the applier's events; it may look at its info,
  // the backlog). Plain subscriptions to the subjects (`nats sub 'hasync.>'`) are reading too.
  const durables = cfg.pairs.map((p) => durable(p.name));
  out.push({
    user: TAP_USER,
    role: 'tap',
    publish: {
      allow: [
        ...streamRead,
        api(`CONSUMER.CREATE.${STREAM}.*.${PREFIX}.*.*.events`),
        api(`CONSUMER.INFO.${STREAM}.*`),
        api(`CONSUMER.LIST.${STREAM}`),
        api(`CONSUMER.NAMES.${STREAM}`),
        api(`CONSUMER.MSG.NEXT.${STREAM}.*`),
        api(`CONSUMER.DELETE.${STREAM}.*`),
      ],
      deny: durables.flatMap((d) => [
        api(`CONSUMER.CREATE.${STREAM}.${d}.>`),
        api(`CONSUMER.MSG.NEXT.${STREAM}.${d}`),
        api(`CONSUMER.DELETE.${STREAM}.${d}`),
      ]),
    },
    subscribe: { allow: [inbox(TAP_USER), `${PREFIX}.>`] },
  });
  for (const p of cfg.pairs) {
    const user = reconcileUser(p.name);
    out.push({
      user,
      role: 'reconcile',
      publish: { allow: [...streamRead, `${PREFIX}.${p.name}._reconcile.health`] },
      subscribe: { allow: [inbox(user)] },
    });
  }
  out.push({
    user: UI_USER,
    role: 'ui',
    publish: { allow: [...streamRead] },
    subscribe: { allow: [inbox(UI_USER), `${PREFIX}.*.*.health`] },
  });
  return out;
}

const q = (s) => JSON.stringify(s);
const list = (xs) => `[${xs.map(q).join(', ')}]`;

/**
 * The nats-server configuration text. `o` says where things are: the client and monitor listen
 * addresses, the JetStream store, the TLS files. The cluster's ConfigMap and the test's throw-away
 * server use this one function.
 */
export function natsServerConf(cfg, o = {}) {
  const listen = o.listen ?? '0.0.0.0:4222';
  const http = o.http ?? '0.0.0.0:8222';
  const storeDir = o.storeDir ?? '/data';
  const tlsDir = o.tlsDir ?? NATS_TLS_DIR;
  const users = natsIdentities(cfg).map((id) => {
    const perm = (p) =>
      `{ allow: ${list(p.allow)}${p.deny && p.deny.length ? `, deny: ${list(p.deny)}` : ''} }`;
    return (
      `    # ${id.role}\n` +
      `    { user: ${q(id.user)}, password: $${passwordEnv(id.user)}, permissions: {\n` +
      `        publish: ${perm(id.publish)}\n` +
      `        subscribe: ${perm(id.subscribe)}\n` +
      `    } }`
    );
  });
  return `# nats-server configuration for ha-sync (single node, JetStream on a PVC).
# GENERATED from k8s/pairs.yaml by scripts/k8s/nats.mjs (identities and permissions there).
server_name: ${o.serverName ?? '$POD_NAME'}
listen: ${listen}
http: ${http}
max_payload: 1MB
# On SIGTERM, stop taking clients and let them move on before exiting.
lame_duck_duration: 30s
lame_duck_grace_period: 10s
jetstream {
  store_dir: ${q(storeDir)}
  max_memory_store: 64MB
  max_file_store: 4GB
}
# Every client connection is TLS (the monitor port stays plain HTTP for probes and scraping).
tls {
  cert_file: ${q(`${tlsDir}/tls.crt`)}
  key_file: ${q(`${tlsDir}/tls.key`)}
  timeout: 5
}
# No anonymous access: a client without a user and password is refused. Passwords come from the
# environment (Secret ${NAMES.natsServerUsers}).
authorization {
  users: [
${users.join('\n')}
  ]
}
`;
}

/** The environment a NATS client container needs: its identity's Secret and the CA file. */
export function natsClientEnv(cfg, user) {
  const optional = cfg.nats.external !== undefined;
  return {
    env: [{ name: 'NATS_TLS_CA', value: `${CLIENT_CA_DIR}/ca.crt` }],
    envFrom: [{ secretRef: { name: clientSecret(user), ...(optional ? { optional: true } : {}) } }],
    volumeMount: { name: 'nats-ca', mountPath: CLIENT_CA_DIR, readOnly: true },
    volume: {
      name: 'nats-ca',
      secret: { secretName: NAMES.natsCa, ...(optional ? { optional: true } : {}) },
    },
  };
}

export function natsObjects(cfg) {
  const sel = { 'app.kubernetes.io/name': 'ha-sync', 'app.kubernetes.io/component': 'nats' };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(cfg, `${NAMES.nats}-config`, 'nats'),
    data: { 'nats.conf': natsServerConf(cfg) },
  };
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cfg, NAMES.nats, 'nats'),
    spec: {
      type: 'ClusterIP',
      selector: sel,
      ports: [
        { name: 'client', port: 4222, targetPort: 'client', protocol: 'TCP' },
        { name: 'monitor', port: 8222, targetPort: 'monitor', protocol: 'TCP' },
      ],
    },
  };
  const headless = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cfg, `${NAMES.nats}-headless`, 'nats'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: sel,
      ports: [{ name: 'client', port: 4222, targetPort: 'client', protocol: 'TCP' }],
    },
  };
  const health = (query) => ({ httpGet: { path: `/healthz?${query}`, port: 'monitor' } });
  const container = {
    name: 'nats',
    image: cfg.nats.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['nats-server', '--config', '/etc/nats/nats.conf'],
    ports: [
      { name: 'client', containerPort: 4222, protocol: 'TCP' },
      { name: 'monitor', containerPort: 8222, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      // Lets the Go runtime collect before the kernel kills it at the memory limit.
      { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
    ],
    // The users' passwords, as $NATS_PASS_<USER> for nats.conf.
    envFrom: [{ secretRef: { name: NAMES.natsServerUsers } }],
    resources: RESOURCES.nats,
    securityContext: containerSecurityContext(),
    startupProbe: { ...health('js-enabled-only=true'), periodSeconds: 5, failureThreshold: 60 },
    livenessProbe: { ...health('js-enabled-only=true'), periodSeconds: 30, failureThreshold: 3 },
    readinessProbe: { ...health('js-server-only=true'), periodSeconds: 10, failureThreshold: 3 },
    volumeMounts: [
      { name: 'config', mountPath: '/etc/nats/nats.conf', subPath: 'nats.conf', readOnly: true },
      { name: 'tls', mountPath: NATS_TLS_DIR, readOnly: true },
      { name: 'data', mountPath: '/data' },
      { name: 'tmp', mountPath: PATHS.tmp },
    ],
  };
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(cfg, NAMES.nats, 'nats'),
    spec: {
      serviceName: `${NAMES.nats}-headless`,
      replicas: 1,
      selector: { matchLabels: sel },
      template: {
        metadata: { labels: labels('nats') },
        spec: {
          serviceAccountName: NAMES.plainServiceAccount,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 60,
          securityContext: { ...podSecurityContext(cfg), fsGroup: cfg.runAs.group },
          containers: [container],
          volumes: [
            { name: 'config', configMap: { name: configMap.metadata.name } },
            { name: 'tls', secret: { secretName: NAMES.natsTls, defaultMode: 0o440 } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: labels('nats') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(cfg.nats.storageClassName ? { storageClassName: cfg.nats.storageClassName } : {}),
            resources: { requests: { storage: cfg.nats.storage } },
          },
        },
      ],
    },
  };
  return { configMap, svc, headless, sts };
}

export function natsUrl(cfg) {
  return cfg.nats.external ?? `nats://${NAMES.nats}.${cfg.namespace}.svc:4222`;
}
