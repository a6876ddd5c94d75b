// Opslog files: the durable first copy of a run's audit, one JSON object per line.
//
//   {"v":1,"type":"header", runId, pair, direction, src, dest, startedAtMs, dryRun, pid, host}
//   {"type":"iteration","iterationId":42}        only when the 'running' row could be inserted
//   {"type":"op", ...OpRecord}                   one per operation, in the order they happened
//                                                (keptPath/keptKind: absent in lines written before
//                                                ha-sync kept versions; ownerBefore/ownerAfter:
//                                                absent before it kept owners; read back as null;
//                                                movedFrom/bytesNotCopied: on 'move' lines only)
//   {"type":"end", endedAtMs, status, counts, errorMessage}
//
// Every line is validated when read back (bytes from disk are input like any other): a line that
// fails is skipped and counted, never fatal. A file without a header is unusable as a whole.
// Invariant: writes of one run are serialized and each carries whole lines, so a crash can cut
// at most the last line short.
// Durability: an append resolves once its write() returned, i.e. the line is in the kernel's page
// cache. That survives a crash or kill of the process (the case the opslog exists for), not a
// crash of the host: the file is fsynced only by `close`, when the run finishes. An fsync per
// line would put a disk (or NFS COMMIT) round trip on every operation of a run, and the files
// ha-sync copies are not fsynced either.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { HaSyncError, errorMessage } from '../errors.js';
import { addCount } from './store.js';
import { OPERATION_KINDS } from './schema.js';
import type { IterationCounts, IterationEnd, IterationHeader, OpRecord, VersionsState } from './types.js';

export const OPSLOG_RE = /^opslog-.*\.jsonl(\.corrupt)?$/;
export const OPSLOG_PENDING_RE = /^opslog-.*\.jsonl$/;

/** What the header line carries beyond the IterationHeader: who writes the file. */
export interface WriterMeta {
  pid: number;
  host: string;
}

export type HeaderLine = IterationHeader & Partial<WriterMeta>;

/** File-name-safe part: keeps [A-Za-z0-9._-], maps the rest to '_', at most 60 characters. */
export function fileToken(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60);
  return t === '' ? '_' : t;
}

/** RFC 3339 UTC with milliseconds, ':' replaced by '-' so it is a safe file name everywhere. */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/:/g, '-');
}

export function opslogName(pair: string, direction: string, ms: number): string {
  return `opslog-${fileToken(pair)}-${fileToken(direction)}-${fileStamp(ms)}.jsonl`;
}

// ---- writing ----

export class OpslogWriter {
  /** Lines waiting for the write in flight to finish; written together by the next write. */
  private pending: { data: string; resolve: () => void; reject: (err: Error) => void }[] = [];
  private drained: Promise<void> = Promise.resolve();
  private writing = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  /**
   * Creates a new opslog (never reuses an existing file: the name's millisecond is bumped until it
   * is free) and writes the header line.
   */
  static async create(dir: string, header: IterationHeader, meta: WriterMeta): Promise<OpslogWriter> {
    let ms = header.startedAtMs;
    for (let i = 0; ; i++, ms++) {
      const path = join(dir, opslogName(header.pair, header.direction, ms));
      let fh: FileHandle;
      try {
        fh = await open(path, 'wx', 0o640);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && i < 1000) continue;
        throw new HaSyncError('AUDIT_UNAVAILABLE', `cannot create opslog in ${dir}: ${errorMessage(err)}`);
      }
      const w = new OpslogWriter(path, fh);
      try {
        await w.append({ v: 1, type: 'header', ...header, ...meta });
      } catch (err) {
        // Nothing of the run is in the file yet (at most a cut header): close the handle and remove
        // the file this call created, rather than leave a descriptor open and a headerless file.
        await w.close().catch(() => undefined);
        await unlink(path).catch(() => undefined);
        throw err;
      }
      return w;
    }
  }

  /**
   * Appends one line; resolves when the write has reached the kernel (not fsynced: see the
   * durability note at the top of this file). Lines appended while a write is in flight go out
   * together in the next one (group commit), in call order.
   */
  append(obj: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.reject(new HaSyncError('INTERNAL', `opslog ${this.path} is closed`));
    const data = JSON.stringify(obj) + '\n';
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data, resolve, reject });
      if (!this.writing) this.drained = this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        try {
          await writeAll(this.fh, Buffer.from(group.map((g) => g.data).join(''), 'utf8'));
          for (const g of group) g.resolve();
        } catch (err) {
          const e = new HaSyncError(
            'AUDIT_UNAVAILABLE',
            `cannot write opslog ${this.path}: ${errorMessage(err)}`,
          );
          for (const g of group) g.reject(e);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Heartbeat: refreshes the mtime so other processes see the writer is alive. */
  async touch(): Promise<void> {
    if (this.closed) return;
    const now = new Date();
    await this.fh.utimes(now, now).catch(() => undefined);
  }

  /** Waits for pending appends, fsyncs, closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drained;
    try {
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }
}

/** Writes all of `buf` at the handle's position (a write may be partial, e.g. near a full disk). */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
    off += bytesWritten;
  }
}

