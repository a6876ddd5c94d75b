// `ha-sync tap`: prints change events as they flow through NATS, one line each, for debugging.
// It reads through an ordered ephemeral consumer, so it never takes events from the applier.
// Invalid messages are shown as warning lines on stderr (they are what the applier terminates).
import {
  natsBusOptions,
  natsFlags,
  openBus,
  resolveNatsConfig,
  type Delivery,
  type NatsConfig,
} from '../bus/index.js';
import { flagHelp, labelFlag, pairFlag, parseFlags, type FlagSpecs } from '../config/index.js';
import { EXIT, usage } from '../errors.js';
import { createLogger } from '../log.js';
import type { CliContext } from './context.js';

export const tapFlags = {
  pair: { type: 'string', valueName: 'name', help: 'Only this pair' },
  side: { type: 'string', valueName: 'label', help: 'Only this side' },
  json: { type: 'boolean', help: 'Print each validated event as one JSON line' },
  since: {
    type: 'string',
    valueName: 'duration',
    help: 'First replay events stored in the last <duration> (e.g. 30s, 10m, 2h, 1d), then follow',
  },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
  ...natsFlags,
} as const satisfies FlagSpecs;

export interface TapConfig {
  readonly help: boolean;
  readonly pair: string | undefined;
  readonly side: string | undefined;
  readonly json: boolean;
  /** Replay window in ms, or undefined for new events only. */
  readonly sinceMs: number | undefined;
  readonly nats: NatsConfig;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `10m`, `1h30m`, `2d` into milliseconds (at most 30 days). */
export function parseDuration(name: string, v: string): number {
  const t = v.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (t === '' || pos !== t.length || !Number.isFinite(total) || total <= 0 || total > 30 * UNIT_MS.d!) {
    throw usage(`--${name}: expected a duration such as 30s, 10m, 2h or 1d (at most 30d), got '${v}'`);
  }
  return Math.round(total);
}

export function parseTapArgs(argv: string[], env: NodeJS.ProcessEnv): TapConfig {
  const { values: v } = parseFlags(argv, tapFlags, { env });
  return Object.freeze({
    help: v.help,
    pair: v.pair === undefined ? undefined : pairFlag('pair', v.pair),
    side: v.side === undefined ? undefined : labelFlag('side', v.side),
    json: v.json,
    sinceMs: v.since === undefined ? undefined : parseDuration('since', v.since),
    nats: resolveNatsConfig(v),
  });
}

function showPath(p: string): string {
  return /^[\x21-\x7e\u00a0-\uffff]+$/.test(p) && !p.includes('"') ? p : JSON.stringify(p);
}

/** One human line for a delivery (tab-free, fixed field order: time pair side type kind path size mtime). */
export function formatDelivery(d: Delivery): string {
  const e = d.event;
  if (!e) return `warning: invalid event on ${d.subject}: ${d.error ?? 'unknown error'}`;
  const mtime = new Date(e.mtimeMs).toISOString();
  const prev = e.prev ? ` prev=${e.prev.size}@${new Date(e.prev.mtimeMs).toISOString()}` : '';
  return `${new Date(e.observedAt).toISOString()} ${e.pair} ${e.side} ${e.type} ${e.kind} ${showPath(e.path)} size=${e.size} mtime=${mtime}${prev}`;
}

export async function tapCommand(argv: string[], ctx: CliContext): Promise<number> {
  const cfg = parseTapArgs(argv, ctx.env);
  if (cfg.help) {
    ctx.stdout.write(
      'Usage: ha-sync tap [--pair <name>] [--side <label>] [--json] [--since <duration>]\n' +
        "Prints change events as they flow (the raw stream: nats sub 'hasync.>').\n\n" +
        flagHelp(tapFlags) +
        '\n',
    );
    return EXIT.OK;
  }
  const logger = createLogger({ destination: ctx.stderr, pretty: false });
  const bus = await openBus({ ...natsBusOptions(cfg.nats), logger, name: 'ha-sync-tap' });
  try {
    await bus.watch(
      {
        ...(cfg.pair ? { pair: cfg.pair } : {}),
        ...(cfg.side ? { side: cfg.side } : {}),
        ...(cfg.sinceMs !== undefined ? { sinceMs: Date.now() - cfg.sinceMs } : {}),
      },
      (d) => {
        if (!d.event) ctx.stderr.write(formatDelivery(d) + '\n');
        else ctx.stdout.write((cfg.json ? JSON.stringify(d.event) : formatDelivery(d)) + '\n');
      },
      ctx.signal,
    );
  } finally {
    await bus.close();
  }
  return EXIT.OK;
}
