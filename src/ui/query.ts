// Query strings are bytes from outside: every parameter is validated by a JSON schema before a
// handler sees it, and a bad one becomes one line naming the parameter and what it accepts.
//
// Numbers are declared as strings with exact patterns rather than `type: integer`: ajv's type
// coercion would accept '0x10', ' 5' or '1e2' as integers, and a query string should mean exactly
// what it says. The handlers convert the validated strings.
import { PAIR_RE } from '../config/index.js';

/** 1 to 500. */
const LIMIT_PATTERN = '^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$';
/** A positive integer below 10^15 (well inside Number.MAX_SAFE_INTEGER and BIGINT). */
const ID_PATTERN = '^[1-9][0-9]{0,14}$';

/** 1 to 365. */
const DAYS_PATTERN = '^(?:[1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-5])$';
/**
 * A path as the operations show it: relative (no leading '/'), no NUL. Anything else is a valid
 * search key: file names may hold spaces, quotes, '%' or '<'; the stores bind it as a value.
 */
const PATH_PATTERN = '^[^/\\u0000][^\\u0000]*$';

export const DEFAULT_ITERATIONS_LIMIT = 20;
export const DEFAULT_OPERATIONS_LIMIT = 500;
export const DEFAULT_CONFLICT_DAYS = 7;
export const DEFAULT_CONFLICTS_LIMIT = 100;
export const DEFAULT_HISTORY_LIMIT = 200;

/** What each parameter accepts, as said to the caller when it is bad. */
export const PARAM_HELP: Readonly<Record<string, string>> = {
  limit: 'an integer from 1 to 500',
  iteration_id: 'a positive integer',
  pair: "a pair name (lowercase letters, digits and '-', starting and ending with a letter or digit)",
  dry_run: '0 (real syncs) or 1 (dry runs)',
  since: 'an ISO 8601 date-time with a time zone, such as 2026-01-31T12:00:00Z',
  days: 'an integer from 1 to 365',
  path: "a file path relative to the pair's root, such as photos/a.jpg (1 to 4096 characters, not starting with '/')",
};

const limit = { type: 'string', pattern: LIMIT_PATTERN } as const;
// Empty means every pair: the seed writes the route as `/api/iterations?pair=&limit=20`.
const pair = { type: 'string', pattern: `^$|${PAIR_RE.source}` } as const;

export const iterationsQuerySchema = {
  type: 'object',
  properties: {
    pair,
    limit,
    dry_run: { type: 'string', enum: ['0', '1'] },
    since: { type: 'string', format: 'date-time' },
  },
} as const;

export const operationsQuerySchema = {
  type: 'object',
  required: ['iteration_id'],
  properties: {
    iteration_id: { type: 'string', pattern: ID_PATTERN },
    limit,
  },
} as const;

export const conflictsQuerySchema = {
  type: 'object',
  properties: {
    pair,
    days: { type: 'string', pattern: DAYS_PATTERN },
    limit,
  },
} as const;

export const versionsQuerySchema = {
  type: 'object',
  properties: { pair },
} as const;

export const historyQuerySchema = {
  type: 'object',
  required: ['path'],
  properties: {
    path: { type: 'string', minLength: 1, maxLength: 4096, pattern: PATH_PATTERN },
    pair,
    limit,
  },
} as const;

export interface ConflictsQueryRaw {
  pair?: string;
  days?: string;
  limit?: string;
}

export interface VersionsQueryRaw {
  pair?: string;
}

export interface HistoryQueryRaw {
  path: string;
  pair?: string;
  limit?: string;
}

export interface IterationsQueryRaw {
  pair?: string;
  limit?: string;
  dry_run?: '0' | '1';
  since?: string;
}

export interface OperationsQueryRaw {
  iteration_id: string;
  limit?: string;
}

/** The shape ajv reports a failed keyword in (the part of it this module reads). */
export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

/**
 * One line for the first failed keyword: "limit: expected an integer from 1 to 500, got '0'".
 * `query` is the raw query (before coercion) so the line quotes what the caller sent.
 */
export function describeQueryIssue(issue: ValidationIssue | undefined, query: unknown): string {
  if (!issue) return 'invalid query string';
  let name = issue.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
    name = issue.params.missingProperty;
    return `${name} is required: ${PARAM_HELP[name] ?? 'a value'}`;
  }
  const help = PARAM_HELP[name];
  if (!help) return `query parameter ${name || '(unknown)'} is invalid`;
  const got = (query as Record<string, unknown> | null)?.[name];
  const shown = Array.isArray(got)
    ? 'more than one value'
    : `'${oneLine(typeof got === 'string' ? got : (JSON.stringify(got) ?? ''))}'`;
  return `${name}: expected ${help}, got ${shown}`;
}

/** The caller's text made safe to echo: one line (control characters become '?'), at most `max` characters. */
export function oneLine(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}