// ---- reading ----

const OPERATIONS = new Set<string>(OPERATION_KINDS);
const OP_STATUS = new Set(['success', 'fail']);
const KEPT_KINDS = new Set(['version', 'conflict']);
const END_STATUS = new Set(['success', 'partial_failure', 'failed']);

const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isTime = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 8.64e15;
const isSize = (v: unknown): v is number | null =>
  v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);

/**
 * keptPath and keptKind of an op line: both absent/null (nothing kept, or a line from before), or
 * a non-empty path with its kind. Anything else is invalid (undefined).
 */
function toKept(o: Record<string, unknown>): Pick<OpRecord, 'keptPath' | 'keptKind'> | undefined {
  const path = o.keptPath ?? null;
  const kind = o.keptKind ?? null;
  if (path === null && kind === null) return { keptPath: null, keptKind: null };
  if (!isStr(path) || path === '' || !isStr(kind) || !KEPT_KINDS.has(kind)) return undefined;
  return { keptPath: path, keptKind: kind as 'version' | 'conflict' };
}

/**
 * movedFrom and bytesNotCopied of an op line: a 'move' has a non-empty old path other than its
 * new one and a size or null; any other operation has neither (absent or null, as in every line
 * written before ha-sync recorded moves). Anything else is invalid (undefined); `{}` when absent.
 */
function toMove(o: Record<string, unknown>): Pick<OpRecord, 'movedFrom' | 'bytesNotCopied'> | undefined {
  const from = o.movedFrom ?? null;
  const bytes = o.bytesNotCopied ?? null;
  if (o.operation !== 'move') return from === null && bytes === null ? {} : undefined;
  if (!isStr(from) || from === '' || from === o.filepath || !isSize(bytes)) return undefined;
  return { movedFrom: from, bytesNotCopied: bytes };
}

/** An owner as an op line carries it: "uid:gid", or null / absent (nothing recorded). */
const isOwner = (v: unknown): v is string | null => v === null || (isStr(v) && /^\d{1,10}:\d{1,10}$/.test(v));

