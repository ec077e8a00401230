/**
 * The rollout driver against the real API server, under the identity the hub runs as (a
 * kubeconfig from the `doris-hub` ServiceAccount's token, RBAC of src/hub/install.ts): the
 * real Fleet and Device caches (watches), Fleet.status.rollout and Device.status.stage
 * written, Events on the Fleet, commands through the real `doris fleet` CLI.
 *
 * The agents are simulated: each asks the driver for its target (what the hub would serve)
 * and writes the report an agent would (as admin: the report route is the hub API's, proven
 * in hub_server_test.ts). No upstream poller runs: the test writes `status.revision` as the
 * upstream poller would (set-up, not what is asserted).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { type Device, type Fleet, hubApiVersion, type Revision } from '../../src/api/hub.js';
import { DeviceRegistry } from '../../src/hub/devices.js';
import { FleetCache } from '../../src/hub/fleets.js';
import { hubAccountName, hubCrdRoleName, hubRbacObjects } from '../../src/hub/install.js';
import { RolloutDriver } from '../../src/hub/rollout/driver.js';
import type { RolloutStatus } from '../../src/hub/rollout/engine.js';
import { connectKube, type HttpKubeClient } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { createLogger } from '../../src/log.js';
import { EventRecorder } from '../../src/status/events.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris } from '../env/doris.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
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
let driver: RolloutDriver;
const registry = new Registry();
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const ns = `hub-h7-${run}`;
const hubUser = serviceAccountUser(ns, hubAccountName);
const fleetName = 'solar';
const soakMs = 4000;
const log = createLogger({ level: 'warn' });

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16).slice(0, 16)}`,
  commit: String(n).repeat(40).slice(0, 40),
  bundle: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  bundleSize: 100,
  images: [],
  createdAt: new Date().toISOString(),
});
const [A, B, C, D] = [1, 2, 3, 4].map(revision) as [Revision, Revision, Revision, Revision];
/** Revisions the simulated agents fail on (their Deployment never becomes ready). */
const bad = new Set<string>();
const names = ['canary-1', 'edge-1', 'edge-2', 'edge-3', 'edge-4'];

const fleetPath = `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/fleets/${fleetName}`;

async function readFleet(): Promise<Fleet> {
  return (await api.request<Fleet>('GET', fleetPath)).body;
}

async function rollout(): Promise<RolloutStatus | undefined> {
  return (await readFleet()).status?.rollout as RolloutStatus | undefined;
}

/** What the upstream poller writes: the newest revision first, then the ones kept. */
async function publish(newest: Revision, kept: Revision[]): Promise<void> {
  await api.request('PATCH', `${fleetPath}/status`, {
    body: { status: { revision: newest, revisions: [newest, ...kept] } },
    contentType: 'application/merge-patch+json',
  });
}

/** Every simulated agent syncs the target the hub would serve it and reports (only when that changes its report). */
async function agentsSync(): Promise<void> {
  for (const name of names) {
    const device = devices.get(name);
    if (!device) continue;
    const target = driver.targetFor(fleetName, device);
    if (!target) continue;
    const ready = bad.has(target.id) ? 'False' : 'True';
    const current = device.status?.report;
    if (current?.revision === target.id && current.ready === ready) continue;
    await reportAsAgent(api, `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/${name}`, target, ready);
  }
}

