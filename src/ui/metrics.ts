// Prometheus metrics, read from the audit store at scrape time into an own Registry (never the
// global one, so two apps in one process, as in tests, do not collide). Every gauge is rebuilt on
// each scrape: a pair that vanished from the store vanishes from the metrics.
//
// The store holds rows, not counters, so the "by status" and "files and bytes" series are windows
// over the last 24 hours (at most WINDOW_ROWS iterations per pair), and the "last" series describe
// the last iteration. The alert examples are in docs/dashboard.md.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditReader, IterationRow, IterationStatus } from '../audit/index.js';
import { SILENT_BEATS, type PairHealth } from '../health/index.js';
import type { Schedule } from './view.js';
import { pairViews } from './view.js';

const STATUSES: readonly IterationStatus[] = ['running', 'success', 'partial_failure', 'failed'];
const WINDOW_MS = 24 * 3600 * 1000;
/** Iterations read per pair for the 24-hour window (the API's maximum page). */
export const WINDOW_ROWS = 500;

export interface UiMetrics {
  readonly registry: Registry;
  /** Reads the store and renders the exposition text. A store failure sets ha_sync_store_up 0. */
  render(): Promise<string>;
}

export interface MetricsDeps {
  /** The store, already wrapped with the app's timeout. */
  reader: Pick<AuditReader, 'pairs' | 'iterations'> &
    Partial<Pick<AuditReader, 'conflicts' | 'versionsState'>>;
  /** Live health from heartbeats (absent: the dashboard listens to none). */
  health?: { health(): PairHealth[] };
  schedule: Schedule;
  now: () => number;
  /** Also export Node process metrics (event loop, memory). Default false. */
  processMetrics?: boolean;
  onStoreError?: (err: unknown) => void;
}

