// `/metrics` of the watcher and applier processes: gauges and counters set from what each
// component reports in its heartbeat, on a registry of their own, served by a small HTTP server on
// `--metrics-port` (0: none). The names follow the dashboard's `ha_sync_*` ones.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ApplierBeat, WatcherBeat } from './beat.js';

export class LiveMetrics {
  readonly registry = new Registry();
  private readonly ws = ['pair', 'side'] as const;
  private readonly rootHealthy = new Gauge({
    name: 'ha_sync_watcher_root_healthy',
    help: '1 when the watched root is mounted and holds its marker, 0 when it is unmounted, hung or without its marker',
    labelNames: this.ws,
    registers: [this.registry],
  });
  private readonly wPending = new Gauge({
    name: 'ha_sync_watcher_pending_events',
    help: 'Changes waiting to be published to NATS',
    labelNames: this.ws,
    registers: [this.registry],
  });
  private readonly indexed = new Gauge({
    name: 'ha_sync_watcher_files_indexed',
    help: 'Entries (files, symlinks, directories) in the watcher index',
    labelNames: this.ws,
    registers: [this.registry],
  });
  private readonly sweep = new Gauge({
    name: 'ha_sync_watcher_sweep_seconds',
    help: 'Duration of the last full sweep of the root, seconds',
    labelNames: this.ws,
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'ha_sync_watcher_events_published_total',
    help: 'Change events handed to NATS',
    labelNames: this.ws,
    registers: [this.registry],
  });
  private readonly lock = new Gauge({
    name: 'ha_sync_applier_lock_held',
    help: "1 while the applier holds the pair's lock",
    labelNames: ['pair'],
    registers: [this.registry],
  });
  private readonly aPending = new Gauge({
    name: 'ha_sync_applier_pending_events',
    help: 'Events of the pair not yet acknowledged',
    labelNames: ['pair'],
    registers: [this.registry],
  });
  private readonly lag = new Gauge({
    name: 'ha_sync_applier_event_lag_seconds',
    help: 'Age of the oldest event the applier still holds, seconds (0 when none)',
    labelNames: ['pair'],
    registers: [this.registry],
  });
  readonly operations = new Counter({
    name: 'ha_sync_applier_operations_total',
    help: 'Operations carried out by the applier',
    labelNames: ['pair', 'operation'],
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: 'ha_sync_applier_conflicts_total',
    help: 'Conflicts met by the applier (the loser kept as a conflict copy, or left alone)',
    labelNames: ['pair'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'ha_sync_applier_failures_total',
    help: 'Events the applier gave up on',
    labelNames: ['pair'],
    registers: [this.registry],
  });

  watcher(b: WatcherBeat): void {
    const l = { pair: b.pair, side: b.side };
    this.rootHealthy.set(l, b.root === 'ok' ? 1 : 0);
    this.wPending.set(l, b.pending);
    this.indexed.set(l, b.filesIndexed);
    if (b.sweepMs !== null) this.sweep.set(l, b.sweepMs / 1000);
  }

  /** Brings the applier's counters up to its running totals (counters only go up). */
  sync(
    pair: string,
    totals: { ops: ReadonlyMap<string, number>; conflicts: number; failures: number },
  ): void {
    const bump = (c: Counter<string>, labels: Record<string, string>, total: number): void => {
      const k = `${c === this.operations ? 'o' : c === this.conflicts ? 'c' : 'f'}${JSON.stringify(labels)}`;
      const d = total - (this.seen.get(k) ?? 0);
      if (d > 0) c.inc(labels, d);
      this.seen.set(k, total);
    };
    for (const [operation, n] of totals.ops) bump(this.operations, { pair, operation }, n);
    bump(this.conflicts, { pair }, totals.conflicts);
    bump(this.failures, { pair }, totals.failures);
  }
  private readonly seen = new Map<string, number>();

  applier(b: ApplierBeat): void {
    const l = { pair: b.pair };
    this.lock.set(l, b.lockHeld ? 1 : 0);
    this.aPending.set(l, b.pending);
    this.lag.set(l, b.oldestMs / 1000);
  }
}

/**
 * Serves `registry` on `GET /metrics` at `port` (all interfaces: Prometheus scrapes the pod) until
 * `signal` aborts. Anything else answers 404. Resolves once listening; throws when the port is
 * taken.
 */
export async function serveMetrics(
  port: number,
  registry: Registry,
  log: Logger,
  signal: AbortSignal,
  host = '0.0.0.0',
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.warn({ err: errorMessage(err) }, 'could not render /metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('error\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  signal.addEventListener('abort', () => server.close(), { once: true });
  log.info({ port, host }, 'metrics on /metrics');
  return server;
}
