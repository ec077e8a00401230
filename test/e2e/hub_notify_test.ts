/**
 * Fleet rollout notifications against the real API server, under the identity the hub runs as
 * (a kubeconfig from the `doris-hub` ServiceAccount's token): the real Fleet and Device caches,
 * the rollout driver with its FleetNotifier, the receivers' Secrets read from the hub
 * namespace. Receivers are HTTP servers this test runs on 127.0.0.1: a generic one (body and
 * HMAC signature checked), a GitHub statuses API (`POST /api/v3/repos/{owner}/{repo}/statuses/{sha}`,
 * answering 201 as GitHub does), and one that is down (nothing listens), which must neither
 * block nor fail the rollout.
 *
 * Agents are simulated as in hub_rollout_driver_test.ts: each runs the target the driver
 * gives it and writes the report an agent would; the test writes `status.revision` as the
 * upstream poller would (set-up, not what is asserted).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { type Device, type Fleet, hubApiVersion, type Revision } from '../../src/api/hub.js';
import { ensureHubCrds } from '../../src/hub/crds.js';
import { DeviceRegistry } from '../../src/hub/devices.js';
import { FleetCache } from '../../src/hub/fleets.js';
import { hubAccountName, hubCrdRoleName, hubRbacObjects } from '../../src/hub/install.js';
import { RolloutDriver } from '../../src/hub/rollout/driver.js';
import type { RolloutStatus } from '../../src/hub/rollout/engine.js';
import { rolloutTarget } from '../../src/hub/rollout/targets.js';
import { FleetNotifier, noticeKey } from '../../src/hub/rollout/notify.js';
import { connectKube, type HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { createLogger } from '../../src/log.js';
import { Notifier } from '../../src/notify/dispatcher.js';
import { verify } from '../../src/notify/sign.js';
import { EventRecorder } from '../../src/status/events.js';
import { type RunningController, startServer } from '../env/doris.js';
import { serviceAccountKubeconfig } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { reportAsAgent } from '../env/hub.js';
import { kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let admin: HttpKubeClient;
let client: HttpKubeClient;
let kubeconfig: string;
let fleets: FleetCache;
let devices: DeviceRegistry;
let notifier: Notifier;
let driver: RolloutDriver;
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const ns = `hub-notify-${run}`;
const fleetName = 'solar';
const signingKey = `sign-${run}-4c3b2a`;
const githubToken = `ghp_${run.replace(/-/g, '')}0123456789abcdef`;
const log = createLogger({ level: 'warn' });

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16).slice(0, 16)}`,
  commit: String(n).repeat(40).slice(0, 40),
  bundle: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  bundleSize: 100,
  images: [{ rule: 'app', repository: 'registry.test/app', tag: 'main', digest: `sha256:${String(n + 5).repeat(64)}` }],
  createdAt: new Date().toISOString(),
});
const [A, B, C] = [1, 2, 3].map(revision) as [Revision, Revision, Revision];
const bad = new Set<string>();
const names = ['canary-1', 'canary-2', 'edge-1', 'edge-2'];
const fleetPath = `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleetName}`;

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(answer: (request: Received) => { status: number; body?: string } = () => ({ status: 200 })) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(request);
      const { status, body } = answer(request);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

type Receiver = Awaited<ReturnType<typeof receiver>>;
let generic: Receiver;
let github: Receiver;

/** The GitHub statuses API as GitHub shapes it: 201 with the status; 401, 404, 422 otherwise. */
function githubAnswer(request: Received): { status: number; body?: string } {
  if (request.method !== 'POST' || !/^\/api\/v3\/repos\/acme\/fleet\/statuses\/[0-9a-f]{40}$/.test(request.path)) return { status: 404 };
  if (request.headers.authorization !== `Bearer ${githubToken}`) return { status: 401 };
  const body = JSON.parse(request.body) as Record<string, unknown>;
  if (!['success', 'failure', 'error', 'pending'].includes(body.state as string) || typeof body.context !== 'string') return { status: 422 };
  if (typeof body.description !== 'string' || body.description.length > 140) return { status: 422 };
  return { status: 201, body: JSON.stringify({ id: 1, ...body }) };
}

