// What a reconcile run did, counted and recorded: every finished operation (or failure) becomes
// one audit record (through the run's `onOp`), and is counted for the run and for the side it
// wrote into. A record that cannot be written stops the run: it must not go on (least of all to
// deletes) unable to say what it did.
import type { IterationCounts, OpRecord } from '../audit/index.js';
import type { Entry, Problem, SideName } from '../core/index.js';
import type { OpResult, Owners } from '../fsops/index.js';
import { errorMessage } from '../errors.js';
import type { EngineOptions, OpEvent } from './engine-types.js';
import { zeroCounts } from './engine-types.js';

/** Where a replaced or removed version went, for the audit row. */
export type Kept = { path: string; kind: 'version' | 'conflict' } | null;

export class Tally {
  readonly counts: IterationCounts = zeroCounts();
  readonly countsTo: Record<SideName, IterationCounts> = { a: zeroCounts(), b: zeroCounts() };
  /** Set when a record could not be written: the run must stop. */
  failure: string | null = null;
  private readonly labels: Record<SideName, string>;

  constructor(
    private readonly o: EngineOptions,
    private readonly owners: Owners,
  ) {
    this.labels = { a: o.labels?.a ?? 'src', b: o.labels?.b ?? 'dest' };
  }

  /** Records one finished operation (or failure) and counts it. Never throws. */
  async emit(
    kind: OpEvent['kind'],
    to: SideName,
    path: string,
    src: Entry | undefined,
    dest: Entry | undefined,
    startedAtMs: number,
    result: OpResult | null,
    extra: {
      md5?: { before: string; after: string };
      kept?: Kept;
      move?: { from: string; bytesNotCopied: number | null };
    } = {},
  ): Promise<void> {
    const operation =
      kind === 'move'
        ? 'move'
        : kind === 'fail'
          ? dest
            ? 'update'
            : 'create'
          : kind === 'create'
            ? 'create'
            : kind === 'delete'
              ? 'delete'
              : 'update';
    const ok = result === null || result.ok;
    // A batch copy reports a refused chown in its result: the run's one warning.
    if (result?.ok && result.ownerDenied) this.owners.denied('EPERM');
    const owner = result?.ok ? result.owner : undefined;
    const kept =
      extra.kept ?? (result?.ok && result.kept ? { path: result.kept, kind: 'version' as const } : null);
    const record: OpRecord = {
      operation,
      filepath: path,
      sizeBefore: dest && dest.kind !== 'dir' ? dest.size : null,
      sizeAfter: operation === 'delete' ? null : src && src.kind !== 'dir' ? src.size : null,
      ...(extra.move ? { movedFrom: extra.move.from, bytesNotCopied: extra.move.bytesNotCopied } : {}),
      md5Before: extra.md5?.before ?? null,
      md5After: extra.md5?.after ?? null,
      startedAtMs,
      endedAtMs: this.o.clock.now(),
      status: ok ? 'success' : 'fail',
      errorMessage: result && !result.ok ? result.reason : null,
      keptPath: kept?.path ?? null,
      keptKind: kept?.kind ?? null,
      ...(owner ? { ownerBefore: owner.before, ownerAfter: owner.after } : {}),
    };
    for (const c of [this.counts, this.countsTo[to]]) {
      if (!ok) c.failed++;
      else if (kind === 'create') c.created++;
      else if (kind === 'update' || kind === 'touch') c.updated++;
      else if (kind === 'delete') c.deleted++;
      else if (kind === 'move') c.moved++;
      const moved = ok && (kind === 'create' || kind === 'update') && src?.kind === 'file' ? src.size : 0;
      c.bytesTransferred += this.o.dryRun ? 0 : moved;
    }
    if (!ok) this.o.log.warn({ op: operation, path, reason: record.errorMessage }, 'operation failed');
    else this.o.log.debug({ op: kind, path, to: this.labels[to] }, kind);
    try {
      await this.o.onOp({
        kind: ok ? kind : 'fail',
        path,
        entryKind: (src ?? dest)?.kind ?? 'file',
        size: kind === 'delete' ? (dest?.size ?? 0) : (src?.size ?? 0),
        record,
        to,
      });
    } catch (err) {
      // The op is done on disk; only its record failed. The log carries the record instead, and
      // the run stops: it must not go on (least of all to deletes) unable to say what it did.
      this.o.log.error({ ...record, err: errorMessage(err) }, 'operation not recorded; stopping the run');
      this.failure ??= `could not record ${operation} of '${path}': ${errorMessage(err)}`;
    }
  }

  /** A problem: a failure (recorded, counted) or a warning (logged, counted as skipped). */
  async problem(p: Problem, to: SideName = 'b'): Promise<void> {
    if (p.fails) {
      await this.emit('fail', to, p.path, p.src, p.dest, this.o.clock.now(), {
        ok: false,
        code: 'CHANGED_UNDER_US',
        reason: p.message,
      });
    } else {
      this.counts.skipped++;
      this.o.log.warn({ path: p.path, side: p.side, kind: p.kind }, p.message);
    }
  }
}