export function toOp(o: Record<string, unknown>): OpRecord | null {
  const kept = toKept(o);
  const move = toMove(o);
  if (
    !kept ||
    !move ||
    !isOwner(o.ownerBefore ?? null) ||
    !isOwner(o.ownerAfter ?? null) ||
    !isStr(o.operation) ||
    !OPERATIONS.has(o.operation) ||
    !isStr(o.filepath) ||
    o.filepath === '' ||
    !isSize(o.sizeBefore ?? null) ||
    !isSize(o.sizeAfter ?? null) ||
    !isStrOrNull(o.md5Before ?? null) ||
    !isStrOrNull(o.md5After ?? null) ||
    !isTime(o.startedAtMs) ||
    !(o.endedAtMs === null || o.endedAtMs === undefined || isTime(o.endedAtMs)) ||
    !isStr(o.status) ||
    !OP_STATUS.has(o.status) ||
    !isStrOrNull(o.errorMessage ?? null)
  ) {
    return null;
  }
  return {
    operation: o.operation as OpRecord['operation'],
    filepath: o.filepath,
    sizeBefore: (o.sizeBefore ?? null) as number | null,
    sizeAfter: (o.sizeAfter ?? null) as number | null,
    md5Before: (o.md5Before ?? null) as string | null,
    md5After: (o.md5After ?? null) as string | null,
    startedAtMs: o.startedAtMs,
    endedAtMs: o.endedAtMs ?? null,
    status: o.status as OpRecord['status'],
    errorMessage: (o.errorMessage ?? null) as string | null,
    ...kept,
    // Only when recorded: most operations change no owner (and lines from before have none).
    ...(o.ownerBefore != null ? { ownerBefore: o.ownerBefore as string } : {}),
    ...(o.ownerAfter != null ? { ownerAfter: o.ownerAfter as string } : {}),
    // Only on a move: the other operations read as before.
    ...move,
  };
}

/** A versions-area state as given by a caller (not an opslog line, but validated the same way). */
export function toVersionsState(o: Record<string, unknown>): VersionsState | null {
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const oldest = o.oldestMs ?? null;
  if (!count(o.files) || !count(o.bytes) || !(oldest === null || isTime(oldest))) return null;
  return { files: o.files, bytes: o.bytes, oldestMs: oldest };
}

export function toHeader(o: Record<string, unknown>): HeaderLine | null {
  if (
    o.v !== 1 ||
    !isStr(o.runId) ||
    o.runId === '' ||
    o.runId.length > 128 ||
    !isStr(o.pair) ||
    !isStr(o.direction) ||
    !isStr(o.src) ||
    !isStr(o.dest) ||
    !isTime(o.startedAtMs) ||
    typeof o.dryRun !== 'boolean'
  ) {
    return null;
  }
  const h: HeaderLine = {
    runId: o.runId,
    pair: o.pair,
    direction: o.direction,
    src: o.src,
    dest: o.dest,
    startedAtMs: o.startedAtMs,
    dryRun: o.dryRun,
  };
  if (typeof o.pid === 'number' && Number.isSafeInteger(o.pid)) h.pid = o.pid;
  if (isStr(o.host)) h.host = o.host;
  return h;
}

const COUNT_KEYS = ['created', 'updated', 'deleted', 'skipped', 'failed', 'bytesTransferred'] as const;

export function toEnd(o: Record<string, unknown>): IterationEnd | null {
  const c = o.counts as Record<string, unknown> | null | undefined;
  if (
    !isTime(o.endedAtMs) ||
    !isStr(o.status) ||
    !END_STATUS.has(o.status) ||
    !isStrOrNull(o.errorMessage ?? null)
  ) {
    return null;
  }
  if (typeof c !== 'object' || c === null) return null;
  const counts = {} as IterationCounts;
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  for (const k of COUNT_KEYS) {
    const v = c[k];
    if (!isCount(v)) return null;
    counts[k] = v;
  }
  // An end line written before ha-sync counted moves has none: no move was made.
  const moved = c.moved ?? 0;
  if (!isCount(moved)) return null;
  counts.moved = moved;
  return {
    endedAtMs: o.endedAtMs,
    status: o.status as IterationEnd['status'],
    counts,
    errorMessage: (o.errorMessage ?? null) as string | null,
  };
}

type Line =
  | { type: 'header'; header: HeaderLine }
  | { type: 'iteration'; iterationId: number }
  | { type: 'op'; op: OpRecord }
  | { type: 'end'; end: IterationEnd }
  | { type: 'corrupt' };