/** Runs the agents (unless `agents` is false: they are away) until `check` holds of the rollout, and returns it. */
async function until(what: string, check: (r: RolloutStatus) => boolean, agents = true): Promise<RolloutStatus> {
  let last: RolloutStatus | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        if (agents) await agentsSync();
        last = await rollout();
        return last && check(last) ? last : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 150 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the rollout was ${JSON.stringify(last)}`);
  }
}

const targetOf = (name: string) => driver.targetFor(fleetName, devices.get(name) as Device)?.id;

/** What every device is told, once this replica's Fleet cache has caught up with what was just read from the API server. */
async function targetsBecome(expected: string[]): Promise<void> {
  await waitFor(`the targets to be ${expected.join(', ')}`, () => names.map(targetOf).join() === expected.join() || undefined, {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
}

async function fleetEvents(): Promise<Array<{ reason: string; type: string; message: string }>> {
  const { body } = await api.request<{ items: Array<{ reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }> }>(
    'GET',
    `/api/v1/namespaces/${ns}/events`,
  );
  return body.items.filter((e) => e.involvedObject.kind === 'Fleet' && e.involvedObject.name === fleetName);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  admin = await connectKube(env.KUBECONFIG);
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  for (const object of hubRbacObjects(ns)) await admin.apply(object, { manager: 'e2e-tests' });
  kubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
  client = await connectKube(kubeconfig);

  await admin.apply(
    {
      apiVersion: hubApiVersion,
      kind: 'Fleet',
      metadata: { name: fleetName, namespace: ns },
      spec: {
        // Nothing listens on port 9; no upstream poller runs in this test anyway.
        git: { url: 'http://127.0.0.1:9/nothing.git', interval: '1h' },
        rollout: { autoRollback: true, stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, minReady: 1, soak: `${soakMs}ms` }] },
      },
    },
    { manager: 'e2e-tests' },
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
  driver = new RolloutDriver(
    { client, namespace: ns, log, fleets, devices, events: new EventRecorder(client, log, 'doris-hub'), registry },
    { debounceMs: 50, resyncMs: 1000 },
  );
  fleets.start();
  devices.start();
  driver.start();
  driver.setLeading(true);
  await waitFor('the caches to sync', () => (fleets.hasSynced && devices.hasSynced) || undefined);
});

after(async () => {
  await driver?.stop();
  await Promise.all([fleets?.stop(), devices?.stop()]);
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  client?.close();
  admin?.close();
  api?.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
});

describe('the rollout driver under the hub ServiceAccount', () => {
  it('takes the first revision as rolled out and writes each device its stage', async () => {
    const r = await until('the first revision to be complete', (x) => x.state === 'Complete' && x.revision === A.id);
    assert.equal(r.lastGood, A.id);
    await waitFor(
      'every Device to have its stage',
      () => names.every((n) => devices.get(n)?.status?.stage === (n.startsWith('canary') ? 'canary' : '(rest)')) || undefined,
    );
    assert.deepEqual(
      names.map(targetOf),
      names.map(() => A.id),
    );
  });

  it('gives a new revision to the canary first, to the rest only once the canary is ready and has soaked', async () => {
    await publish(B, [A]);
    const started = await until('the canary to get B', (x) => x.revision === B.id && x.state === 'Progressing');
    assert.equal(started.stage, 'canary');
    await targetsBecome([B.id, A.id, A.id, A.id, A.id]);
    const done = await until('B to be complete', (x) => x.state === 'Complete' && x.revision === B.id);
    const [canary, rest] = done.stages;
    assert.ok(canary?.readyAt && rest?.startedAt);
    const waited = Date.parse(rest.startedAt) - Date.parse(canary.readyAt);
    assert.ok(waited >= soakMs, `the rest started ${waited} ms after the canary was ready (soak ${soakMs} ms)`);
    assert.deepEqual(
      done.stages.map((s) => [s.name, s.devices, s.updated, s.ready, s.failed, s.offline]),
      [
        ['canary', 1, 1, 1, 0, 0],
        ['(rest)', 4, 4, 4, 0, 0],
      ],
    );
    const reasons = (await fleetEvents()).map((e) => e.reason);
    for (const reason of ['RolloutStarted', 'StageStarted', 'StageReady', 'StageCompleted', 'RolloutCompleted'])
      assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);
    const metrics = await registry.metrics();
    assert.match(metrics, /doris_hub_rollout_stage_devices\{fleet="solar",stage="\(rest\)",count="ready"\} 4/);
    assert.match(metrics, /doris_hub_rollout_state\{fleet="solar",state="Complete"\} 1/);
  });

  it('does not write the Fleet when a device change changes nothing', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const before = (await readFleet()).metadata.resourceVersion;
    const stamp = new Date(Date.now() + 1000).toISOString();
    await api.request('PATCH', `/apis/hub.doris.dev/v1alpha1/namespaces/${ns}/devices/edge-1/status`, {
      body: { status: { lastSeen: stamp } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('the driver to see the change', () => devices.get('edge-1')?.status?.lastSeen === stamp || undefined);
    await driver.flush();
    assert.equal((await readFleet()).metadata.resourceVersion, before);
    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), hubUser).filter((e) => e.objectRef?.resource === 'fleets');
    assert.deepEqual(writes, []);
  });

  it('halts a bad revision at the canary and rolls the canary back; the rest never get it', async () => {
    bad.add(C.id);
    await publish(C, [B, A]);
    const halted = await until('the rollout of C to halt', (x) => x.revision === C.id && x.state === 'Halted');
    assert.equal(halted.stage, 'canary');
    assert.equal(halted.lastGood, B.id);
    await until('the canary to be rolled back', (x) => x.rolledBack === true);
    await targetsBecome([B.id, B.id, B.id, B.id, B.id]);
    const events = await fleetEvents();
    const halt = events.find((e) => e.reason === 'RolloutHalted');
    assert.equal(halt?.type, 'Warning');
    assert.match(halt?.message ?? '', /stage canary: 1 of 1 online device\(s\) failed on r-3{16}/);
    assert.ok(events.some((e) => e.reason === 'RolledBack'));
  });

  it('pauses, aborts and resumes through doris fleet, each command acted on once', async () => {
    await publish(D, [C, B, A]);
    // The agents stay away until resumed: the rollout waits at the canary, whatever the timing.
    await until('the canary to get D', (x) => x.revision === D.id && x.state === 'Progressing' && x.stage === 'canary', false);
    const paused = await doris(env, ['--namespace', ns, 'fleet', 'pause', fleetName]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /pause requested/);
    const p = await until('the rollout to pause', (x) => x.state === 'Paused', false);
    assert.match(p.lastCommand ?? '', /^pause@/);

    const aborted = await doris(env, ['--namespace', ns, 'fleet', 'abort', fleetName]);
    assert.equal(aborted.code, 0, aborted.stderr);
    const a = await until('the rollout to be aborted', (x) => x.state === 'Halted' && x.aborted === true, false);
    assert.match(a.lastCommand ?? '', /^abort@/);
    await targetsBecome([B.id, B.id, B.id, B.id, B.id]);

    const resumed = await doris(env, ['--namespace', ns, '--output', 'json', 'fleet', 'resume', fleetName]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as { state: string }).state, 'Halted');
    const done = await until('D to be complete after resume', (x) => x.state === 'Complete' && x.revision === D.id);
    assert.match(done.lastCommand ?? '', /^resume@/);
    const reasons = (await fleetEvents()).map((e) => e.reason);
    for (const reason of ['RolloutPaused', 'RolloutAborted', 'RolloutResumed']) assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);

    const status = await doris(env, ['--namespace', ns, 'fleet', 'status', fleetName]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /rollout: {3}Complete/);
    assert.match(status.stdout, /stage canary: 1 devices, 1 updated, 1 ready, 0 failed, 0 offline; runs r-4{16}/);
  });

  it('refuses a command for a Fleet that does not exist (exit 3)', async () => {
    const result = await doris(env, ['--namespace', ns, 'fleet', 'promote', 'nope']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /no Fleet/);
  });
});
