// The fake Kubernetes API is code too: each status code the lock relies on, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from './fake-kube/index.js';

const NS = 'infrastructure';
const base = (k: FakeKube): string => `${k.url}/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const micro = '2026-01-01T00:00:00.123456Z';

let kube: FakeKube;
beforeAll(async () => {
  kube = await startFakeKube();
});
afterAll(async () => {
  await kube.stop();
});

async function req(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = kube.token,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const lease = (name: string, spec: Record<string, unknown> = {}, rv?: string): unknown => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, ...(rv ? { resourceVersion: rv } : {}) },
  spec: { holderIdentity: 'a/1', leaseDurationSeconds: 30, renewTime: micro, ...spec },
});

function expectStatus(
  r: { status: number; json: Record<string, unknown> },
  code: number,
  reason: string,
): void {
  expect(r.status).toBe(code);
  expect(r.json).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code });
  expect(typeof r.json.message).toBe('string');
}

describe('fake kube API: leases', () => {
  it('answers 401 with a Status without the bearer token, or with a wrong one', async () => {
    expectStatus(await req('GET', `${base(kube)}/x`, undefined, null), 401, 'Unauthorized');
    expectStatus(await req('GET', `${base(kube)}/x`, undefined, 'wrong'), 401, 'Unauthorized');
  });

  it('creates with 201 and a resourceVersion, then 409 AlreadyExists on a duplicate', async () => {
    const r = await req('POST', base(kube), lease('dup'));
    expect(r.status).toBe(201);
    const meta = r.json.metadata as Record<string, string>;
    expect(meta.resourceVersion).toMatch(/^\d+$/);
    expect(meta.namespace).toBe(NS);
    expectStatus(await req('POST', base(kube), lease('dup')), 409, 'AlreadyExists');
  });

  it('answers 404 NotFound for a missing lease (GET, PUT with a version, DELETE)', async () => {
    expectStatus(await req('GET', `${base(kube)}/missing`), 404, 'NotFound');
    expectStatus(await req('PUT', `${base(kube)}/missing`, lease('missing', {}, '5')), 404, 'NotFound');
    expectStatus(await req('DELETE', `${base(kube)}/missing`), 404, 'NotFound');
  });

  it('changes resourceVersion on every write; a stale one gets 409 Conflict; none gets 422', async () => {
    const made = await req('POST', base(kube), lease('rv'));
    const rv1 = (made.json.metadata as Record<string, string>).resourceVersion!;
    const put = await req('PUT', `${base(kube)}/rv`, lease('rv', { holderIdentity: 'b/2' }, rv1));
    expect(put.status).toBe(200);
    const rv2 = (put.json.metadata as Record<string, string>).resourceVersion!;
    expect(rv2).not.toBe(rv1);
    expect((put.json.spec as Record<string, string>).holderIdentity).toBe('b/2');
    expectStatus(await req('PUT', `${base(kube)}/rv`, lease('rv', {}, rv1)), 409, 'Conflict');
    expectStatus(await req('PUT', `${base(kube)}/rv`, lease('rv')), 422, 'Invalid');
    expect(kube.get(NS, 'rv')?.metadata.resourceVersion).toBe(rv2);
  });

  it('rejects micro-times without six fractional digits with 400 BadRequest', async () => {
    expectStatus(
      await req('POST', base(kube), lease('t3', { renewTime: '2026-01-01T00:00:00.123Z' })),
      400,
      'BadRequest',
    );
    expectStatus(
      await req('POST', base(kube), lease('t0', { acquireTime: '2026-01-01T00:00:00Z' })),
      400,
      'BadRequest',
    );
    expect(
      (await req('POST', base(kube), lease('t6', { acquireTime: '2026-01-01T00:00:00.000000+02:00' })))
        .status,
    ).toBe(201);
  });

  it('deletes with 200, honouring a resourceVersion precondition (409 Conflict when stale)', async () => {
    const made = await req('POST', base(kube), lease('del'));
    const rv = (made.json.metadata as Record<string, string>).resourceVersion!;
    expectStatus(
      await req('DELETE', `${base(kube)}/del`, { preconditions: { resourceVersion: '1' } }),
      409,
      'Conflict',
    );
    const ok = await req('DELETE', `${base(kube)}/del`, { preconditions: { resourceVersion: rv } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ kind: 'Status', status: 'Success' });
    expect(kube.get(NS, 'del')).toBeUndefined();
  });

  it('lists leases of a namespace', async () => {
    const r = await req('GET', base(kube));
    expect(r.status).toBe(200);
    expect(r.json.kind).toBe('LeaseList');
    expect((r.json.items as unknown[]).length).toBeGreaterThan(0);
  });

  it('injects failures, and drops connections when unreachable', async () => {
    kube.failNext(503);
    expectStatus(await req('GET', `${base(kube)}/x`), 503, 'ServiceUnavailable');
    expectStatus(await req('GET', `${base(kube)}/x`), 404, 'NotFound');
    kube.unreachable = true;
    await expect(req('GET', `${base(kube)}/x`)).rejects.toThrow();
    kube.unreachable = false;
    expectStatus(await req('GET', `${base(kube)}/x`), 404, 'NotFound');
  });

  it('refuses connections after stop() and serves the same port again after start()', async () => {
    const url = kube.url;
    await kube.stop();
    await expect(req('GET', `${base(kube)}/x`)).rejects.toThrow();
    await kube.start();
    expect(kube.url).toBe(url);
    expectStatus(await req('GET', `${base(kube)}/x`), 404, 'NotFound');
  });
});
