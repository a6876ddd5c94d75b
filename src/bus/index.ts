// The bus's public surface: `openBus` wires a JetStream or in-process bus behind the EventBus
// interface of types.ts; `parseEvent` / `msgId` are the event schema's gate and identity.
import { MemoryBus, type MemoryBusOptions } from './memory.js';
import { NatsBus, openNatsBus, type NatsBusOptions } from './nats.js';

export type * from './types.js';
export type { WatchFilter } from './watchfilter.js';
export { subjectParts, toDelivery } from './watchfilter.js';
export {
  MAX_EVENT_BYTES,
  MAX_PATH_CHARS,
  checkRelPath,
  encodeEvent,
  eventSubject,
  msgId,
  ObservationIds,
  parseEvent,
  validateEvent,
} from './event.js';
export { MemoryBus, NatsBus };
export type { MemoryBusOptions, NatsBusOptions };
export { DEFAULT_NATS_URL, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './nats.js';
export { natsBusOptions, natsFlags, resolveNatsConfig, type NatsConfig } from './flags.js';

export type BusOptions = NatsBusOptions | MemoryBusOptions;

/**
 * Opens a bus. `{kind: 'memory'}` is the in-process bus of `ha-sync run`; `{kind: 'nats', ...}`
 * connects to JetStream in the background (it never waits for the server; see NatsBus).
 */
export async function openBus(opts: NatsBusOptions): Promise<NatsBus>;
export async function openBus(opts: MemoryBusOptions): Promise<MemoryBus>;
export async function openBus(opts: BusOptions): Promise<NatsBus | MemoryBus>;
export async function openBus(opts: BusOptions): Promise<NatsBus | MemoryBus> {
  if (opts.kind === 'memory') return Promise.resolve(new MemoryBus(opts));
  return openNatsBus(opts);
}
