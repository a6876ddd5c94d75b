// The first step of `ha-sync run`: make both sides equal before following changes. Newest wins,
// both ways, nothing is deleted. It walks both trees in step, directory by directory (fsops
// scanDir), and hands every entry that differs to the applier as a synthetic upsert event from
// the side holding the newer version, so the same decision, check-before-write, lock and audit
// apply as for live events.
import type { ChangeEvent, Delivery } from '../bus/index.js';
import type { Entry } from '../core/index.js';
import { errorMessage } from '../errors.js';
import { asyncIo, Limiter, scanDir, type Io } from '../fsops/index.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { Applier } from './applier.js';
import { sameVersion } from './decide.js';

export interface EqualizeReport {
  dirs: number;
  entries: number;
  /** Entries handed to the applier (they differed). */
  differing: number;
  /** Same mtime (within the threshold) but different sizes: left alone, logged. */
  ambiguous: number;
  /** Entries that could not be made equal (still failing after retries, or unreadable). */
  failed: number;
}

const MAX_ATTEMPTS = 6;

export async function equalize(
  applier: Applier,
  deps: { clock: Clock; log: Logger; io?: Io },
  signal: AbortSignal,
  progressEveryMs = 5000,
): Promise<EqualizeReport> {
  const { a, b, pair, mtimeThresholdMs } = applier.config;
  const io = deps.io ?? asyncIo;
  const limiter = new Limiter(16);
  const report: EqualizeReport = { dirs: 0, entries: 0, differing: 0, ambiguous: 0, failed: 0 };
  let lastProgress = deps.clock.now();

  const list = async (root: string, rel: string): Promise<Map<string, Entry> | null> => {
    try {
      const scan = await scanDir(rel === '' ? root : `${root}/${rel}`, io, limiter);
      for (const i of scan.issues)
        deps.log.warn({ path: rel ? `${rel}/${i.name}` : i.name }, `skipped: ${i.message}`);
      return new Map(scan.entries.map((e) => [e.name, e]));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      deps.log.warn({ root, path: rel }, `cannot read directory: ${errorMessage(err)}`);
      report.failed++;
      return null;
    }
  };

  /** Hands one synthetic event to the applier, retrying naks a few times. */
  const push = async (ev: ChangeEvent): Promise<void> => {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !signal.aborted; attempt++) {
      const d: Delivery = { event: ev, subject: 'equalize', deliveryCount: attempt };
      const disp = await applier.handle(d);
      if (disp.action !== 'nak') {
        if (disp.action === 'term') report.failed++;
        return;
      }
      try {
        await deps.clock.sleep(Math.min(disp.delayMs, 2000), signal);
      } catch {
        return;
      }
    }
    if (!signal.aborted) {
      report.failed++;
      deps.log.warn(
        { path: ev.path },
        'could not make this entry equal yet; the live sync or the next run will',
      );
    }
  };

  const event = (side: string, path: string, e: Entry): ChangeEvent => ({
    v: 1,
    pair,
    side,
    type: 'upsert',
    kind: e.kind === 'dir' ? 'dir' : e.kind === 'symlink' ? 'symlink' : 'file',
    path,
    size: e.size,
    mtimeMs: e.mtimeMs,
    observedAt: deps.clock.now(),
  });

  const walk = async (rel: string): Promise<void> => {
    if (signal.aborted) return;
    report.dirs++;
    const [la, lb] = await Promise.all([list(a.root, rel), list(b.root, rel)]);
    const names = new Set([...(la?.keys() ?? []), ...(lb?.keys() ?? [])]);
    const work: Promise<void>[] = [];
    const subdirs: string[] = [];
    for (const name of [...names].sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const ea = la?.get(name);
      const eb = lb?.get(name);
      report.entries++;
      if (ea?.kind === 'special' || eb?.kind === 'special') continue;
      if (ea?.kind === 'dir' || eb?.kind === 'dir') {
        if (ea && eb && ea.kind === eb.kind) {
          subdirs.push(path);
          continue;
        }
        if (ea && eb) {
          deps.log.warn({ pair, path }, `not synced: a ${ea.kind} on ${a.label}, a ${eb.kind} on ${b.label}`);
          continue;
        }
        // Only one side has the directory: create it, then walk it.
        report.differing++;
        work.push(push(event(ea ? a.label : b.label, path, (ea ?? eb)!)).then(() => void subdirs.push(path)));
        continue;
      }
      if (ea && eb) {
        if (ea.kind !== eb.kind) {
          deps.log.warn({ pair, path }, `not synced: a ${ea.kind} on ${a.label}, a ${eb.kind} on ${b.label}`);
          continue;
        }
        if (sameVersion(ea, eb, mtimeThresholdMs)) continue;
        if (Math.abs(ea.mtimeMs - eb.mtimeMs) <= mtimeThresholdMs) {
          report.ambiguous++;
          deps.log.warn(
            { pair, path },
            'not synced: same mtime on both sides but different sizes; change one to pick it',
          );
          continue;
        }
      }
      const [side, e] = ea && (!eb || ea.mtimeMs > eb.mtimeMs) ? [a.label, ea] : [b.label, eb!];
      report.differing++;
      work.push(push(event(side, path, e)));
    }
    await Promise.all(work);
    if (deps.clock.now() - lastProgress >= progressEveryMs) {
      lastProgress = deps.clock.now();
      deps.log.info(
        { pair, ...report },
        `equalizing: ${report.entries} entries compared, ${report.differing} differing so far`,
      );
    }
    for (const d of subdirs.sort()) await walk(d);
  };

  await walk('');
  return report;
}
