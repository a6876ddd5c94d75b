// The Kubernetes Lease backend: Lease `ha-sync-<pair>` (coordination.k8s.io/v1) in one namespace.
//
// Protocol (also in docs/locking.md):
// - spec.holderIdentity = `<pod>/<run-id>`, spec.leaseDurationSeconds = ttl, spec.acquireTime /
//   spec.renewTime = MicroTime (six fractional digits; the API answers 400 otherwise, and
//   client-node serializes a plain Date with three, so times are sent as V1MicroTime).
// - Acquire: POST the Lease. If it exists and its holder has not renewed within
//   leaseDurationSeconds (renewTime + duration <= now) or it has no holder, take it over with a PUT
//   that carries the resourceVersion just read and leaseTransitions + 1. A 409 on either write means
//   another contender won: read again (and normally report LOCK_HELD).
// - Renew every ttl/3: GET, check the holder is still us, PUT renewTime with the resourceVersion
//   just read, keeping every other field and every annotation. Between renewals the holder GETs
//   every check interval (10 s) to notice waiters and foreign holders early.
// - Contention: a waiter (acquire with waitSeconds > 0 that finds the Lease held) writes the
//   annotation `ha-sync.io/waiting: <waiter-holder> <iso-time>` (PUT with the resourceVersion it
//   read; a 409 is ignored, the next poll retries) and rewrites it every 20 s while it waits. The
//   holder's `contended()` is true while that annotation names someone else and is under 60 s
//   old, so a long-lived holder (the live applier) can release and let a reconciler CronJob in
//   within about one check interval plus one poll interval (<= 30 s). A waiter that gives up
//   removes its own annotation; a stale one simply stops counting.
// - Release: GET; DELETE only if the holder is still us, with a resourceVersion precondition (a
//   409 means it changed under us: read again, at most three times).
// Errors: no answer, a refused connection, 401/403 or a 5xx become LOCK_UNAVAILABLE with one line;
// ApiException.body is the response TEXT and is parsed for the Status message.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  ApiException,
  CoordinationV1Api,
  KubeConfig,
  Observable,
  V1MicroTime,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { HaSyncError, errorMessage } from '../errors.js';
import type { Attempt, Backend, Holding } from './session.js';
import { formatWaiting, isExpired, parseWaiting } from './session.js';

export const WAITING_ANNOTATION = 'ha-sync.io/waiting';
export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const DEFAULT_NAMESPACE = 'infrastructure';

export interface LeaseBackendOptions {
  pair: string;
  namespace: string | undefined;
  kubeconfig: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Service-account directory (tests point it elsewhere). Default SA_DIR. */
  serviceAccountDir?: string | undefined;
}

/** The namespace: the flag, else the pod's service-account namespace, else `infrastructure`. */
export function leaseNamespace(flag: string | undefined, saDir = SA_DIR): string {
  if (flag) return flag;
  try {
    const ns = readFileSync(`${saDir}/namespace`, 'utf8').trim();
    if (ns) return ns;
  } catch {
    // not in a cluster
  }
  return DEFAULT_NAMESPACE;
}

export function inCluster(saDir = SA_DIR): boolean {
  return existsSync(`${saDir}/token`);
}

function loadKubeConfig(o: LeaseBackendOptions): KubeConfig {
  const kc = new KubeConfig();
  const home = join(o.env.HOME ?? homedir(), '.kube', 'config');
  const file = o.kubeconfig?.split(delimiter).find((f) => f !== '');
  const saDir = o.serviceAccountDir ?? SA_DIR;
  try {
    if (file) kc.loadFromFile(file);
    else if (inCluster(saDir)) {
      // client-node reads the service-account files under a prefix and the API address from
      // KUBERNETES_SERVICE_HOST / _PORT of this process.
      if (!process.env.KUBERNETES_SERVICE_HOST) {
        throw new Error('a service-account token exists but KUBERNETES_SERVICE_HOST is not set');
      }
      kc.loadFromCluster(saDir.endsWith(SA_DIR) ? saDir.slice(0, -SA_DIR.length) : '');
    } else if (existsSync(home)) kc.loadFromFile(home);
    else {
      throw new HaSyncError(
        'LOCK_UNAVAILABLE',
        'the Lease needs a cluster: not in a pod (no service-account token) and no kubeconfig (--kubeconfig / KUBECONFIG / ~/.kube/config); use --lock file outside a cluster',
      );
    }
  } catch (err) {
    if (err instanceof HaSyncError) throw err;
    throw new HaSyncError(
      'LOCK_UNAVAILABLE',
      `cannot load kubeconfig${file ? ` ${file}` : ''}: ${oneLine(errorMessage(err))}`,
      { cause: err },
    );
  }
  if (!kc.getCurrentCluster()) {
    throw new HaSyncError('LOCK_UNAVAILABLE', `kubeconfig${file ? ` ${file}` : ''} names no current cluster`);
  }
  return kc;
}

