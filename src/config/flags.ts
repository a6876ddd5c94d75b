// Declarative command-line flags on top of node:util parseArgs. Every command describes its flags
// once (name, type, default, help); this module parses argv, rejects anything unknown, and turns
// each bad value into one line naming the flag and what it accepts (a HaSyncError 'USAGE', which
// the CLI prints and exits 2 on). Validation helpers below keep units and ranges in one place.
import { parseArgs } from 'node:util';
import { realpathSync, statSync } from 'node:fs';
import { resolve, relative, isAbsolute, sep } from 'node:path';
import { usage } from '../errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** One line for --help. */
  help: string;
  /** Shown in --help as `--flag <valueName>`. */
  valueName?: string;
  /** The default, as the user would type it (documented in --help). */
  default?: string | boolean;
  /** Allow the flag more than once (values collected in order). */
  multiple?: boolean;
  short?: string;
  /** Environment variable consulted when the flag is absent (documented in --help). */
  env?: string;
  /** Leave out of --help. */
  hidden?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'boolean'
    ? boolean
    : S[K]['multiple'] extends true
      ? string[]
      : string | undefined;
};

export interface Parsed<S extends FlagSpecs> {
  values: FlagValues<S>;
  positionals: string[];
  /** Flags the user gave explicitly (not defaults, not env). */
  given: Set<string>;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Parses argv against specs. Booleans also accept Go-style `--flag=true|false` (the seed's CronJob
 * args use that form). Throws HaSyncError('USAGE') with one line on any problem.
 */
export function parseFlags<S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  opts: { allowPositionals?: boolean; env?: NodeJS.ProcessEnv } = {},
): Parsed<S> {
  const env = opts.env ?? process.env;
  const explicitFalse = new Set<string>();
  const rewritten: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rewritten.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (m && specs[m[1]!]?.type === 'boolean') {
      const v = m[2]!.toLowerCase();
      if (TRUE.has(v)) rewritten.push(`--${m[1]}`);
      else if (FALSE.has(v)) explicitFalse.add(m[1]!);
      else throw usage(`--${m[1]}: expected true or false, got '${m[2]}'`);
      continue;
    }
    rewritten.push(arg);
  }

  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = {
      type: s.type,
      ...(s.multiple ? { multiple: true } : {}),
      ...(s.short ? { short: s.short } : {}),
    };
  }
  let raw: { values: Record<string, unknown>; positionals: string[] };
  try {
    raw = parseArgs({
      args: rewritten,
      options,
      strict: true,
      allowPositionals: opts.allowPositionals ?? false,
    });
  } catch (err) {
    throw usage(describeParseError(err, specs));
  }

  const given = new Set<string>([...Object.keys(raw.values), ...explicitFalse]);
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(specs)) {
    let v = raw.values[name];
    if (explicitFalse.has(name)) v = false;
    if (v === undefined && s.env && env[s.env] !== undefined && env[s.env] !== '') {
      const e = env[s.env]!;
      if (s.type === 'boolean') {
        if (TRUE.has(e.toLowerCase())) v = true;
        else if (FALSE.has(e.toLowerCase())) v = false;
        else throw usage(`${s.env}: expected true or false, got '${e}'`);
      } else v = s.multiple ? [e] : e;
    }
    if (v === undefined) {
      if (s.type === 'boolean') v = s.default === true;
      else if (s.multiple) v = [];
      else v = typeof s.default === 'string' ? s.default : undefined;
    }
    values[name] = v;
  }
  return { values: values as FlagValues<S>, positionals: raw.positionals, given };
}

function describeParseError(err: unknown, specs: FlagSpecs): string {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  const flag = /'(-{1,2}[^'\s]+)/.exec(msg)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return `unknown flag ${flag ?? ''}; see --help for the flags this command accepts`.replace('  ', ' ');
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = flag?.replace(/^-+/, '') ?? '';
    const s = specs[name];
    if (s?.type === 'string') return `--${name}: expected a value (${s.valueName ?? 'value'})`;
    if (s?.type === 'boolean') return `--${name}: takes no value (use --${name} or --${name}=false)`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /'([^']*)'/.exec(msg)?.[1];
    return `unexpected argument '${arg ?? ''}'; flags are written --name=value or --name value`;
  }
  return msg.split('\n')[0] ?? msg;
}

/** Renders the flag table for --help. */
export function flagHelp(specs: FlagSpecs): string {
  const rows: [string, string][] = [];
  for (const [name, s] of Object.entries(specs)) {
    if (s.hidden) continue;
    const left = `  --${name}${s.type === 'string' ? ` <${s.valueName ?? 'value'}>` : ''}`;
    const extras: string[] = [];
    if (s.default !== undefined && s.default !== false) extras.push(`default: ${String(s.default)}`);
    if (s.env) extras.push(`env: ${s.env}`);
    if (s.multiple) extras.push('repeatable');
    rows.push([left, s.help + (extras.length ? ` (${extras.join('; ')})` : '')]);
  }
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows
    .map(([l, r]) => (l.length >= width ? `${l}\n${' '.repeat(width)}${r}` : l.padEnd(width) + r))
    .join('\n');
}

