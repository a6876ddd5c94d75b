// `ha-sync versions --root DIR [--path REL]` lists the files ha-sync kept in
// `<root>/.ha-sync/versions/` (the versions it replaced or deleted), newest first, each with the
// command that restores it. `ha-sync restore --root DIR --path REL [--version NAME]` puts one back.
//
// Exit codes: 0 done; 1 refused or failed (`.ha-sync` is a symlink or a file, the path is now a
// directory, the file changed while restoring); 2 bad input, nothing touched: a flag that is
// missing or malformed, a path outside the root, through a symlink or inside `.ha-sync/`, or a
// version that does not exist (naming a thing that is not there is input, like a missing --src).
//
// A `.ha-sync` that is a symlink or a file exits 1, as it does for every command that syncs: it is
// the state of the disk, not of the flags, and the fix is on the disk.
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import { STATE_DIR, VERSIONS_DIR, parseVersionName } from '../core/index.js';
import type { Expected } from '../core/index.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { FlagSpecs } from '../config/index.js';
import { dirFlag, flagHelp, parseFlags, requireFlag } from '../config/index.js';
import { EXIT, HaSyncError, usage } from '../errors.js';
import type { KeptVersion } from '../fsops/index.js';
import {
  checkStateDir,
  isStatePath,
  kindOf,
  listVersions,
  readMarker,
  restoreEntry,
  splitRel,
} from '../fsops/index.js';
import type { CliContext } from './context.js';

const rootFlag = {
  type: 'string',
  valueName: 'path',
  help: "The side's root directory, the folder that holds .ha-sync/ (required)",
} as const;

export const versionsFlags = {
  root: rootFlag,
  path: {
    type: 'string',
    valueName: 'rel',
    help: 'Only the versions of this path (relative to --root), and of everything below it if it was a folder',
  },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

export const restoreFlags = {
  root: rootFlag,
  path: {
    type: 'string',
    valueName: 'rel',
    help: 'The file to put back, relative to --root (required)',
  },
  version: {
    type: 'string',
    valueName: 'name',
    help: 'The kept version to restore: its file name as `ha-sync versions` lists it (default: the latest)',
  },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
} as const satisfies FlagSpecs;

// ---- input: pure checks first, then the disk (still before anything is written) ----

/** `--path`: relative to the root, no `..`, no NUL, not inside `.ha-sync/`. Pure. */
export function relPathFlag(v: string): string {
  if (v.includes('\0')) throw usage('--path: contains a NUL byte');
  const show = `'${v}'`;
  if (v.startsWith('/')) throw usage(`--path: ${show} is absolute; give the path relative to --root`);
  const parts = v.split('/');
  if (parts.includes('..')) throw usage(`--path: ${show} contains '..'; give a path inside --root`);
  if (parts.some((p) => p === '' || p === '.')) {
    throw usage(`--path: ${show} has an empty or '.' component; write it like docs/report.pdf`);
  }
  if (isStatePath(v)) {
    throw usage(`--path: ${show} is inside ${STATE_DIR}/ (ha-sync's own state); give the synced file's path`);
  }
  return v;
}

/** `--version`: one file name, no '/', no NUL. Pure. */
function versionNameFlag(v: string): string {
  if (v === '' || v.includes('/') || v.includes('\0')) {
    throw usage(
      `--version: expected a version's file name as \`ha-sync versions\` lists it (no '/'), got '${v}'`,
    );
  }
  return v;
}

/** Refuses a root whose `.ha-sync` (or `.ha-sync/versions`) is a symlink or a file: exit 1. */
async function stateDirSafe(root: string): Promise<void> {
  const reason = await checkStateDir(root);
  if (reason) throw new HaSyncError('STATE_DIR_UNSAFE', reason);
}

/**
 * The folders of `rel` under the root that are missing (to create, outermost first). Throws a
 * usage error when one of them is a symlink or not a directory: restore never writes through one.
 */
function missingParents(root: string, rel: string): string[] {
  const { parent } = splitRel(rel);
  if (parent === '') return [];
  const missing: string[] = [];
  let cur = '';
  for (const part of parent.split('/')) {
    cur = cur === '' ? part : `${cur}/${part}`;
    const st = missing.length > 0 ? undefined : fs.lstatSync(`${root}/${cur}`, { throwIfNoEntry: false });
    if (st === undefined) {
      missing.push(cur);
      continue;
    }
    if (st.isSymbolicLink())
      throw usage(`--path: '${cur}' under --root is a symlink; restore never writes through one`);
    if (!st.isDirectory()) throw usage(`--path: '${cur}' under --root is not a directory`);
  }
  return missing;
}

// ---- output ----

/** `s` as one POSIX shell word: bare when plainly safe, else single-quoted. */
function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A path for a terminal: control characters shown as \xNN. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `2026-12-04T23:15:00Z`: names carry whole seconds. */
function utc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function restoreCommandLine(root: string, v: KeptVersion): string {
  return `ha-sync restore --root ${shellWord(root)} --path ${shellWord(v.path)} --version ${shellWord(v.name)}`;
}

function sizeText(v: KeptVersion): string {
  return v.kind === 'symlink' ? `symlink (${v.size} bytes)` : `${v.size} bytes`;
}

// ---- versions ----

export async function versionsCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values: v } = parseFlags(argv, versionsFlags, { env: ctx.env });
  if (v.help) {
    ctx.stdout.write(
      [
        'Usage: ha-sync versions --root <dir> [--path <rel>]',
        '',
        `Lists the files ha-sync kept in <root>/${VERSIONS_DIR}/ when it replaced or deleted them,`,
        'newest first: the path, when it was kept (UTC), its size, and the command that restores it.',
        '',
        'Flags:',
        flagHelp(versionsFlags),
      ].join('\n') + '\n',
    );
    return EXIT.OK;
  }
  const root = dirFlag('root', v.root, 'root');
  const filter = v.path === undefined ? undefined : relPathFlag(v.path);
  await stateDirSafe(root);
  const list = await listVersions(root, filter);
  if (list.length === 0) {
    ctx.stdout.write(
      `no kept versions${filter === undefined ? '' : ` of '${printable(filter)}'`} in ${root}\n`,
    );
    return EXIT.OK;
  }
  const rows = list.map((k) => [printable(k.path), utc(k.keptAtMs), sizeText(k)] as const);
  const w0 = Math.max(4, ...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const out: string[] = [`${'PATH'.padEnd(w0)}  ${'KEPT AT (UTC)'.padEnd(w1)}  SIZE`];
  list.forEach((k, i) => {
    const [p, at, size] = rows[i]!;
    out.push(`${p.padEnd(w0)}  ${at.padEnd(w1)}  ${size}`);
    out.push(`  ${restoreCommandLine(root, k)}`);
  });
  ctx.stdout.write(out.join('\n') + '\n');
  return EXIT.OK;
}

