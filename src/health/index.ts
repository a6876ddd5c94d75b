// Public surface of live health: heartbeats (their schema, subjects and validation) and the pure
// judgement of each pair's live state from them.
export type { ApplierBeat, Beat, Component, ReconcileBeat, RootHealth, WatcherBeat } from './beat.js';
export { HEARTBEAT_MS, SILENT_BEATS, beatSubject, encodeBeat, parseBeat, sideToken } from './beat.js';
export type { ComponentHealth, HealthInput, Light, PairHealth } from './status.js';
export { LAG_RED_MS, pairHealth, worst } from './status.js';
export type { PlainBus } from './live.js';
export { HealthBoard, publishBeats } from './live.js';
export { LiveMetrics, serveMetrics } from './metrics.js';
