/**
 * `doris hub`'s serving side against the real API server, under the identity the hub runs as
 * (a kubeconfig from the `doris-hub` ServiceAccount's token, with the RBAC of
 * src/hub/install.ts): it installs its CRDs, enrollment spends tokens (used up, expired
 * refused), a device token reads only its fleet's target and bundles and writes only its own
 * report, deleting the Device revokes it (also on a poll it holds), `kubectl get devices`
 * shows the report, and an unchanged report or a poll writes nothing (the audit log says so).
 *
 * The Fleets follow a git URL nothing answers, so no upstream poll makes a revision: the test
 * writes `status.revision` and the bundle as admin (set-up, not what is asserted).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fleetLabel } from '../../src/api/hub.js';
import { githubSignature } from '../../src/server/github.js';
import { hubAccountName, hubCrdRoleName, hubRbacObjects } from '../../src/hub/install.js';
import { connectKube, type HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris, startServer, type RunningController } from '../env/doris.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { execFileP, waitFor } from '../env/proc.js';
import { kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let admin: HttpKubeClient;
let hub: RunningController;
let kubeconfig: string;
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const ns = `hub-h6a-${run}`;
const hubUser = serviceAccountUser(ns, hubAccountName);
const bundleA = Buffer.from(`bundle of fleet a ${run}`);
const bundleB = Buffer.from(`bundle of fleet b ${run}`);
const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const commitA = 'a'.repeat(40);
const githubSecret = `gh-${run}-not-a-real-secret`;

async function hubCall(method: string, path: string, options: { token?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const res = await fetch(`${hub.url}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** `doris hub token create` as the operator (admin kubeconfig); the token is the last line of stdout. */
async function createToken(fleet: string, extra: string[] = []): Promise<string> {
  const result = await doris(env, ['--namespace', ns, 'hub', 'token', 'create', '--fleet', fleet, ...extra]);
  assert.equal(result.code, 0, result.stderr);
  const token = result.stdout.trim().split('\n').at(-1)!;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  return token;
}

async function enroll(fleet: string, device: string, enrollmentToken: string, labels: Record<string, string> = {}) {
  return hubCall('POST', '/v1/enroll', { body: { fleet, device, enrollmentToken, labels } });
}

async function enrolled(fleet: string, device: string, extra: string[] = []): Promise<string> {
  const answer = await enroll(fleet, device, await createToken(fleet, extra));
  assert.equal(answer.status, 200, answer.text);
  return answer.json().token as string;
}

function fleetObject(name: string) {
  return {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Fleet',
    metadata: { name, namespace: ns },
    // Nothing listens on port 9: the upstream poll fails and makes no revision of its own.
    spec: { git: { url: 'http://127.0.0.1:9/nothing.git', interval: '1h' } },
  };
}

async function setRevision(fleet: string, id: string, commit: string, bytes: Buffer): Promise<void> {
  const digest = digestOf(bytes);
  await api.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `doris-bundle-${digest.slice(7, 47)}`, namespace: ns, annotations: { 'hub.doris.dev/digest': digest } },
      immutable: true,
      binaryData: { bundle: bytes.toString('base64') },
    },
  });
  const revision = { id, commit, bundle: digest, bundleSize: bytes.length, images: [], createdAt: new Date().toISOString() };
  await api.request('PATCH', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleet}/status`, {
    body: { status: { revision, revisions: [revision] } },
    contentType: 'application/merge-patch+json',
  });
}

const report = (over: Record<string, unknown> = {}) => ({
  ready: 'True',
  reason: 'Synced',
  message: 'applied',
  agentVersion: '0.1.0',
  commit: commitA,
  revision: 'r-a1',
  ...over,
});

/** Writes by the hub's identity to Devices since `mark`. */
function deviceWrites(mark: number): string[] {
  return writesBy(readAuditSince(env.AUDIT_LOG, mark), hubUser)
    .filter((e) => e.objectRef?.resource === 'devices')
    .map((e) => `${e.verb} ${e.objectRef?.name}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  admin = await connectKube(env.KUBECONFIG);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  for (const object of hubRbacObjects(ns)) await admin.apply(object, { manager: 'e2e-tests' });
  kubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
  const port = await freePort();
  const mark = auditMark(env.AUDIT_LOG);
  hub = startServer(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `127.0.0.1:${port}`], {
    kubeconfig,
    port,
    extraEnv: { DORIS_GITHUB_SECRET: githubSecret },
  });
  await waitFor('the hub to be ready', async () => (await fetch(`${hub.url}/readyz`).catch(() => undefined))?.ok || undefined, { timeoutMs: 60_000 });
  // The hub applied its CRDs itself, as its ServiceAccount (get/create/patch by name only).
  const crdWrites = writesBy(readAuditSince(env.AUDIT_LOG, mark), hubUser).filter((e) => e.objectRef?.resource === 'customresourcedefinitions');
  assert.deepEqual([...new Set(crdWrites.map((e) => e.objectRef?.name))].sort(), ['devices.hub.doris.dev', 'fleets.hub.doris.dev']);
  for (const name of ['f-a', 'f-b']) await admin.apply(fleetObject(name), { manager: 'e2e-tests' });
  await setRevision('f-a', 'r-a1', commitA, bundleA);
  await setRevision('f-b', 'r-b1', 'b'.repeat(40), bundleB);
});

