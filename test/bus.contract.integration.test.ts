// One contract, two buses: the in-process MemoryBus must behave like the JetStream bus (durable
// per-pair queue, ack / nak / term, duplicates dropped, pending, watch without consuming).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { ManualClock, systemClock, type Clock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import {
  openBus,
  type ChangeEvent,
  type Delivery,
  type Disposition,
  type EventBus,
  type NatsBus,
} from '../src/bus/index.js';

const suffix = randomBytes(4).toString('hex');
const opened: EventBus[] = [];
const natsStreams: NatsBus[] = [];

async function makeNats(): Promise<EventBus> {
  const bus = await openBus({
    kind: 'nats',
    stream: `HASYNC_TEST_BUS_${suffix}`,
    subjectPrefix: `hasynctest${suffix}`,
    ackWaitMs: 5000,
  });
  await bus.ready();
  opened.push(bus);
  natsStreams.push(bus);
  return bus;
}

async function makeMemory(): Promise<EventBus> {
  const bus = await openBus({ kind: 'memory' });
  opened.push(bus);
  return bus;
}

afterAll(async () => {
  for (const b of natsStreams) await b.deleteStream().catch(() => undefined);
  for (const b of opened) await b.close();
});

let n = 0;
function ev(over: Partial<ChangeEvent> = {}): ChangeEvent {
  n++;
  return {
    v: 1,
    pair: 'p' + suffix,
    side: 'dell',
    type: 'upsert',
    kind: 'file',
    path: `dir/f${n}.txt`,
    size: n,
    mtimeMs: 1_700_000_000_000 + n,
    observedAt: Date.now(),
    ...over,
  };
}

/** Runs consume until `until` says stop (or 15 s pass); returns every delivery seen. */
async function consumeUntil(
  bus: EventBus,
  pair: string,
  decide: (d: Delivery, all: Delivery[]) => Disposition,
  until: (all: Delivery[]) => boolean,
): Promise<Delivery[]> {
  const all: Delivery[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 15_000);
  await bus.consume(
    pair,
    // eslint-disable-next-line @typescript-eslint/require-await
    async (d) => {
      all.push(d);
      const disp = decide(d, all);
      if (until(all)) setImmediate(() => ac.abort());
      return disp;
    },
    { signal: ac.signal, batch: 8 },
  );
  clearTimeout(timer);
  return all;
}

async function eventually(f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not reached');
}

