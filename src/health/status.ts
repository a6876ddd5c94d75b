// Live health, decided from heartbeats: pure. Given the last heartbeat of every component seen
// (since the dashboard started) and the time now, each pair gets a colour and, for each component,
// the reason in words. A component silent for SILENT_BEATS of its own heartbeat periods is red; a
// reconcile run that went silent simply ended (its result is in the audit store).
import { SILENT_BEATS, type Beat } from './beat.js';

export type Light = 'green' | 'amber' | 'red';

export interface ComponentHealth {
  /** 'nats': the dashboard's own link to NATS, shown in every pair's strip. */
  readonly component: Beat['component'] | 'nats';
  /** The side (watchers), '' otherwise. */
  readonly side: string;
  readonly light: Light;
  readonly reason: string;
  /** Since the last heartbeat, ms. */
  readonly silentMs: number;
  /** The heartbeat judged (null for 'nats'). */
  readonly beat: Beat | null;
}

export interface PairHealth {
  readonly pair: string;
  readonly light: Light;
  readonly components: readonly ComponentHealth[];
}

export interface HealthInput {
  readonly beats: Iterable<Beat & { readonly receivedAt: number }>;
  readonly now: number;
  /** Whether the reader is connected to NATS now; null when it is not configured to be. */
  readonly busUp: boolean | null;
}

/** Live lag above this is red (the PrometheusRule's HaSyncLiveLag), ms. */
export const LAG_RED_MS = 60_000;
/** Events waiting in a watcher above this are amber. */
const PENDING_AMBER = 1000;

const ORDER: Record<Light, number> = { green: 0, amber: 1, red: 2 };
export const worst = (a: Light, b: Light): Light => (ORDER[a] >= ORDER[b] ? a : b);

function judge(b: Beat, silentMs: number): { light: Light; reason: string } | null {
  const silentFor = Math.round(silentMs / 1000);
  if (silentMs > SILENT_BEATS * b.everyMs) {
    if (b.component === 'reconcile') return null; // the run ended
    return { light: 'red', reason: `silent for ${silentFor} s (no heartbeat)` };
  }
  switch (b.component) {
    case 'watcher':
      if (b.root !== 'ok')
        return { light: 'red', reason: `root ${b.root}${b.reason ? `: ${b.reason}` : ''}` };
      if (b.pending > PENDING_AMBER)
        return { light: 'amber', reason: `${b.pending} changes waiting to be published` };
      return { light: 'green', reason: `watching ${b.filesIndexed} entries` };
    case 'applier':
      if (b.blocked) return { light: 'red', reason: `applies nothing: ${b.blocked}` };
      if (b.oldestMs > LAG_RED_MS)
        return {
          light: 'red',
          reason: `lag ${Math.round(b.oldestMs / 1000)} s, ${b.pending} events waiting`,
        };
      if (b.lastError) return { light: 'amber', reason: `last error: ${b.lastError}` };
      return {
        light: 'green',
        reason: `${b.lockHeld ? 'holds the lock' : 'idle'}, ${b.pending} waiting, ${b.opsPerMin} ops/min`,
      };
    case 'reconcile':
      if (b.phase === 'done') return null;
      return {
        light: 'green',
        reason: `${b.direction}: ${b.phase}, ${b.filesSeen} files seen${b.etaMs !== null ? `, about ${Math.ceil(b.etaMs / 1000)} s left` : ''}`,
      };
  }
}

/** Every pair's live health, pairs and components in a stable order. */
export function pairHealth(input: HealthInput): PairHealth[] {
  const byPair = new Map<string, ComponentHealth[]>();
  for (const b of input.beats) {
    const silentMs = Math.max(0, input.now - b.receivedAt);
    let j = judge(b, silentMs);
    if (!j) continue;
    if (input.busUp === false && j.light !== 'red')
      j = {
        light: 'red',
        reason: `NATS unreachable from the dashboard (last heard ${Math.round(silentMs / 1000)} s ago)`,
      };
    const list = byPair.get(b.pair) ?? [];
    list.push({
      component: b.component,
      side: b.component === 'watcher' ? b.side : '',
      light: j.light,
      reason: j.reason,
      silentMs,
      beat: b,
    });
    byPair.set(b.pair, list);
  }
  if (input.busUp !== null) {
    for (const [pair, list] of byPair) {
      list.push({
        component: 'nats',
        side: '',
        light: input.busUp ? 'green' : 'red',
        reason: input.busUp ? 'connected' : 'unreachable from the dashboard',
        silentMs: 0,
        beat: null,
      });
      byPair.set(pair, list);
    }
  }
  return [...byPair.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pair, components]) => {
      components.sort((x, y) => (x.component + x.side < y.component + y.side ? -1 : 1));
      return { pair, light: components.reduce<Light>((l, c) => worst(l, c.light), 'green'), components };
    });
}