after(async () => {
  const stopped = hub ? await hub.stop('SIGTERM') : undefined;
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  admin.close();
  api.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
  if (stopped) assert.equal(stopped.code, 0, `the hub exits 0 on SIGTERM:\n${stopped.stdout.slice(-2000)}`);
});

describe('doris hub under its own ServiceAccount', () => {
  it('enrolls with a token; a token created with --uses 1 is used up after one enrollment', async () => {
    const token = await createToken('f-a', ['--uses', '1', '--labels', 'site=north']);
    const first = await enroll('f-a', 'dev-1', token, { tier: 'edge' });
    assert.equal(first.status, 200, first.text);
    assert.match(String(first.json().token), /^dev-1\.[A-Za-z0-9_-]{43}$/);
    const device = (
      await api.request<{ metadata: { labels: Record<string, string> }; spec: { tokenHash: string } }>(
        'GET',
        `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/dev-1`,
      )
    ).body;
    assert.deepEqual(device.metadata.labels, { site: 'north', tier: 'edge', [fleetLabel]: 'f-a' });
    assert.equal(device.spec.tokenHash, digestOf(Buffer.from(String(first.json().token))));
    const second = await enroll('f-a', 'dev-2', token);
    assert.equal(second.status, 401);
    assert.match(String(second.json().message), /used up/);
  });

  it('refuses an expired enrollment token', async () => {
    const result = await doris(env, ['--namespace', ns, '--output', 'json', 'hub', 'token', 'create', '--fleet', 'f-a', '--ttl', '1s', '--uses', '5']);
    assert.equal(result.code, 0, result.stderr);
    const created = JSON.parse(result.stdout) as { token: string; expiresAt: string };
    await waitFor('the token to expire', () => Date.now() > Date.parse(created.expiresAt) + 100 || undefined, { timeoutMs: 10_000, intervalMs: 100 });
    const answer = await enroll('f-a', 'dev-late', created.token);
    assert.equal(answer.status, 401);
    assert.match(String(answer.json().message), /expired/);
  });

  it("a device token reads its fleet's target and bundle, not another fleet's (403)", async () => {
    const token = await enrolled('f-a', 'dev-3');
    const target = await hubCall('GET', '/v1/fleets/f-a/target', { token });
    assert.equal(target.status, 200, target.text);
    assert.equal(target.headers.get('etag'), '"r-a1"');
    const body = target.json() as { commit: string; bundle: { digest: string; url: string } };
    assert.equal(body.commit, commitA);
    const bundle = await fetch(`${hub.url}${body.bundle.url}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bundle.status, 200);
    const bytes = Buffer.from(await bundle.arrayBuffer());
    assert.equal(digestOf(bytes), body.bundle.digest);
    assert.equal(bundle.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const other = await hubCall('GET', '/v1/fleets/f-b/target', { token });
    assert.equal(other.status, 403);
    assert.equal((await hubCall('GET', `/v1/fleets/f-b/bundles/${digestOf(bundleB)}`, { token })).status, 403);
    assert.equal((await hubCall('GET', `/v1/fleets/f-a/bundles/${digestOf(bundleB)}`, { token })).status, 404);
  });

  it("cannot write another device's report (403)", async () => {
    const mine = await enrolled('f-a', 'dev-4');
    await enrolled('f-a', 'dev-5');
    const answer = await hubCall('PUT', '/v1/fleets/f-a/devices/dev-5/report', { token: mine, body: report() });
    assert.equal(answer.status, 403);
    const dev5 = (await api.request<{ status?: unknown }>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/dev-5`)).body;
    assert.equal(dev5.status, undefined);
  });

  it('writes a report only when it changed; polls write nothing; kubectl get devices shows it', async () => {
    const token = await enrolled('f-a', 'dev-6');
    assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/dev-6/report', { token, body: report() })).status, 204);
    await hubCall('GET', '/v1/fleets/f-a/target', { token });
    await waitFor('the report and servedRevision to be stored', async () => {
      const { body } = await api.request<{ status?: { report?: { ready?: string }; servedRevision?: string } }>(
        'GET',
        `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/dev-6`,
      );
      return (body.status?.report?.ready === 'True' && body.status.servedRevision === 'r-a1') || undefined;
    });
    const mark = auditMark(env.AUDIT_LOG);
    for (let i = 0; i < 5; i++) {
      assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/dev-6/report', { token, body: report() })).status, 204);
      assert.equal((await hubCall('GET', '/v1/fleets/f-a/target', { token, headers: { 'if-none-match': '"r-a1"' } })).status, 304);
    }
    // A changed report is written: once it shows in the audit log, everything before it has too.
    assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/dev-6/report', { token, body: report({ message: 'applied again' }) })).status, 204);
    const writes = await waitFor('the changed report in the audit log', () => {
      const w = deviceWrites(mark);
      return w.length > 0 ? w : undefined;
    });
    assert.deepEqual(writes, ['patch dev-6/status']);

    const { stdout } = await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, '-n', ns, 'get', 'devices']);
    const lines = stdout.trim().split('\n');
    assert.deepEqual(lines[0]!.split(/\s+/), ['NAME', 'FLEET', 'READY', 'COMMIT', 'STAGE', 'LAST-SEEN', 'AGE']);
    const row = lines.find((l) => l.startsWith('dev-6 '))!.split(/\s+/);
    assert.deepEqual(row.slice(0, 4), ['dev-6', 'f-a', 'True', commitA]);
    const fleets = (await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, '-n', ns, 'get', 'fleets'])).stdout.trim().split('\n');
    assert.deepEqual(fleets[0]!.split(/\s+/), ['NAME', 'REVISION', 'COMMIT', 'READY', 'STATE', 'AGE']);
    assert.deepEqual(
      fleets
        .find((l) => l.startsWith('f-a '))!
        .split(/\s+/)
        .slice(0, 3),
      ['f-a', 'r-a1', commitA],
    );

    const devices = await doris(env, ['--namespace', ns, '--output', 'json', 'fleet', 'devices', 'f-a', '-l', 'hub.doris.dev/fleet=f-a']);
    assert.equal(devices.code, 0, devices.stderr);
    const dev6 = (JSON.parse(devices.stdout) as Array<{ name: string; ready: string; commit: string; state: string }>).find((d) => d.name === 'dev-6');
    assert.deepEqual({ ready: dev6?.ready, commit: dev6?.commit, state: dev6?.state }, { ready: 'True', commit: commitA, state: 'ready' });
    const status = await doris(env, ['--namespace', ns, 'fleet', 'status', 'f-a']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /revision: {2}r-a1 commit a{12}/);
    assert.match(status.stdout, /devices: {3}\d+ \(\d+ ready/);
    const missing = await doris(env, ['--namespace', ns, 'fleet', 'status', 'no-such-fleet']);
    assert.equal(missing.code, 3, missing.stderr);
  });

  it('deleting the Device revokes it at once: its held poll and its next request get 401', async () => {
    const token = await enrolled('f-a', 'dev-7');
    const held = hubCall('GET', '/v1/fleets/f-a/target?wait=120', { token, headers: { 'if-none-match': '"r-a1"' } });
    await waitFor('the poll to be held', async () => {
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      return /^doris_hub_open_long_polls [1-9]/m.test(metrics) || undefined;
    });
    await api.request('DELETE', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/dev-7`);
    const answer = await held;
    assert.equal(answer.status, 401);
    assert.equal(answer.json().error, 'revoked');
    assert.equal((await hubCall('GET', '/v1/fleets/f-a/target', { token })).status, 401);
    assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/dev-7/report', { token, body: report() })).status, 401);
  });

  it('triggers the Fleets following a repository on a signed GitHub push, and refuses a bad signature', async () => {
    const payload = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: 'http://127.0.0.1:9/nothing.git' } }));
    const post = (signature: string) =>
      fetch(`${hub.url}/hooks/github`, { method: 'POST', headers: { 'x-github-event': 'push', 'x-hub-signature-256': signature }, body: payload });
    assert.equal((await post(githubSignature('wrong', payload))).status, 401);
    const good = await post(githubSignature(githubSecret, payload));
    assert.equal(good.status, 202);
    const answer = (await good.json()) as { triggered: string[]; leading: boolean };
    assert.deepEqual(answer.triggered.sort(), ['f-a', 'f-b']);
    assert.equal(answer.leading, true, 'the only replica leads, so the poll really runs');
  });

  it('serves HTTPS from a kubernetes.io/tls Secret (a second replica, not the leader, serves devices too)', async () => {
    const pki = join(env.TESTENV_DIR, 'cluster', 'pki');
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: 'hub-tls', namespace: ns },
        data: {
          'tls.crt': readFileSync(join(pki, 'apiserver.crt')).toString('base64'),
          'tls.key': readFileSync(join(pki, 'apiserver.key')).toString('base64'),
        },
      },
    });
    const token = await enrolled('f-a', 'dev-tls');
    const port = await freePort();
    const second = startServer(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `127.0.0.1:${port}`, '--tls-secret', 'hub-tls'], {
      kubeconfig,
      port,
    });
    const ca = readFileSync(join(pki, 'ca.crt'));
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path, ca, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await waitFor('the TLS hub to be ready', async () => (await get('/readyz').catch(() => undefined))?.status === 200 || undefined, { timeoutMs: 60_000 });
      const target = await get('/v1/fleets/f-a/target', { authorization: `Bearer ${token}` });
      assert.equal(target.status, 200, target.body);
      assert.equal((JSON.parse(target.body) as { revision: string }).revision, 'r-a1');
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^doris_hub_leader 1$/m, 'the first hub still leads');
    } finally {
      const stopped = await second.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stdout.slice(-2000));
    }
  });

  it('refuses plain HTTP beyond loopback unless --insecure-http', async () => {
    const result = await doris(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `0.0.0.0:${await freePort()}`]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--tls-secret NAME, or --insecure-http/);
  });
});