// ---- validators: each returns a typed value or throws one USAGE line naming the flag ----

export function requireFlag(name: string, v: string | undefined, what: string): string {
  if (v === undefined || v === '') throw usage(`--${name} is required: ${what}`);
  return v;
}

export function intFlag(
  name: string,
  v: string | undefined,
  min: number,
  max: number,
  fallback?: number,
): number {
  if (v === undefined) {
    if (fallback === undefined) throw usage(`--${name} is required: an integer from ${min} to ${max}`);
    return fallback;
  }
  const t = v.trim();
  if (!/^-?\d+$/.test(t) || !Number.isSafeInteger(Number(t)) || Number(t) < min || Number(t) > max) {
    throw usage(`--${name}: expected an integer from ${min} to ${max}, got '${v}'`);
  }
  return Number(t);
}

export function numberFlag(
  name: string,
  v: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (v === undefined) return fallback;
  const t = v.trim();
  const n = Number(t);
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)$/.test(t) || !Number.isFinite(n) || n < min || n > max) {
    throw usage(`--${name}: expected a number from ${min} to ${max}, got '${v}'`);
  }
  return n;
}

export function enumFlag<T extends string>(
  name: string,
  v: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw usage(`--${name}: expected one of ${allowed.join(', ')}, got '${v}'`);
  }
  return v as T;
}

/**
 * A pair name becomes part of a Kubernetes object name (`ha-sync-<pair>`), a NATS subject token and
 * a file name: lowercase letters, digits and '-', starting and ending alphanumeric, at most 55
 * characters (so `ha-sync-<pair>` stays within the 63-character label limit).
 */
export const PAIR_RE = /^[a-z0-9]([a-z0-9-]{0,53}[a-z0-9])?$/;

export function pairFlag(name: string, v: string | undefined): string {
  const p = requireFlag(name, v, 'a pair name (lowercase letters, digits and -, e.g. media)');
  if (!PAIR_RE.test(p)) {
    throw usage(
      `--${name}: expected lowercase letters, digits and '-' (starting and ending with a letter or digit, at most 55 characters), got '${p}'`,
    );
  }
  return p;
}

/** A side or direction label: same alphabet as a pair name (it becomes a subject token). */
export function labelFlag(name: string, v: string | undefined, fallback?: string): string {
  const p = v ?? fallback;
  if (p === undefined || p === '') throw usage(`--${name} is required: a label such as dell or hp`);
  if (!PAIR_RE.test(p)) {
    throw usage(`--${name}: expected lowercase letters, digits and '-' (e.g. dell-to-hp), got '${p}'`);
  }
  return p;
}

/** An existing directory, returned absolute. `what` names it in the message (source, destination). */
export function dirFlag(name: string, v: string | undefined, what: string): string {
  const p = requireFlag(name, v, `the ${what} directory`);
  const abs = resolve(p);
  let st;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usage(
      code === 'ENOENT'
        ? `--${name}: ${what} directory '${p}' does not exist (is the volume mounted?)`
        : `--${name}: cannot read ${what} directory '${p}' (${code ?? 'error'})`,
    );
  }
  if (!st.isDirectory()) throw usage(`--${name}: '${p}' is not a directory`);
  return abs;
}

/** True when `inner` is `outer` or lies inside it (both absolute, resolved). */
export function isInside(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** Rejects two trees that are the same or nested: syncing them would copy a tree into itself. */
export function disjointDirs(aName: string, a: string, bName: string, b: string): void {
  const ra = realOr(a);
  const rb = realOr(b);
  if (ra === rb) throw usage(`--${aName} and --${bName} are the same directory ('${a}')`);
  if (isInside(ra, rb)) throw usage(`--${bName} '${b}' is inside --${aName} '${a}'; they must not overlap`);
  if (isInside(rb, ra)) throw usage(`--${aName} '${a}' is inside --${bName} '${b}'; they must not overlap`);
}

/**
 * The log dir holds opslogs, the lock file and the SQLite audit. Inside a synced tree they would
 * be synced themselves (and, live, every opslog line would become a change event that writes
 * another opslog line), so a log dir inside any root is a usage error.
 */
export function logDirOutside(
  logDir: string,
  roots: readonly (readonly [flag: string, root: string])[],
): void {
  const rl = realOr(resolve(logDir));
  for (const [flag, root] of roots) {
    if (isInside(realOr(root), rl)) {
      throw usage(
        `--log-dir '${logDir}' is inside --${flag} '${root}': opslogs and the lock file would be synced; put it outside the synced trees`,
      );
    }
  }
}

function realOr(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return p;
  }
}
