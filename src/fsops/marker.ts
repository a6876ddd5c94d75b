// Root markers: `<root>/.ha-sync/root.json` names the pair and side a root belongs to, and a random
// root id. An NFS export that is not mounted leaves its mount point behind: an empty folder, or one
// with whatever stale files were written into it while nothing was mounted. Neither holds the
// marker, so "is this root really the one we sync?" becomes a file read instead of a guess from
// emptiness. A missing, unreadable or foreign marker means "not mounted": nothing reads or writes
// that root until it is back.
//
// Invariants:
// - A marker is only ever created by `createMarker` (a reconcile pass's first meeting, or
//   `ha-sync init`), through a temp file, fsync and link(2), so a half-written marker is never
//   seen and an existing one is never overwritten unless `replace` is asked for.
// - Nothing here follows a symlink at `.ha-sync` (a symlink there is refused as STATE_DIR_UNSAFE
//   by the callers, via checkStateDir).
// - The root id is 16 lowercase hex digits; it is part of every temp file name ha-sync writes in
//   that root (see paths.ts tempName), so a user's file can never be taken for one of ours.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { PAIR_RE } from '../config/index.js';
import { STATE_DIR } from '../core/index.js';
import { HaSyncError, errorMessage } from '../errors.js';
import { checkStateDir } from './versions.js';

/** The marker's path relative to the root. */
export const MARKER_REL = `${STATE_DIR}/root.json`;
/** Largest marker read, in bytes: a marker is about 150. */
const MARKER_MAX_BYTES = 4096;
export const ROOT_ID_RE = /^[0-9a-f]{16}$/;

export interface RootMarker {
  readonly v: 1;
  readonly pair: string;
  /** The side label; absent when the marker was written by an unlabelled one-way run. */
  readonly side?: string;
  readonly rootId: string;
  /** ISO time of creation (information only). */
  readonly createdAt: string;
}

/** Why a root does not count as mounted. */
export type RootTrouble = 'no-root' | 'no-marker' | 'bad-marker' | 'other-pair' | 'other-side';

export type RootState =
  | { readonly ok: true; readonly marker: RootMarker }
  | { readonly ok: false; readonly trouble: RootTrouble; readonly why: string };

/** Validates marker bytes. Returns the marker or one line saying what is wrong. Pure. */
export function parseMarker(text: string): RootMarker | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) return `unsupported version ${JSON.stringify(o.v) ?? 'undefined'}`;
  if (typeof o.pair !== 'string' || !PAIR_RE.test(o.pair)) return 'pair is not a valid pair name';
  if (o.side !== undefined && (typeof o.side !== 'string' || !PAIR_RE.test(o.side)))
    return 'side is not a valid side label';
  if (typeof o.rootId !== 'string' || !ROOT_ID_RE.test(o.rootId)) return 'rootId is not 16 hex digits';
  const createdAt = typeof o.createdAt === 'string' ? o.createdAt.slice(0, 40) : '';
  return Object.freeze({
    v: 1,
    pair: o.pair,
    ...(typeof o.side === 'string' ? { side: o.side } : {}),
    rootId: o.rootId,
    createdAt,
  });
}

/**
 * Whether `marker` belongs to (`pair`, `side`). `side` null: the caller has no label (an
 * unlabelled one-way run) and checks the pair only; a marker without a side matches any side.
 * Returns null when it does, else the trouble and one line. Pure.
 */
export function markerMismatch(
  root: string,
  marker: RootMarker,
  pair: string,
  side: string | null,
): { trouble: RootTrouble; why: string } | null {
  if (marker.pair !== pair) {
    return {
      trouble: 'other-pair',
      why: `'${root}' belongs to pair '${marker.pair}' (its ${MARKER_REL}), not '${pair}'`,
    };
  }
  if (side !== null && marker.side !== undefined && marker.side !== side) {
    return {
      trouble: 'other-side',
      why: `'${root}' is side '${marker.side}' of pair '${pair}' (its ${MARKER_REL}), not '${side}'`,
    };
  }
  return null;
}

