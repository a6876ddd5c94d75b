#!/usr/bin/env node
// Renders every Kubernetes object of ha-sync from ONE list of pairs (k8s/pairs.yaml) into
// k8s/generated/, one file per object, plus the kustomization that lists them. Adding a pair is one
// line in pairs.yaml and `npm run manifests`; test/k8s.test.ts regenerates into a temp directory and
// fails when the committed files are stale.
//
//   node scripts/gen-k8s.mjs                 write k8s/generated/ from k8s/pairs.yaml
//   node scripts/gen-k8s.mjs --out <dir>     write somewhere else (the staleness test)
//   node scripts/gen-k8s.mjs --check         exit 1 when k8s/generated/ differs from a fresh render
//   node scripts/gen-k8s.mjs --pairs <file>  read another list
//   node scripts/gen-k8s.mjs --secrets <dir>  write the NATS Secrets (TLS, users) into <dir>, e.g.
//                                            k8s/secrets (in .gitignore); a re-run keeps existing
//                                            passwords and certificates unless --rotate / --rotate-tls
//
// The pieces: scripts/k8s/config.mjs (read and validate the list), scripts/k8s/pod.mjs (names,
// command lines, hardened pod specs), scripts/k8s/objects.mjs (every object, and their YAML),
// scripts/k8s/nats.mjs (the NATS server, its identities and permissions), scripts/k8s/network.mjs
// (NetworkPolicies), scripts/k8s/monitoring.mjs (PodMonitor, ServiceMonitor, PrometheusRule and the
// Grafana dashboard, with `monitoring.enabled`), scripts/k8s/schedule.mjs (a cron schedule's longest
// gap), scripts/k8s/secrets.mjs (the NATS Secrets, never committed).
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname, resolve, relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import process from 'node:process';
import { parsePairsConfig } from './k8s/config.mjs';
import { renderText } from './k8s/objects.mjs';
import { writeSecrets } from './k8s/secrets.mjs';

export { parsePairsConfig } from './k8s/config.mjs';
export { render, renderText } from './k8s/objects.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Writes the set into `dir`, removing any other .yaml there (a pair taken out of the list). */
export function writeTo(dir, texts) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.yaml') && !texts.has(f)) rmSync(join(dir, f));
  }
  for (const [f, t] of texts) writeFileSync(join(dir, f), t);
}

/** Differences between `dir` and the texts: a list of file names with what is wrong. */
export function diffDir(dir, texts) {
  const problems = [];
  let present = [];
  try {
    present = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  } catch {
    return [`${dir} is missing`];
  }
  for (const f of present) if (!texts.has(f)) problems.push(`${f}: not generated any more (remove it)`);
  for (const [f, t] of texts) {
    let cur;
    try {
      cur = readFileSync(join(dir, f), 'utf8');
    } catch {
      problems.push(`${f}: missing`);
      continue;
    }
    if (cur !== t) problems.push(`${f}: differs`);
  }
  return problems;
}

function cli() {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: join(ROOT, 'k8s', 'pairs.yaml') },
      out: { type: 'string', default: join(ROOT, 'k8s', 'generated') },
      check: { type: 'boolean', default: false },
      secrets: { type: 'string' },
      rotate: { type: 'boolean', default: false },
      'rotate-tls': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: node scripts/gen-k8s.mjs [--pairs k8s/pairs.yaml] [--out k8s/generated] [--check]\n' +
        '       node scripts/gen-k8s.mjs --secrets k8s/secrets [--rotate] [--rotate-tls]\n',
    );
    return 0;
  }
  let cfg;
  try {
    cfg = parsePairsConfig(readFileSync(values.pairs, 'utf8'));
  } catch (err) {
    process.stderr.write(`gen-k8s: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (values.secrets !== undefined) {
    const dir = isAbsolute(values.secrets) ? values.secrets : resolve(values.secrets);
    try {
      const files = writeSecrets(cfg, dir, { rotate: values.rotate, rotateTls: values['rotate-tls'] });
      process.stdout.write(
        `gen-k8s: wrote ${files.length} files to ${dir} (secret: never commit them); apply with kubectl apply -k ${values.secrets}\n`,
      );
      return 0;
    } catch (err) {
      process.stderr.write(`gen-k8s: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  }
  const texts = renderText(cfg);
  const out = isAbsolute(values.out) ? values.out : resolve(values.out);
  if (values.check) {
    const problems = diffDir(out, texts);
    if (problems.length) {
      process.stderr.write(
        `gen-k8s: ${relative(ROOT, out) || out} is stale; run npm run manifests\n  ${problems.join('\n  ')}\n`,
      );
      return 1;
    }
    process.stdout.write(`gen-k8s: ${texts.size} files up to date\n`);
    return 0;
  }
  writeTo(out, texts);
  process.stdout.write(`gen-k8s: wrote ${texts.size} files to ${relative(ROOT, out) || out}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = cli();
}