// ---- restore ----

export interface RestoreConfig {
  /** Absolute. */
  readonly root: string;
  readonly path: string;
  /** The version's file name; undefined: the latest. */
  readonly version: string | undefined;
}

/** Validates restore's flags that need no disk (the root is checked by the command). */
export function parseRestoreArgs(argv: string[], env: NodeJS.ProcessEnv): RestoreConfig & { help: boolean } {
  const { values: v } = parseFlags(argv, restoreFlags, { env });
  if (v.help) return { help: true, root: '', path: '', version: undefined };
  const root = resolve(requireFlag('root', v.root, "the side's root directory"));
  const path = relPathFlag(requireFlag('path', v.path, 'the file to put back, relative to --root'));
  const version = v.version === undefined ? undefined : versionNameFlag(v.version);
  return Object.freeze({ help: false, root, path, version });
}

const notFound = (message: string): HaSyncError => new HaSyncError('VERSION_NOT_FOUND', message);

/** The kept version to restore: the one named, or the latest of the path. */
async function pickVersion(cfg: RestoreConfig): Promise<KeptVersion> {
  const all = (await listVersions(cfg.root, cfg.path)).filter((k) => k.path === cfg.path);
  if (cfg.version === undefined) {
    const latest = all[0];
    if (!latest) {
      throw notFound(
        `--path: no kept versions of '${printable(cfg.path)}' in ${cfg.root}/${VERSIONS_DIR} (ha-sync versions --root ${shellWord(cfg.root)} lists them)`,
      );
    }
    return latest;
  }
  const { parent } = splitRel(cfg.path);
  const asRel = `${VERSIONS_DIR}/${parent === '' ? '' : parent + '/'}${cfg.version}`;
  const parsed = parseVersionName(asRel);
  if (!parsed) {
    throw usage(
      `--version: '${printable(cfg.version)}' is not a kept version's name (<name>~YYYYMMDD-HHMMSS<ext>, as \`ha-sync versions\` lists it)`,
    );
  }
  if (parsed.rel !== cfg.path) {
    throw usage(
      `--version: '${printable(cfg.version)}' is a version of '${printable(parsed.rel)}', not of '${printable(cfg.path)}'`,
    );
  }
  const found = all.find((k) => k.name === cfg.version);
  if (!found) {
    throw notFound(
      `--version: no kept version '${printable(cfg.version)}' of '${printable(cfg.path)}' in ${cfg.root}/${VERSIONS_DIR}`,
    );
  }
  return found;
}

