// The manifests' security model (docs/operations.md, "Security model"): the dashboard closed by
// default (no Ingress without an access rule, /metrics never routed, a read-only DSN), least
// privilege (Lease rights on the pairs' Leases only, an unbound ServiceAccount for pods that need no
// API, default-deny NetworkPolicies with explicit allows, 8222 only to Prometheus), per-pair uids,
// opt-in capabilities, images pinned by digest, and the NATS identities and Secrets.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  GENERATOR,
  K8S_DIR,
  ROOT,
  type Obj,
  allContainers,
  parseDocs,
  podTemplate,
  renderKustomization,
} from './k8s.helpers.js';

// Manifests are untyped YAML: the checks walk them as `any` on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return */

const SEED_LIST = readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8');
const DIGEST = `sha256:${'ab'.repeat(32)}`;
let tmp = '';
let objs: Obj[] = [];
let n = 0;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ha-sync-k8s-sec-'));
  objs = parseDocs(renderKustomization(K8S_DIR).text);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the generator on an edited pairs.yaml; returns its exit, stderr and output directory. */
function gen(
  edit: (s: string) => string,
  ...args: string[]
): { status: number | null; stderr: string; out: string } {
  const file = join(tmp, `pairs-${++n}.yaml`);
  writeFileSync(file, edit(SEED_LIST));
  const out = join(tmp, `out-${n}`);
  const r = spawnSync(process.execPath, [GENERATOR, '--pairs', file, '--out', out, ...args], {
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, out };
}
const docsOf = (dir: string, f: string): Obj[] => parseDocs(readFileSync(join(dir, f), 'utf8'));
const find = (kind: string, name: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} is not rendered`);
  return o;
};
const workloads = (): Obj[] => objs.filter((o) => podTemplate(o) !== undefined);
const componentOf = (o: Obj): string => podTemplate(o)!.metadata.labels['app.kubernetes.io/component'];
const setAccess = (s: string, access: string) => s.replace(/^ {2}access: .*$/m, access);

describe('the dashboard is closed by default', () => {
  it('the generator refuses an Ingress without an access rule, in one line naming the choices', () => {
    const r = gen((s) => setAccess(s, ''));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'gen-k8s: pairs.yaml:\n  ui: the dashboard Ingress has no access rule; set ui.access.allowList (CIDRs), ui.access.basicAuthSecret or ui.access.oauth2Proxy\n',
    );
    expect(() => readdirSync(r.out)).toThrow();
    // Annotations that allow everyone are not a rule either.
    const open = gen((s) =>
      setAccess(s, "  annotations: { nginx.ingress.kubernetes.io/ssl-redirect: 'true' }").replace(
        /^ {2}annotations: \{\}\n/m,
        '',
      ),
    );
    expect(open.status).toBe(2);
    expect(gen((s) => setAccess(s, '  access: { allowList: [everyone] }')).stderr).toMatch(
      /allowList: expected a list of CIDRs/,
    );
  });

  it.each([
    [
      'an allow-list',
      '  access: { allowList: [192.168.2.0/24, 10.0.0.0/8] }',
      { 'nginx.ingress.kubernetes.io/whitelist-source-range': '192.168.2.0/24,10.0.0.0/8' },
    ],
    [
      'basic auth',
      '  access: { basicAuthSecret: ha-sync-ui-auth }',
      {
        'nginx.ingress.kubernetes.io/auth-type': 'basic',
        'nginx.ingress.kubernetes.io/auth-secret': 'ha-sync-ui-auth',
      },
    ],
    [
      'an oauth2-proxy',
      '  access: { oauth2Proxy: https://auth.example.org }',
      { 'nginx.ingress.kubernetes.io/auth-url': 'https://auth.example.org/oauth2/auth' },
    ],
  ])('%s renders the Ingress with its annotations', (_name, line, annotations) => {
    const r = gen((s) => setAccess(s, line));
    expect(r.status, r.stderr).toBe(0);
    const ing = docsOf(r.out, 'ui-ingress.yaml')[0]!;
    expect(ing.metadata.annotations).toMatchObject(annotations);
  });

  it("the project's own Ingress: the 192.168.2.0/24 allow-list, and never /metrics", () => {
    const ing = find('Ingress', 'ha-sync-ui');
    expect(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/whitelist-source-range']).toBe(
      '192.168.2.0/24',
    );
    const paths = ing.spec.rules.flatMap((r: any) => r.http.paths) as { path: string; pathType: string }[];
    const routed = (url: string) =>
      paths.some((p) =>
        p.pathType === 'Exact'
          ? url === p.path
          : url === p.path.replace(/\/$/, '') || url.startsWith(p.path.endsWith('/') ? p.path : `${p.path}/`),
      );
    for (const url of [
      '/',
      '/assets/app.js',
      '/assets/app.css',
      '/favicon.svg',
      '/api/pairs',
      '/api/history',
    ])
      expect(routed(url), url).toBe(true);
    for (const url of ['/metrics', '/healthz', '/readyz', '/metrics/x']) expect(routed(url), url).toBe(false);
  });

  it('the dashboard listens on 127.0.0.1 unless --host says otherwise (the Deployment says 0.0.0.0)', async () => {
    const { parseUiArgs } = await import('../src/cli/ui.js');
    expect(parseUiArgs([], {}).host).toBe('127.0.0.1');
    const c = find('Deployment', 'ha-sync-ui').spec.template.spec.containers[0];
    expect(c.args).toContain('--host=0.0.0.0');
  });
});

describe('least privilege', () => {
  it('pods without an API need get the unbound ServiceAccount; only Lease holders get ha-sync', () => {
    const plain = find('ServiceAccount', 'ha-sync-no-rbac');
    expect(plain.automountServiceAccountToken).toBe(false);
    const bound = objs
      .filter((o) => o.kind === 'RoleBinding')
      .flatMap((b) => b.subjects.map((s: any) => s.name));
    expect(bound).toEqual(['ha-sync']);
    for (const o of workloads()) {
      const spec = podTemplate(o)!.spec;
      const holder = ['reconciler', 'applier'].includes(componentOf(o));
      expect(spec.serviceAccountName, `${o.kind}/${o.metadata.name}`).toBe(
        holder ? 'ha-sync' : 'ha-sync-no-rbac',
      );
    }
  });

  // What the NetworkPolicies allow a pod: egress to a port, or ingress on a port from a peer.
  const policies = () => objs.filter((o) => o.kind === 'NetworkPolicy');
  const selects = (sel: any, labels: Record<string, string>): boolean =>
    Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
    (sel.matchExpressions ?? []).every((e: any) => e.operator === 'In' && e.values.includes(labels[e.key]));
  const labelsOf = (component: string) => {
    const o = workloads().find((w) => componentOf(w) === component)!;
    return podTemplate(o)!.metadata.labels as Record<string, string>;
  };
  const egress = (component: string, port: number, toComponent?: string): boolean =>
    policies().some(
      (p) =>
        p.spec.policyTypes.includes('Egress') &&
        selects(p.spec.podSelector, labelsOf(component)) &&
        (p.spec.egress ?? []).some(
          (r: any) =>
            r.ports.some((x: any) => x.port === port) &&
            (!r.to ||
              (toComponent !== undefined &&
                r.to.some((t: any) => t.podSelector && selects(t.podSelector, labelsOf(toComponent))))),
        ),
    );
  const ingress = (
    component: string,
    port: number,
    from: { component?: string; namespace?: string },
  ): boolean =>
    policies().some(
      (p) =>
        p.spec.policyTypes.includes('Ingress') &&
        selects(p.spec.podSelector, labelsOf(component)) &&
        (p.spec.ingress ?? []).some(
          (r: any) =>
            r.ports.some((x: any) => x.port === port) &&
            (!r.from ||
              r.from.some((f: any) =>
                f.podSelector
                  ? from.component !== undefined && selects(f.podSelector, labelsOf(from.component))
                  : f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === from.namespace,
              )),
        ),
    );

  it('a default-deny policy covers every ha-sync pod, in and out', () => {
    const deny = find('NetworkPolicy', 'ha-sync-default-deny');
    expect(deny.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'ha-sync' } },
      policyTypes: ['Ingress', 'Egress'],
    });
    for (const o of workloads())
      expect(selects(deny.spec.podSelector, podTemplate(o)!.metadata.labels), o.metadata.name).toBe(true);
  });

  it.each([
    // component, NATS 4222, MySQL 3306, API 443
    ['watcher', true, false, false],
    ['applier', true, true, true],
    ['reconciler', true, true, true],
    ['ui', true, true, false],
    ['prune', false, true, false],
    ['nats', false, false, false],
  ] as const)('%s: to NATS %s, MySQL %s, the API server %s (and DNS)', (component, nats, mysql, api) => {
    expect(egress(component, 4222, 'nats')).toBe(nats);
    expect(egress(component, 3306)).toBe(mysql);
    expect(egress(component, 443)).toBe(api);
    expect(egress(component, 6443)).toBe(api);
    expect(egress(component, 53)).toBe(true);
    expect(egress(component, 8080)).toBe(false);
  });

  it('into NATS: clients from watchers, appliers, reconcile jobs and the dashboard (heartbeats) only; 8222 and 9464 only from the monitoring namespace', () => {
    expect(ingress('nats', 4222, { component: 'watcher' })).toBe(true);
    expect(ingress('nats', 4222, { component: 'applier' })).toBe(true);
    expect(ingress('nats', 4222, { component: 'ui' })).toBe(true);
    expect(ingress('nats', 4222, { component: 'reconciler' })).toBe(true);
    for (const c of ['prune']) expect(ingress('nats', 4222, { component: c }), c).toBe(false);
    expect(ingress('nats', 4222, { namespace: 'default' })).toBe(false);
    expect(ingress('nats', 8222, { namespace: 'monitoring' })).toBe(true);
    expect(ingress('nats', 8222, { namespace: 'default' })).toBe(false);
    expect(ingress('nats', 8222, { component: 'watcher' })).toBe(false);
    // The dashboard: from the ingress controller and Prometheus; nothing reaches the others.
    expect(ingress('ui', 8080, { namespace: 'ingress-nginx' })).toBe(true);
    expect(ingress('ui', 8080, { namespace: 'monitoring' })).toBe(true);
    expect(ingress('ui', 8080, { namespace: 'default' })).toBe(false);
    for (const c of ['watcher', 'applier', 'reconciler', 'prune'])
      expect(ingress(c, 8080, { namespace: 'ingress-nginx' }), c).toBe(false);
    // The live components' /metrics (9464): from Prometheus only.
    for (const c of ['watcher', 'applier']) {
      expect(ingress(c, 9464, { namespace: 'monitoring' }), c).toBe(true);
      expect(ingress(c, 9464, { namespace: 'default' }), c).toBe(false);
      expect(ingress(c, 9464, { namespace: 'ingress-nginx' }), c).toBe(false);
      expect(ingress(c, 9464, { component: 'ui' }), c).toBe(false);
    }
    for (const c of ['ui', 'reconciler', 'prune', 'nats'])
      expect(ingress(c, 9464, { namespace: 'monitoring' }), c).toBe(false);
  });

  it("owncloud's pods run as its runAs (33:33); watchers read it through a supplementary group", () => {
    for (const o of workloads()) {
      const spec = podTemplate(o)!.spec;
      const pair = podTemplate(o)!.metadata.labels['ha-sync/pair'];
      const want = pair === 'owncloud' ? 33 : 10001;
      expect([spec.securityContext.runAsUser, spec.securityContext.runAsGroup], o.metadata.name).toEqual([
        want,
        want,
      ]);
      if (componentOf(o) === 'watcher') expect(spec.securityContext.supplementalGroups).toEqual([33]);
      // owncloud's pods still write opslogs to the logs volume, through the top-level group.
      else if (pair === 'owncloud')
        expect(spec.securityContext.supplementalGroups, o.metadata.name).toEqual([10001]);
      else expect(spec.securityContext.supplementalGroups, o.metadata.name).toBeUndefined();
    }
  });

  it('no capability is added anywhere unless a pair asks; then only to its writing pods', () => {
    for (const o of workloads())
      for (const c of allContainers(o))
        expect(c.securityContext.capabilities, o.metadata.name).toEqual({ drop: ['ALL'] });
    const r = gen((s) =>
      s.replace(
        '{ name: photos, capacity: 500Gi }',
        '{ name: photos, capacity: 500Gi, capabilities: [CHOWN, FOWNER] }',
      ),
    );
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['cron-photos-dell-to-hp.yaml', 'cron-photos-hp-to-dell.yaml', 'applier-photos.yaml']) {
      const c = podTemplate(docsOf(r.out, f)[0]!)!.spec.containers[0];
      expect(c.securityContext.capabilities, f).toEqual({ drop: ['ALL'], add: ['CHOWN', 'FOWNER'] });
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    }
    for (const f of ['applier-media.yaml', 'watcher-dell.yaml', 'ui-deployment.yaml'])
      expect(podTemplate(docsOf(r.out, f)[0]!)!.spec.containers[0].securityContext.capabilities, f).toEqual({
        drop: ['ALL'],
      });
    const bad = gen((s) =>
      s.replace(
        '{ name: photos, capacity: 500Gi }',
        '{ name: photos, capacity: 500Gi, capabilities: [SYS_ADMIN] }',
      ),
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/pairs\[1\] \(photos\)\.capabilities: expected a list of CHOWN and FOWNER/);
  });

  it('images pinned by digest: NATS from pairs.yaml, ha-sync from k8s/kustomization.yaml', () => {
    const r = gen((s) =>
      s.replace(
        "nats: { image: 'nats:2.10.22-alpine',",
        `nats: { image: 'nats:2.10.22-alpine', digest: '${DIGEST}',`,
      ),
    );
    expect(r.status, r.stderr).toBe(0);
    const k = YAML.parse(readFileSync(join(r.out, 'kustomization.yaml'), 'utf8'));
    expect(k.images).toEqual([{ name: 'nats', newTag: '2.10.22-alpine', digest: DIGEST }]);
    // The whole kustomization, with the ha-sync digest beside newTag where the docs say.
    const dir = join(tmp, 'kz');
    cpSync(r.out, join(dir, 'generated'), { recursive: true });
    const top = readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8').replace(
      /^( {4}newTag: .*)$/m,
      `$1\n    digest: ${DIGEST}`,
    );
    writeFileSync(join(dir, 'kustomization.yaml'), top);
    const images = parseDocs(renderKustomization(dir).text).flatMap((o) =>
      allContainers(o).map((c) => c.image as string),
    );
    expect(new Set(images)).toEqual(
      new Set([`192.168.2.100:5000/ha-sync:0.1.0@${DIGEST}`, `nats:2.10.22-alpine@${DIGEST}`]),
    );
    expect(
      gen((s) =>
        s.replace(
          "nats: { image: 'nats:2.10.22-alpine',",
          "nats: { image: 'nats:2.10.22-alpine', digest: 'latest',",
        ),
      ).stderr,
    ).toMatch(/nats\.digest: expected sha256:<64 hex digits>/);
  });
});

describe('NATS with identities, in the manifests', () => {
  const conf = () => find('ConfigMap', 'ha-sync-nats-config').data['nats.conf'] as string;

  it('the server requires TLS and a user; passwords come from its environment, never the ConfigMap', () => {
    expect(conf()).toMatch(
      /^tls \{\n {2}cert_file: "\/etc\/nats-tls\/tls\.crt"\n {2}key_file: "\/etc\/nats-tls\/tls\.key"/m,
    );
    expect(conf()).toMatch(/^authorization \{/m);
    expect(conf()).not.toMatch(/password: "/);
    for (const u of ['watch-dell', 'watch-hp', 'apply-media', 'apply-owncloud', 'tap'])
      expect(conf()).toContain(
        `{ user: "${u}", password: $NATS_PASS_${u.toUpperCase().replace(/-/g, '_')}, permissions`,
      );
    const sts = find('StatefulSet', 'ha-sync-nats').spec.template.spec;
    expect(sts.containers[0].envFrom).toEqual([{ secretRef: { name: 'ha-sync-nats-server-users' } }]);
    expect(sts.volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('ha-sync-nats-tls');
    expect(sts.serviceAccountName).toBe('ha-sync-no-rbac');
  });

  it("each watcher may publish only its own side's subjects; tap publishes no event", () => {
    const block = (user: string) => {
      const start = conf().indexOf(`{ user: "${user}"`);
      return conf().slice(start, conf().indexOf('} }', start));
    };
    const dell = block('watch-dell');
    expect(dell).toContain('"hasync.media.dell.events"');
    expect(dell).toContain('"hasync.media.dell.health"');
    expect(dell).not.toMatch(/\.hp\.|hasync\.>|hasync\.\*/);
    expect(dell).toContain('subscribe: { allow: ["_INBOX_watch-dell.>"] }');
    const tap = block('tap');
    expect(tap).toMatch(/publish: \{ allow: \["\$JS\.API\.INFO"/);
    expect(tap).not.toMatch(/publish: .*"hasync\./);
    expect(tap).toContain('subscribe: { allow: ["_INBOX_tap.>", "hasync.>"] }');
    expect(tap).toContain('deny: [');
    expect(tap).toContain('"$JS.API.CONSUMER.MSG.NEXT.HASYNC.hasync-apply-media"');
    const apply = block('apply-media');
    expect(apply).toContain('"$JS.ACK.HASYNC.hasync-apply-media.>"');
    expect(apply).not.toContain('hasync-apply-photos');
  });

  it('watchers, appliers, reconcile jobs and the dashboard get their own identity and the CA, nothing else', () => {
    for (const o of workloads()) {
      const c = allContainers(o)[0];
      const component = componentOf(o);
      const secrets = (c.envFrom ?? []).flatMap((e: any) => (e.secretRef ? [e.secretRef.name] : []));
      const nats = secrets.filter((s: string) => s.startsWith('ha-sync-nats-'));
      if (component === 'watcher')
        expect(nats).toEqual([`ha-sync-nats-watch-${podTemplate(o)!.metadata.labels['ha-sync/side']}`]);
      else if (component === 'applier')
        expect(nats).toEqual([`ha-sync-nats-apply-${podTemplate(o)!.metadata.labels['ha-sync/pair']}`]);
      else if (component === 'ui') expect(nats).toEqual(['ha-sync-nats-ui']);
      else if (component === 'reconciler')
        expect(nats).toEqual([`ha-sync-nats-reconcile-${podTemplate(o)!.metadata.labels['ha-sync/pair']}`]);
      else if (component !== 'nats') expect(nats, o.metadata.name).toEqual([]);
      if (component !== 'prune' && component !== 'nats') {
        expect(c.env).toContainEqual({ name: 'NATS_TLS_CA', value: '/etc/ha-sync/nats/ca.crt' });
        expect(podTemplate(o)!.spec.volumes).toContainEqual({
          name: 'nats-ca',
          secret: { secretName: 'ha-sync-nats-ca' },
        });
      }
    }
  });

  it('--secrets writes the Secrets (0600, never committed), keeps passwords on a re-run, --rotate changes them', () => {
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8')).toMatch(/^\/k8s\/secrets\/$/m);
    const dir = join(tmp, 'secrets');
    const run = (...a: string[]) =>
      spawnSync(process.execPath, [GENERATOR, '--secrets', dir, ...a], { encoding: 'utf8' });
    expect(run().status).toBe(0);
    const pw = () =>
      JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')).passwords as Record<string, string>;
    const first = pw();
    expect(Object.keys(first).sort()).toEqual([
      'apply-ai',
      'apply-games',
      'apply-infra',
      'apply-media',
      'apply-owncloud',
      'apply-photos',
      'reconcile-ai',
      'reconcile-games',
      'reconcile-infra',
      'reconcile-media',
      'reconcile-owncloud',
      'reconcile-photos',
      'tap',
      'ui',
      'watch-dell',
      'watch-hp',
    ]);
    for (const f of [
      'credentials.json',
      'ca.key',
      'tls.key',
      'nats-server-users.yaml',
      'nats-watch-dell.yaml',
    ])
      expect(statSync(join(dir, f)).mode & 0o077, f).toBe(0);
    const cert = readFileSync(join(dir, 'tls.crt'), 'utf8');
    expect(run().status).toBe(0);
    expect(pw()).toEqual(first);
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe(cert);
    expect(run('--rotate').status).toBe(0);
    expect(pw()['watch-dell']).not.toBe(first['watch-dell']);
    const secret = docsOf(dir, 'nats-watch-dell.yaml')[0]!;
    expect(secret.stringData).toEqual({ NATS_USER: 'watch-dell', NATS_PASSWORD: pw()['watch-dell'] });
    // Applied as one kustomization: every file it lists is a Secret in the namespace.
    const listed = YAML.parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
    expect(listed.namespace).toBe('infrastructure');
    for (const f of listed.resources as string[])
      expect(docsOf(dir, f).map((o) => o.kind)).toEqual(['Secret']);
  });
});