/** Reads `<root>/.ha-sync/root.json`. Never throws. */
export async function readMarker(root: string): Promise<RootState> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(root); // the root itself may be a symlink (a mount path)
  } catch (err) {
    return {
      ok: false,
      trouble: 'no-root',
      why: `'${root}' is missing or unreadable (${errorMessage(err)})`,
    };
  }
  if (!st.isDirectory()) return { ok: false, trouble: 'no-root', why: `'${root}' is not a directory` };
  const unsafe = await checkStateDir(root).catch((err: unknown) => errorMessage(err));
  if (unsafe) return { ok: false, trouble: 'bad-marker', why: unsafe };
  let text: string;
  try {
    text = await readSmall(`${root}/${MARKER_REL}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, trouble: 'no-marker', why: `'${root}' has no ${MARKER_REL}` };
    return {
      ok: false,
      trouble: 'bad-marker',
      why: `'${root}/${MARKER_REL}' is unreadable (${errorMessage(err)})`,
    };
  }
  const m = parseMarker(text);
  if (typeof m === 'string')
    return { ok: false, trouble: 'bad-marker', why: `'${root}/${MARKER_REL}' is not a valid marker: ${m}` };
  return { ok: true, marker: m };
}

/** Reads a small regular file without following a symlink at its last component. */
async function readSmall(abs: string): Promise<string> {
  const fh = await fs.promises.open(
    abs,
    fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
  );
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    const buf = Buffer.alloc(MARKER_MAX_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MARKER_MAX_BYTES) throw Object.assign(new Error('larger than 4 KiB'), { code: 'EFBIG' });
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A fresh root id: 16 lowercase hex digits. */
export function newRootId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Writes a new marker for (`pair`, `side`) into `root`, creating `.ha-sync/` when absent. Without
 * `replace`, an existing marker is left alone and HaSyncError 'CHANGED_UNDER_US' is thrown (another
 * process made one first: read it again). Throws 'STATE_DIR_UNSAFE' when `.ha-sync` is a symlink
 * or a file, 'TREE_UNAVAILABLE' when the root is not a directory.
 */
export async function createMarker(
  root: string,
  o: {
    pair: string;
    side: string | null;
    /** Replace an existing marker (init --force, or naming a side). Default false. */
    replace?: boolean;
    /** Keep this root id (a marker that only gains its side). Default: a new one. */
    rootId?: string;
    nowMs?: number;
  },
): Promise<RootMarker> {
  try {
    if (!(await fs.promises.stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new HaSyncError('TREE_UNAVAILABLE', `'${root}' is not a directory (${errorMessage(err)})`);
  }
  const unsafe = await checkStateDir(root);
  if (unsafe) throw new HaSyncError('STATE_DIR_UNSAFE', unsafe);
  const dir = `${root}/${STATE_DIR}`;
  try {
    await fs.promises.mkdir(dir, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const again = await checkStateDir(root);
  if (again) throw new HaSyncError('STATE_DIR_UNSAFE', again);
  const marker: RootMarker = {
    v: 1,
    pair: o.pair,
    ...(o.side !== null ? { side: o.side } : {}),
    rootId: o.rootId ?? newRootId(),
    createdAt: new Date(o.nowMs ?? Date.now()).toISOString(),
  };
  const final = `${root}/${MARKER_REL}`;
  const tmp = `${dir}/root.json.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fs.promises.open(tmp, 'wx', 0o644);
  try {
    try {
      await fh.writeFile(`${JSON.stringify(marker)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (o.replace) await fs.promises.rename(tmp, final);
    else {
      try {
        await fs.promises.link(tmp, final); // fails on an existing marker: never clobbered
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new HaSyncError('CHANGED_UNDER_US', `'${final}' appeared meanwhile`);
        throw err;
      }
    }
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
  await syncDir(dir);
  return marker;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Best effort: some filesystems refuse fsync on a directory.
  }
}

/**
 * Repeated checks of one root's marker, cheap enough for every write: the marker is parsed again
 * only when its file changed (device, inode, size, ctime); otherwise one stat says it is still the
 * same file on the same mounted filesystem. A bare mount point has no such file, or another one.
 */
export class RootGuard {
  private seen: { key: string; state: RootState } | null = null;

  constructor(
    readonly root: string,
    readonly pair: string,
    /** The side label, or null to check the pair only. */
    readonly side: string | null,
  ) {}

  /** The root's state now (one stat when the marker is unchanged). Never throws. */
  async check(): Promise<RootState> {
    let key: string;
    try {
      const st = await fs.promises.stat(`${this.root}/${MARKER_REL}`, { bigint: true });
      key = `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`;
    } catch {
      key = '';
    }
    if (key !== '' && this.seen?.key === key) return this.seen.state;
    const read = await readMarker(this.root);
    let state: RootState = read;
    if (read.ok) {
      const bad = markerMismatch(this.root, read.marker, this.pair, this.side);
      if (bad) state = { ok: false, ...bad };
    }
    this.seen = key === '' ? null : { key, state };
    return state;
  }

  /** The root id of the last good check, or null. */
  get rootId(): string | null {
    return this.seen?.state.ok ? this.seen.state.marker.rootId : null;
  }
}
