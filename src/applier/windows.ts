// Audit of the live applier: one run (RunRecorder) per direction per activity window. A window
// opens with its first operation and is finished (counts, status) when it is `windowMs` old or the
// applier stops. Directions are named from the side labels: `<from>-to-<to>`, e.g. dell-to-hp.
import { randomBytes } from 'node:crypto';
import type { Audit, IterationCounts, OpRecord, RunRecorder } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export interface SideRef {
  label: string;
  root: string;
}

interface Window {
  direction: string;
  startedAtMs: number;
  recorder: Promise<RunRecorder>;
  counts: IterationCounts;
  pending: Set<Promise<void>>;
}

export const directionName = (from: SideRef, to: SideRef): string => `${from.label}-to-${to.label}`;

export class AuditWindows {
  private readonly open = new Map<string, Window>();
  /** Windows finished so far (tests, logs). */
  finished = 0;

  constructor(
    private readonly audit: Audit,
    private readonly pair: string,
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Records one operation of direction from -> to; resolves once it is in the opslog (so the
   * caller may ack). `bytes` counts toward total_bytes_transferred on success.
   */
  async record(from: SideRef, to: SideRef, op: OpRecord, bytes = 0): Promise<void> {
    const direction = directionName(from, to);
    let w = this.open.get(direction);
    if (!w) {
      const startedAtMs = this.clock.now();
      const runId = `${this.pair}-${direction}-${new Date(startedAtMs).toISOString().replace(/[:.]/g, '')}-${randomBytes(3).toString('hex')}`;
      w = {
        direction,
        startedAtMs,
        recorder: this.audit.beginRun({
          runId,
          pair: this.pair,
          direction,
          src: from.root,
          dest: to.root,
          startedAtMs,
          dryRun: false,
        }),
        counts: { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved: 0, bytesTransferred: 0 },
        pending: new Set(),
      };
      // A window whose beginRun failed is dropped so the next operation tries again.
      w.recorder.catch(() => this.open.get(direction) === w && this.open.delete(direction));
      this.open.set(direction, w);
    }
    const win = w;
    if (op.status === 'fail') win.counts.failed++;
    else if (op.operation === 'create') win.counts.created++;
    else if (op.operation === 'update') win.counts.updated++;
    else if (op.operation === 'move') win.counts.moved++;
    else win.counts.deleted++;
    if (op.status === 'success') win.counts.bytesTransferred += bytes;
    const p = win.recorder.then((r) => r.record(op));
    const tracked = p.catch(() => undefined);
    win.pending.add(tracked);
    void tracked.finally(() => win.pending.delete(tracked));
    await p;
  }

  /** Counts an event that needed nothing, in the open window of that direction if any. */
  skipped(from: SideRef, to: SideRef): void {
    const w = this.open.get(directionName(from, to));
    if (w) w.counts.skipped++;
  }

  /** Finishes windows older than windowMs (or all with `all`). */
  async tick(all = false): Promise<void> {
    const now = this.clock.now();
    const due = [...this.open.values()].filter((w) => all || now - w.startedAtMs >= this.windowMs);
    for (const w of due) this.open.delete(w.direction);
    // One after the other: each finish flushes an opslog to the store.
    for (const w of due) await this.finish(w);
  }

  private async finish(w: Window): Promise<void> {
    try {
      await Promise.all([...w.pending]);
      const r = await w.recorder;
      const status =
        w.counts.failed === 0
          ? 'success'
          : w.counts.created + w.counts.updated + w.counts.deleted + w.counts.moved > 0
            ? 'partial_failure'
            : 'failed';
      const res = await r.finish({
        endedAtMs: this.clock.now(),
        status,
        counts: { ...w.counts },
        errorMessage: w.counts.failed ? `${w.counts.failed} operation(s) failed` : null,
      });
      this.finished++;
      this.log.info(
        { pair: this.pair, direction: w.direction, ...w.counts, status, flushed: res.flushed },
        'audit window closed',
      );
    } catch (err) {
      this.log.error(
        { pair: this.pair, direction: w.direction },
        `could not finish the audit window: ${errorMessage(err)}`,
      );
    }
  }

  async close(): Promise<void> {
    await this.tick(true);
  }
}
