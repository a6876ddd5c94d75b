// The manifests: generated from k8s/pairs.yaml and never stale; rendered with kustomize; every
// object valid against the Kubernetes schema (kubernetes-models) with no unknown field; every
// reference (PVC, PV, ServiceAccount, Secret, ConfigMap, Service, Role) resolving; every pod
// hardened; the seed's servers, paths, capacities and schedules; and every ha-sync container's args
// parsed by the command's own parse<Cmd>Args, so a manifest can never drift from the CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CronJob } from 'kubernetes-models/batch/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import {
  ConfigMap,
  PersistentVolume,
  PersistentVolumeClaim,
  Service,
  ServiceAccount,
} from 'kubernetes-models/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  GENERATOR,
  K8S_DIR,
  type Obj,
  allContainers,
  fallbackRender,
  kubectlAvailable,
  parseDocs,
  podTemplate,
  renderKustomization,
  unknownFields,
} from './k8s.helpers.js';

// Manifests are untyped YAML: the checks walk them as `any` on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return */

const NS = 'infrastructure';
const DB_SECRET = 'ha-sync-db-secret';
const DB_READONLY_SECRET = 'ha-sync-db-readonly';

/** The Secrets `gen-k8s.mjs --secrets` writes for the committed pairs.yaml, by name. */
let natsSecretCache: string[] | undefined;
function natsSecretNames(): string[] {
  if (natsSecretCache) return natsSecretCache;
  const dir = mkdtempSync(join(tmpdir(), 'ha-sync-k8s-secrets-'));
  try {
    const r = spawnSync(process.execPath, [GENERATOR, '--secrets', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = (
      YAML.parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] }
    ).resources;
    natsSecretCache = files
      .flatMap((f) => parseDocs(readFileSync(join(dir, f), 'utf8')))
      .map((o) => o.metadata.name);
    return natsSecretCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const SERVERS = { dell: '192.168.2.100', hp: '192.168.2.193' } as const;
/** The seed's "NFS Sync Pairs" table and Phase 3B capacities. */
const SEED_PAIRS: Record<string, string> = {
  media: '2Ti',
  photos: '500Gi',
  owncloud: '500Gi',
  games: '500Gi',
  infra: '100Gi',
  ai: '500Gi',
};
const SCHEDULES = { 'dell-to-hp': '*/15 * * * *', 'hp-to-dell': '7,22,37,52 * * * *' } as const;

type Schema = new (data: any) => { validate(): void };
const MODELS: Record<string, Schema> = {
  'batch/v1/CronJob': CronJob,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolume': PersistentVolume,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

// The commands' own parsers, loaded lazily so a missing one fails its own test with a clear line.
type Parser = (argv: string[], env: NodeJS.ProcessEnv) => unknown;
const PARSERS: Record<string, () => Promise<Record<string, unknown>>> = {
  reconcile: () => import('../src/cli/reconcile.js'),
  watch: () => import('../src/cli/watch.js'),
  apply: () => import('../src/cli/apply.js'),
  run: () => import('../src/cli/run.js'),
  tap: () => import('../src/cli/tap.js'),
  ui: () => import('../src/cli/ui.js'),
  prune: () => import('../src/cli/prune.js'),
};
async function parserFor(cmd: string): Promise<Parser> {
  const load = PARSERS[cmd];
  if (!load) throw new Error(`a container runs unknown command '${cmd}'`);
  const name = `parse${cmd[0]!.toUpperCase()}${cmd.slice(1)}Args`;
  const fn = (await load())[name];
  if (typeof fn !== 'function') throw new Error(`src/cli/${cmd}.ts does not export ${name}(argv, env) yet`);
  return fn as Parser;
}

let objs: Obj[] = [];
let via = '';
const byKind = (kind: string): Obj[] => objs.filter((o) => o.kind === kind);
const find = (kind: string, name: string): Obj | undefined =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = (): Obj[] => objs.filter((o) => podTemplate(o) !== undefined);
const haSyncContainers = (): { o: Obj; c: any }[] =>
  workloads().flatMap((o) =>
    allContainers(o)
      .filter((c) => String(c.image).includes('/ha-sync:') || c.image === 'ha-sync')
      .map((c) => ({ o, c })),
  );
const envConfig = (): Record<string, string> => find('ConfigMap', 'ha-sync-env')?.data ?? {};

beforeAll(() => {
  const r = renderKustomization(K8S_DIR);
  via = r.via;
  objs = parseDocs(r.text);
});

describe('generated manifests', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ha-sync-k8s-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const gen = (...args: string[]) => spawnSync(process.execPath, [GENERATOR, ...args], { encoding: 'utf8' });

  it('k8s/generated/ is what k8s/pairs.yaml renders to (run `npm run manifests` when this fails)', () => {
    const out = join(tmp, 'fresh');
    const r = gen('--out', out);
    expect(r.status, r.stderr).toBe(0);
    const committed = join(K8S_DIR, 'generated');
    const fresh = readdirSync(out).sort();
    expect(
      readdirSync(committed)
        .filter((f) => f.endsWith('.yaml'))
        .sort(),
    ).toEqual(fresh);
    const stale = fresh.filter(
      (f) => readFileSync(join(out, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
    );
    expect(stale, `stale: ${stale.join(', ')}; run npm run manifests`).toEqual([]);
    expect(gen('--check').status).toBe(0);
  });

  it('--check fails on a hand edit, naming the file', () => {
    const out = join(tmp, 'edited');
    expect(gen('--out', out).status).toBe(0);
    writeFileSync(join(out, 'rbac.yaml'), readFileSync(join(out, 'rbac.yaml'), 'utf8') + '# edited\n');
    writeFileSync(join(out, 'pv-dell-old.yaml'), 'kind: PersistentVolume\n');
    const r = gen('--check', '--out', out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/rbac\.yaml: differs/);
    expect(r.stderr).toMatch(/pv-dell-old\.yaml: not generated any more/);
    // Regenerating removes the leftover and restores the edit.
    expect(gen('--out', out).status).toBe(0);
    expect(gen('--check', '--out', out).status).toBe(0);
  });

  it('adding a pair is one line in pairs.yaml', () => {
    const list = readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8');
    const added = list.replace(/^pairs:\n/m, 'pairs:\n  - { name: music, capacity: 1Ti }\n');
    expect(added).not.toBe(list);
    const diffLines = added.split('\n').length - list.split('\n').length;
    expect(diffLines).toBe(1);
    const file = join(tmp, 'pairs-music.yaml');
    writeFileSync(file, added);
    const out = join(tmp, 'music');
    const r = gen('--pairs', file, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(out);
    for (const f of [
      'pv-dell-music.yaml',
      'pv-hp-music.yaml',
      'pvc-dell-music.yaml',
      'pvc-hp-music.yaml',
      'cron-music-dell-to-hp.yaml',
      'cron-music-hp-to-dell.yaml',
      'applier-music.yaml',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.length).toBe(readdirSync(join(K8S_DIR, 'generated')).length + 7);
    // Both watchers now watch it, and the new files are in the kustomization.
    for (const side of ['dell', 'hp']) {
      expect(readFileSync(join(out, `watcher-${side}.yaml`), 'utf8')).toContain(`/mnt/${side}/music`);
    }
    expect(readFileSync(join(out, 'kustomization.yaml'), 'utf8')).toContain('cron-music-hp-to-dell.yaml');
    const pv = parseDocs(readFileSync(join(out, 'pv-hp-music.yaml'), 'utf8'))[0]!;
    expect(pv.spec.nfs).toEqual({ server: SERVERS.hp, path: '/data/music' });
    expect(pv.spec.capacity.storage).toBe('1Ti');
  });

  it.each([
    [
      'a duplicate pair',
      (s: string) => s.replace(/^pairs:\n/m, 'pairs:\n  - { name: media, capacity: 1Ti }\n'),
      /duplicate pair name/,
    ],
    [
      'a bad pair name',
      (s: string) => s.replace(/^pairs:\n/m, 'pairs:\n  - { name: Bad_Name, capacity: 1Ti }\n'),
      /name: expected lowercase/,
    ],
    [
      'a bad capacity',
      (s: string) => s.replace(/^pairs:\n/m, 'pairs:\n  - { name: x, capacity: lots }\n'),
      /capacity: expected a quantity/,
    ],
    [
      'an unknown key (a typo)',
      (s: string) => s.replace(/^pairs:\n/m, 'pairs:\n  - { name: x, capacity: 1Ti, dryrun: false }\n'),
      /unknown key 'dryrun'/,
    ],
    [
      'the logs volume inside a pair',
      (s: string) =>
        s.replace(/^logs: .*$/m, 'logs: { server: hp, path: /data/infra/ha-sync-logs, capacity: 10Gi }'),
      /lies inside pair 'infra'/,
    ],
    [
      'a pair name too long for a CronJob name',
      (s: string) => s.replace(/^pairs:\n/m, `pairs:\n  - { name: ${'a'.repeat(40)}, capacity: 1Ti }\n`),
      /longer than 52 characters/,
    ],
    [
      'a two-way pair name too long for its CronJob name',
      (s: string) =>
        s.replace(/^pairs:\n/m, `pairs:\n  - { name: ${'a'.repeat(40)}, capacity: 1Ti, mode: two-way }\n`),
      /'ha-sync-a+-two-way' is longer than 52 characters/,
    ],
    [
      'a mode other than one-way or two-way',
      (s: string) => s.replace(/^pairs:\n/m, 'pairs:\n  - { name: x, capacity: 1Ti, mode: both }\n'),
      /^gen-k8s: pairs\.yaml:\n {2}pairs\[0\] \(x\)\.mode: expected one-way or two-way, got 'both'\n$/,
    ],
  ])('refuses %s with one line, writing nothing', (_name, edit, re) => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, edit(readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8')));
    const out = join(tmp, 'bad-out');
    const r = gen('--pairs', file, '--out', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(() => readdirSync(out)).toThrow();
  });
});

describe("a pair's mode: one-way (the seed's two CronJobs) or two-way (one)", () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ha-sync-k8s-mode-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const SEED_LIST = readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8');
  const COMMITTED = join(K8S_DIR, 'generated');
  /** Renders pairs.yaml with the given pairs' lines edited; returns the output directory. */
  function renderWith(name: string, lines: Record<string, string>): string {
    let list = SEED_LIST;
    for (const [pair, line] of Object.entries(lines)) {
      const re = new RegExp(`^  - \\{ name: ${pair}, .*\\}$`, 'm');
      expect(re.test(list), `pairs.yaml has a line for ${pair}`).toBe(true);
      list = list.replace(re, `  - ${line}`);
    }
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, list);
    const out = join(tmp, name);
    const r = spawnSync(process.execPath, [GENERATOR, '--pairs', file, '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return out;
  }
  const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');
  const cronOf = (dir: string, f: string): Obj => {
    const docs = parseDocs(read(dir, f));
    expect(docs).toHaveLength(1);
    return docs[0]!;
  };
  const valid = (o: Obj): string[] => {
    const id = `${o.kind}/${o.metadata.name}`;
    try {
      new CronJob(o).validate();
    } catch (err) {
      return [`${id}: ${err instanceof Error ? err.message : String(err)}`];
    }
    return unknownFields(o, 'V1CronJob', id);
  };
  const argsOf = (o: Obj): string[] => podTemplate(o)!.spec.containers[0].args;

  it('mode: one-way, said explicitly on every pair, renders exactly the committed files', () => {
    const explicit = SEED_LIST.replace(
      /^( {2}- \{ name: [a-z]+, capacity: \w+)(.*) \}$/gm,
      '$1$2, mode: one-way }',
    );
    expect(explicit.match(/mode: one-way/g)).toHaveLength(Object.keys(SEED_PAIRS).length);
    const file = join(tmp, 'explicit.yaml');
    writeFileSync(file, explicit);
    // --check against the committed directory: not one file differs, none is added or missing.
    const r = spawnSync(process.execPath, [GENERATOR, '--pairs', file, '--check', '--out', COMMITTED], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  });

  it('a two-way pair: one CronJob running reconcile --a --b, both sides read-write, no one-way jobs', () => {
    const out = renderWith('two-way', { media: '{ name: media, capacity: 2Ti, mode: two-way }' });
    const files = readdirSync(out);
    expect(files).toContain('cron-media-two-way.yaml');
    expect(files).not.toContain('cron-media-dell-to-hp.yaml');
    expect(files).not.toContain('cron-media-hp-to-dell.yaml');
    // Everything else, the pair's PVs, PVCs and applier and the other pairs' jobs included, is as
    // committed; the kustomization lists the two-way job instead of the two.
    const committed = readdirSync(COMMITTED).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(
      [
        ...committed.filter((f) => !/^cron-media-(dell-to-hp|hp-to-dell)\.yaml$/.test(f)),
        'cron-media-two-way.yaml',
      ].sort(),
    );
    const changed = files.filter((f) => committed.includes(f) && read(out, f) !== read(COMMITTED, f));
    expect(changed).toEqual(['kustomization.yaml']);
    const resources = YAML.parse(read(out, 'kustomization.yaml')).resources as string[];
    expect(resources).toContain('cron-media-two-way.yaml');
    expect(resources.filter((f) => f.startsWith('cron-media-'))).toEqual(['cron-media-two-way.yaml']);

    const cj = cronOf(out, 'cron-media-two-way.yaml');
    expect(valid(cj)).toEqual([]);
    expect(cj.metadata.name).toBe('ha-sync-media-two-way');
    expect(cj.metadata.namespace).toBe(NS);
    expect(cj.metadata.labels).toMatchObject({
      'app.kubernetes.io/component': 'reconciler',
      'ha-sync/pair': 'media',
      'ha-sync/mode': 'two-way',
    });
    // One run covers both directions: the primary's schedule, never two runs at once.
    expect(cj.spec.schedule).toBe(SCHEDULES['dell-to-hp']);
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    expect(cj.spec.suspend).toBe(false);
    const spec = podTemplate(cj)!.spec;
    expect(spec.serviceAccountName).toBe('ha-sync');
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(spec.restartPolicy).toBe('Never');
    const c = spec.containers[0];
    expect(argsOf(cj)).toEqual([
      'reconcile',
      '--pair=media',
      '--a=dell=/mnt/dell/media',
      '--b=hp=/mnt/hp/media',
      '--log-dir=/var/log/ha-sync',
      '--lock-wait=300',
      '--heartbeat',
      '--dry-run',
    ]);
    const from = (c.envFrom ?? []).map((e: any) => e.secretRef?.name ?? e.configMapRef?.name);
    expect(from).toEqual(['ha-sync-env', DB_SECRET, 'ha-sync-nats-reconcile-media']);
    // A two-way run writes to both sides: both mounted read-write, each from its own server's PVC.
    const claimOf = (path: string) => {
      const m = c.volumeMounts.find((x: any) => x.mountPath === path);
      expect(m, `${path} mounted`).toBeDefined();
      expect(m.readOnly ?? false, `${path} read-write`).toBe(false);
      const v = spec.volumes.find((x: any) => x.name === m.name);
      expect(v.persistentVolumeClaim.readOnly ?? false).toBe(false);
      return v.persistentVolumeClaim.claimName as string;
    };
    expect(claimOf('/mnt/dell/media')).toBe('pvc-dell-media');
    expect(claimOf('/mnt/hp/media')).toBe('pvc-hp-media');
    expect(claimOf('/var/log/ha-sync')).toBe('pvc-ha-sync-logs');
    expect(spec.volumes.find((v: any) => v.name === 'tmp').emptyDir).toBeDefined();
    // The same hardened container as the one-way jobs: only the args and the mounts differ.
    const oneWay = podTemplate(cronOf(COMMITTED, 'cron-media-dell-to-hp.yaml'))!.spec;
    const { args: _a, volumeMounts: _m, ...rest } = c;
    const { args: _b, volumeMounts: _n, ...oneWayRest } = oneWay.containers[0];
    expect(rest).toEqual(oneWayRest);
    expect(spec.securityContext).toEqual(oneWay.securityContext);
    expect(spec.terminationGracePeriodSeconds).toBe(oneWay.terminationGracePeriodSeconds);
  });

  it("the two-way job's args parse with reconcile's own parser, every root a mount", async () => {
    const out = renderWith('two-way-parse', {
      media: '{ name: media, capacity: 2Ti, mode: two-way, dryRun: false, deleteMissing: true }',
    });
    const cj = cronOf(out, 'cron-media-two-way.yaml');
    const c = podTemplate(cj)!.spec.containers[0];
    const parse = await parserFor('reconcile');
    const cfg = parse(argsOf(cj).slice(1), {
      ...envConfig(),
      POD_NAME: 'pod-0',
      HA_SYNC_DB_DSN: 'u:p@tcp(db:3306)/general_db',
    }) as any;
    expect(cfg.help).toBe(false);
    expect(cfg.pair).toBe('media');
    // Two-way: the sides' labels, and their roots as src (a) and dest (b).
    expect(cfg.sides).toEqual({ a: 'dell', b: 'hp' });
    expect([cfg.src, cfg.dest]).toEqual(['/mnt/dell/media', '/mnt/hp/media']);
    expect(cfg.deleteMissing).toBe(true);
    expect(cfg.dryRun).toBeFalsy();
    expect(cfg.lock.lockWaitSeconds).toBe(300);
    expect(cfg.keepVersionsDays).toBe(30);
    for (const p of [cfg.src, cfg.dest, cfg.audit.logDir]) {
      expect(
        c.volumeMounts.some((m: any) => m.mountPath === p),
        `${p} is not mounted`,
      ).toBe(true);
    }
  });

  it('deleteMissing: true puts --delete-missing on both one-way jobs, the two-way job and the applier', () => {
    const out = renderWith('deletes', {
      photos: '{ name: photos, capacity: 500Gi, dryRun: false, deleteMissing: true }',
      media: '{ name: media, capacity: 2Ti, mode: two-way, dryRun: false, deleteMissing: true }',
    });
    // Against the baseline, a one-way run deletes only what its source deleted: both directions
    // carry the flag, run in either order.
    for (const f of [
      'cron-photos-dell-to-hp.yaml',
      'cron-photos-hp-to-dell.yaml',
      'cron-media-two-way.yaml',
    ]) {
      const cj = cronOf(out, f);
      expect(valid(cj)).toEqual([]);
      expect(argsOf(cj), f).toContain('--delete-missing');
      expect(argsOf(cj), f).not.toContain('--dry-run');
      expect(argsOf(cj).join(' '), f).not.toMatch(/--force/);
    }
    for (const pair of ['photos', 'media']) {
      const d = parseDocs(read(out, `applier-${pair}.yaml`))[0]!;
      expect(d.spec.replicas).toBe(1);
      expect(d.spec.template.spec.containers[0].args).toContain('--delete-missing');
    }
    // The other pairs are untouched: still the seed's two jobs, in dry-run, without deletes.
    for (const f of ['cron-games-dell-to-hp.yaml', 'cron-games-hp-to-dell.yaml']) {
      expect(read(out, f)).toBe(read(COMMITTED, f));
      expect(argsOf(cronOf(out, f))).not.toContain('--delete-missing');
    }
  });
});

describe('rendered kustomization', () => {
  it('renders (kubectl kustomize, or the same resource list without kubectl)', () => {
    expect(['kubectl', 'fallback']).toContain(via);
    expect(objs.length).toBeGreaterThan(50);
    // The fallback reads the same resource list: both give the same objects.
    if (kubectlAvailable()) {
      const names = (xs: Obj[]) => xs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(names(fallbackRender(K8S_DIR))).toEqual(names(objs));
    }
  });

  it('every object is valid against the Kubernetes schema, with no unknown field', () => {
    const problems: string[] = [];
    for (const o of objs) {
      const id = `${o.kind}/${o.metadata.name}`;
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      if (!Model) {
        problems.push(`${id}: no schema registered for ${o.apiVersion} ${o.kind}`);
        continue;
      }
      try {
        new Model(o).validate();
      } catch (err) {
        problems.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
      problems.push(...unknownFields(o, `V1${o.kind}`, id));
    }
    expect(problems).toEqual([]);
  });

  it('the unknown-field check catches a typo', () => {
    const cj = structuredClone(find('CronJob', 'ha-sync-media-dell-to-hp')!);
    podTemplate(cj)!.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(unknownFields(cj, 'V1CronJob', 'x').join()).toMatch(/readOnlyRootFileSystem: unknown field/);
  });

  it('every namespaced object is in infrastructure; names are unique', () => {
    for (const o of objs) {
      if (o.kind === 'PersistentVolume') expect(o.metadata.namespace).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NS);
    }
    const ids = objs.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('no Secret is shipped; the DB secrets are documented, the NATS ones written by --secrets', () => {
    expect(byKind('Secret')).toEqual([]);
    const doc = readFileSync(join(K8S_DIR, 'secret.yaml'), 'utf8');
    // Comment-only: not one YAML document with content.
    expect(parseDocs(doc)).toEqual([]);
    expect(doc).toContain(`kubectl create secret generic ${DB_SECRET}`);
    expect(doc).toContain(`kubectl create secret generic ${DB_READONLY_SECRET}`);
    expect(doc).toContain('HA_SYNC_DB_DSN=');
    expect(doc).toMatch(/GRANT SELECT ON general_db\.\* TO 'ha_sync_ro'/);
    expect(doc).toContain('node scripts/gen-k8s.mjs --secrets k8s/secrets');
    const refs = new Set<string>();
    for (const o of workloads()) {
      for (const c of allContainers(o)) {
        for (const e of c.envFrom ?? []) if (e.secretRef) refs.add(e.secretRef.name);
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) refs.add(e.valueFrom.secretKeyRef.name);
      }
      for (const v of podTemplate(o)!.spec.volumes ?? []) if (v.secret) refs.add(v.secret.secretName);
    }
    // Every NATS Secret --secrets writes is used by a pod, but tap's (for people, with its CA).
    const nats = natsSecretNames().filter((n) => n !== 'ha-sync-nats-tap');
    expect(nats.length).toBeGreaterThan(3);
    expect([...refs].sort()).toEqual([DB_SECRET, DB_READONLY_SECRET, ...nats].sort());
  });
});

describe('references resolve', () => {
  it('PVCs, ConfigMaps and ServiceAccounts used by pods exist', () => {
    const problems: string[] = [];
    for (const o of workloads()) {
      const id = `${o.kind}/${o.metadata.name}`;
      const spec = podTemplate(o)!.spec;
      const sa = spec.serviceAccountName ?? 'default';
      if (sa !== 'default' && !find('ServiceAccount', sa))
        problems.push(`${id}: ServiceAccount ${sa} missing`);
      const templates = new Set((o.spec.volumeClaimTemplates ?? []).map((t: any) => t.metadata.name));
      const volumes = new Set<string>();
      for (const v of spec.volumes ?? []) {
        volumes.add(v.name);
        if (v.persistentVolumeClaim && !find('PersistentVolumeClaim', v.persistentVolumeClaim.claimName)) {
          problems.push(`${id}: PVC ${v.persistentVolumeClaim.claimName} missing`);
        }
        if (v.configMap && !find('ConfigMap', v.configMap.name))
          problems.push(`${id}: ConfigMap ${v.configMap.name} missing`);
      }
      for (const c of allContainers(o)) {
        for (const m of c.volumeMounts ?? []) {
          if (!volumes.has(m.name) && !templates.has(m.name))
            problems.push(`${id}/${c.name}: mounts unknown volume ${m.name}`);
        }
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef && !find('ConfigMap', e.configMapRef.name))
            problems.push(`${id}: ConfigMap ${e.configMapRef.name} missing`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('each PVC binds its own PV (static NFS, reserved by claimRef, Retain)', () => {
    for (const claim of byKind('PersistentVolumeClaim')) {
      const pv = find('PersistentVolume', claim.spec.volumeName);
      expect(pv, `PV ${claim.spec.volumeName}`).toBeDefined();
      expect(pv!.spec.claimRef).toEqual({ namespace: NS, name: claim.metadata.name });
      expect(claim.spec.storageClassName).toBe('');
      expect(pv!.spec.storageClassName).toBe('');
      expect(pv!.spec.accessModes).toEqual(claim.spec.accessModes);
      expect(claim.spec.resources.requests.storage).toBe(pv!.spec.capacity.storage);
      expect(pv!.spec.persistentVolumeReclaimPolicy).toBe('Retain');
    }
    expect(byKind('PersistentVolume').length).toBe(byKind('PersistentVolumeClaim').length);
  });

  it('Services select pods; the Ingress, StatefulSet and RoleBinding point at what exists', () => {
    for (const svc of byKind('Service')) {
      const sel = svc.spec.selector as Record<string, string>;
      const pods = workloads().filter((o) =>
        Object.entries(sel).every(([k, v]) => podTemplate(o)!.metadata?.labels?.[k] === v),
      );
      expect(pods.length, `Service ${svc.metadata.name} selects no pod`).toBeGreaterThan(0);
      for (const p of svc.spec.ports) {
        if (typeof p.targetPort === 'string') {
          const names = pods.flatMap((o) =>
            allContainers(o).flatMap((c) => (c.ports ?? []).map((x: any) => x.name)),
          );
          expect(names, `${svc.metadata.name} targetPort ${p.targetPort}`).toContain(p.targetPort);
        }
      }
    }
    for (const d of [...byKind('Deployment'), ...byKind('StatefulSet')]) {
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) {
        expect(d.spec.template.metadata.labels[k], `${d.metadata.name} selector ${k}`).toBe(v);
      }
    }
    for (const sts of byKind('StatefulSet')) expect(find('Service', sts.spec.serviceName)).toBeDefined();
    for (const ing of byKind('Ingress')) {
      for (const rule of ing.spec.rules) {
        for (const p of rule.http.paths) {
          const svc = find('Service', p.backend.service.name);
          expect(svc).toBeDefined();
          expect(svc!.spec.ports.map((x: any) => x.port)).toContain(p.backend.service.port.number);
        }
      }
    }
    for (const rb of byKind('RoleBinding')) {
      expect(find('Role', rb.roleRef.name)).toBeDefined();
      for (const s of rb.subjects) expect(find('ServiceAccount', s.name)).toBeDefined();
    }
  });
});

describe('the seed: RBAC, storage, CronJobs, dashboard', () => {
  it("ServiceAccount ha-sync; a Role on exactly the pairs' leases (get/update/delete), and create", () => {
    expect(find('ServiceAccount', 'ha-sync')).toBeDefined();
    const roles = byKind('Role');
    expect(roles).toHaveLength(1);
    expect(roles[0]!.rules).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: Object.keys(SEED_PAIRS).map((p) => `ha-sync-${p}`),
        verbs: ['get', 'update', 'delete'],
      },
      // create cannot be limited by resourceNames: a rule of its own, with nothing else.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
    const rb = byKind('RoleBinding')[0]!;
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ha-sync', namespace: NS }]);
  });

  it('the logs volume: NFS on hp, 10Gi, RWX, outside every synced tree', () => {
    const pv = find('PersistentVolume', 'pv-ha-sync-logs')!;
    expect(pv.spec.nfs.server).toBe(SERVERS.hp);
    expect(pv.spec.capacity.storage).toBe('10Gi');
    expect(pv.spec.accessModes).toEqual(['ReadWriteMany']);
    const claim = find('PersistentVolumeClaim', 'pvc-ha-sync-logs')!;
    expect(claim.spec.volumeName).toBe('pv-ha-sync-logs');
    for (const pair of Object.keys(SEED_PAIRS)) {
      const rel = posix.relative(`/data/${pair}`, pv.spec.nfs.path);
      expect(rel.startsWith('..'), `logs path inside /data/${pair}`).toBe(true);
    }
  });

  it.each(Object.entries(SEED_PAIRS))(
    'pair %s: a PV and PVC per server with the seed path and capacity',
    (pair, cap) => {
      for (const [server, address] of Object.entries(SERVERS)) {
        const pv = find('PersistentVolume', `pv-${server}-${pair}`)!;
        expect(pv, `pv-${server}-${pair}`).toBeDefined();
        expect(pv.spec.nfs).toEqual({ server: address, path: `/data/${pair}` });
        expect(pv.spec.capacity.storage).toBe(cap);
        expect(pv.spec.accessModes).toEqual(['ReadWriteMany']);
        // Short attribute caching, or polling sees changes up to a minute late.
        expect(pv.spec.mountOptions).toContain('actimeo=1');
        expect(pv.spec.mountOptions).toContain('hard');
        expect(pv.spec.mountOptions.some((o: string) => o.startsWith('nfsvers='))).toBe(true);
        const claim = find('PersistentVolumeClaim', `pvc-${server}-${pair}`)!;
        expect(claim.spec.volumeName).toBe(`pv-${server}-${pair}`);
      }
    },
  );

  it.each(Object.entries(SEED_PAIRS))(
    'pair %s: two CronJobs, seed schedules, dry-run by default, Forbid',
    async (pair) => {
      const parse = await parserFor('reconcile');
      for (const [direction, schedule] of Object.entries(SCHEDULES)) {
        const [from, , to] = direction.split('-') as [string, string, string];
        const cj = find('CronJob', `ha-sync-${pair}-${direction}`)!;
        expect(cj, `ha-sync-${pair}-${direction}`).toBeDefined();
        expect(cj.spec.schedule).toBe(schedule);
        expect(cj.spec.concurrencyPolicy).toBe('Forbid');
        const spec = podTemplate(cj)!.spec;
        expect(spec.serviceAccountName).toBe('ha-sync');
        expect(spec.restartPolicy).toBe('Never');
        const c = spec.containers[0];
        expect(c.args[0]).toBe('reconcile');
        // The seed's args, plus --dry-run (the shipped default) and a --lock-wait for the applier.
        for (const a of [
          `--src=/mnt/${from}/${pair}`,
          `--dest=/mnt/${to}/${pair}`,
          `--pair=${pair}`,
          `--direction=${direction}`,
          '--log-dir=/var/log/ha-sync',
          '--dry-run',
        ]) {
          expect(c.args).toContain(a);
        }
        // The DSN comes from the secret's environment, never from argv (it would show in ps).
        expect(c.args.join(' ')).not.toMatch(/db-dsn/);
        expect(c.args).not.toContain('--delete-missing');
        const cfg = parse(c.args.slice(1), {
          ...envConfig(),
          HA_SYNC_DB_DSN: 'u:p@tcp(db:3306)/general_db',
        }) as any;
        expect(cfg.dryRun).toBe(true);
        expect(cfg.deleteMissing).toBe(false);
        expect(cfg.lock.lockWaitSeconds).toBeGreaterThanOrEqual(60);
        expect(cfg.direction).toBe(direction);
        const mount = (p: string) => c.volumeMounts.find((m: any) => m.mountPath === p);
        // The source is mounted read-only: a reconcile never writes to it.
        expect(mount(cfg.src)?.readOnly).toBe(true);
        expect(mount(cfg.dest)).toBeDefined();
        expect(mount(cfg.dest).readOnly ?? false).toBe(false);
        expect(mount(cfg.audit.logDir)).toBeDefined();
        const vol = (name: string) =>
          spec.volumes.find((v: any) => v.name === name).persistentVolumeClaim.claimName;
        expect(vol(mount(cfg.src).name)).toBe(`pvc-${from}-${pair}`);
        expect(vol(mount(cfg.dest).name)).toBe(`pvc-${to}-${pair}`);
      }
    },
  );

  it('the dashboard: Deployment, Service 8080, Ingress with cert-manager TLS', () => {
    const ui = find('Deployment', 'ha-sync-ui')!;
    expect(ui.spec.replicas).toBe(1);
    const c = ui.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const svc = find('Service', 'ha-sync-ui')!;
    expect(svc.spec.ports[0].port).toBe(8080);
    const ing = find('Ingress', 'ha-sync-ui')!;
    expect(ing.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBeTruthy();
    expect(ing.spec.rules[0].host).toBe('ha-sync.vandachevici.ro');
    expect(ing.spec.tls[0].hosts).toEqual(['ha-sync.vandachevici.ro']);
    expect(ing.spec.tls[0].secretName).toBeTruthy();
  });

  it('a weekly prune CronJob', () => {
    const cj = find('CronJob', 'ha-sync-prune')!;
    const fields = cj.spec.schedule.split(' ');
    expect(fields).toHaveLength(5);
    expect(fields[4]).toMatch(/^[0-6]$/);
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    expect(podTemplate(cj)!.spec.containers[0].args[0]).toBe('prune');
  });
});

describe('the live path: watchers, appliers, NATS', () => {
  it('one watcher Deployment per server, watching all its pairs read-only', () => {
    for (const server of Object.keys(SERVERS)) {
      const d = find('Deployment', `ha-sync-watch-${server}`)!;
      expect(d, `ha-sync-watch-${server}`).toBeDefined();
      const c = d.spec.template.spec.containers[0];
      expect(c.args[0]).toBe('watch');
      for (const pair of Object.keys(SEED_PAIRS)) {
        const m = c.volumeMounts.find((x: any) => x.mountPath === `/mnt/${server}/${pair}`);
        expect(m?.readOnly, `${server}/${pair} mounted read-only`).toBe(true);
        expect(c.args.join(' ')).toContain(`/mnt/${server}/${pair}`);
      }
      // Watchers never write: no Kubernetes token, no database secret.
      expect(d.spec.template.spec.automountServiceAccountToken).toBe(false);
    }
  });

  it('an applier per pair mounting both servers; off (0 replicas) while the pair is in dry-run', () => {
    for (const pair of Object.keys(SEED_PAIRS)) {
      const d = find('Deployment', `ha-sync-apply-${pair}`)!;
      expect(d, `ha-sync-apply-${pair}`).toBeDefined();
      expect(d.spec.replicas).toBe(0);
      const claims = d.spec.template.spec.volumes
        .filter((v: any) => v.persistentVolumeClaim)
        .map((v: any) => v.persistentVolumeClaim.claimName)
        .sort();
      expect(claims).toEqual([`pvc-dell-${pair}`, `pvc-hp-${pair}`, 'pvc-ha-sync-logs'].sort());
      expect(d.spec.template.spec.automountServiceAccountToken).toBe(true);
    }
  });

  it('NATS with JetStream: a StatefulSet with a PVC, a Service, probes; NATS_URL points at it', () => {
    const sts = find('StatefulSet', 'ha-sync-nats')!;
    expect(sts).toBeDefined();
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    const conf = find('ConfigMap', 'ha-sync-nats-config')!.data['nats.conf'] as string;
    expect(conf).toMatch(/jetstream\s*\{[^}]*store_dir: "\/data"/);
    const c = sts.spec.template.spec.containers[0];
    expect(c.image).toMatch(/^nats:\d+\.\d+\.\d+/);
    expect(c.livenessProbe).toBeDefined();
    expect(c.readinessProbe).toBeDefined();
    expect(envConfig().NATS_URL).toBe('nats://ha-sync-nats.infrastructure.svc:4222');
    expect(find('Service', 'ha-sync-nats')!.spec.ports.map((p: any) => p.port)).toContain(4222);
  });
});

describe('every pod is hardened', () => {
  it('requests and limits, non-root, read-only root with /tmp, no capabilities, seccomp', () => {
    const problems: string[] = [];
    for (const o of workloads()) {
      const spec = podTemplate(o)!.spec;
      const id = `${o.kind}/${o.metadata.name}`;
      const psc = spec.securityContext ?? {};
      if (psc.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${id}: seccomp`);
      for (const c of allContainers(o)) {
        const cid = `${id}/${c.name}`;
        const sc = c.securityContext ?? {};
        for (const r of ['requests', 'limits']) {
          for (const k of ['cpu', 'memory'])
            if (!c.resources?.[r]?.[k]) problems.push(`${cid}: no ${r}.${k}`);
        }
        if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${cid}: runAsNonRoot`);
        const uid = sc.runAsUser ?? psc.runAsUser;
        if (!(typeof uid === 'number' && uid > 0)) problems.push(`${cid}: runAsUser`);
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem`);
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation`);
        if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${cid}: capabilities.drop ALL`);
        const tmp = (c.volumeMounts ?? []).find((m: any) => m.mountPath === '/tmp');
        const tmpVol = tmp && spec.volumes.find((v: any) => v.name === tmp.name);
        if (!tmpVol?.emptyDir) problems.push(`${cid}: no emptyDir on /tmp`);
        const podName = (c.env ?? []).find((e: any) => e.name === 'POD_NAME');
        if (podName?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') problems.push(`${cid}: POD_NAME`);
        if (!/:[\w][\w.-]*$/.test(c.image) || c.image.endsWith(':latest'))
          problems.push(`${cid}: image not pinned (${c.image})`);
        if ((c.ports ?? []).length && (!c.livenessProbe || !c.readinessProbe))
          problems.push(`${cid}: a server without probes`);
      }
      if (!(spec.terminationGracePeriodSeconds >= 60)) problems.push(`${id}: terminationGracePeriodSeconds`);
    }
    expect(problems).toEqual([]);
  });

  it('ha-sync pods: the grace period outlasts finishing a file; DB and config from envFrom', () => {
    const readsAudit = new Set(['reconcile', 'apply', 'ui', 'prune']);
    for (const { o, c } of haSyncContainers()) {
      const id = `${o.kind}/${o.metadata.name}`;
      expect(podTemplate(o)!.spec.terminationGracePeriodSeconds, id).toBeGreaterThanOrEqual(120);
      const from = (c.envFrom ?? []).map((e: any) => e.secretRef?.name ?? e.configMapRef?.name);
      expect(from, id).toContain('ha-sync-env');
      // The dashboard reads with the read-only DSN, and never gets the writing one.
      if (c.args[0] === 'ui') {
        expect(from, id).toContain(DB_READONLY_SECRET);
        expect(from, id).not.toContain(DB_SECRET);
      } else if (readsAudit.has(c.args[0])) expect(from, id).toContain(DB_SECRET);
    }
  });

  it('only Lease holders (reconcile, apply) get a Kubernetes API token', () => {
    expect(find('ServiceAccount', 'ha-sync')!.automountServiceAccountToken).toBe(false);
    for (const o of workloads()) {
      const spec = podTemplate(o)!.spec;
      const cmd = allContainers(o)[0]?.args?.[0];
      const holder = cmd === 'reconcile' || cmd === 'apply';
      expect(spec.automountServiceAccountToken, `${o.kind}/${o.metadata.name}`).toBe(holder);
    }
  });
});

describe("containers' args parse with the commands' own parsers", () => {
  it('every ha-sync container in the manifests', async () => {
    const env: NodeJS.ProcessEnv = {
      ...envConfig(),
      POD_NAME: 'pod-0',
      HA_SYNC_DB_DSN: 'ha_sync:pw@tcp(general-purpose-db.infrastructure.svc.cluster.local:3306)/general_db',
    };
    const seen = new Set<string>();
    for (const { o, c } of haSyncContainers()) {
      const cmd = c.args[0] as string;
      seen.add(cmd);
      const parse = await parserFor(cmd);
      let cfg: any;
      try {
        cfg = parse(c.args.slice(1), env);
      } catch (err) {
        throw new Error(`${o.kind}/${o.metadata.name}: ${c.args.join(' ')}: ${(err as Error).message}`);
      }
      expect(cfg.help, `${o.metadata.name}`).toBe(false);
      // Every path the command will use is a mount of this container.
      const paths: string[] = [];
      if (cfg.src) paths.push(cfg.src, cfg.dest);
      if (cfg.a) paths.push(cfg.a.root, cfg.b.root);
      if (cfg.audit?.logDir && cmd !== 'ui' && cmd !== 'prune') paths.push(cfg.audit.logDir);
      for (const r of (cfg.roots ?? cfg.watches ?? []) as any[]) paths.push(r.root ?? r.path);
      for (const p of paths) {
        expect(
          c.volumeMounts.some((m: any) => m.mountPath === p),
          `${o.metadata.name}: ${p} is not mounted`,
        ).toBe(true);
      }
    }
    expect([...seen].sort()).toEqual(['apply', 'prune', 'reconcile', 'ui', 'watch']);
  });

  it.each(['reconcile', 'watch', 'apply', 'run', 'tap', 'ui', 'prune'])(
    '%s exports its pure parser; --help parses',
    async (cmd) => {
      const parse = await parserFor(cmd);
      expect((parse(['--help'], {}) as any).help).toBe(true);
      expect(() => parse(['--no-such-flag'], {})).toThrow(/unknown flag --no-such-flag/);
    },
  );
});

describe('the pairs list is the one source', () => {
  it('pairs.yaml names exactly the pairs that are rendered', () => {
    const list = YAML.parse(readFileSync(join(K8S_DIR, 'pairs.yaml'), 'utf8'));
    const names = (list.pairs as { name: string }[]).map((p) => p.name).sort();
    expect(names).toEqual(Object.keys(SEED_PAIRS).sort());
    const rendered = new Set(
      byKind('CronJob')
        .map((o) => o.metadata.labels?.['ha-sync/pair'])
        .filter(Boolean),
    );
    expect([...rendered].sort()).toEqual(names);
  });
});