export function createMetrics(deps: MetricsDeps): UiMetrics {
  const registry = new Registry();
  if (deps.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'ha_sync_ui_' });
  const registers = [registry];
  const pd = ['pair', 'direction'] as const;
  const pdd = ['pair', 'direction', 'dry_run'] as const;

  const storeUp = new Gauge({
    name: 'ha_sync_store_up',
    help: '1 when the audit store answered this scrape, 0 when it did not (the other series are then absent)',
    registers,
  });
  const iterations = new Gauge({
    name: 'ha_sync_iterations_24h',
    help: 'Iterations started in the last 24 hours, by pair, direction, dry_run (0 real, 1 dry run) and status',
    labelNames: [...pdd, 'status'],
    registers,
  });
  const lastStatus = new Gauge({
    name: 'ha_sync_last_iteration_status',
    help: 'Status of the last iteration of each pair and direction: 1 for its status, 0 for the others',
    labelNames: [...pdd, 'status'],
    registers,
  });
  const files = new Gauge({
    name: 'ha_sync_files_24h',
    help: 'Files created, updated, deleted, moved, skipped or failed by iterations started in the last 24 hours',
    labelNames: [...pdd, 'kind'],
    registers,
  });
  const bytesMoved = new Gauge({
    name: 'ha_sync_bytes_24h',
    help: 'Bytes transferred by iterations started in the last 24 hours',
    labelNames: pdd,
    registers,
  });
  const sinceSuccess = new Gauge({
    name: 'ha_sync_seconds_since_last_success',
    help: 'Seconds since the last successful real (not dry-run) sync ended; +Inf when there never was one',
    labelNames: pd,
    registers,
  });
  const staleAfter = new Gauge({
    name: 'ha_sync_stale_after_seconds',
    help: 'Twice the expected schedule of the pair: a pair without a successful real sync for longer is stale',
    labelNames: pd,
    registers,
  });
  const stale = new Gauge({
    name: 'ha_sync_stale',
    help: '1 when the pair and direction had no successful real sync within ha_sync_stale_after_seconds',
    labelNames: pd,
    registers,
  });
  const versionsBytes = new Gauge({
    name: 'ha_sync_versions_bytes',
    help: "Bytes in a side's kept-versions area (.ha-sync/versions), as last recorded",
    labelNames: ['pair', 'side'],
    registers,
  });
  const conflicts24h = new Gauge({
    name: 'ha_sync_conflicts_24h',
    help: 'Conflict copies made in the last 24 hours (real runs and the live applier)',
    labelNames: ['pair'],
    registers,
  });
  const componentUp = new Gauge({
    name: 'ha_sync_component_up',
    help: "1 while a live component's heartbeat is fresh, 0 once it was silent for 3 heartbeats (or NATS is unreachable)",
    labelNames: ['pair', 'component', 'side'],
    registers,
  });
  const componentHealthy = new Gauge({
    name: 'ha_sync_component_healthy',
    help: '1 when a live component is green or amber on the dashboard, 0 when red',
    labelNames: ['pair', 'component', 'side'],
    registers,
  });
  const perStore = [
    iterations,
    lastStatus,
    files,
    bytesMoved,
    sinceSuccess,
    staleAfter,
    stale,
    versionsBytes,
    conflicts24h,
  ];

  /** Live health from heartbeats: never depends on the store. */
  function updateLive(): void {
    componentUp.reset();
    componentHealthy.reset();
    for (const p of deps.health?.health() ?? []) {
      for (const c of p.components) {
        if (!c.beat) continue; // the dashboard's own NATS link: not a component of the pair
        const l = { pair: p.pair, component: c.component, side: c.side };
        const silent = c.silentMs > SILENT_BEATS * c.beat.everyMs || c.reason.startsWith('NATS unreachable');
        componentUp.set(l, silent ? 0 : 1);
        componentHealthy.set(l, c.light === 'red' ? 0 : 1);
      }
    }
  }

  async function update(): Promise<void> {
    for (const g of perStore) g.reset();
    const nowMs = deps.now();
    let views;
    let windows: IterationRow[][];
    try {
      views = pairViews(await deps.reader.pairs(), deps.schedule, nowMs);
      const pairs = [...new Set(views.map((v) => v.pair))];
      const since = new Date(nowMs - WINDOW_MS);
      windows = await Promise.all(
        pairs.map((pair) => deps.reader.iterations({ pair, since, limit: WINDOW_ROWS })),
      );
    } catch (err) {
      storeUp.set(0);
      deps.onStoreError?.(err);
      return;
    }
    storeUp.set(1);
    await updateSides(nowMs).catch((err: unknown) => deps.onStoreError?.(err));
    for (const v of views) {
      const labels = { pair: v.pair, direction: v.direction };
      sinceSuccess.set(labels, v.secondsSinceSuccess ?? Infinity);
      staleAfter.set(labels, v.staleAfterSeconds);
      stale.set(labels, v.stale ? 1 : 0);
      for (const last of [v.lastReal, v.lastDryRun]) {
        if (!last) continue;
        for (const s of STATUSES) {
          lastStatus.set(
            { ...labels, dry_run: last.dryRun ? '1' : '0', status: s },
            last.status === s ? 1 : 0,
          );
        }
      }
    }
    for (const rows of windows) {
      for (const r of rows) {
        const l = { pair: r.syncPair, direction: r.direction, dry_run: r.dryRun ? '1' : '0' };
        iterations.inc({ ...l, status: r.status });
        files.inc({ ...l, kind: 'created' }, r.filesCreated);
        files.inc({ ...l, kind: 'updated' }, r.filesUpdated);
        files.inc({ ...l, kind: 'deleted' }, r.filesDeleted);
        files.inc({ ...l, kind: 'moved' }, r.filesMoved);
        files.inc({ ...l, kind: 'skipped' }, r.filesSkipped);
        files.inc({ ...l, kind: 'failed' }, r.filesFailed);
        bytesMoved.inc(l, r.totalBytesTransferred);
      }
    }
  }

  /** Versions areas and conflicts of the last day, when the store can tell them. */
  async function updateSides(nowMs: number): Promise<void> {
    if (deps.reader.versionsState) {
      for (const r of await deps.reader.versionsState())
        versionsBytes.set({ pair: r.pair, side: r.sideLabel }, r.bytes);
    }
    if (deps.reader.conflicts) {
      const c = await deps.reader.conflicts({ since: new Date(nowMs - WINDOW_MS), limit: 1 });
      for (const x of c.counts) conflicts24h.set({ pair: x.pair }, x.conflicts);
    }
  }

  // Scrapes are serialised: two interleaved updates would reset each other's gauges mid-render.
  let chain: Promise<unknown> = Promise.resolve();
  function render(): Promise<string> {
    const next = chain.then(async () => {
      updateLive();
      await update();
      return registry.metrics();
    });
    chain = next.catch(() => undefined);
    return next;
  }
  return { registry, render };
}
