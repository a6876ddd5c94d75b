// A progress bar on stderr for runs in a terminal: files and bytes done of what is planned so far
// (the plan grows while the walk goes on), rate and ETA. Drawn at most every 200 ms; off when
// stderr is not a TTY, so Kubernetes logs never see it.
import type { Clock } from '../clock.js';
import { formatBytes } from './print.js';

/** What a run reports as it goes, for heartbeats (see cli/reconcile.ts). */
export interface ProgressSink {
  /** Entries listed so far on both sides grew by `n`. */
  listed(n: number): void;
  planned(files: number, bytes: number): void;
  done(bytes: number): void;
  phase(p: 'walking' | 'deleting' | 'done'): void;
}

/** A ProgressSink that keeps the numbers: files seen, planned and done, and an ETA by bytes. */
export class ProgressCount implements ProgressSink {
  filesSeen = 0;
  filesPlanned = 0;
  filesDone = 0;
  bytesPlanned = 0;
  bytesDone = 0;
  now: 'walking' | 'deleting' | 'done' = 'walking';
  private readonly startMs: number;

  constructor(private readonly clock: Clock) {
    this.startMs = clock.now();
  }
  listed(n: number): void {
    this.filesSeen += n;
  }
  planned(files: number, bytes: number): void {
    this.filesPlanned += files;
    this.bytesPlanned += bytes;
  }
  done(bytes: number): void {
    this.filesDone++;
    this.bytesDone += bytes;
  }
  phase(p: 'walking' | 'deleting' | 'done'): void {
    this.now = p;
  }
  /** Milliseconds left at the byte rate so far, or null when it cannot be told yet. */
  etaMs(): number | null {
    const ms = this.clock.now() - this.startMs;
    const left = this.bytesPlanned - this.bytesDone;
    if (ms <= 0 || this.bytesDone <= 0 || left <= 0) return left <= 0 && this.filesPlanned > 0 ? 0 : null;
    return Math.round((left * ms) / this.bytesDone);
  }
}

/** The TTY bar: ProgressCount's numbers, drawn on stderr at most every 200 ms. */
export class Progress extends ProgressCount {
  private readonly t0: number;
  private timer: NodeJS.Timeout | null = null;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly barClock: Clock,
  ) {
    super(barClock);
    this.t0 = barClock.now();
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  /** The line as drawn (exported for tests). */
  line(): string {
    const secs = Math.max(0.001, (this.barClock.now() - this.t0) / 1000);
    const rate = this.bytesDone / secs;
    const left = this.bytesPlanned - this.bytesDone;
    const eta = rate > 0 && left > 0 ? fmtDuration(left / rate) : '--';
    return (
      `${this.filesDone}/${this.filesPlanned} files  ${formatBytes(this.bytesDone)}/${formatBytes(this.bytesPlanned)}` +
      `  ${formatBytes(Math.round(rate))}/s  ETA ${eta}`
    );
  }

  private draw(): void {
    const width = (this.out.columns ?? 80) - 1;
    this.out.write(`\r${this.line().slice(0, width).padEnd(width)}`);
    this.drawn = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.out.write(`\r${' '.repeat((this.out.columns ?? 80) - 1)}\r`);
  }
}

function fmtDuration(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}
