// `ha-sync watch`: polls one or more roots and publishes their changes to NATS JetStream
// (docs/watcher.md). One root from --pair/--side/--root, or several from repeated
// --watch pair:side:/root or a --config file, so one process serves all pairs of one server.
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { natsBusOptions, natsFlags, openBus, resolveNatsConfig, type NatsConfig } from '../bus/index.js';
import { systemClock } from '../clock.js';
import { PAIR_RE, enumFlag, flagHelp, intFlag, parseFlags, type FlagSpecs } from '../config/index.js';
import { EXIT, errorMessage, usage } from '../errors.js';
import { HEARTBEAT_MS, LiveMetrics, publishBeats, serveMetrics } from '../health/index.js';
import { createLogger } from '../log.js';
import {
  DEFAULT_WATCHER_OPTIONS,
  runWatchers,
  type RootWatcher,
  type WatchRoot,
  type WatcherOptions,
} from '../watcher/index.js';
import type { CliContext } from './context.js';

export const watchFlags = {
  pair: { type: 'string', valueName: 'name', help: 'Pair name (with --side and --root)' },
  side: { type: 'string', valueName: 'label', help: 'Side label of this root, e.g. dell' },
  root: { type: 'string', valueName: 'path', help: 'Directory to watch' },
  watch: {
    type: 'string',
    valueName: 'pair:side:/root',
    multiple: true,
    help: 'Watch another root (one process can serve all pairs of a server)',
  },
  config: {
    type: 'string',
    valueName: 'file',
    help: 'JSON or YAML file: {watch: [{pair, side, root}, ...]}',
  },
  mode: {
    type: 'string',
    valueName: 'poll|native',
    default: 'poll',
    help: 'poll: our own poller (NFS-safe); native: inotify via chokidar (local disks only)',
  },
  'poll-interval': {
    type: 'string',
    valueName: 'ms',
    default: String(DEFAULT_WATCHER_OPTIONS.pollIntervalMs),
    help: 'How often directories are re-stat-ed (creates, deletes, renames show up within about this)',
  },
  'sweep-rate': {
    type: 'string',
    valueName: 'calls/s',
    default: String(DEFAULT_WATCHER_OPTIONS.sweepRate),
    help: 'Budget of file stats per second for finding in-place modifications (a full sweep takes files/rate seconds); 0: 10000 on local disks, 5000 on network filesystems',
  },
  'stat-timeout': {
    type: 'string',
    valueName: 'ms',
    default: String(DEFAULT_WATCHER_OPTIONS.statTimeoutMs),
    help: 'A stat or listing slower than this counts as a hung mount',
  },
  'stat-concurrency': {
    type: 'string',
    valueName: 'n',
    default: String(DEFAULT_WATCHER_OPTIONS.statConcurrency),
    help: 'Filesystem calls in flight per root',
  },
  'max-pending': {
    type: 'string',
    valueName: 'n',
    default: String(DEFAULT_WATCHER_OPTIONS.maxPending),
    help: 'Changes kept per root while NATS is unreachable before directories collapse to a rescan',
  },
  'initial-sync': {
    type: 'boolean',
    help: 'Publish every existing entry at start (default: only changes; the reconciler owns the backlog)',
  },
  'metrics-port': {
    type: 'string',
    valueName: 'port',
    default: '0',
    help: 'Serve Prometheus /metrics on this port, all interfaces (the cluster uses 9464); 0: none',
  },
  verbose: { type: 'boolean', short: 'v', help: 'Debug logging' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
  ...natsFlags,
} as const satisfies FlagSpecs;

export interface WatchConfig {
  readonly help: boolean;
  /** Roots given on the command line (--pair/--side/--root and --watch). */
  readonly roots: readonly WatchRoot[];
  /** A config file to read more roots from (read by the command, not the parser). */
  readonly configFile: string | undefined;
  readonly watcher: Readonly<WatcherOptions>;
  readonly nats: NatsConfig;
  /** Port of /metrics; 0: none. */
  readonly metricsPort: number;
  readonly verbose: boolean;
}

function checkRoot(where: string, pair: unknown, side: unknown, root: unknown): WatchRoot {
  if (typeof pair !== 'string' || !PAIR_RE.test(pair)) {
    throw usage(`${where}: pair must be lowercase letters, digits and '-', got ${JSON.stringify(pair)}`);
  }
  if (typeof side !== 'string' || !PAIR_RE.test(side)) {
    throw usage(`${where}: side must be lowercase letters, digits and '-', got ${JSON.stringify(side)}`);
  }
  if (typeof root !== 'string' || root === '' || root.includes('\0')) {
    throw usage(`${where}: root must be a directory path, got ${JSON.stringify(root)}`);
  }
  return Object.freeze({ pair, side, root: resolve(root) });
}

function noDuplicates(roots: readonly WatchRoot[]): void {
  const seen = new Set<string>();
  for (const r of roots) {
    const k = `${r.pair}/${r.side}`;
    if (seen.has(k))
      throw usage(`pair ${r.pair} side ${r.side} is watched twice; each (pair, side) has one root`);
    seen.add(k);
  }
}

/** Parses and validates argv without touching the filesystem or the network. */
export function parseWatchArgs(argv: string[], env: NodeJS.ProcessEnv): WatchConfig {
  const { values: v } = parseFlags(argv, watchFlags, { env });
  const roots: WatchRoot[] = [];
  const single = [v.pair, v.side, v.root].filter((x) => x !== undefined).length;
  if (single > 0 && single < 3) throw usage('--pair, --side and --root go together: give all three');
  if (single === 3) roots.push(checkRoot('--pair/--side/--root', v.pair, v.side, v.root));
  for (const w of v.watch) {
    const m = /^([^:]+):([^:]+):(.+)$/s.exec(w);
    if (!m) throw usage(`--watch: expected pair:side:/root, got '${w}'`);
    roots.push(checkRoot(`--watch '${w}'`, m[1], m[2], m[3]));
  }
  if (roots.length === 0 && !v.config && !v.help) {
    throw usage('nothing to watch: give --pair, --side and --root, or --watch pair:side:/root, or --config');
  }
  noDuplicates(roots);
  const watcher: WatcherOptions = {
    mode: enumFlag('mode', v.mode, ['poll', 'native'] as const, 'poll'),
    pollIntervalMs: intFlag('poll-interval', v['poll-interval'], 100, 600_000),
    sweepRate: intFlag('sweep-rate', v['sweep-rate'], 0, 1_000_000),
    statTimeoutMs: intFlag('stat-timeout', v['stat-timeout'], 100, 600_000),
    statConcurrency: intFlag('stat-concurrency', v['stat-concurrency'], 1, 256),
    hotMs: DEFAULT_WATCHER_OPTIONS.hotMs,
    maxPending: intFlag('max-pending', v['max-pending'], 100, 10_000_000),
    initialSync: v['initial-sync'],
    publishBatch: DEFAULT_WATCHER_OPTIONS.publishBatch,
  };
  return Object.freeze({
    help: v.help,
    roots: Object.freeze(roots),
    configFile: v.config,
    watcher: Object.freeze(watcher),
    nats: resolveNatsConfig(v),
    metricsPort: intFlag('metrics-port', v['metrics-port'], 0, 65535, 0),
    verbose: v.verbose,
  });
}

/** Reads the roots of a --config file (JSON, or YAML by extension). */
export async function loadWatchConfig(file: string): Promise<WatchRoot[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`--config: cannot read '${file}' (${errorMessage(err)})`);
  }
  let doc: unknown;
  try {
    if (/\.ya?ml$/i.test(file)) {
      const yaml = await import('yaml');
      doc = yaml.parse(text);
    } else {
      doc = JSON.parse(text);
    }
  } catch (err) {
    throw usage(
      `--config: '${file}' is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${errorMessage(err).split('\n')[0]}`,
    );
  }
  const list = (doc as { watch?: unknown } | null)?.watch;
  if (!Array.isArray(list) || list.length === 0) {
    throw usage(`--config: '${file}' needs a non-empty 'watch' list of {pair, side, root}`);
  }
  return list.map((item: unknown, i) => {
    const o = (item ?? {}) as Record<string, unknown>;
    const root = o.root;
    if (typeof root === 'string' && !isAbsolute(root)) {
      throw usage(`--config: watch[${i}].root must be an absolute path, got '${root}'`);
    }
    return checkRoot(`--config watch[${i}]`, o.pair, o.side, root);
  });
}

