/**
 * `doris hub`'s serving side against the real API server, under the identity the hub runs as
 * (a kubeconfig from the `doris-hub` ServiceAccount's token, with the RBAC of
 * src/hub/install.ts): it installs its CRDs, enrollment spends tokens (used up, expired
 * refused), a device token reads only its fleet's target and bundles and writes only its own
 * report, deleting the Device revokes it (also on a poll it holds), `kubectl get devices`
 * shows the report, and an unchanged report or a poll writes nothing (the audit log says so).
 * Presence is written only on change: idle long-polls write no Device, a device gone is written
 * disconnected once after the grace, reconnecting is one write, and the leader writes the
 * devices of a replica that died. A follower replica forwards a webhook to the leader through
 * a Fleet annotation, and the leader publishes the pushed commit.
 *
 * Fleets f-a and f-b follow a git URL nothing answers, so no upstream poll makes a revision: the
 * test writes `status.revision` and the bundle as admin (set-up, not what is asserted); f-git
 * follows a real repository of the git server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Device, type Fleet, fleetLabel, offlineAfterMs } from '../../src/api/hub.js';
import { storedDeviceState } from '../../src/hub/devices.js';
import { githubSignature } from '../../src/server/github.js';
import { hubAccountName, hubCrdRoleName, hubRbacObjects } from '../../src/hub/install.js';
import { connectKube, type HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris, startServer, type RunningController } from '../env/doris.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { execFileP, waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

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
/** Revision ids as the hub issues them (a device may report no other). */
const revA = 'r-00000000000000a1';
const revB = 'r-00000000000000b1';
const githubSecret = `gh-${run}-not-a-real-secret`;
/** Presence grace of the hubs under test: long enough that a busy machine's gap between two requests never exceeds it. */
const graceS = 20;

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
  revision: revA,
  ...over,
});

