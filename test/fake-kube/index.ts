// A faithful fake of the Kubernetes API's Lease endpoints (coordination.k8s.io/v1), served over real
// HTTP on 127.0.0.1 so the production code reaches it unchanged through a kubeconfig file.
//
// What it reproduces, because the lock depends on it:
// - GET / POST / PUT / DELETE under /apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}];
// - a cluster-wide resourceVersion that changes on every write (like etcd's revision);
// - 201 on create, 409 AlreadyExists on a duplicate create, 409 Conflict on a stale
//   resourceVersion (PUT, or a DELETE precondition), 404 NotFound, 422 Invalid on a PUT without
//   metadata.resourceVersion, 400 BadRequest for MicroTime fields without six fractional digits,
//   401 Unauthorized without the bearer token the kubeconfig carries;
// - every error is a `Status` object.
// Knobs: `latencyMs` (delay before answering), `unreachable` (drop every connection), `stop()`
// (nothing listens: connection refused), `failNext(code, n)` (answer n requests with that code).
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeLease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion: string;
    uid: string;
    creationTimestamp: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
    [k: string]: unknown;
  };
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

const PREFIX = '/apis/coordination.k8s.io/v1/namespaces/';
/** Go's RFC3339Micro: exactly six fractional digits, then Z or an offset. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

export class FakeKube {
  readonly token = randomBytes(12).toString('hex');
  /** Milliseconds to wait before answering each request. */
  latencyMs = 0;
  /** When true, every connection is destroyed without an answer. */
  unreachable = false;
  /** Every answered request, oldest first. */
  readonly requests: RequestRecord[] = [];
  private leases = new Map<string, FakeLease>();
  private rv = 1000;
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private port = 0;
  private failures: { code: number; left: number }[] = [];
  private deleteGate: Promise<void> | undefined;

  /** Starts listening on 127.0.0.1 (a random port, or the previous one after stop()). */
  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      if (this.unreachable) s.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening (the port then refuses connections). start() listens again on the same port. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes a kubeconfig pointing at this server (plain HTTP, bearer token). */
  writeKubeconfig(path: string, opts: { namespace?: string; token?: string } = {}): string {
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: fake',
      '  user:',
      `    token: ${opts.token ?? this.token}`,
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: fake',
      ...(opts.namespace ? [`    namespace: ${opts.namespace}`] : []),
      'current-context: fake',
      '',
    ].join('\n');
    writeFileSync(path, yaml);
    return path;
  }

  /** Answers the next `n` requests with `code` (a Status), then behaves again. */
  failNext(code: number, n = 1): void {
    this.failures.push({ code, left: n });
  }

  /**
   * Holds every DELETE (a holder's release) until the returned function is called, so a test can
   * keep a winner holding while a contender decides.
   */
  holdDeletes(): () => void {
    let open!: () => void;
    this.deleteGate = new Promise<void>((r) => (open = r));
    return () => {
      this.deleteGate = undefined;
      open();
    };
  }

  /** The stored Lease (a copy), or undefined. */
  get(namespace: string, name: string): FakeLease | undefined {
    const l = this.leases.get(`${namespace}/${name}`);
    return l ? structuredClone(l) : undefined;
  }

  /** Stores a Lease directly (a test's "another holder"), bumping the resourceVersion. */
  seed(
    namespace: string,
    name: string,
    spec: FakeLease['spec'],
    annotations?: Record<string, string>,
  ): FakeLease {
    const lease: FakeLease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        resourceVersion: this.nextRv(),
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(annotations ? { annotations } : {}),
      },
      spec,
    };
    this.leases.set(`${namespace}/${name}`, lease);
    return structuredClone(lease);
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (req.method === 'DELETE' && this.deleteGate) await this.deleteGate;
    if (this.unreachable) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, body: unknown): void => {
      this.requests.push({ method, path: url.pathname, status, body });
      const json = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      });
      res.end(json);
    };
    try {
      const r = this.route(method, url.pathname, req.headers.authorization, text);
      send(r.status, r.body);
    } catch (err) {
      send(500, status(500, 'InternalError', `fake-kube: ${String(err)}`));
    }
  }

  private route(
    method: string,
    path: string,
    auth: string | undefined,
    text: string,
  ): { status: number; body: unknown } {
    if (auth !== `Bearer ${this.token}`) return fail(401, 'Unauthorized', 'Unauthorized');
    const injected = this.failures[0];
    if (injected) {
      injected.left -= 1;
      if (injected.left <= 0) this.failures.shift();
      return fail(injected.code, reasonFor(injected.code), `injected failure ${injected.code}`);
    }
    if (!path.startsWith(PREFIX))
      return fail(404, 'NotFound', 'the server could not find the requested resource');
    const parts = path.slice(PREFIX.length).split('/');
    const [ns, kind, name, extra] = parts;
    if (!ns || kind !== 'leases' || extra !== undefined || (name !== undefined && name === '')) {
      return fail(404, 'NotFound', 'the server could not find the requested resource');
    }
    const key = `${ns}/${name ?? ''}`;
    let body: unknown;
    if (method === 'POST' || method === 'PUT' || (method === 'DELETE' && text !== '')) {
      try {
        body = JSON.parse(text);
      } catch {
        return fail(
          400,
          'BadRequest',
          `the body of the request was in an unknown format: ${text.slice(0, 40)}`,
        );
      }
    }
    if (name === undefined) {
      if (method === 'GET') {
        const items = [...this.leases.values()].filter((l) => l.metadata.namespace === ns);
        return {
          status: 200,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'LeaseList',
            metadata: { resourceVersion: String(this.rv) },
            items,
          },
        };
      }
      if (method === 'POST') return this.create(ns, body);
      return fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    const cur = this.leases.get(key);
    const notFound = (): { status: number; body: unknown } =>
      fail(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, name);
    if (method === 'GET') return cur ? { status: 200, body: cur } : notFound();
    if (method === 'PUT') {
      const b = body as Partial<FakeLease> | null;
      const bad = this.validate(b);
      if (bad) return bad;
      if (b?.metadata?.name !== undefined && b.metadata.name !== name) {
        return fail(
          400,
          'BadRequest',
          `the name of the object (${b.metadata.name}) does not match the name on the URL (${name})`,
          name,
        );
      }
      const rv = b?.metadata?.resourceVersion;
      if (!rv) {
        return fail(
          422,
          'Invalid',
          `Lease.coordination.k8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          name,
        );
      }
      if (!cur) return notFound();
      if (rv !== cur.metadata.resourceVersion) return conflict(name);
      const next: FakeLease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          ...(b.metadata as FakeLease['metadata']),
          name,
          namespace: ns,
          uid: cur.metadata.uid,
          creationTimestamp: cur.metadata.creationTimestamp,
          resourceVersion: this.nextRv(),
        },
        spec: { ...(b.spec ?? {}) },
      };
      this.leases.set(key, next);
      return { status: 200, body: next };
    }
    if (method === 'DELETE') {
      if (!cur) return notFound();
      const pre = (body as { preconditions?: { resourceVersion?: string; uid?: string } } | undefined)
        ?.preconditions;
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== cur.metadata.resourceVersion) {
        return fail(
          409,
          'Conflict',
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
          name,
        );
      }
      if (pre?.uid !== undefined && pre.uid !== cur.metadata.uid) {
        return fail(
          409,
          'Conflict',
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`,
          name,
        );
      }
      this.leases.delete(key);
      this.nextRv();
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: 'coordination.k8s.io', kind: 'leases', uid: cur.metadata.uid },
        },
      };
    }
    return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  private create(ns: string, body: unknown): { status: number; body: unknown } {
    const b = body as Partial<FakeLease> | null;
    const bad = this.validate(b);
    if (bad) return bad;
    const name = b?.metadata?.name;
    if (!name)
      return fail(
        422,
        'Invalid',
        'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required',
      );
    if (b.metadata?.namespace !== undefined && b.metadata.namespace !== ns) {
      return fail(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
        name,
      );
    }
    if (this.leases.has(`${ns}/${name}`)) {
      return fail(409, 'AlreadyExists', `leases.coordination.k8s.io "${name}" already exists`, name);
    }
    const lease: FakeLease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(b.metadata as FakeLease['metadata']),
        name,
        namespace: ns,
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        resourceVersion: this.nextRv(),
      },
      spec: { ...(b.spec ?? {}) },
    };
    this.leases.set(`${ns}/${name}`, lease);
    return { status: 201, body: lease };
  }

  /** The decoding checks the real API server applies before anything else (400 BadRequest). */
  private validate(b: Partial<FakeLease> | null): { status: number; body: unknown } | undefined {
    if (!b || typeof b !== 'object' || Array.isArray(b))
      return fail(400, 'BadRequest', 'the body of the request was in an unknown format');
    if (b.kind !== undefined && b.kind !== 'Lease')
      return fail(400, 'BadRequest', `Lease in version "v1" cannot be handled as a ${String(b.kind)}`);
    for (const field of ['acquireTime', 'renewTime'] as const) {
      const v = b.spec?.[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || !MICRO_TIME.test(v)) {
        return fail(
          400,
          'BadRequest',
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC3339Micro (spec.${field})`,
        );
      }
    }
    const d = b.spec?.leaseDurationSeconds;
    if (d !== undefined && (!Number.isInteger(d) || d <= 0)) {
      return fail(
        422,
        'Invalid',
        `spec.leaseDurationSeconds: Invalid value: ${String(d)}: must be greater than 0`,
      );
    }
    return undefined;
  }
}

function status(code: number, reason: string, message: string, name?: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(name !== undefined ? { details: { name, group: 'coordination.k8s.io', kind: 'leases' } } : {}),
    code,
  };
}

function fail(
  code: number,
  reason: string,
  message: string,
  name?: string,
): { status: number; body: unknown } {
  return { status: code, body: status(code, reason, message, name) };
}

function conflict(name: string): { status: number; body: unknown } {
  return fail(
    409,
    'Conflict',
    `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    name,
  );
}

function reasonFor(code: number): string {
  return (
    {
      400: 'BadRequest',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'NotFound',
      409: 'Conflict',
      422: 'Invalid',
      429: 'TooManyRequests',
      500: 'InternalError',
      503: 'ServiceUnavailable',
    }[code] ?? 'Unknown'
  );
}

/** Starts a fake API server (stop it in afterAll). */
export async function startFakeKube(): Promise<FakeKube> {
  return new FakeKube().start();
}