export async function watchCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseWatchArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      'Usage: ha-sync watch --pair <name> --side <label> --root <dir> [flags]\n' +
        '       ha-sync watch --watch pair:side:/root [--watch ...] | --config <file>\n\n' +
        flagHelp(watchFlags) +
        '\n',
    );
    return EXIT.OK;
  }
  const roots = [...cfg.roots, ...(cfg.configFile ? await loadWatchConfig(cfg.configFile) : [])];
  noDuplicates(roots);
  const logger = createLogger({
    verbose: cfg.verbose,
    ...(ctx.stdout === process.stdout ? {} : { destination: ctx.stdout }),
  });
  const bus = await openBus({ ...natsBusOptions(cfg.nats), logger, name: 'ha-sync-watch' });
  logger.info({ url: bus.safeUrl, roots: roots.length, mode: cfg.watcher.mode }, 'watcher starting');
  const metrics = new LiveMetrics();
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  try {
    if (cfg.metricsPort > 0) await serveMetrics(cfg.metricsPort, metrics.registry, logger, signal);
    let beating: Promise<void> = Promise.resolve();
    await runWatchers(roots, cfg.watcher, { bus, clock: systemClock, logger }, ctx.signal, (watchers) => {
      const sent = new Map<RootWatcher, number>();
      beating = publishBeats(
        bus,
        () =>
          watchers.map((w) => {
            const b = w.beat(systemClock.now(), HEARTBEAT_MS);
            metrics.watcher(b);
            metrics.published.inc({ pair: b.pair, side: b.side }, w.published - (sent.get(w) ?? 0));
            sent.set(w, w.published);
            return b;
          }),
        { clock: systemClock, log: logger, signal },
      );
    });
    stop.abort();
    await beating;
  } finally {
    stop.abort();
    await bus.close();
  }
  logger.info('watcher stopped');
  return EXIT.OK;
}
