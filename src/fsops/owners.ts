// Owners and groups of what fsops writes. A copy gives the entry its source's uid and gid when the
// process may (root, or CAP_CHOWN); a process that may not is told so by the first refusal (EPERM),
// says so once per run (Owners.warn) and stops trying, keeping every copy going with its own ids.
import type { Io } from './io.js';

/** "uid:gid", as the audit records an owner. */
export function ownerText(o: { uid: number; gid: number }): string {
  return `${o.uid}:${o.gid}`;
}

/** Errors of chown that mean "this process may not give that owner" (EINVAL: id not mapped). */
const DENIED = new Set(['EPERM', 'EINVAL']);

/**
 * One run's owner keeping: tries chown until it is refused, then warns once and stops. Shared by
 * every operation of a run (reconciler run, applier process).
 */
export class Owners {
  private refused: string | null = null;

  /** `warn`: called once, with one line, the first time a chown is refused. */
  constructor(private readonly warn: (line: string) => void) {}

  /** False once a chown was refused: copies keep the process's own ids from then on. */
  get trying(): boolean {
    return this.refused === null;
  }

  /** Records a refusal (`code`: EPERM, EINVAL); warns the first time only. */
  denied(code: string): void {
    if (this.refused !== null) return;
    this.refused = code;
    this.warn(
      `cannot keep owners and groups (chown: ${code}): copies are owned by this process's user from now on; run as root (or with CAP_CHOWN) to keep them`,
    );
  }
}

/** The process's own ids: what a new entry gets without a chown. */
export function processOwner(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/** What happened to an entry's owner: 'done' (chown made), 'same' (none needed), 'denied'. */
export type OwnerOutcome = 'done' | 'same' | 'denied';

/**
 * Gives the entry at `path` (just written by this process, never followed if a symlink) the owner
 * `want`, when that is not the process's own. A refusal is reported to `owners` (one warning a
 * run) and answered 'denied'; any other error is thrown.
 */
export async function keepOwner(
  io: Io,
  path: string,
  want: { uid: number; gid: number },
  owners: Owners | undefined,
): Promise<OwnerOutcome> {
  const me = processOwner();
  if (want.uid === me.uid && want.gid === me.gid) return 'same';
  if (owners && !owners.trying) return 'denied';
  try {
    await io.lchown(path, want.uid, want.gid);
    return 'done';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!DENIED.has(code)) throw err;
    owners?.denied(code);
    return 'denied';
  }
}

/** An owner change as the audit records it: the entry replaced's owner (null: none), the new one's. */
export interface OwnerChange {
  readonly before: string | null;
  readonly after: string;
}

/**
 * The owner change of a write, or undefined when there is nothing to record: recorded when a chown
 * was made, or when the entry replaced had another owner than the one written.
 */
export function ownerChange(
  outcome: OwnerOutcome,
  src: { uid: number; gid: number },
  replaced: { uid: number; gid: number } | null,
): OwnerChange | undefined {
  const after = ownerText(outcome === 'done' ? src : processOwner());
  const before = replaced ? ownerText(replaced) : null;
  if (outcome !== 'done' && (before === null || before === after)) return undefined;
  return { before, after };
}