async function device(name: string): Promise<Device> {
  return (await api.request<Device>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/${name}`)).body;
}

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
  hub = startServer(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `127.0.0.1:${port}`, '--disconnect-grace', `${graceS}s`], {
    kubeconfig,
    port,
    extraEnv: { DORIS_GITHUB_SECRET: githubSecret },
  });
  await waitFor('the hub to be ready', async () => (await fetch(`${hub.url}/readyz`).catch(() => undefined))?.ok || undefined, { timeoutMs: 60_000 });
  // The hub applied its CRDs itself, as its ServiceAccount (get/create/patch by name only).
  const crdWrites = writesBy(readAuditSince(env.AUDIT_LOG, mark), hubUser).filter((e) => e.objectRef?.resource === 'customresourcedefinitions');
  assert.deepEqual([...new Set(crdWrites.map((e) => e.objectRef?.name))].sort(), ['devices.hub.doris.dev', 'fleets.hub.doris.dev']);
  for (const name of ['f-a', 'f-b']) await admin.apply(fleetObject(name), { manager: 'e2e-tests' });
  await setRevision('f-a', revA, commitA, bundleA);
  await setRevision('f-b', revB, 'b'.repeat(40), bundleB);
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
    assert.equal(target.headers.get('etag'), `"${revA}"`);
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
      return (body.status?.report?.ready === 'True' && body.status.servedRevision === revA) || undefined;
    });
    const mark = auditMark(env.AUDIT_LOG);
    for (let i = 0; i < 5; i++) {
      assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/dev-6/report', { token, body: report() })).status, 204);
      assert.equal((await hubCall('GET', '/v1/fleets/f-a/target', { token, headers: { 'if-none-match': `"${revA}"` } })).status, 304);
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
    assert.deepEqual(lines[0]!.split(/\s+/), ['NAME', 'FLEET', 'READY', 'COMMIT', 'STAGE', 'CONNECTED', 'LAST-SEEN', 'AGE']);
    const row = lines.find((l) => l.startsWith('dev-6 '))!.split(/\s+/);
    assert.deepEqual(row.slice(0, 4), ['dev-6', 'f-a', 'True', commitA]);
    const fleets = (await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, '-n', ns, 'get', 'fleets'])).stdout.trim().split('\n');
    assert.deepEqual(fleets[0]!.split(/\s+/), ['NAME', 'REVISION', 'COMMIT', 'READY', 'STATE', 'AGE']);
    assert.deepEqual(
      fleets
        .find((l) => l.startsWith('f-a '))!
        .split(/\s+/)
        .slice(0, 3),
      ['f-a', revA, commitA],
    );

    const devices = await doris(env, ['--namespace', ns, '--output', 'json', 'fleet', 'devices', 'f-a', '-l', 'hub.doris.dev/fleet=f-a']);
    assert.equal(devices.code, 0, devices.stderr);
    const dev6 = (JSON.parse(devices.stdout) as Array<{ name: string; ready: string; commit: string; state: string }>).find((d) => d.name === 'dev-6');
    assert.deepEqual({ ready: dev6?.ready, commit: dev6?.commit, state: dev6?.state }, { ready: 'True', commit: commitA, state: 'ready' });
    const status = await doris(env, ['--namespace', ns, 'fleet', 'status', 'f-a']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`revision: {2}${revA} commit a{12}`));
    assert.match(status.stdout, /devices: {3}\d+ \(\d+ ready/);
    const missing = await doris(env, ['--namespace', ns, 'fleet', 'status', 'no-such-fleet']);
    assert.equal(missing.code, 3, missing.stderr);
  });

  it('presence: idle long-polls write no Device; a device gone is written disconnected once, after the grace; reconnecting is one write', async () => {
    const names = ['idle-1', 'idle-2', 'idle-3', 'idle-4'];
    const tokens = new Map<string, string>();
    for (const name of names) tokens.set(name, await enrolled('f-a', name));
    const poll = (name: string, wait: number) =>
      hubCall('GET', `/v1/fleets/f-a/target?wait=${wait}`, { token: tokens.get(name), headers: { 'if-none-match': `"${revA}"` } });
    for (const name of names) assert.equal((await poll(name, 0)).status, 304);
    await waitFor('all connected (one write each)', async () => {
      const all = await Promise.all(names.map((n) => device(n)));
      return all.every((d) => d.status?.connected === true && d.status.servedRevision === revA) || undefined;
    });
    const idleMark = auditMark(env.AUDIT_LOG);
    const idleStart = Date.now();
    // Longer than the grace: every device holds a long-poll all that time, and re-polls as an agent does.
    while (Date.now() - idleStart < (graceS + 8) * 1000) {
      const answers = await Promise.all(names.map((n) => poll(n, 7)));
      for (const a of answers) assert.equal(a.status, 304, a.text);
    }
    const left = Date.now();
    const flush = await enrolled('f-a', 'idle-flush');
    assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/idle-flush/report', { token: flush, body: report() })).status, 204);
    const idleWrites = await waitFor('the marker report in the audit log', () => {
      const w = deviceWrites(idleMark).filter((x) => x.includes('idle-flush/status'));
      return w.length > 0 ? deviceWrites(idleMark) : undefined;
    });
    // (Devices of the tests before, gone since, are written disconnected meanwhile: that is a change.)
    assert.deepEqual(
      idleWrites.filter((w) => names.some((n) => w.startsWith(`patch ${n}/`))),
      [],
      `${names.length} devices idle for ${Math.round((left - idleStart) / 1000)}s: no Device write`,
    );

    // They go away (the agents stop): one write each once the grace has passed, saying when they were last seen.
    const goneMark = auditMark(env.AUDIT_LOG);
    const gone = await waitFor(
      'the devices written disconnected',
      async () => {
        const all = await Promise.all(names.map((n) => device(n)));
        return all.every((d) => d.status?.connected === false) ? all : undefined;
      },
      { timeoutMs: (graceS + 60) * 1000, intervalMs: 500 },
    );
    const writtenAfter = Date.now() - left;
    assert.ok(writtenAfter >= graceS * 1000, `written ${writtenAfter} ms after they left: not before the grace`);
    for (const d of gone) {
      const lastSeen = Date.parse(d.status!.lastSeen!);
      assert.ok(Math.abs(lastSeen - left) < 5_000, `${d.metadata.name}: lastSeen ${d.status?.lastSeen} is when it was last seen`);
      // The one offline rule, on the stored object: online for 15 minutes after the last contact, offline after.
      assert.notEqual(storedDeviceState(d, lastSeen + offlineAfterMs), 'offline');
      assert.equal(storedDeviceState(d, lastSeen + offlineAfterMs + 1), 'offline');
    }
    // Reconnecting is one write; then the device idles again at no cost.
    assert.equal((await poll('idle-1', 0)).status, 304);
    await waitFor('idle-1 connected again', async () => (await device('idle-1')).status?.connected === true || undefined);
    for (let i = 0; i < 3; i++) assert.equal((await poll('idle-1', 1)).status, 304);
    assert.equal((await hubCall('PUT', '/v1/fleets/f-a/devices/idle-1/report', { token: tokens.get('idle-1'), body: report() })).status, 204);
    const writes = await waitFor('the report in the audit log', () => {
      const w = deviceWrites(goneMark);
      return w.filter((x) => x === 'patch idle-1/status').length >= 3 ? w : undefined;
    });
    assert.deepEqual(
      writes.filter((w) => names.some((n) => w.startsWith(`patch ${n}/`))).sort(),
      ['patch idle-1/status', 'patch idle-1/status', 'patch idle-1/status', 'patch idle-2/status', 'patch idle-3/status', 'patch idle-4/status'],
      'one disconnect each, one reconnect, one changed report',
    );
  });

  it('deleting the Device revokes it at once: its held poll and its next request get 401', async () => {
    const token = await enrolled('f-a', 'dev-7');
    const held = hubCall('GET', '/v1/fleets/f-a/target?wait=120', { token, headers: { 'if-none-match': `"${revA}"` } });
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
      assert.equal((JSON.parse(target.body) as { revision: string }).revision, revA);
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), /^doris_hub_leader 1$/m, 'the first hub still leads');
    } finally {
      const stopped = await second.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stdout.slice(-2000));
    }
  });

  it('a follower forwards a webhook to the leader (Fleet annotation), and the leader writes the devices of a replica that died disconnected', async () => {
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git' }, stringData: { username: env.GIT_USERNAME, token: env.GIT_TOKEN } },
    });
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: ${ns}-apps\ndata:\n  value: "${value}"\n`;
    const repo = await createRepo(env, 'hub-h8', { 'deploy/1-app/10-app.yml': cm('one') });
    await admin.apply(
      {
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Fleet',
        metadata: { name: 'f-git', namespace: ns },
        // An hour: within this test only the first poll and the forwarded webhook can poll.
        spec: { git: { url: repo.url, branch: 'main', path: 'deploy', secretRef: { name: 'git' }, interval: '1h' } },
      },
      { manager: 'e2e-tests' },
    );
    const fleetCommit = async () =>
      (await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/f-git`)).body.status?.revision?.commit;
    await waitFor('the leader to resolve the first commit', async () => (await fleetCommit()) === repo.commit || undefined, { timeoutMs: 60_000 });

    const port = await freePort();
    const identity = `h8-follower-${run}`;
    const follower = startServer(
      env,
      ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `127.0.0.1:${port}`, '--identity', identity, '--disconnect-grace', `${graceS}s`],
      { kubeconfig, port, extraEnv: { DORIS_GITHUB_SECRET: githubSecret } },
    );
    let killedAt = 0;
    try {
      await waitFor('the follower to be ready', async () => (await fetch(`${follower.url}/readyz`).catch(() => undefined))?.ok || undefined, {
        timeoutMs: 60_000,
      });
      assert.match(await (await fetch(`${follower.url}/metrics`)).text(), /^doris_hub_leader 0$/m);
      const second = await pushFiles(env, repo.url, { 'deploy/1-app/10-app.yml': cm('two') });
      const payload = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: repo.url } }));
      const answer = await fetch(`${follower.url}/hooks/github`, {
        method: 'POST',
        headers: { 'x-github-event': 'push', 'x-hub-signature-256': githubSignature(githubSecret, payload) },
        body: payload,
      });
      assert.equal(answer.status, 202, await answer.clone().text());
      assert.deepEqual(await answer.json(), { triggered: ['f-git'], leading: false, via: 'annotation' });
      await waitFor('the leader to publish the pushed commit', async () => (await fleetCommit()) === second || undefined, { timeoutMs: 60_000 });
      const fleet = (await api.request<Fleet>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/f-git`)).body;
      assert.ok(fleet.metadata.annotations?.['hub.doris.dev/poll-requested-at'], 'the request went through the API server');
      assert.equal(fleet.metadata.generation, 1, 'an annotation is not a spec change');

      // A device connected to the follower; the follower dies (SIGKILL: it writes nothing on the way out).
      const token = await enrolled('f-a', 'dev-orphan');
      const poll = await fetch(`${follower.url}/v1/fleets/f-a/target?wait=0`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': `"${revA}"` } });
      assert.equal(poll.status, 304);
      await waitFor('dev-orphan connected to the follower', async () => (await device('dev-orphan')).status?.servedBy === identity || undefined);
      killedAt = Date.now();
      await follower.stop('SIGKILL');
    } finally {
      await follower.stop('SIGKILL');
    }
    const orphan = await waitFor(
      'the leader to write dev-orphan disconnected',
      async () => {
        const d = await device('dev-orphan');
        return d.status?.connected === false ? d : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const lastSeen = Date.parse(orphan.status!.lastSeen!);
    assert.ok(
      lastSeen <= killedAt && lastSeen > killedAt - 15_000,
      `lastSeen ${orphan.status?.lastSeen} is the follower's last heartbeat before ${new Date(killedAt).toISOString()}`,
    );
    assert.equal(storedDeviceState(orphan, lastSeen + offlineAfterMs + 1), 'offline');
  });

  it('refuses plain HTTP beyond loopback unless --insecure-http', async () => {
    const result = await doris(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `0.0.0.0:${await freePort()}`]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--tls-secret NAME, or --insecure-http/);
  });
});