/** Per-call options carrying an abort signal (the call's timeout) to the HTTP request. */
// (The object-parameter API hands these options to the Observable layer, so the middleware is
// the Observable kind.)
function withSignal(signal: AbortSignal): {
  middleware: ObservableMiddleware[];
  middlewareMergeStrategy: 'append';
} {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The Status message inside an ApiException (its body is the response text). */
function statusOf(err: ApiException<unknown>): { reason: string; message: string } {
  const body: unknown = err.body;
  if (typeof body === 'string' && body !== '') {
    try {
      const s = JSON.parse(body) as { reason?: unknown; message?: unknown };
      return {
        reason: typeof s.reason === 'string' ? s.reason : '',
        message: typeof s.message === 'string' ? s.message : oneLine(body).slice(0, 200),
      };
    } catch {
      return { reason: '', message: oneLine(body).slice(0, 200) };
    }
  }
  if (body && typeof body === 'object') {
    const s = body as { reason?: unknown; message?: unknown };
    return {
      reason: typeof s.reason === 'string' ? s.reason : '',
      message: typeof s.message === 'string' ? s.message : '',
    };
  }
  return { reason: '', message: '' };
}

const toMs = (t: unknown): number => {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  return 0;
};

function toHolding(l: V1Lease): Holding {
  return {
    holder: l.spec?.holderIdentity ?? '',
    durationSeconds: l.spec?.leaseDurationSeconds ?? 0,
    acquireTimeMs: toMs(l.spec?.acquireTime),
    renewTimeMs: toMs(l.spec?.renewTime),
    transitions: l.spec?.leaseTransitions ?? 0,
    waiting: parseWaiting(l.metadata?.annotations?.[WAITING_ANNOTATION]),
    version: l.metadata?.resourceVersion ?? '',
  };
}

const micro = (ms: number): V1MicroTime => new V1MicroTime(ms);

/** A time read back from the API is a string at run time; resend it as a MicroTime. */
const asMicro = (t: unknown): V1MicroTime | undefined =>
  t === undefined || t === null ? undefined : micro(toMs(t));

export function leaseBackend(o: LeaseBackendOptions): Backend {
  const namespace = leaseNamespace(o.namespace, o.serviceAccountDir);
  const name = `ha-sync-${o.pair}`;
  const label = `lease ${namespace}/${name}`;
  const kc = loadKubeConfig(o);
  const server = kc.getCurrentCluster()?.server ?? '?';
  const api = kc.makeApiClient(CoordinationV1Api);

  /** Runs one API call; maps transport and server errors to LOCK_UNAVAILABLE, keeps 404/409/422. */
  const call = async <T>(
    what: string,
    signal: AbortSignal,
    fn: (opts: ReturnType<typeof withSignal>) => Promise<T>,
  ): Promise<T> => {
    try {
      return await fn(withSignal(signal));
    } catch (err) {
      if (signal.aborted)
        throw signal.reason instanceof HaSyncError
          ? signal.reason
          : new HaSyncError('LOCK_UNAVAILABLE', `${label}: ${what}: no answer from ${server}`);
      if (err instanceof ApiException) {
        const code = err.code;
        if (code === 404 || code === 409 || code === 422) throw err;
        const s = statusOf(err);
        const why =
          code === 401
            ? 'the API refused our credentials (401 Unauthorized)'
            : code === 403
              ? `forbidden (403): the service account needs get/create/update/delete on leases in ${namespace}${s.message ? `: ${s.message}` : ''}`
              : `HTTP ${code}${s.reason ? ` ${s.reason}` : ''}${s.message ? `: ${s.message}` : ''}`;
        throw new HaSyncError('LOCK_UNAVAILABLE', `${label}: ${what} at ${server}: ${oneLine(why)}`, {
          cause: err,
        });
      }
      throw new HaSyncError(
        'LOCK_UNAVAILABLE',
        `${label}: Kubernetes API unreachable at ${server}: ${oneLine(errorMessage(err))}`,
        { cause: err },
      );
    }
  };
  const is = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

  const read = async (signal: AbortSignal): Promise<V1Lease | undefined> => {
    try {
      return await call('read', signal, (opts) => api.readNamespacedLease({ name, namespace }, opts));
    } catch (err) {
      if (is(err, 404)) return undefined;
      throw err;
    }
  };

  /** PUT `lease`; undefined on a 409 / 404 (someone else wrote or deleted it first). */
  const replace = async (lease: V1Lease, signal: AbortSignal): Promise<V1Lease | undefined> => {
    try {
      return await call('update', signal, (opts) =>
        api.replaceNamespacedLease({ name, namespace, body: lease }, opts),
      );
    } catch (err) {
      if (is(err, 409) || is(err, 404)) return undefined;
      if (is(err, 422))
        throw new HaSyncError(
          'LOCK_UNAVAILABLE',
          `${label}: update rejected: ${statusOf(err as ApiException<unknown>).message}`,
        );
      throw err;
    }
  };

  /** The Lease as read, with a new spec and annotations; times re-sent as MicroTime. */
  const rewrite = (
    cur: V1Lease,
    spec: Partial<NonNullable<V1Lease['spec']>>,
    annotations: Record<string, string> | undefined,
  ): V1Lease => {
    const base = cur.spec ?? {};
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...cur.metadata, annotations },
      spec: {
        ...base,
        acquireTime: asMicro(base.acquireTime),
        renewTime: asMicro(base.renewTime),
        ...spec,
      },
    };
  };

  const withoutWaiter = (
    a: Record<string, string> | undefined,
    waiter: string,
  ): Record<string, string> | undefined => {
    if (!a || parseWaiting(a[WAITING_ANNOTATION])?.holder !== waiter) return a;
    const { [WAITING_ANNOTATION]: _drop, ...rest } = a;
    return Object.keys(rest).length ? rest : undefined;
  };

  return {
    kind: 'lease',
    name: label,

    async attempt(holder, ttlSeconds, nowMs, signal): Promise<Attempt> {
      const cur = await read(signal);
      if (!cur) {
        const body: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name,
            namespace,
            labels: { 'app.kubernetes.io/name': 'ha-sync', 'ha-sync.io/pair': o.pair },
          },
          spec: {
            holderIdentity: holder,
            leaseDurationSeconds: ttlSeconds,
            acquireTime: micro(nowMs),
            renewTime: micro(nowMs),
            leaseTransitions: 0,
          },
        };
        try {
          const made = await call('create', signal, (opts) =>
            api.createNamespacedLease({ namespace, body }, opts),
          );
          return { kind: 'acquired', holding: toHolding(made) };
        } catch (err) {
          if (is(err, 409)) return { kind: 'raced' };
          if (is(err, 422))
            throw new HaSyncError(
              'LOCK_UNAVAILABLE',
              `${label}: create rejected: ${statusOf(err as ApiException<unknown>).message}`,
            );
          throw err;
        }
      }
      const h = toHolding(cur);
      if (!isExpired(h, nowMs)) return { kind: 'held', current: h };
      const next = rewrite(
        cur,
        {
          holderIdentity: holder,
          leaseDurationSeconds: ttlSeconds,
          acquireTime: micro(nowMs),
          renewTime: micro(nowMs),
          leaseTransitions: h.transitions + 1,
        },
        withoutWaiter(cur.metadata?.annotations, holder),
      );
      const won = await replace(next, signal);
      return won ? { kind: 'acquired', holding: toHolding(won) } : { kind: 'raced' };
    },

    async announce(waiter, nowMs, signal): Promise<void> {
      const cur = await read(signal);
      if (!cur) return;
      const annotations = {
        ...cur.metadata?.annotations,
        [WAITING_ANNOTATION]: formatWaiting({ holder: waiter, atMs: nowMs }),
      };
      await replace(rewrite(cur, {}, annotations), signal);
    },

    async withdraw(waiter, signal): Promise<void> {
      const cur = await read(signal);
      const a = cur?.metadata?.annotations;
      if (!cur || withoutWaiter(a, waiter) === a) return;
      await replace(rewrite(cur, {}, withoutWaiter(a, waiter)), signal);
    },

    async refresh(mine, renewAtMs, signal): Promise<Holding | undefined> {
      for (let i = 0; i < 3; i++) {
        const cur = await read(signal);
        if (!cur) return undefined;
        const h = toHolding(cur);
        if (h.holder !== mine.holder || renewAtMs === undefined) return h;
        const done = await replace(
          rewrite(cur, { renewTime: micro(renewAtMs) }, cur.metadata?.annotations),
          signal,
        );
        if (done) return toHolding(done);
        // A waiter annotated the Lease between our read and our write: read again.
      }
      throw new HaSyncError('LOCK_UNAVAILABLE', `${label}: renewal kept conflicting with other writers`);
    },

    async remove(mine, signal): Promise<void> {
      for (let i = 0; i < 3; i++) {
        const cur = await read(signal);
        if (!cur || toHolding(cur).holder !== mine.holder) return;
        try {
          await call('delete', signal, (opts) =>
            api.deleteNamespacedLease(
              {
                name,
                namespace,
                body: { preconditions: { resourceVersion: cur.metadata?.resourceVersion } },
              },
              opts,
            ),
          );
          return;
        } catch (err) {
          if (is(err, 404)) return;
          if (!is(err, 409)) throw err;
        }
      }
    },
  };
}