function expectedOf(st: fs.Stats): Expected {
  return { kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * Puts a kept version back at its path. The version stays in the versions area (a restore copies,
 * it does not consume); the entry it replaces is kept as a new version. The restored file's mtime
 * is the restore's time, not the version's: it must count as the newest change of this side under
 * every rule (changed since the baseline; newest wins when there is no baseline), so the next
 * sync carries it to the other side instead of overwriting it again.
 * Returns the exit code.
 */
export async function restoreVersion(
  cfg: RestoreConfig,
  deps: { clock: Clock; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  await stateDirSafe(cfg.root);
  const toCreate = missingParents(cfg.root, cfg.path);
  const k = await pickVersion(cfg);
  const vst = fs.lstatSync(`${cfg.root}/${k.version}`, { throwIfNoEntry: false });
  if (!vst) throw notFound(`--version: kept version '${k.version}' vanished while restoring`);
  const cur = fs.lstatSync(`${cfg.root}/${cfg.path}`, { throwIfNoEntry: false });
  if (cur && (cur.isDirectory() || kindOf(cur) === 'special')) {
    deps.stderr.write(
      `ha-sync restore: '${printable(cfg.path)}' is now a ${kindOf(cur)}; restore replaces only a file or symlink (move it away first)\n`,
    );
    return EXIT.FAILED;
  }
  // Input is valid: from here on the root is written. Missing folders come back as real ones.
  for (const dir of toCreate) fs.mkdirSync(`${cfg.root}/${dir}`, { mode: 0o755 });
  const nowMs = deps.clock.now();
  // The temp file is named with the root's id, so a sync never takes it for a user's file.
  const marker = await readMarker(cfg.root);
  const r = await restoreEntry(
    cfg.root,
    k.version,
    cfg.path,
    { src: expectedOf(vst), dest: cur ? expectedOf(cur) : null },
    { keep: { nowMs }, mtimeMs: nowMs, ...(marker.ok ? { tempId: marker.marker.rootId } : {}) },
  );
  if (!r.ok) {
    deps.stderr.write(`ha-sync restore: '${printable(cfg.path)}' not restored: ${r.reason}\n`);
    return EXIT.FAILED;
  }
  const lines = [`restored '${printable(cfg.path)}' from ${k.version} (kept ${utc(k.keptAtMs)})`];
  if (r.kept) lines.push(`the file it replaced is kept as ${r.kept}`);
  lines.push('the next sync carries it to the other side');
  deps.stdout.write(lines.join('\n') + '\n');
  return EXIT.OK;
}

export async function restoreCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseRestoreArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      [
        'Usage: ha-sync restore --root <dir> --path <rel> [--version <name>]',
        '',
        `Puts a version kept in <root>/${VERSIONS_DIR}/ back at its path (the latest by default),`,
        'through a temp file and a rename, keeping the file it replaces as a version. The restored',
        'file gets the current time as its mtime, so the next sync carries it to the other side.',
        '',
        'Flags:',
        flagHelp(restoreFlags),
        '',
        'Exit codes: 0 restored, 1 refused or failed (nothing lost), 2 bad input or no such version',
        '            (nothing touched).',
      ].join('\n') + '\n',
    );
    return EXIT.OK;
  }
  dirFlag('root', cfg.root, 'root');
  try {
    return await restoreVersion(cfg, { clock: systemClock, stdout: ctx.stdout, stderr: ctx.stderr });
  } catch (err) {
    if (err instanceof HaSyncError && err.code === 'VERSION_NOT_FOUND') {
      ctx.stderr.write(`ha-sync restore: ${err.message}\n`);
      return EXIT.USAGE;
    }
    throw err;
  }
}
