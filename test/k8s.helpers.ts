// Helpers for the manifest tests: render the kustomization (kubectl when installed, else the same
// resource list read by hand), walk pod templates, and check objects field by field against the
// Kubernetes API types (unknown fields are typos the schema validator would let through).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';

// Manifests are untyped YAML: these helpers walk them as `any` on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return */

export const ROOT = resolve(import.meta.dirname, '..');
export const K8S_DIR = join(ROOT, 'k8s');
export const GENERATOR = join(ROOT, 'scripts', 'gen-k8s.mjs');

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [k: string]: any;
};

export function kubectlAvailable(): boolean {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Renders a kustomization directory to YAML text: kubectl kustomize, or the fallback below. */
export function renderKustomization(dir: string): { text: string; via: 'kubectl' | 'fallback' } {
  if (kubectlAvailable()) {
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`);
    return { text: r.stdout, via: 'kubectl' };
  }
  return { text: YAML.stringify(fallbackRender(dir)).replace(/^/, ''), via: 'fallback' };
}

const CLUSTER_SCOPED = new Set([
  'PersistentVolume',
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
]);

/**
 * The subset of kustomize this repo uses: `resources` (files and directories with their own
 * kustomization.yaml), `namespace` and `images` (name -> newName:newTag).
 */
export function fallbackRender(dir: string): Obj[] {
  const k = YAML.parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  const objs: Obj[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) objs.push(...fallbackRender(p));
    else objs.push(...parseDocs(readFileSync(p, 'utf8')));
  }
  for (const o of objs) {
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    type Img = { name: string; newName?: string; newTag?: string; digest?: string };
    for (const img of (k.images ?? []) as Img[]) {
      for (const c of allContainers(o)) {
        const ref = splitImage(c.image as string);
        if (ref.name !== img.name) continue;
        const tag = img.newTag ?? ref.tag;
        const digest = img.digest ?? (img.newTag ? undefined : ref.digest);
        c.image = `${img.newName ?? ref.name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
      }
    }
  }
  return objs;
}

/** An image reference's name, tag and digest (a registry's `host:port/` is part of the name). */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at < 0 ? undefined : image.slice(at + 1);
  const rest = at < 0 ? image : image.slice(0, at);
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || rest.slice(colon).includes('/')) return { name: rest, ...(digest ? { digest } : {}) };
  return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
}

export function parseDocs(text: string): Obj[] {
  return YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(d.errors.map((e) => e.message).join('; '));
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

/** The pod template of a workload, or undefined. */
export function podTemplate(o: Obj): { metadata?: any; spec: any } | undefined {
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet') return o.spec?.template;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template;
  if (o.kind === 'Job') return o.spec?.template;
  return undefined;
}

export function allContainers(o: Obj): any[] {
  const t = podTemplate(o);
  return t ? [...(t.spec.initContainers ?? []), ...(t.spec.containers ?? [])] : [];
}

/**
 * Every field of `value` must exist in the Kubernetes type `type` (client-node's models carry the
 * full attribute map). Returns one line per unknown field.
 */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  const out: string[] = [];
  const walk = (v: unknown, t: string, p: string): void => {
    if (v === null || v === undefined) return;
    const item = /^Array<(.+)>$/.exec(t)?.[1];
    if (item !== undefined) {
      if (!Array.isArray(v)) out.push(`${p}: expected a list`);
      else v.forEach((x, i) => walk(x, item, `${p}[${i}]`));
      return;
    }
    const value = /^\{ \[key: string\]: (.+); \}$/.exec(t)?.[1];
    if (value !== undefined) {
      for (const [key, x] of Object.entries(v as Record<string, unknown>)) walk(x, value, `${p}.${key}`);
      return;
    }
    const cls = (k8s as any)[t];
    if (typeof cls?.getAttributeTypeMap !== 'function') return; // a primitive, IntOrString, Date...
    if (typeof v !== 'object' || Array.isArray(v)) {
      out.push(`${p}: expected an object (${t})`);
      return;
    }
    const attrs = cls.getAttributeTypeMap() as { baseName: string; type: string }[];
    for (const [key, x] of Object.entries(v as Record<string, unknown>)) {
      const a = attrs.find((at) => at.baseName === key);
      if (!a) out.push(`${p}.${key}: unknown field of ${t}`);
      else walk(x, a.type, `${p}.${key}`);
    }
  };
  walk(value, type, path);
  return out;
}

/** Reads the generated dir's kustomization resource list, for the fallback and for messages. */
export function generatedFiles(dir = join(K8S_DIR, 'generated')): string[] {
  if (!existsSync(join(dir, 'kustomization.yaml'))) return [];
  return (YAML.parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')).resources ?? []) as string[];
}

export const relToRoot = (p: string): string => p.replace(ROOT + '/', '').replace(dirname(ROOT) + '/', '');
