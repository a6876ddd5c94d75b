// The JetStream bus. One stream (HASYNC) on `<prefix>.*.*.events`, file storage, limits retention
// with a max age, and a duplicate window that drops a republished change by its Nats-Msg-Id. Each
// pair has one durable pull consumer (`hasync-apply-<pair>`, explicit ack) that the applier
// drains; `watch` uses an ordered, ephemeral consumer so a tap never disturbs the applier.
//
// Availability: `openNatsBus` never waits for the server. It connects in the background and keeps
// trying forever with a backoff; once connected, the client reconnects forever on its own. While
// the server is unreachable `publish` throws BUS_UNAVAILABLE at once (the watcher keeps the event
// and retries), `consume` / `watch` wait. Credentials are never logged: every message that leaves
// this module passes through `scrub`.
import { readFile } from 'node:fs/promises';
import {
  connect,
  credsAuthenticator,
  nanos,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { HaSyncError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { encodeEvent, msgId, validateEvent } from './event.js';
import type { ChangeEvent, ConsumeOptions, Delivery, Disposition, EventBus } from './types.js';
import type { WatchFilter } from './watchfilter.js';
import { settleError, toDelivery } from './watchfilter.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_STREAM = 'HASYNC';
export const DEFAULT_SUBJECT_PREFIX = 'hasync';

export interface NatsBusOptions {
  kind: 'nats';
  /** Server URL(s), comma-separated. Default nats://127.0.0.1:4222. */
  url?: string;
  /** Token auth. Never logged. */
  token?: string;
  /** User / password auth. Never logged. */
  user?: string;
  password?: string;
  /** Path of a .creds file (JWT + nkey seed). */
  credsFile?: string;
  /**
   * TLS: PEM files of the CA that signed the server's certificate and, for servers that verify
   * clients, this client's certificate and key. Given (or a tls:// URL), the connection requires
   * TLS and verifies the server against the CA (the system's CAs when no caFile).
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Stream name. Default HASYNC (tests use their own). */
  stream?: string;
  /** First subject token. Default 'hasync' (tests use their own so streams do not overlap). */
  subjectPrefix?: string;
  /** Stream max age in ms. Default one day. */
  maxAgeMs?: number;
  /** Stream duplicate window in ms. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** Durable consumers' ack wait in ms: an unsettled message is redelivered after it. Default 30 s. */
  ackWaitMs?: number;
  /** How long `publish` waits for the PubAck, in ms. Default 5000. */
  publishTimeoutMs?: number;
  /** Client name shown by the server's monitoring. */
  name?: string;
  logger?: Logger;
  clock?: Clock;
}

const HANDLER_ERROR_NAK_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

interface Conn {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Unacknowledged events a consumer may hold (see ensureConsumer). */
const MAX_ACK_PENDING = 20_000;

export class NatsBus implements EventBus {
  readonly kind = 'nats';
  readonly stream: string;
  readonly prefix: string;
  private readonly opts: NatsBusOptions;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly secrets: string[];
  private readonly life = new AbortController();
  private conn: Conn | null = null;
  private up = false;
  private streamReady = false;
  private connWaiters: (() => void)[] = [];
  private readonly ensuredConsumers = new Set<string>();
  private connecting: Promise<void>;

  constructor(
    opts: NatsBusOptions,
    private readonly auth: Partial<ConnectionOptions>,
  ) {
    this.opts = opts;
    this.stream = opts.stream ?? DEFAULT_STREAM;
    this.prefix = opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.secrets = [opts.token, opts.password].filter((s): s is string => !!s && s.length > 0);
    this.connecting = this.connectLoop();
  }

  /** The server address without any user:password@ part, for logs. */
  get safeUrl(): string {
    return (this.opts.url ?? DEFAULT_NATS_URL).replace(/\/\/[^@/]*@/g, '//');
  }

  /** True while connected and the stream is known to exist. */
  get connected(): boolean {
    return this.up && this.streamReady;
  }

  /** Removes credential values from a message before it is logged or thrown. */
  scrub(msg: string): string {
    let out = msg.replace(/\/\/[^@/\s]*@/g, '//');
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out;
  }

  subject(pair: string, side: string): string {
    return `${this.prefix}.${pair}.${side}.events`;
  }

  durableName(pair: string): string {
    return `hasync-apply-${pair}`;
  }

  private async connectLoop(): Promise<void> {
    let delay = 500;
    while (!this.life.signal.aborted) {
      let nc: NatsConnection | undefined;
      try {
        nc = await connect({
          servers: (this.opts.url ?? DEFAULT_NATS_URL).split(',').map((s) => s.trim()),
          name: this.opts.name ?? 'ha-sync',
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          reconnectJitter: 500,
          pingInterval: 10_000,
          maxPingOut: 3,
          timeout: 5000,
          ...this.auth,
        });
        const js = jetstream(nc, { timeout: this.opts.publishTimeoutMs ?? 5000 });
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        this.conn = { nc, js, jsm };
        this.up = true;
        this.log?.info({ url: this.safeUrl }, 'nats connected');
        this.watchStatus(nc);
        await this.ensureStreamSafe();
        return;
      } catch (err) {
        if (nc && this.conn?.nc !== nc) await nc.close().catch(() => undefined);
        if (this.life.signal.aborted) return;
        // A refused user or password, or a TLS failure, is no outage: say so (it will not heal
        // until the Secret or the flags are fixed), and keep trying, as for an outage.
        const msg = this.scrub(errorMessage(err));
        const why = /authori[sz]ation|permissions/i.test(msg)
          ? 'nats refused the credentials; retrying'
          : /tls|certificate|self[- ]signed/i.test(msg)
            ? 'nats TLS failed; retrying'
            : 'nats unreachable; retrying';
        this.log?.warn({ url: this.safeUrl, err: msg, retryInMs: delay }, why);
        try {
          await this.clock.sleep(delay, this.life.signal);
        } catch {
          return;
        }
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }

  private watchStatus(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          if (this.up) this.log?.warn({ url: this.safeUrl }, 'nats disconnected; reconnecting');
          this.up = false;
        } else if (s.type === 'reconnect') {
          this.up = true;
          this.log?.info({ url: this.safeUrl }, 'nats reconnected');
          // A restarted server with a fresh store has no stream: recreate it before publishing.
          this.streamReady = false;
          this.ensuredConsumers.clear();
          await this.ensureStreamSafe();
        }
      }
    })().catch(() => undefined);
  }

  private async ensureStreamSafe(): Promise<void> {
    try {
      await this.ensureStream();
      this.streamReady = true;
      const w = this.connWaiters;
      this.connWaiters = [];
      for (const f of w) f();
    } catch (err) {
      this.log?.warn({ stream: this.stream, err: this.scrub(errorMessage(err)) }, 'nats stream not ready');
    }
  }

  /** Creates the stream or brings its settings up to date; idempotent. */
  async ensureStream(): Promise<void> {
    const { jsm } = this.requireConn();
    const subjects = [`${this.prefix}.*.*.events`];
    const maxAge = nanos(this.opts.maxAgeMs ?? 24 * 3600 * 1000);
    const dup = nanos(this.opts.duplicateWindowMs ?? 120_000);
    try {
      const info = await jsm.streams.info(this.stream);
      const c = info.config;
      if (
        c.max_age !== maxAge ||
        c.duplicate_window !== dup ||
        c.subjects.length !== 1 ||
        c.subjects[0] !== subjects[0]
      ) {
        try {
          await jsm.streams.update(this.stream, { subjects, max_age: maxAge, duplicate_window: dup });
        } catch (err) {
          // Watchers and tap may not update the stream (the generated server config lets only
          // appliers): they use it as it is, and the next applier to start updates it.
          this.log?.warn(
            { stream: this.stream, err: this.scrub(errorMessage(err)) },
            'nats stream settings differ and could not be updated; using them as they are',
          );
        }
      }
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
      await jsm.streams.add({
        name: this.stream,
        subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_age: maxAge,
        duplicate_window: dup,
        num_replicas: 1,
      });
    }
  }

  private requireConn(): Conn {
    if (!this.conn || !this.up) {
      throw new HaSyncError('BUS_UNAVAILABLE', `NATS at ${this.safeUrl} is not connected`);
    }
    return this.conn;
  }

  /** Resolves once connected with the stream in place; rejects when `signal` aborts. */
  async ready(signal?: AbortSignal): Promise<void> {
    while (!this.connected) {
      if (signal?.aborted) throw signal.reason as Error;
      if (this.life.signal.aborted) throw new HaSyncError('BUS_UNAVAILABLE', 'bus is closed');
      await new Promise<void>((resolve) => {
        // Whichever ends the wait removes `done` everywhere: a waiter left in connWaiters after
        // its timer would pile up once a second for as long as NATS stays away.
        const done = (): void => {
          clearTimeout(t);
          signal?.removeEventListener('abort', done);
          this.connWaiters = this.connWaiters.filter((f) => f !== done);
          resolve();
        };
        const t = setTimeout(done, 1000); // re-check: ensureStream may have failed once
        this.connWaiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
      if (this.up && !this.streamReady && this.conn) await this.ensureStreamSafe();
    }
  }

  async publish(event: ChangeEvent): Promise<void> {
    const checked = validateEvent(event);
    if (typeof checked === 'string')
      throw new HaSyncError('INVALID_INPUT', `refusing to publish: ${checked}`);
    if (!this.connected) {
      throw new HaSyncError('BUS_UNAVAILABLE', `NATS at ${this.safeUrl} is not connected`);
    }
    const { js } = this.requireConn();
    try {
      await js.publish(this.subject(checked.pair, checked.side), encodeEvent(checked), {
        msgID: msgId(checked),
        expect: { streamName: this.stream },
        timeout: this.opts.publishTimeoutMs ?? 5000,
      });
    } catch (err) {
      throw new HaSyncError('BUS_UNAVAILABLE', `publish to NATS failed: ${this.scrub(errorMessage(err))}`, {
        cause: err,
      });
    }
  }

  private async ensureConsumer(pair: string): Promise<void> {
    if (this.ensuredConsumers.has(pair)) return;
    const { jsm } = this.requireConn();
    const durable = this.durableName(pair);
    const cfg = {
      durable_name: durable,
      filter_subject: `${this.prefix}.${pair}.*.events`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
      max_deliver: -1,
      // Events the applier holds at once, waiting ones included: one half of a move waits (a NAK
      // with a delay) while the other half, possibly thousands of events behind it, must still
      // be delivered (src/applier/moves.ts).
      max_ack_pending: MAX_ACK_PENDING,
    };
    try {
      const info = await jsm.consumers.info(this.stream, durable);
      if (info.config.ack_wait !== cfg.ack_wait || info.config.max_ack_pending !== cfg.max_ack_pending) {
        await jsm.consumers.update(this.stream, durable, {
          ack_wait: cfg.ack_wait,
          max_ack_pending: cfg.max_ack_pending,
        });
      }
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.ConsumerNotFound) throw err;
      await jsm.consumers.add(this.stream, cfg);
    }
    this.ensuredConsumers.add(pair);
  }

  async pending(pair: string): Promise<number> {
    if (!this.connected) throw new HaSyncError('BUS_UNAVAILABLE', `NATS at ${this.safeUrl} is not connected`);
    try {
      await this.ensureConsumer(pair);
      const info = await this.requireConn().jsm.consumers.info(this.stream, this.durableName(pair));
      return info.num_pending + info.num_ack_pending;
    } catch (err) {
      if (err instanceof HaSyncError) throw err;
      this.ensuredConsumers.delete(pair);
      throw new HaSyncError('BUS_UNAVAILABLE', `consumer info failed: ${this.scrub(errorMessage(err))}`, {
        cause: err,
      });
    }
  }

  async consume(
    pair: string,
    handler: (d: Delivery) => Promise<Disposition>,
    opts: ConsumeOptions,
  ): Promise<void> {
    const batch = Math.max(1, opts.batch ?? 64);
    const signal = opts.signal;
    let delay = 500;
    while (!signal.aborted && !this.life.signal.aborted) {
      try {
        await this.ready(signal);
        await this.ensureConsumer(pair);
        const consumer = await this.requireConn().js.consumers.get(this.stream, this.durableName(pair));
        const iter = await consumer.consume({ max_messages: batch });
        const stop = (): void => void iter.close().catch(() => undefined);
        signal.addEventListener('abort', stop, { once: true });
        this.life.signal.addEventListener('abort', stop, { once: true });
        // An abort during the awaits above fired no listener: without this the loop never ends.
        if (signal.aborted || this.life.signal.aborted) stop();
        const inflight = new Set<Promise<void>>();
        try {
          for await (const m of iter) {
            if (signal.aborted) {
              m.nak(); // not handed out: back to the consumer at once
              continue;
            }
            const p = this.deliver(m, handler).finally(() => inflight.delete(p));
            inflight.add(p);
            while (inflight.size >= batch) await Promise.race(inflight);
          }
        } finally {
          await Promise.all(inflight);
          signal.removeEventListener('abort', stop);
          this.life.signal.removeEventListener('abort', stop);
        }
        if (signal.aborted || this.life.signal.aborted) break;
        // The iterator ended on its own (consumer deleted, connection closed): start over, calmly.
        this.ensuredConsumers.delete(pair);
        await this.clock.sleep(delay, signal).catch(() => undefined);
        delay = 500;
      } catch (err) {
        if (signal.aborted || this.life.signal.aborted) break;
        this.ensuredConsumers.delete(pair);
        this.log?.warn(
          { pair, err: this.scrub(errorMessage(err)), retryInMs: delay },
          'nats consume interrupted; retrying',
        );
        try {
          await this.clock.sleep(delay, signal);
        } catch {
          break;
        }
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }

  private async deliver(m: JsMsg, handler: (d: Delivery) => Promise<Disposition>): Promise<void> {
    const d = toDelivery(m.subject, m.data, m.info.deliveryCount);
    let disp: Disposition;
    try {
      disp = await handler(d);
    } catch (err) {
      this.log?.warn({ subject: m.subject, err: errorMessage(err) }, 'event handler threw; redelivering');
      disp = { action: 'nak', delayMs: HANDLER_ERROR_NAK_MS };
    }
    const bad = settleError(disp);
    if (bad) {
      this.log?.warn({ subject: m.subject, err: bad }, 'bad disposition; redelivering');
      disp = { action: 'nak', delayMs: HANDLER_ERROR_NAK_MS };
    }
    try {
      if (disp.action === 'ack') m.ack();
      else if (disp.action === 'nak') m.nak(Math.round(disp.delayMs));
      else m.term(); // no reason text: nats-server 2.9 does not parse '+TERM <reason>'
    } catch (err) {
      // A settle lost with the connection: the server redelivers after ack_wait; handlers are idempotent.
      this.log?.warn({ subject: m.subject, err: errorMessage(err) }, 'could not settle message');
    }
  }

  async watch(filter: WatchFilter, onEvent: (d: Delivery) => void, signal: AbortSignal): Promise<void> {
    let delay = 500;
    while (!signal.aborted && !this.life.signal.aborted) {
      try {
        await this.ready(signal);
        const subject = `${this.prefix}.${filter.pair ?? '*'}.${filter.side ?? '*'}.events`;
        const consumer = await this.requireConn().js.consumers.get(this.stream, {
          filter_subjects: subject, // a string: filter_subject, which nats-server 2.9 understands
          ...(filter.sinceMs !== undefined
            ? {
                deliver_policy: DeliverPolicy.StartTime,
                opt_start_time: new Date(filter.sinceMs).toISOString(),
              }
            : { deliver_policy: DeliverPolicy.New }),
        });
        const iter = await consumer.consume();
        const stop = (): void => void iter.close().catch(() => undefined);
        signal.addEventListener('abort', stop, { once: true });
        this.life.signal.addEventListener('abort', stop, { once: true });
        if (signal.aborted || this.life.signal.aborted) stop(); // aborted while setting up
        try {
          for await (const m of iter) onEvent(toDelivery(m.subject, m.data, m.info.deliveryCount));
        } finally {
          signal.removeEventListener('abort', stop);
          this.life.signal.removeEventListener('abort', stop);
        }
        return;
      } catch (err) {
        if (signal.aborted || this.life.signal.aborted) return;
        this.log?.warn(
          { err: this.scrub(errorMessage(err)), retryInMs: delay },
          'nats watch interrupted; retrying',
        );
        try {
          await this.clock.sleep(delay, signal);
        } catch {
          return;
        }
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }

  /** True while the connection to the server is up (the stream aside). */
  get linkUp(): boolean {
    return this.up && this.conn !== null;
  }

  /**
   * Publishes on a plain (not JetStream) subject, for heartbeats: nothing is stored, nothing
   * acked. False when not connected (the next heartbeat tries again).
   */
  publishPlain(subject: string, data: Uint8Array): boolean {
    if (!this.up || !this.conn) return false;
    try {
      this.conn.nc.publish(subject, data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Subscribes to a plain subject until `signal` aborts (the client re-subscribes by itself after a
   * reconnect). Waits for the first connection.
   */
  async subscribePlain(
    subject: string,
    onMsg: (subject: string, data: Uint8Array) => void,
    signal: AbortSignal,
  ): Promise<void> {
    while (!this.conn && !signal.aborted && !this.life.signal.aborted) {
      await this.ready(signal).catch(() => undefined);
    }
    const conn = this.conn;
    if (!conn || signal.aborted) return;
    const sub = conn.nc.subscribe(subject);
    const stop = (): void => sub.unsubscribe();
    signal.addEventListener('abort', stop, { once: true });
    this.life.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of sub) onMsg(m.subject, m.data);
    } finally {
      signal.removeEventListener('abort', stop);
      this.life.signal.removeEventListener('abort', stop);
    }
  }

  /** Deletes the stream (tests). */
  async deleteStream(): Promise<void> {
    await this.ready();
    await this.requireConn().jsm.streams.delete(this.stream);
  }

  async close(): Promise<void> {
    this.life.abort();
    const w = this.connWaiters;
    this.connWaiters = [];
    for (const f of w) f();
    await this.connecting.catch(() => undefined);
    const c = this.conn;
    this.conn = null;
    this.up = false;
    if (c) await c.nc.close().catch(() => undefined);
  }
}

/** Reads one file given by a flag; an unreadable file is a usage error naming the flag. */
async function readFlagFile(flag: string, file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new HaSyncError('USAGE', `--${flag}: cannot read '${file}' (${errorMessage(err)})`);
  }
}

/**
 * The inbox prefix of a named user: `_INBOX_<user>`. The generated server config lets each user
 * subscribe only to its own inbox, so no identity can read another's replies (JetStream acks,
 * pulled messages). Users whose name is not one subject token keep the default `_INBOX`.
 */
export function inboxPrefixFor(user: string | undefined): string | undefined {
  return user && /^[A-Za-z0-9_-]{1,64}$/.test(user) ? `_INBOX_${user}` : undefined;
}

/** Builds the bus; reads the creds and TLS files (if any) but never waits for the server. */
export async function openNatsBus(opts: NatsBusOptions): Promise<NatsBus> {
  const auth: Partial<ConnectionOptions> = {};
  if (opts.credsFile) {
    auth.authenticator = credsAuthenticator(await readFlagFile('nats-creds', opts.credsFile));
  } else if (opts.token) {
    auth.token = opts.token;
  } else if (opts.user) {
    auth.user = opts.user;
    auth.pass = opts.password ?? '';
    const inbox = inboxPrefixFor(opts.user);
    if (inbox) auth.inboxPrefix = inbox;
  }
  const t = opts.tls;
  const tlsUrl = (opts.url ?? DEFAULT_NATS_URL).split(',').some((u) => /^\s*tls:\/\//.test(u));
  if (t || tlsUrl) {
    const text = async (flag: string, f: string | undefined): Promise<string | undefined> =>
      f ? Buffer.from(await readFlagFile(flag, f)).toString('utf8') : undefined;
    const ca = await text('nats-tls-ca', t?.caFile);
    const cert = await text('nats-tls-cert', t?.certFile);
    const key = await text('nats-tls-key', t?.keyFile);
    auth.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }
  return new NatsBus(opts, auth);
}
