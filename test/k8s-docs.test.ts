// The operator docs cannot drift from the code: docs/cli.md names every command and every flag each
// command's --help prints; the objects docs/operations.md tells you to kubectl exist in the
// rendered manifests; relative links point at files that exist.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { K8S_DIR, ROOT, parseDocs, renderKustomization } from './k8s.helpers.js';

const COMMANDS = ['reconcile', 'watch', 'apply', 'run', 'tap', 'ui', 'prune', 'versions', 'restore'];
const CLI_MD = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
const OPS_MD = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');

async function help(cmd: string): Promise<string> {
  let out = '';
  const sink = (): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
  const code = await main([cmd, '--help'], {
    stdout: sink(),
    stderr: sink(),
    env: {},
    signal: new AbortController().signal,
  });
  expect(code, `${cmd} --help`).toBe(0);
  return out;
}

describe('docs/cli.md', () => {
  it.each(COMMANDS)('documents ha-sync %s and every flag its --help prints', async (cmd) => {
    expect(CLI_MD).toContain(`## \`ha-sync ${cmd}`);
    const text = await help(cmd);
    const flags = [...text.matchAll(/^\s+--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!);
    expect(flags.length).toBeGreaterThan(0);
    const missing = flags.filter((f) => !new RegExp(`--${f}(?![a-z0-9-])`).test(CLI_MD));
    expect(missing, `flags of ${cmd} missing from docs/cli.md`).toEqual([]);
    // Each default --help prints is in the flag's row of the command's own section.
    const start = CLI_MD.indexOf(`## \`ha-sync ${cmd}`);
    const end = CLI_MD.indexOf('\n## ', start + 1);
    const section = CLI_MD.slice(start, end < 0 ? undefined : end);
    const wrong: string[] = [];
    for (const m of text.matchAll(/^\s+--([a-z][a-z0-9-]*)\b.*\(default: ([^;)]+)/gm)) {
      const row = section.split('\n').find((l) => new RegExp(`^\\| \`--${m[1]}[\` ]`).test(l));
      if (row && !row.includes('as `') && !row.includes(m[2]!.trim()))
        wrong.push(`--${m[1]}: default ${m[2]}`);
    }
    expect(wrong, `defaults of ${cmd} that docs/cli.md states differently`).toEqual([]);
  });

  it('documents ha-sync-ui, the exit codes, the environment and the --delete-missing rollout', () => {
    expect(CLI_MD).toContain('ha-sync-ui');
    for (const code of ['`0`', '`1`', '`2`', '`3`']) expect(CLI_MD).toContain(code);
    for (const env of ['HA_SYNC_DB_DSN', 'NATS_URL', 'KUBECONFIG', 'POD_NAME']) expect(CLI_MD).toContain(env);
    expect(CLI_MD).toMatch(/### Rolling out `--delete-missing`/);
    // The rollout states the baseline's three delete rules, then the steps.
    const start = CLI_MD.indexOf('### Rolling out `--delete-missing`');
    const rollout = CLI_MD.slice(start, CLI_MD.indexOf('\n## ', start));
    expect(rollout).toMatch(
      /baseline shows the other side deleted[\s\S]*new on dest is never deleted[\s\S]*never re-created/,
    );
    expect(rollout).toMatch(/Dry run[\s\S]*Go live without deletes[\s\S]*Preview the deletes[\s\S]*Enable/);
    expect(rollout).not.toMatch(/primary direction only/);
  });
});

describe('docs/operations.md', () => {
  it('names only objects the manifests create', () => {
    const objs = parseDocs(renderKustomization(K8S_DIR).text);
    const names = new Set(objs.map((o) => `${o.kind}/${o.metadata.name}`));
    const kinds: Record<string, string> = {
      cronjob: 'CronJob',
      deploy: 'Deployment',
      svc: 'Service',
      statefulset: 'StatefulSet',
    };
    const refs = [...OPS_MD.matchAll(/\b(cronjob|deploy|svc|statefulset)\/([a-z0-9-]+)(?![a-z0-9$-])/g)];
    expect(refs.length).toBeGreaterThan(5);
    const missing = refs.map((m) => `${kinds[m[1]!]}/${m[2]}`).filter((n) => !names.has(n));
    expect(missing).toEqual([]);
    for (const m of OPS_MD.matchAll(/\bpvc?-[a-z]+-[a-z0-9-]+\b/g)) {
      if (m[0].includes('<') || /-(dell|hp)-$/.test(m[0])) continue;
      expect(
        [...names].some((n) => n.endsWith(`/${m[0]}`)),
        m[0],
      ).toBe(true);
    }
  });

  it('covers deploy, verify, dashboard, NATS tap, alerting, prune, upgrade and outage recovery', () => {
    for (const h of [
      '## Deploy',
      '## Verify',
      '## Read the dashboard',
      '## Tap NATS',
      '## Alert',
      '## Prune',
      '## Upgrade',
      '## Recover from a server outage',
    ]) {
      expect(OPS_MD).toContain(h);
    }
    expect(OPS_MD).toContain("nats sub 'hasync.>'");
    expect(OPS_MD).toMatch(/expr: .*ha_sync_/);
  });
});

describe('relative links in the docs I ship', () => {
  it.each([
    'README.md',
    'docs/cli.md',
    'docs/cli-reconcile.md',
    'docs/operations.md',
    'docs/two-way.md',
    'docs/recovery.md',
    'docs/live-sync.md',
    'k8s/README.md',
  ])('%s links only to files that exist', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      if (!existsSync(join(ROOT, dirname(file), target))) broken.push(target);
    }
    expect(broken).toEqual([]);
  });
});
