// The Lease backend against the fake API server, through a kubeconfig file (the production path).
// Time is a ManualClock: renewals, expiry and waits happen when the test advances it.
import { join } from 'node:path';
import { ApiException, CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { isHaSyncError, type HaSyncError } from '../src/errors.js';
import { openLock, type Lock, type LockOptions } from '../src/lock/index.js';
import { lockKind } from '../src/lock/index.js';
import { startFakeKube, type FakeKube } from './fake-kube/index.js';
import { lockHandles, rejection, silent, tempDir, until } from './fake-kube/support.js';

const NS = 'ha-test';
let kube: FakeKube;
let tmp: { dir: string; cleanup: () => void };
let kubeconfig: string;
let pairN = 0;
const { take, releaseAll } = lockHandles();

beforeAll(async () => {
  kube = await startFakeKube();
  tmp = tempDir('lease');
  kubeconfig = kube.writeKubeconfig(join(tmp.dir, 'kubeconfig'));
});
afterEach(async () => {
  await releaseAll();
  kube.unreachable = false;
  kube.latencyMs = 0;
});
afterAll(async () => {
  await kube.stop();
  tmp.cleanup();
});

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const microAt = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');

function newPair(): string {
  pairN += 1;
  return `p${pairN}`;
}

async function lease(pair: string, clock: ManualClock, over: Partial<LockOptions> = {}): Promise<Lock> {
  return openLock({
    lock: 'lease',
    lockTtlSeconds: 30,
    lockWaitSeconds: 0,
    namespace: NS,
    kubeconfig,
    pair,
    logDir: tmp.dir,
    clock,
    log: silent,
    env: {},
    ...over,
  });
}

describe('lease lock', () => {
  it('creates the Lease with holder, duration and six-digit micro-times', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const h = await take(await lease(pair, clock), 'pod-a/run-1');
    const l = kube.get(NS, `ha-sync-${pair}`)!;
    expect(l.spec).toMatchObject({
      holderIdentity: 'pod-a/run-1',
      leaseDurationSeconds: 30,
      leaseTransitions: 0,
    });
    expect(l.spec.renewTime).toMatch(MICRO);
    expect(l.spec.acquireTime).toBe(microAt(clock.now()));
    expect(h.holder).toBe('pod-a/run-1');
    expect(h.lost.aborted).toBe(false);
  });

  it('client-node sends a plain Date with three digits, which the API (and the fake) reject', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const api = kc.makeApiClient(CoordinationV1Api);
    const err = await api
      .createNamespacedLease({
        namespace: NS,
        body: { metadata: { name: 'plain-date' }, spec: { renewTime: new Date() } },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(400);
    expect(JSON.parse((err as ApiException<string>).body)).toMatchObject({
      kind: 'Status',
      reason: 'BadRequest',
    });
  });

  it('two acquirers at once: exactly one wins, the other gets LOCK_HELD naming the holder', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const [a, b] = [await lease(pair, clock), await lease(pair, clock)];
    const results = await Promise.allSettled([take(a, 'pod-a/run-1'), take(b, 'pod-b/run-2')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const err = lost[0]!.reason as HaSyncError;
    expect(err.code).toBe('LOCK_HELD');
    const winner = kube.get(NS, `ha-sync-${pair}`)!.spec.holderIdentity!;
    expect(err.message).toContain(winner);
    expect(err.message).toContain(new Date(clock.now() + 30_000).toISOString());
    expect(err.message).not.toContain('\n');
  });

  it('a held, unexpired Lease gives LOCK_HELD with the holder and its expiry', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    kube.seed(NS, `ha-sync-${pair}`, {
      holderIdentity: 'other/9',
      leaseDurationSeconds: 60,
      renewTime: microAt(clock.now() - 10_000),
      leaseTransitions: 2,
    });
    const err = await rejection((await lease(pair, clock)).acquire({ holder: 'me/1', waitSeconds: 0 }));
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toMatch(/held by other\/9 until 2026-01-01T00:00:50\.000Z/);
  });

  it('takes over a stale Lease with leaseTransitions + 1, keeping foreign annotations', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    kube.seed(
      NS,
      `ha-sync-${pair}`,
      {
        holderIdentity: 'crashed/1',
        leaseDurationSeconds: 30,
        renewTime: microAt(clock.now() - 31_000),
        leaseTransitions: 4,
      },
      { 'example.com/keep': 'yes' },
    );
    await take(await lease(pair, clock), 'me/2');
    const l = kube.get(NS, `ha-sync-${pair}`)!;
    expect(l.spec).toMatchObject({
      holderIdentity: 'me/2',
      leaseTransitions: 5,
      acquireTime: microAt(clock.now()),
      renewTime: microAt(clock.now()),
    });
    expect(l.metadata.annotations).toEqual({ 'example.com/keep': 'yes' });
    const put = kube.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`ha-sync-${pair}`));
    expect(put.map((r) => r.status)).toEqual([200]);
  });

  it('renews every ttl/3 on the injected clock, checking in between', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const t0 = clock.now();
    await take(await lease(pair, clock, { lockTtlSeconds: 60 }), 'me/3');
    const renewTime = (): string | undefined => kube.get(NS, `ha-sync-${pair}`)?.spec.renewTime;
    const gets = (): number =>
      kube.requests.filter((r) => r.method === 'GET' && r.path.endsWith(pair)).length;
    expect(renewTime()).toBe(microAt(t0));
    const g0 = gets();
    await clock.advance(10_000); // a check (10 s), not yet a renewal (20 s)
    await until(() => gets() > g0 && clock.pending > 0, 'the check');
    expect(renewTime()).toBe(microAt(t0));
    await clock.advance(10_000);
    await until(() => renewTime() === microAt(t0 + 20_000), 'the first renewal');
    await until(() => clock.pending > 0, 'the loop to park');
    await clock.advance(10_000); // a check at 30 s
    await until(() => clock.pending > 0, 'the loop to park');
    expect(renewTime()).toBe(microAt(t0 + 20_000));
    await clock.advance(10_000);
    await until(() => renewTime() === microAt(t0 + 40_000), 'the second renewal');
  });

  it('keeps renewing through a conflict caused by a waiter annotation', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const t0 = clock.now();
    await take(await lease(pair, clock), 'me/4');
    // A foreign write between our reads: the renewal must re-read and keep the annotation.
    const cur = kube.get(NS, `ha-sync-${pair}`)!;
    kube.seed(NS, `ha-sync-${pair}`, cur.spec, { 'example.com/x': '1' });
    await clock.advance(10_000);
    await until(() => kube.get(NS, `ha-sync-${pair}`)?.spec.renewTime === microAt(t0 + 10_000), 'renewal');
    expect(kube.get(NS, `ha-sync-${pair}`)!.metadata.annotations).toEqual({ 'example.com/x': '1' });
  });

  it('aborts `lost` when another holder appears', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const h = await take(await lease(pair, clock), 'me/5');
    kube.seed(NS, `ha-sync-${pair}`, {
      holderIdentity: 'thief/1',
      leaseDurationSeconds: 30,
      renewTime: microAt(clock.now()),
    });
    await clock.advance(10_000);
    await until(() => h.lost.aborted, 'lost');
    const reason = h.lost.reason as HaSyncError;
    expect(isHaSyncError(reason, 'LOCK_LOST')).toBe(true);
    expect(reason.message).toContain('thief/1');
    await h.release();
    expect(kube.get(NS, `ha-sync-${pair}`)?.spec.holderIdentity).toBe('thief/1'); // not ours: kept
  });

  it('aborts `lost` when renewal keeps failing until the deadline', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const t0 = clock.now();
    const h = await take(await lease(pair, clock), 'me/6');
    kube.unreachable = true;
    // ttl 30 s: renew at 10 s fails, retries every 5 s, gives up at 30 - 3 (margin) = 27 s.
    for (let t = 0; t < 27_000 && !h.lost.aborted; t += 1_000) {
      await clock.advance(1_000);
      await until(() => clock.pending > 0 || h.lost.aborted, 'the loop to park');
    }
    expect(h.lost.aborted).toBe(true);
    expect(clock.now() - t0).toBe(27_000);
    expect((h.lost.reason as HaSyncError).code).toBe('LOCK_LOST');
    kube.unreachable = false;
    // The API is back and the Lease is still ours on record: release still removes it.
    await h.release();
    expect(kube.get(NS, `ha-sync-${pair}`)).toBeUndefined();
  });

  it('aborts `lost` when the Lease was deleted under us', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const h = await take(await lease(pair, clock), 'me/7');
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    await kc
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ name: `ha-sync-${pair}`, namespace: NS });
    await clock.advance(10_000);
    await until(() => h.lost.aborted, 'lost');
    expect((h.lost.reason as Error).message).toMatch(/removed/);
  });

  it('release deletes the Lease, is idempotent, and never throws', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const h = await take(await lease(pair, clock), 'me/8');
    await h.release();
    expect(kube.get(NS, `ha-sync-${pair}`)).toBeUndefined();
    await h.release();
    const del = kube.requests.filter((r) => r.method === 'DELETE' && r.path.endsWith(`ha-sync-${pair}`));
    expect(del.map((r) => r.status)).toEqual([200]);
    const h2 = await take(await lease(pair, clock), 'me/9');
    kube.unreachable = true;
    await expect(h2.release()).resolves.toBeUndefined();
  });

  it('the API unreachable gives LOCK_UNAVAILABLE with one clear line', async () => {
    const clock = new ManualClock();
    const other = await startFakeKube();
    const cfg = other.writeKubeconfig(join(tmp.dir, 'down.kubeconfig'));
    await other.stop();
    const err = await rejection(
      (await lease(newPair(), clock, { kubeconfig: cfg })).acquire({ holder: 'me/1', waitSeconds: 0 }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/Kubernetes API unreachable at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(err.message).not.toContain('\n');
  });

  it('an API slower than the call timeout gives LOCK_UNAVAILABLE', async () => {
    kube.latencyMs = 500;
    const err = await rejection(
      (await lease(newPair(), new ManualClock(), { apiTimeoutMs: 100 })).acquire({
        holder: 'me/1',
        waitSeconds: 0,
      }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/no answer within 100 ms/);
  });

  it('wrong credentials (401) and a missing kubeconfig give LOCK_UNAVAILABLE', async () => {
    const bad = kube.writeKubeconfig(join(tmp.dir, 'bad.kubeconfig'), { token: 'nope' });
    const err = await rejection(
      (await lease(newPair(), new ManualClock(), { kubeconfig: bad })).acquire({
        holder: 'me/1',
        waitSeconds: 0,
      }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/401 Unauthorized/);
    const missing = await rejection(
      lease(newPair(), new ManualClock(), { kubeconfig: join(tmp.dir, 'nope') }),
    );
    expect(missing.code).toBe('LOCK_UNAVAILABLE');
    expect(missing.message).toMatch(/cannot load kubeconfig/);
  });

  it('--lock lease with no cluster and no kubeconfig gives LOCK_UNAVAILABLE saying so', async () => {
    const err = await rejection(
      lease(newPair(), new ManualClock(), {
        kubeconfig: undefined,
        env: { HOME: tmp.dir },
        serviceAccountDir: join(tmp.dir, 'no-sa'),
      }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/not in a pod .* use --lock file/);
  });

  it('a 5xx gives LOCK_UNAVAILABLE naming the status', async () => {
    kube.failNext(503);
    const err = await rejection(
      (await lease(newPair(), new ManualClock())).acquire({ holder: 'me/1', waitSeconds: 0 }),
    );
    expect(err.code).toBe('LOCK_UNAVAILABLE');
    expect(err.message).toMatch(/HTTP 503 ServiceUnavailable/);
  });

  it('wait mode: the waiter announces itself, the holder sees contended(), the waiter gets it after release', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const holderLock = await lease(pair, clock);
    const a = await take(holderLock, 'applier/1');
    expect(a.contended()).toBe(false);
    const waiting = take(await lease(pair, clock), 'cron/2', 120);
    await until(
      () =>
        kube
          .get(NS, `ha-sync-${pair}`)
          ?.metadata.annotations?.['ha-sync.io/waiting']?.startsWith('cron/2 ') === true,
      'the announcement',
    );
    await until(() => clock.pending >= 2, 'both loops parked');
    await clock.advance(5_000); // the waiter polls; the holder checks at 10 s
    await until(() => clock.pending >= 2, 'both loops parked');
    await clock.advance(5_000);
    await until(() => a.contended(), 'contended()');
    // The holder's renewals keep the waiter's annotation.
    const ann = kube.get(NS, `ha-sync-${pair}`)!.metadata.annotations!['ha-sync.io/waiting']!;
    expect(ann).toBe(`cron/2 ${new Date(clock.now() - 10_000).toISOString()}`);
    await a.release();
    await until(() => clock.pending >= 1, 'the waiter parked');
    await clock.advance(5_000);
    const b = await waiting;
    const l = kube.get(NS, `ha-sync-${pair}`)!;
    expect(l.spec.holderIdentity).toBe('cron/2');
    expect(l.metadata.annotations?.['ha-sync.io/waiting']).toBeUndefined();
    expect(b.contended()).toBe(false);
  });

  it('wait mode gives up with LOCK_HELD when the wait ends, withdrawing its announcement', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const a = await take(await lease(pair, clock), 'applier/1');
    const waiter = (await lease(pair, clock)).acquire({ holder: 'cron/3', waitSeconds: 8 });
    const failed = rejection(waiter);
    await until(() => clock.pending >= 2, 'both loops parked');
    await clock.advance(5_000);
    await until(() => clock.pending >= 2, 'both loops parked');
    await clock.advance(3_000);
    const err = await failed;
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toContain('applier/1');
    expect(kube.get(NS, `ha-sync-${pair}`)!.metadata.annotations?.['ha-sync.io/waiting']).toBeUndefined();
    expect(a.contended()).toBe(false);
  });

  it('wait mode rides out a passing API outage', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    const a = await take(await lease(pair, clock), 'applier/1');
    const waiting = take(await lease(pair, clock), 'cron/5', 120);
    await until(() => clock.pending >= 2, 'both loops parked');
    kube.unreachable = true;
    const fails = kube.requests.length;
    await clock.advance(5_000);
    await until(() => clock.pending >= 2, 'both loops parked again');
    expect(kube.requests.length).toBe(fails); // nothing got through
    kube.unreachable = false;
    await a.release();
    await clock.advance(5_000);
    const b = await waiting;
    expect(b.holder).toBe('cron/5');
    expect(kube.get(NS, `ha-sync-${pair}`)?.spec.holderIdentity).toBe('cron/5');
  });

  it('a waiting acquire stops when its signal aborts', async () => {
    const clock = new ManualClock();
    const pair = newPair();
    await take(await lease(pair, clock), 'applier/1');
    const ac = new AbortController();
    const failed = rejection(
      (await lease(pair, clock)).acquire({ holder: 'cron/4', waitSeconds: 600, signal: ac.signal }),
    );
    await until(() => clock.pending >= 2, 'both loops parked');
    ac.abort();
    expect((await failed).code).toBe('TERMINATED');
  });
});

describe('backend selection', () => {
  const no = (): boolean => false;
  const yes = (): boolean => true;
  it('auto: lease with a kubeconfig or a service-account token, else file', () => {
    expect(lockKind({ lock: 'auto', kubeconfig: '/k' }, no)).toBe('lease');
    expect(lockKind({ lock: 'auto', kubeconfig: undefined }, yes)).toBe('lease');
    expect(lockKind({ lock: 'auto', kubeconfig: undefined }, no)).toBe('file');
    expect(lockKind({ lock: 'file', kubeconfig: '/k' }, yes)).toBe('file');
    expect(lockKind({ lock: 'lease', kubeconfig: undefined }, no)).toBe('lease');
  });
});