async function rollout(): Promise<RolloutStatus | undefined> {
  return (await api.request<Fleet>('GET', fleetPath)).body.status?.rollout as RolloutStatus | undefined;
}

async function publish(newest: Revision, kept: Revision[]): Promise<void> {
  await api.request('PATCH', `${fleetPath}/status`, {
    body: { status: { revision: newest, revisions: [newest, ...kept] } },
    contentType: 'application/merge-patch+json',
  });
}

async function agentsSync(): Promise<void> {
  for (const name of names) {
    const device = devices.get(name);
    if (!device) continue;
    const target = driver.targetFor(fleetName, device);
    if (!target) continue;
    const ready = bad.has(target.id) ? 'False' : 'True';
    const current = device.status?.report;
    if (current?.revision === target.id && current.ready === ready) continue;
    await reportAsAgent(
      api,
      `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/${name}`,
      target,
      ready,
      `Deployment/app on ${name}: 0 of 1 replicas available`,
    );
  }
}

async function until(what: string, check: (r: RolloutStatus) => boolean): Promise<RolloutStatus> {
  let last: RolloutStatus | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        await agentsSync();
        last = await rollout();
        return last && check(last) ? last : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 150 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the rollout was ${JSON.stringify(last)}`);
  }
}

const bodies = () => generic.received.map((r) => JSON.parse(r.body) as Record<string, unknown> & { fleet: Record<string, unknown> });
const kinds = () => bodies().map((b) => `${b.kind}:${(b.fleet.revision as { id: string }).id}`);

async function received(what: string, r: Receiver, count: number): Promise<void> {
  await waitFor(`${what} (${count} received)`, () => r.received.length >= count || undefined, { timeoutMs: 30_000, intervalMs: 50 });
}

function startDriver(): RolloutDriver {
  const d = new RolloutDriver(
    {
      client,
      namespace: ns,
      log,
      fleets,
      devices,
      events: new EventRecorder(client, log, 'doris-hub'),
      registry: new Registry(),
      notices: new FleetNotifier(notifier, client, ns, log),
    },
    { debounceMs: 50, resyncMs: 500 },
  );
  d.start();
  d.setLeading(true);
  return d;
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  admin = await connectKube(env.KUBECONFIG);
  // The CRDs as this tree has them (spec.notify), as doris hub applies them at start.
  await ensureHubCrds(admin);
  generic = await receiver();
  github = await receiver(githubAnswer);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  for (const object of hubRbacObjects(ns)) await admin.apply(object, { manager: 'e2e-tests' });
  kubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
  client = await connectKube(kubeconfig);
  await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { secret: signingKey } },
  });
  await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'github' }, stringData: { token: githubToken } },
  });

  const fleetObject = {
    apiVersion: hubApiVersion,
    kind: 'Fleet',
    metadata: { name: fleetName, namespace: ns },
    spec: {
      git: { url: 'http://127.0.0.1:9/nothing.git', interval: '1h' },
      rollout: { autoRollback: true, stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1 }] },
      notify: [
        { type: 'generic', url: `${generic.url}/doris`, secretRef: { name: 'hook' } },
        { type: 'github', url: 'https://github.com/acme/fleet', apiUrl: `${github.url}/api/v3`, secretRef: { name: 'github' } },
        // Down: nothing listens on port 9. It must hold up nothing.
        { type: 'generic', url: 'http://127.0.0.1:9/down', secretRef: { name: 'hook' } },
      ],
    },
  };
  // An updated CRD schema reaches the API server's handlers a moment after it is Established.
  await waitFor('the Fleet with spec.notify to be accepted', () =>
    admin.apply(fleetObject, { manager: 'e2e-tests' }).then(
      () => true,
      (error: Error) => (/field not declared in schema/.test(error.message) ? undefined : Promise.reject(error)),
    ),
  );
  await publish(A, []);
  const now = new Date().toISOString();
  for (const name of names) {
    const labels = { 'hub.doris.dev/fleet': fleetName, ...(name.startsWith('canary') ? { ring: 'canary' } : {}) };
    await admin.create({
      apiVersion: hubApiVersion,
      kind: 'Device',
      metadata: { name, namespace: ns, labels },
      spec: { fleet: fleetName, tokenHash: `sha256:${'0'.repeat(64)}` },
    });
    await api.request('PATCH', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/${name}/status`, {
      body: { status: { lastSeen: now } },
      contentType: 'application/merge-patch+json',
    });
  }

  fleets = new FleetCache(client, ns, log);
  devices = new DeviceRegistry(client, ns, log);
  notifier = new Notifier(client, log, { namespace: ns, cluster: 'hub', retry: { attempts: 3, firstDelayMs: 200, maxDelayMs: 1000, timeoutMs: 5000 } });
  fleets.start();
  devices.start();
  driver = startDriver();
  await waitFor('the caches to sync', () => (fleets.hasSynced && devices.hasSynced) || undefined);
});