describe.each([
  ['memory', makeMemory],
  ['nats', makeNats],
])('EventBus contract: %s', (_name, make) => {
  it('delivers a published event once and acks it', async () => {
    const bus = await make();
    const pair = `a${suffix}`;
    const e = ev({ pair });
    await bus.publish(e);
    await eventually(async () => (await bus.pending(pair)) === 1);
    const got = await consumeUntil(
      bus,
      pair,
      () => ({ action: 'ack' }),
      (all) => all.length >= 1,
    );
    expect(got).toHaveLength(1);
    expect(got[0]!.event).toEqual(e);
    expect(got[0]!.deliveryCount).toBe(1);
    expect(got[0]!.subject.endsWith(`.${pair}.dell.events`)).toBe(true);
    await eventually(async () => (await bus.pending(pair)) === 0);
  });

  it('redelivers after nak with a growing delivery count, and drops after term', async () => {
    const bus = await make();
    const pair = `b${suffix}`;
    await bus.publish(ev({ pair, path: 'nak-me' }));
    await bus.publish(ev({ pair, path: 'term-me' }));
    const got = await consumeUntil(
      bus,
      pair,
      (d) => {
        if (d.event?.path === 'term-me') return { action: 'term', reason: 'test' };
        return d.deliveryCount < 2 ? { action: 'nak', delayMs: 50 } : { action: 'ack' };
      },
      (all) => all.filter((d) => d.event?.path === 'nak-me').length >= 2,
    );
    const naks = got.filter((d) => d.event?.path === 'nak-me');
    expect(naks.map((d) => d.deliveryCount)).toEqual([1, 2]);
    expect(got.filter((d) => d.event?.path === 'term-me')).toHaveLength(1);
    await eventually(async () => (await bus.pending(pair)) === 0);
  });

  it('drops a duplicate publish of the same change', async () => {
    const bus = await make();
    const pair = `c${suffix}`;
    const e = ev({ pair });
    await bus.publish(e);
    await bus.publish({ ...e, observedAt: e.observedAt + 5 });
    await bus.publish({ ...e, size: e.size + 1 });
    await eventually(async () => (await bus.pending(pair)) === 2);
  });

  it('keeps events durably until a consumer comes, per pair', async () => {
    const bus = await make();
    const p1 = `d${suffix}`;
    const p2 = `e${suffix}`;
    await bus.publish(ev({ pair: p1, side: 'dell' }));
    await bus.publish(ev({ pair: p1, side: 'hp' }));
    await bus.publish(ev({ pair: p2 }));
    await eventually(async () => (await bus.pending(p1)) === 2 && (await bus.pending(p2)) === 1);
    const got = await consumeUntil(
      bus,
      p1,
      () => ({ action: 'ack' }),
      (all) => all.length >= 2,
    );
    expect(new Set(got.map((d) => d.event?.side))).toEqual(new Set(['dell', 'hp']));
    expect(await bus.pending(p2)).toBe(1);
  });

  it('refuses to publish an invalid event', async () => {
    const bus = await make();
    await expect(bus.publish(ev({ path: '../../x' }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(bus.publish(ev({ path: '/etc/passwd' }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('watch sees live events, filtered, without consuming them', async () => {
    const bus = await make();
    const pair = `f${suffix}`;
    const seen: Delivery[] = [];
    const ac = new AbortController();
    const watching = bus.watch({ pair, side: 'hp' }, (d) => seen.push(d), ac.signal);
    // The watch consumer starts asynchronously; publish until it has seen something.
    await eventually(async () => {
      await bus.publish(ev({ pair, side: 'hp' }));
      await bus.publish(ev({ pair, side: 'dell' }));
      return seen.length > 0;
    });
    ac.abort();
    await watching;
    expect(seen.every((d) => d.event?.side === 'hp' && d.event.pair === pair)).toBe(true);
    expect(await bus.pending(pair)).toBeGreaterThanOrEqual(2);
  });
});

describe('NATS bus: hostile bytes on the wire', () => {
  it('delivers invalid messages as errors (never as events) so the applier can term them', async () => {
    const bus = (await makeNats()) as NatsBus;
    const pair = `g${suffix}`;
    await bus.pending(pair); // creates the durable consumer
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const js = (await import('@nats-io/jetstream')).jetstream(nc);
    const subj = bus.subject(pair, 'dell');
    const good = ev({ pair });
    await js.publish(subj, 'not json');
    await js.publish(subj, JSON.stringify({ ...good, path: '../../x' }));
    await js.publish(subj, JSON.stringify({ ...good, path: 'a\u0000b' }));
    await js.publish(subj, JSON.stringify({ ...good, v: 2 }));
    await js.publish(subj, JSON.stringify({ ...good, side: 'hp' })); // body disagrees with subject
    await nc.close();
    const got = await consumeUntil(
      bus,
      pair,
      (d) => (d.event ? { action: 'ack' } : { action: 'term', reason: d.error ?? '' }),
      (all) => all.length >= 5,
    );
    expect(got.map((d) => d.event)).toEqual([null, null, null, null, null]);
    expect(got.map((d) => d.error)).toEqual([
      'event is not JSON',
      "path contains a '..' segment",
      'path contains NUL',
      'unsupported event version 2 (expected 1)',
      expect.stringContaining('arrived on subject'),
    ]);
    await eventually(async () => (await bus.pending(pair)) === 0);
  });
});

describe('NATS bus: credentials', () => {
  it('never logs a password or token, even in connection errors', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(c: Buffer, _e, cb) {
          lines.push(c.toString());
          cb();
        },
      }),
    });
    for (const opts of [
      { url: `nats://alice:pw-secret-1@127.0.0.1:${port}` },
      { url: `nats://127.0.0.1:${port}`, token: 'tok-secret-2' },
      { url: `nats://127.0.0.1:${port}`, user: 'bob', password: 'pw-secret-3' },
    ]) {
      const bus = await openBus({ kind: 'nats', logger, ...opts });
      await eventually(() => Promise.resolve(lines.some((l) => l.includes('nats unreachable'))));
      await expect(bus.publish(ev())).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
      await bus.close();
    }
    const all = lines.join('');
    expect(all).toContain(`127.0.0.1:${port}`);
    expect(all).not.toMatch(/secret|alice/);
  });
});

describe('memory bus: a nak delay whose timer fires early', () => {
  it('still redelivers (the consumer wakes itself at the message due time)', async () => {
    // Timers run on a monotonic clock and may fire a little before Date.now() reaches the due
    // time; this clock makes that happen every time.
    const early: Clock = {
      now: () => Date.now(),
      sleep: (ms, signal) => systemClock.sleep(Math.max(0, ms - 5), signal),
    };
    const bus = await openBus({ kind: 'memory', clock: early });
    const ac = new AbortController();
    const seen: number[] = [];
    try {
      await bus.publish(ev({ pair: 'early', path: 'retry-me' }));
      const done = bus.consume(
        'early',
        (d) => {
          seen.push(d.deliveryCount);
          if (d.deliveryCount >= 2) ac.abort();
          return Promise.resolve(d.deliveryCount < 2 ? { action: 'nak', delayMs: 50 } : { action: 'ack' });
        },
        { signal: ac.signal },
      );
      await eventually(() => Promise.resolve(seen.length >= 2));
      ac.abort();
      await done;
      expect(seen).toEqual([1, 2]);
    } finally {
      ac.abort();
      await bus.close();
    }
  });
});

describe('memory bus: a nak delay leaves no timer behind', () => {
  it('redelivers at the due time, and a stopped consumer holds no sleeper on the clock', async () => {
    const clock = new ManualClock();
    const bus = await openBus({ kind: 'memory', clock });
    const ac = new AbortController();
    const seen: number[] = [];
    try {
      await bus.publish(ev({ pair: 'naktimer', path: 'later' }));
      const done = bus.consume(
        'naktimer',
        (d) => {
          seen.push(d.deliveryCount);
          return Promise.resolve({ action: 'nak', delayMs: 60_000 });
        },
        { signal: ac.signal },
      );
      await eventually(() => Promise.resolve(seen.length === 1 && clock.pending === 1));
      await clock.advance(60_000);
      await eventually(() => Promise.resolve(seen.length === 2 && clock.pending === 1));
      ac.abort();
      await done;
      // Before: each nak left its own uncancellable sleep (a real timer holding the process open).
      expect(clock.pending).toBe(0);
      expect(seen).toEqual([1, 2]);
    } finally {
      ac.abort();
      await bus.close();
    }
  });
});

describe('nats bus: stopping', () => {
  it('consume returns when aborted while its consumer is being set up', async () => {
    const bus = (await makeNats()) as NatsBus;
    const ac = new AbortController();
    const inner = bus as unknown as { ensureConsumer(pair: string): Promise<void> };
    const ensure = inner.ensureConsumer.bind(bus);
    inner.ensureConsumer = async (pair) => {
      await ensure(pair);
      ac.abort(); // lands between the awaits, before consume() adds its abort listener
    };
    const done = bus.consume('abortsetup', () => Promise.resolve({ action: 'ack' }), { signal: ac.signal });
    const outcome = await Promise.race([
      done.then(() => 'returned'),
      new Promise((r) => setTimeout(() => r('hung'), 5000)),
    ]);
    expect(outcome).toBe('returned');
  });

  it('ready() leaves no waiter behind per re-check while NATS is away', async () => {
    const bus = await openBus({ kind: 'nats', url: 'nats://127.0.0.1:1' });
    const ac = new AbortController();
    try {
      const waiting = bus.ready(ac.signal).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2500));
      expect((bus as unknown as { connWaiters: unknown[] }).connWaiters.length).toBeLessThanOrEqual(1);
      ac.abort();
      await waiting;
    } finally {
      await bus.close();
    }
  });
});
