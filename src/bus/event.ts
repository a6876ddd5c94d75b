// Change events are untrusted bytes until `parseEvent` says otherwise: anyone who can publish on
// the bus can send one, so every field is checked before an applier acts on it. A path must be a
// plain relative '/'-separated path inside its root: never absolute, never '..', never NUL or a
// backslash (a Windows-style separator or escape would mean something else on another side).
import { createHash, randomBytes } from 'node:crypto';
import { PAIR_RE } from '../config/index.js';
import type { ChangeEvent, ChangeKind, ChangeType } from './types.js';

/** Longest accepted event path, in characters (PATH_MAX on Linux). */
export const MAX_PATH_CHARS = 4096;
/** Largest accepted message, in bytes: an event is a few hundred bytes plus its path. */
export const MAX_EVENT_BYTES = 16 * 1024;

const TYPES: readonly ChangeType[] = ['upsert', 'delete'];
const KINDS: readonly ChangeKind[] = ['file', 'dir', 'symlink'];
const KEYS = new Set([
  'v',
  'pair',
  'side',
  'type',
  'kind',
  'path',
  'size',
  'mtimeMs',
  'prev',
  'observedAt',
  'obs',
]);
/** An observation id: the watcher's random id, '.', its sequence number. */
const OBS_RE = /^[0-9a-f]{8,32}\.[0-9]{1,16}$/;

/** The NATS subject an event is published on: `hasync.<pair>.<side>.events`. */
export function eventSubject(pair: string, side: string): string {
  return `hasync.${pair}.${side}.events`;
}

/**
 * Checks a relative event path; returns null when it is safe, else why not. Accepts exactly
 * '/'-separated, non-empty segments other than '.' and '..', without NUL, backslash or control
 * characters, not starting or ending with '/'.
 */
export function checkRelPath(path: unknown): string | null {
  if (typeof path !== 'string') return 'path must be a string';
  if (path === '') return 'path is empty';
  if (path.length > MAX_PATH_CHARS) return `path is longer than ${MAX_PATH_CHARS} characters`;
  if (path.includes('\0')) return 'path contains NUL';
  if (path.includes('\\')) return 'path contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(path)) return 'path contains a control character';
  if (path.startsWith('/')) return 'path is absolute';
  if (/^[A-Za-z]:/.test(path)) return 'path looks like a drive path';
  for (const seg of path.split('/')) {
    if (seg === '') return "path has an empty segment ('//' or a trailing '/')";
    if (seg === '..') return "path contains a '..' segment";
    if (seg === '.') return "path contains a '.' segment";
  }
  return null;
}

function isTime(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Validates a message body (JSON bytes or string) as a version-1 ChangeEvent. Returns the event
 * (a fresh, frozen object holding only the known fields) or one line saying what is wrong.
 */
export function parseEvent(bytes: Uint8Array | string): ChangeEvent | string {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_EVENT_BYTES) return `event is ${size} bytes, more than ${MAX_EVENT_BYTES}`;
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    return 'event is not JSON';
  }
  return validateEvent(raw);
}

/** Same checks as `parseEvent`, on an already-decoded value. */
export function validateEvent(raw: unknown): ChangeEvent | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'event is not a JSON object';
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) return `unsupported event version ${JSON.stringify(o.v) ?? 'undefined'} (expected 1)`;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) return `unknown field '${k.slice(0, 40)}'`;
  if (typeof o.pair !== 'string' || !PAIR_RE.test(o.pair)) return 'pair is not a valid pair name';
  if (typeof o.side !== 'string' || !PAIR_RE.test(o.side)) return 'side is not a valid side label';
  if (!TYPES.includes(o.type as ChangeType)) return "type must be 'upsert' or 'delete'";
  if (!KINDS.includes(o.kind as ChangeKind)) return "kind must be 'file', 'dir' or 'symlink'";
  const bad = checkRelPath(o.path);
  if (bad) return bad;
  if (!isSize(o.size)) return 'size must be a non-negative integer';
  if (!isTime(o.mtimeMs)) return 'mtimeMs must be a finite non-negative number';
  if (!isTime(o.observedAt)) return 'observedAt must be a finite non-negative number';
  if (o.obs !== undefined && (typeof o.obs !== 'string' || !OBS_RE.test(o.obs)))
    return "obs must be '<hex id>.<sequence>'";
  let prev: ChangeEvent['prev'];
  if (o.prev !== undefined) {
    const p = o.prev as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'prev must be an object';
    for (const k of Object.keys(p))
      if (k !== 'size' && k !== 'mtimeMs') return `unknown field 'prev.${k.slice(0, 40)}'`;
    if (!isSize(p.size)) return 'prev.size must be a non-negative integer';
    if (!isTime(p.mtimeMs)) return 'prev.mtimeMs must be a finite non-negative number';
    prev = Object.freeze({ size: p.size, mtimeMs: p.mtimeMs });
  }
  const ev: ChangeEvent = {
    v: 1,
    pair: o.pair,
    side: o.side,
    type: o.type as ChangeType,
    kind: o.kind as ChangeKind,
    path: o.path as string,
    size: o.size,
    mtimeMs: o.mtimeMs,
    ...(prev ? { prev } : {}),
    observedAt: o.observedAt,
    ...(typeof o.obs === 'string' ? { obs: o.obs } : {}),
  };
  return Object.freeze(ev);
}

/** JSON bytes of an event, in a stable field order. */
export function encodeEvent(ev: ChangeEvent): Uint8Array {
  const o: ChangeEvent = {
    v: 1,
    pair: ev.pair,
    side: ev.side,
    type: ev.type,
    kind: ev.kind,
    path: ev.path,
    size: ev.size,
    mtimeMs: ev.mtimeMs,
    ...(ev.prev ? { prev: { size: ev.prev.size, mtimeMs: ev.prev.mtimeMs } } : {}),
    observedAt: ev.observedAt,
    ...(ev.obs !== undefined ? { obs: ev.obs } : {}),
  };
  return Buffer.from(JSON.stringify(o), 'utf8');
}

/**
 * The Nats-Msg-Id of an event. With an observation id (`obs`, from the watcher that saw the
 * change) it is that id: a republish of the same observation (a publish retried after a lost ack)
 * is dropped by the server's duplicate window, and any new observation gets a new id, even of the
 * very state seen before (a rename back, a `cp -p` restore, a create-delete-create with the same
 * mtime must never be dropped). Without one (events of older watchers, tests), the id is a hash
 * of the observed change (pair, side, path, type, kind, size, mtime), as before.
 */
export function msgId(
  ev: Pick<ChangeEvent, 'pair' | 'side' | 'path' | 'type' | 'kind' | 'size' | 'mtimeMs' | 'obs'>,
): string {
  if (ev.obs !== undefined) return `${ev.pair}.${ev.side}.o.${ev.obs}`;
  const h = createHash('sha256')
    .update(JSON.stringify([ev.pair, ev.side, ev.path, ev.type, ev.kind, ev.size, ev.mtimeMs]))
    .digest('base64url')
    .slice(0, 32);
  return `${ev.pair}.${ev.side}.${h}`;
}

/** Observation ids of one watcher: a random id for this process, then a sequence number. */
export class ObservationIds {
  private readonly id = randomBytes(6).toString('hex');
  private seq = 0;
  next(): string {
    return `${this.id}.${++this.seq}`;
  }
}