after(async () => {
  await driver?.stop();
  notifier?.stop();
  await Promise.all([fleets?.stop(), devices?.stop()]);
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  await Promise.all([generic?.close(), github?.close()]);
  client?.close();
  admin?.close();
  api?.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
});

describe('Fleet rollout notifications from the hub leader', () => {
  it('says nothing of the first revision, and tells a completed rollout once: a signed body and a green commit status', async () => {
    await until('A to be complete', (x) => x.state === 'Complete' && x.revision === A.id);
    await publish(B, [A]);
    await until('B to be complete', (x) => x.state === 'Complete' && x.revision === B.id);
    await received('the completion', generic, 1);
    await received('the success status', github, 1);
    assert.deepEqual(kinds(), [`RolloutCompleted:${B.id}`]);
    const [request] = generic.received as [Received];
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/doris');
    assert.equal(request.headers['x-doris-event'], 'RolloutCompleted');
    assert.ok(verify(request.body, signingKey, request.headers['x-doris-signature'] as string), 'the signature checks with the shared key');
    const body = bodies()[0] as Record<string, unknown> & { fleet: Record<string, unknown> };
    assert.equal(body.commit, B.commit);
    assert.deepEqual(body.fleet.revision, {
      id: B.id,
      commit: B.commit,
      bundle: B.bundle,
      images: [{ repository: 'registry.test/app', tag: 'main', digest: B.images[0]?.digest }],
    });
    const status = github.received[0] as Received;
    assert.equal(status.path, `/api/v3/repos/acme/fleet/statuses/${B.commit}`);
    assert.equal(status.headers.authorization, `Bearer ${githubToken}`);
    assert.deepEqual(
      { ...(JSON.parse(status.body) as Record<string, unknown>), description: 'x' },
      { state: 'success', context: `doris/hub/${fleetName}`, description: 'x' },
    );
  });

  it('tells a halt with the failing stage, its counts and the failing devices (signed), then the rollback; a red commit status', async () => {
    bad.add(C.id);
    await publish(C, [B, A]);
    await until('C to halt and roll back', (x) => x.revision === C.id && x.state === 'Halted' && x.rolledBack === true);
    await received('the halt and the rollback', generic, 3);
    await received('the failure status', github, 2);
    assert.deepEqual(kinds(), [`RolloutCompleted:${B.id}`, `RolloutHalted:${C.id}`, `RolledBack:${C.id}`]);
    const request = generic.received[1] as Received;
    assert.equal(request.headers['x-doris-event'], 'RolloutHalted');
    assert.ok(verify(request.body, signingKey, request.headers['x-doris-signature'] as string), 'the signature checks with the shared key');
    assert.ok(!verify(request.body, 'another key', request.headers['x-doris-signature'] as string));
    const halt = JSON.parse(request.body) as { commit: string; reason: string; message: string; cluster: string; fleet: Record<string, unknown> };
    assert.equal(halt.commit, C.commit);
    assert.equal(halt.cluster, 'hub');
    assert.equal(halt.reason, 'RolloutHalted');
    assert.match(halt.message, /stage canary: 2 of 2 online device\(s\) failed on r-3{16}/);
    assert.equal(halt.fleet.name, fleetName);
    assert.equal(halt.fleet.namespace, ns);
    assert.equal(halt.fleet.stage, 'canary');
    assert.equal(halt.fleet.lastGood, B.id);
    assert.deepEqual(halt.fleet.counts, { devices: 2, updated: 2, ready: 0, failed: 2, offline: 0 });
    assert.deepEqual(halt.fleet.failures, [
      { device: 'canary-1', reason: 'HealthCheckFailed', message: 'Deployment/app on canary-1: 0 of 1 replicas available' },
      { device: 'canary-2', reason: 'HealthCheckFailed', message: 'Deployment/app on canary-2: 0 of 1 replicas available' },
    ]);
    const status = github.received[1] as Received;
    assert.equal(status.path, `/api/v3/repos/acme/fleet/statuses/${C.commit}`);
    const sent = JSON.parse(status.body) as { state: string; context: string; description: string };
    assert.equal(sent.state, 'failure');
    assert.equal(sent.context, `doris/hub/${fleetName}`);
    assert.ok(sent.description.length <= 140);
    // What was sent is recorded with the transition, for the next leader.
    const stored = (await rollout()) as RolloutStatus & { notified?: string[] };
    assert.deepEqual(stored.notified, [noticeKey(C.id, 'RolloutHalted', 'canary'), noticeKey(C.id, 'RolledBack', 'canary')]);
  });

  it('sends the same transition once: across resyncs and a change of leader', async () => {
    const before = generic.received.length;
    await driver.stop();
    driver.setLeading(false);
    driver = startDriver();
    // The rolled-back canary reports the last good revision again: the new leader steps and
    // writes the counts (no device left on C), which proves it stepped the halted rollout.
    const stepped = await until("the new leader to write the halted rollout's counts", (x) => x.state === 'Halted' && x.stages[0]?.updated === 0);
    assert.equal(stepped.revision, C.id);
    await driver.flush();
    await notifier.flush(10_000);
    assert.equal(generic.received.length, before, `nothing more sent: ${kinds().slice(before)}`);
    assert.equal(github.received.length, 2);
  });

  it('never holds up the rollout for a receiver that is down, and leaks no secret into status or Events', async () => {
    bad.clear();
    const good = revision(4);
    await publish(good, [C, B, A]);
    await until('the next revision to be complete despite the dead receiver', (x) => x.state === 'Complete' && x.revision === good.id);
    await received('its completion', generic, 4);
    assert.equal(kinds()[3], `RolloutCompleted:${good.id}`);
    const fleet = JSON.stringify((await api.request<Fleet>('GET', fleetPath)).body);
    const events = JSON.stringify((await api.request('GET', `/api/v1/namespaces/${ns}/events`)).body);
    for (const text of [fleet, events]) {
      assert.ok(!text.includes(signingKey));
      assert.ok(!text.includes(githubToken));
    }
  });
});