export function parseLine(text: string): Line {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { type: 'corrupt' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { type: 'corrupt' };
  const r = o as Record<string, unknown>;
  switch (r.type) {
    case 'header': {
      const header = toHeader(r);
      return header ? { type: 'header', header } : { type: 'corrupt' };
    }
    case 'iteration':
      return typeof r.iterationId === 'number' && Number.isSafeInteger(r.iterationId) && r.iterationId > 0
        ? { type: 'iteration', iterationId: r.iterationId }
        : { type: 'corrupt' };
    case 'op': {
      const op = toOp(r);
      return op ? { type: 'op', op } : { type: 'corrupt' };
    }
    case 'end': {
      const end = toEnd(r);
      return end ? { type: 'end', end } : { type: 'corrupt' };
    }
    default:
      return { type: 'corrupt' };
  }
}

/** What one pass over an opslog found. */
export interface OpslogSummary {
  header: HeaderLine | null;
  iterationId: number | null;
  end: IterationEnd | null;
  /** Valid op lines (the flush inserts exactly these, in order). */
  ops: number;
  /** Time of the last op (its end, else its start); null without ops. */
  lastOpMs: number | null;
  /** Counts derived from the ops, for a run that has no end line. */
  counts: IterationCounts;
  /** Lines skipped as unparseable or invalid, and the first such line number (1-based). */
  corrupt: number;
  firstCorruptLine: number | null;
}

/**
 * The file's lines from the start, read with positioned reads through `fh` (so it can be read
 * twice, and an unlink by another process does not matter). The last line may lack its '\n'.
 */
async function* lines(fh: FileHandle): AsyncGenerator<string> {
  const buf = Buffer.allocUnsafe(256 * 1024);
  const decoder = new StringDecoder('utf8');
  let pos = 0;
  let rest = '';
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const parts = (rest + decoder.write(buf.subarray(0, bytesRead))).split('\n');
    rest = parts.pop()!;
    for (const p of parts) yield p;
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}

/** An opened opslog: read twice through one descriptor, so a concurrent unlink does not matter. */
export class OpslogFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  /** Null when the file is gone (flushed by another process meanwhile). */
  static async open(path: string): Promise<OpslogFile | null> {
    try {
      return new OpslogFile(path, await open(path, 'r'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async mtimeMs(): Promise<number> {
    return (await this.fh.stat()).mtimeMs;
  }

  async summarize(): Promise<OpslogSummary> {
    const s: OpslogSummary = {
      header: null,
      iterationId: null,
      end: null,
      ops: 0,
      lastOpMs: null,
      counts: { created: 0, updated: 0, deleted: 0, skipped: 0, failed: 0, moved: 0, bytesTransferred: 0 },
      corrupt: 0,
      firstCorruptLine: null,
    };
    let n = 0;
    for await (const text of lines(this.fh)) {
      n++;
      if (text.trim() === '') continue;
      const l = parseLine(text);
      if (l.type === 'header' && n === 1) s.header = l.header;
      else if (l.type === 'iteration' && s.end === null) s.iterationId = l.iterationId;
      else if (l.type === 'op' && s.end === null && s.header) {
        s.ops++;
        addCount(s.counts, l.op);
        const t = l.op.endedAtMs ?? l.op.startedAtMs;
        s.lastOpMs = s.lastOpMs === null ? t : Math.max(s.lastOpMs, t);
      } else if (l.type === 'end' && s.end === null && s.header) s.end = l.end;
      else {
        // Unparseable, invalid, out of place (a second header, anything after the end line).
        s.corrupt++;
        s.firstCorruptLine ??= n;
      }
    }
    return s;
  }

  /** The first `count` valid ops, in batches (what `summarize` counted, nothing appended since). */
  async *opBatches(count: number, size = 2000): AsyncGenerator<OpRecord[]> {
    let batch: OpRecord[] = [];
    let seen = 0;
    let n = 0;
    if (count === 0) return;
    for await (const text of lines(this.fh)) {
      n++;
      if (n === 1 || text.trim() === '') continue;
      const l = parseLine(text);
      if (l.type === 'end') break;
      if (l.type !== 'op') continue;
      batch.push(l.op);
      seen++;
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
      if (seen >= count) break;
    }
    if (batch.length) yield batch;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