describe('a real doris hub (its leader) notifies a Fleet halt', () => {
  const hubNs = `${ns}-hub`;
  const hubRun = { hub: undefined as RunningController | undefined, kubeconfig: '' };
  const path = `/apis/hub.doris.dev/v1alpha1/namespaces/${hubNs}/fleets/${fleetName}`;
  const devicesPath = `/apis/hub.doris.dev/v1alpha1/namespaces/${hubNs}/devices`;
  const hubDevices = ['canary-1', 'edge-1'];
  let hook: Receiver;

  async function fleet(): Promise<Fleet> {
    return (await api.request<Fleet>('GET', path)).body;
  }

  /** Each simulated agent runs the target every replica would answer (read from the Fleet as the leader wrote it). */
  async function agents(failOn: string): Promise<void> {
    const f = await fleet();
    for (const name of hubDevices) {
      const device = (await api.request<Device>('GET', `${devicesPath}/${name}`)).body;
      const target = rolloutTarget(f, device);
      if (!target) continue;
      const ready = target.id === failOn ? 'False' : 'True';
      if (device.status?.report?.revision === target.id && device.status.report.ready === ready) continue;
      await reportAsAgent(api, `${devicesPath}/${name}`, target, ready);
    }
  }

  before(async () => {
    hook = await receiver();
    await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: hubNs } } });
    for (const object of hubRbacObjects(hubNs)) await admin.apply(object, { manager: 'e2e-tests' });
    hubRun.kubeconfig = await serviceAccountKubeconfig(env, api, hubNs, hubAccountName);
    await api.request('POST', `/api/v1/namespaces/${hubNs}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { secret: signingKey } },
    });
    await admin.apply(
      {
        apiVersion: hubApiVersion,
        kind: 'Fleet',
        metadata: { name: fleetName, namespace: hubNs },
        spec: {
          // Nothing listens on port 9: the hub's upstream poll fails; the test writes the revisions instead.
          git: { url: 'http://127.0.0.1:9/nothing.git', interval: '1h' },
          rollout: { stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1 }] },
          notify: [{ type: 'generic', url: `${hook.url}/hub`, secretRef: { name: 'hook' } }],
        },
      },
      { manager: 'e2e-tests' },
    );
    await api.request('PATCH', `${path}/status`, { body: { status: { revision: A, revisions: [A] } }, contentType: 'application/merge-patch+json' });
    const now = new Date().toISOString();
    for (const name of hubDevices) {
      await admin.create({
        apiVersion: hubApiVersion,
        kind: 'Device',
        metadata: { name, namespace: hubNs, labels: { 'hub.doris.dev/fleet': fleetName, ...(name.startsWith('canary') ? { ring: 'canary' } : {}) } },
        spec: { fleet: fleetName, tokenHash: `sha256:${'0'.repeat(64)}` },
      });
      await api.request('PATCH', `${devicesPath}/${name}/status`, { body: { status: { lastSeen: now } }, contentType: 'application/merge-patch+json' });
    }
    const port = await freePort();
    hubRun.hub = startServer(env, ['--kubeconfig', hubRun.kubeconfig, '--namespace', hubNs, 'hub', '--listen', `127.0.0.1:${port}`], {
      kubeconfig: hubRun.kubeconfig,
      port,
    });
    const hub = hubRun.hub;
    await waitFor('the hub to be ready', async () => (await fetch(`${hub.url}/readyz`).catch(() => undefined))?.ok || undefined, { timeoutMs: 60_000 });
  });

  after(async () => {
    const stopped = await hubRun.hub?.stop('SIGTERM');
    await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(hubNs)}`, { accept: [404] });
    await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(hubNs)}`, { accept: [404] });
    await api.request('DELETE', `/api/v1/namespaces/${hubNs}`, { accept: [404] });
    await hook?.close();
    if (hubRun.kubeconfig) rmSync(hubRun.kubeconfig, { force: true });
    if (stopped) assert.equal(stopped.code, 0, `the hub exits 0 on SIGTERM:\n${stopped.stdout.slice(-2000)}`);
  });

  it('sends RolloutHalted, signed, naming the Fleet, the revision and the failing canary', async () => {
    await waitFor(
      'A to be taken as rolled out',
      async () => ((await fleet()).status?.rollout as RolloutStatus | undefined)?.state === 'Complete' || undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    await api.request('PATCH', `${path}/status`, { body: { status: { revision: B, revisions: [B, A] } }, contentType: 'application/merge-patch+json' });
    await waitFor(
      'the hub to halt B and tell the receiver',
      async () => {
        await agents(B.id);
        return hook.received.length > 0 || undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const request = hook.received[0] as Received;
    assert.ok(verify(request.body, signingKey, request.headers['x-doris-signature'] as string), 'the signature checks with the shared key');
    const body = JSON.parse(request.body) as {
      kind: string;
      commit: string;
      fleet: { name: string; namespace: string; stage: string; failures: Array<{ device: string }> };
    };
    assert.equal(body.kind, 'RolloutHalted');
    assert.equal(body.commit, B.commit);
    assert.deepEqual([body.fleet.namespace, body.fleet.name, body.fleet.stage], [hubNs, fleetName, 'canary']);
    assert.deepEqual(
      body.fleet.failures.map((f) => f.device),
      ['canary-1'],
    );
    assert.equal(((await fleet()).status?.rollout as RolloutStatus | undefined)?.state, 'Halted');
  });
});
