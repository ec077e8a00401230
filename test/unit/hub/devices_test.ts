import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DeviceReport } from '../../../src/api/hub.js';
import { DeviceRegistry, type DeviceRegistryOptions, defaultDeviceRegistryOptions, storedDeviceState } from '../../../src/hub/devices.js';
import { HubRefusal } from '../../../src/hub/errors.js';
import { createLogger } from '../../../src/log.js';
import { waitFor } from '../../env/proc.js';
import { HubFakeKube } from './hub_fake.js';

const ns = 'hub';
const log = createLogger({ level: 'silent' });
const registries: DeviceRegistry[] = [];

async function registry(kube = new HubFakeKube(), clock = { now: Date.now() }, options: Partial<DeviceRegistryOptions> = {}) {
  const devices = new DeviceRegistry(kube, ns, log, { ...defaultDeviceRegistryOptions(), replica: 'hub-a', now: () => clock.now, ...options });
  registries.push(devices);
  devices.start();
  await waitFor('the device cache to sync', async () => devices.hasSynced || undefined, { timeoutMs: 5000 });
  return { kube, devices, clock };
}

after(async () => {
  for (const r of registries) await r.stop();
});

function refused(fn: () => unknown): HubRefusal {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HubRefusal);
    return error;
  }
  assert.fail('expected a refusal');
}

const report = (over: Partial<DeviceReport> = {}): DeviceReport => ({
  ready: 'True',
  reason: 'Synced',
  message: 'applied',
  agentVersion: '0.1.0',
  commit: 'a'.repeat(40),
  revision: 'r-1',
  images: [],
  counts: { created: 1, configured: 0, unchanged: 3, recreated: 0, pruned: 0 },
  ...over,
});

const statusWrites = (kube: HubFakeKube) => kube.writes.filter((w) => w.endsWith('/status')).length;

/** Makes each status write take a few turns of the event loop, as an API server does; counts the most in flight at once. */
function slowWrites(kube: HubFakeKube): { most: () => number } {
  let inFlight = 0;
  let most = 0;
  const patch = kube.mergePatch.bind(kube);
  kube.mergePatch = async (...args: Parameters<HubFakeKube['mergePatch']>) => {
    inFlight++;
    most = Math.max(most, inFlight);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    try {
      return await patch(...args);
    } finally {
      inFlight--;
    }
  };
  return { most: () => most };
}

describe('device registry', () => {
  it('enrolls a device with its labels, the fleet label and only the hash of its token', async () => {
    const { kube, devices } = await registry();
    const token = await devices.enroll('dev-1', 'f1', { site: 'north' });
    const stored = kube.objects.get(`Device/${ns}/dev-1`) as unknown as { metadata: { labels: Record<string, string> }; spec: Record<string, string> };
    assert.deepEqual(stored.metadata.labels, { site: 'north', 'hub.doris.dev/fleet': 'f1' });
    assert.equal(stored.spec.fleet, 'f1');
    assert.match(stored.spec.tokenHash!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(JSON.stringify(stored).includes(token.split('.')[1]!), false);
    // Right away, before any watch event: the device polls next.
    assert.equal(devices.authenticate(`Bearer ${token}`).metadata.name, 'dev-1');
  });

  it('refuses (401) a missing, malformed, unknown or wrong token', async () => {
    const { devices } = await registry();
    const token = await devices.enroll('dev-1', 'f1', {});
    for (const header of [
      undefined,
      '',
      'Bearer',
      `Basic ${token}`,
      'Bearer nodot',
      `Bearer dev-2.${token.split('.')[1]}`,
      `Bearer ${token}x`,
      `bearer ${token}`,
      `Bearer ${token} `,
    ]) {
      assert.equal(refused(() => devices.authenticate(header)).status, 401, String(header));
    }
  });

  it('refuses (409) a name already enrolled, in another Fleet or its own: the Device keeps its token, Fleet and labels', async () => {
    const { kube, devices } = await registry();
    const token = await devices.enroll('store-42', 'prod', { ring: 'prod' });
    const before = structuredClone(kube.objects.get(`Device/${ns}/store-42`));
    const lab = await devices.enroll('store-42', 'lab', {}).catch((e: unknown) => e);
    assert.ok(lab instanceof HubRefusal);
    assert.equal(lab.status, 409);
    assert.match(lab.message, /store-42 is already enrolled in Fleet prod.*kubectl -n hub delete device store-42/);
    const same = await devices.enroll('store-42', 'prod', { ring: 'other' }).catch((e: unknown) => e);
    assert.ok(same instanceof HubRefusal);
    assert.equal(same.status, 409);
    assert.match(same.message, /already enrolled in Fleet prod: if it was reinstalled and lost its token, an operator deletes it first/);
    assert.deepEqual(kube.objects.get(`Device/${ns}/store-42`), before);
    assert.equal(devices.authenticate(`Bearer ${token}`).spec.fleet, 'prod');
    // Once an operator deleted the Device, the name enrolls again (with a new token).
    await kube.delete({ apiVersion: 'hub.doris.dev/v1alpha1', kind: 'Device', namespace: ns, name: 'store-42' });
    const again = await devices.enroll('store-42', 'lab', {});
    assert.equal(devices.authenticate(`Bearer ${again}`).spec.fleet, 'lab');
  });

  it('answers an unknown device and a wrong token with the same 401: names are not revealed', async () => {
    const { devices } = await registry();
    const token = await devices.enroll('dev-1', 'f1', {});
    const secret = token.slice(token.lastIndexOf('.') + 1);
    const unknown = refused(() => devices.authenticate(`Bearer nobody.${secret}`));
    const wrong = refused(() => devices.authenticate(`Bearer dev-1.${'A'.repeat(43)}`));
    assert.deepEqual([unknown.status, unknown.code, unknown.message], [wrong.status, wrong.code, wrong.message]);
    assert.doesNotMatch(unknown.message, /nobody|dev-1/);
  });

  it('deleting the Device revokes its token at once (the watch drops it)', async () => {
    const { kube, devices } = await registry();
    const token = await devices.enroll('dev-1', 'f1', {});
    const gone: string[] = [];
    devices.onChange((name, device) => {
      if (!device) gone.push(name);
    });
    await kube.delete({ apiVersion: 'hub.doris.dev/v1alpha1', kind: 'Device', namespace: ns, name: 'dev-1' });
    assert.deepEqual(gone, ['dev-1']);
    assert.match(refused(() => devices.authenticate(`Bearer ${token}`)).message, /the Device was deleted, which revokes its token/);
  });

  it('writes a report only when it changed, and clears what the device no longer reports', async () => {
    const { kube, devices, clock } = await registry();
    await devices.enroll('dev-1', 'f1', {});
    const device = devices.get('dev-1')!;
    assert.equal(await devices.report(device, report()), true);
    assert.equal(await devices.report(device, report()), false);
    assert.equal(await devices.report(device, { ...report(), images: [] }), false);
    assert.equal(statusWrites(kube), 1);
    clock.now += 1000;
    assert.equal(await devices.report(device, report({ ready: 'False', reason: 'ApplyFailed', counts: undefined })), true);
    const status = (kube.objects.get(`Device/${ns}/dev-1`) as unknown as { status: { report: Record<string, unknown> } }).status;
    assert.equal(status.report.ready, 'False');
    assert.equal('counts' in status.report, false, 'counts the device stopped reporting are gone');
    assert.equal(statusWrites(kube), 2);
  });

  it('presence is written only on change: one connect, none while polls come and go, one disconnect after the grace, one reconnect', async () => {
    const { kube, devices, clock } = await registry();
    await devices.enroll('dev-1', 'f1', {});
    const device = () => devices.get('dev-1')!;
    const before = statusWrites(kube);
    devices.contact(device(), 'r-1');
    await waitFor('the connect write', async () => (devices.get('dev-1')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    assert.equal(statusWrites(kube), before + 1, 'connect and servedRevision in one write');
    assert.deepEqual(
      { servedBy: device().status?.servedBy, lastSeen: device().status?.lastSeen, servedRevision: device().status?.servedRevision },
      { servedBy: 'hub-a', lastSeen: new Date(clock.now).toISOString(), servedRevision: 'r-1' },
    );
    // A day of long-polls of 5 minutes and unchanged reports: no write at all.
    for (let i = 0; i < 288; i++) {
      devices.held('dev-1', 1);
      clock.now += 5 * 60_000;
      devices.held('dev-1', -1);
      devices.contact(device(), 'r-1');
      if (i % 48 === 0) await devices.report(device(), report());
      assert.equal(await devices.sweep(new Map()), 0);
    }
    assert.equal(statusWrites(kube), before + 2, 'the first report only');
    assert.equal(devices.state(device()), 'ready');
    // The agent goes away; a retry 2m15s later is within the grace: nothing written.
    const left = clock.now;
    clock.now += 135_000;
    assert.equal(await devices.sweep(new Map()), 0);
    clock.now = left + 3 * 60_000 + 1;
    assert.equal(await devices.sweep(new Map()), 1);
    assert.deepEqual(
      { connected: device().status?.connected, lastSeen: device().status?.lastSeen },
      { connected: false, lastSeen: new Date(left).toISOString() },
    );
    assert.equal(await devices.sweep(new Map()), 0, 'written once');
    assert.equal(storedDeviceState(device(), left + 15 * 60_000), 'ready');
    assert.equal(storedDeviceState(device(), left + 15 * 60_000 + 1), 'offline');
    assert.equal(statusWrites(kube), before + 3);
    // Reconnecting is one write.
    clock.now = left + 20 * 60_000;
    devices.contact(device(), 'r-1');
    devices.held('dev-1', 1);
    await waitFor('the reconnect write', async () => (devices.get('dev-1')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    assert.equal(await devices.sweep(new Map()), 0);
    assert.equal(statusWrites(kube), before + 4);
  });

  it('contact writes are bounded in flight and merged per device (10,000 agents reconnecting must not flood the API server)', async () => {
    const kube = new HubFakeKube();
    const clock = { now: Date.now() };
    const devices = new DeviceRegistry(kube, ns, log, { ...defaultDeviceRegistryOptions(), replica: 'hub-a', maxContactWrites: 4, now: () => clock.now });
    registries.push(devices);
    devices.start();
    await waitFor('the device cache to sync', async () => devices.hasSynced || undefined, { timeoutMs: 5000 });
    const names = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    for (const name of names) await devices.enroll(name, 'f1', {});
    const writes = slowWrites(kube);
    const before = statusWrites(kube);
    for (let round = 0; round < 3; round++) for (const name of names) devices.contact(devices.get(name)!, 'r-1');
    await waitFor('every device connected', async () => names.every((n) => devices.get(n)?.status?.connected === true) || undefined, { timeoutMs: 5000 });
    assert.equal(statusWrites(kube), before + names.length, 'one write per device, however many polls');
    assert.ok(writes.most() <= 4, `at most 4 writes in flight, saw ${writes.most()}`);
    assert.ok(names.every((n) => devices.get(n)?.status?.servedRevision === 'r-1'));
  });

  it("a replica does not take back a device that moved to another replica, nor write another replica's device disconnected", async () => {
    const { kube, devices, clock } = await registry();
    await devices.enroll('dev-1', 'f1', {});
    devices.contact(devices.get('dev-1')!, undefined);
    await waitFor('the connect write', async () => (devices.get('dev-1')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    // The device reconnected to hub-b, which wrote so.
    await kube.mergePatch({ apiVersion: 'hub.doris.dev/v1alpha1', kind: 'Device', namespace: ns, name: 'dev-1' }, { status: { servedBy: 'hub-b' } }, 'status');
    await waitFor('the watch', async () => (devices.get('dev-1')?.status?.servedBy === 'hub-b' ? true : undefined), { timeoutMs: 2000 });
    const before = statusWrites(kube);
    clock.now += 60 * 60_000;
    const alive = new Map([['hub-b', { renewedAt: clock.now, durationMs: 120_000 }]]);
    assert.equal(await devices.sweep(alive), 0);
    assert.equal(statusWrites(kube), before);
    // hub-b dies: the leader (hub-a) writes its device disconnected, last seen when hub-b last renewed.
    const deadSince = clock.now;
    const dead = new Map([['hub-b', { renewedAt: deadSince, durationMs: 120_000 }]]);
    clock.now += 5 * 60_000 + 1;
    assert.equal(await devices.sweep(), 0, 'not the leader: not its business');
    assert.equal(await devices.sweep(dead), 1);
    assert.deepEqual(
      { connected: devices.get('dev-1')?.status?.connected, lastSeen: devices.get('dev-1')?.status?.lastSeen },
      { connected: false, lastSeen: new Date(deadSince).toISOString() },
    );
  });

  it('a sweep reads each Device when its turn comes: one that connected during an earlier write is not written again', async () => {
    const { kube, devices, clock } = await registry();
    await devices.enroll('gone', 'f1', {});
    devices.contact(devices.get('gone')!, undefined);
    await waitFor('the connect write', async () => (devices.get('gone')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    await devices.enroll('late', 'f1', {});
    clock.now += 10 * 60_000;
    // The disconnect of 'gone' is held until 'late' has connected.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const patch = kube.mergePatch.bind(kube);
    kube.mergePatch = async (...args: Parameters<HubFakeKube['mergePatch']>) => {
      if (args[0].name === 'gone') await gate;
      return patch(...args);
    };
    const before = statusWrites(kube);
    const swept = devices.sweep(new Map());
    devices.contact(devices.get('late')!, 'r-1');
    devices.held('late', 1);
    await waitFor('late connected', async () => (devices.get('late')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    release();
    assert.equal(await swept, 1, 'the disconnect of gone only');
    assert.equal(statusWrites(kube) - before, 2, 'the disconnect, and one connect of late');
  });

  it('a disconnect loses to a connect written meanwhile by another replica (resourceVersion precondition)', async () => {
    const { kube, devices, clock } = await registry();
    await devices.enroll('dev-1', 'f1', {});
    devices.contact(devices.get('dev-1')!, undefined);
    await waitFor('the connect write', async () => (devices.get('dev-1')?.status?.connected === true ? true : undefined), { timeoutMs: 2000 });
    clock.now += 10 * 60_000;
    kube.beforeWrite = (_verb, key) => {
      kube.beforeWrite = () => undefined;
      const stored = kube.objects.get(key.replace(/\/status$/, ''))!;
      kube.seed({ ...stored, status: { ...(stored as { status?: object }).status, servedBy: 'hub-b', connected: true } } as typeof stored);
    };
    assert.equal(await devices.sweep(new Map()), 0);
    assert.equal((kube.objects.get(`Device/${ns}/dev-1`) as unknown as { status: { servedBy: string; connected: boolean } }).status.servedBy, 'hub-b');
  });

  it('counts devices by state: offline after 15 minutes without contact', async () => {
    const { devices, clock } = await registry();
    await devices.enroll('ok', 'f1', {});
    await devices.enroll('bad', 'f1', {});
    await devices.enroll('new', 'f1', {});
    await devices.report(devices.get('ok')!, report());
    await devices.report(devices.get('bad')!, report({ ready: 'False', reason: 'ApplyFailed' }));
    assert.deepEqual(devices.countByState(), { ready: 1, failed: 1, offline: 0, unknown: 1 });
    // Reports made them connected here; gone for the grace, they are written disconnected, and offline 15 minutes after.
    clock.now += 16 * 60_000;
    await devices.sweep(new Map());
    devices.contact(devices.get('ok')!, undefined);
    assert.deepEqual(devices.countByState(), { ready: 1, failed: 0, offline: 2, unknown: 0 });
  });

  it('writes one report of a device at a time, merging those that arrive meanwhile (the newest wins)', async () => {
    // No interval: what is measured is the merging alone.
    const { kube, devices } = await registry(undefined, undefined, { reportIntervalMs: 0 });
    await devices.enroll('dev-1', 'f1', {});
    const device = devices.get('dev-1')!;
    const writes = slowWrites(kube);
    const before = statusWrites(kube);
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => devices.report(device, report({ message: `sync ${i}` }))));
    assert.deepEqual(new Set(results), new Set([true]), 'every report was carried by a write');
    assert.equal(statusWrites(kube) - before, 2, 'the first report, then the 499 that came meanwhile as one');
    assert.equal(writes.most(), 1);
    assert.equal(devices.get('dev-1')?.status?.report?.message, 'sync 499');
  });

  it('waits out the interval between two report writes of a device; presence writes do not wait for it', async () => {
    // The registry's clock stands still: only the interval's timer lets the second write go.
    const { kube, devices } = await registry(undefined, undefined, { reportIntervalMs: 300 });
    await devices.enroll('dev-1', 'f1', {});
    await devices.enroll('dev-2', 'f1', {});
    assert.equal(await devices.report(devices.get('dev-1')!, report()), true);
    const before = statusWrites(kube);
    const started = performance.now();
    const second = devices.report(devices.get('dev-1')!, report({ ready: 'False', reason: 'ApplyFailed' }));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(statusWrites(kube), before, 'not before the interval');
    // Another device, and presence, are not held up by it.
    assert.equal(await devices.report(devices.get('dev-2')!, report()), true);
    devices.contact(devices.get('dev-1')!, 'r-2');
    await waitFor('the servedRevision write', async () => devices.get('dev-1')?.status?.servedRevision === 'r-2' || undefined, { timeoutMs: 2000 });
    assert.equal(devices.get('dev-1')?.status?.report?.reason, 'Synced', 'the second report still waits');
    assert.equal(await second, true);
    assert.ok(performance.now() - started >= 290, 'written once the interval passed');
    assert.equal(devices.get('dev-1')?.status?.report?.reason, 'ApplyFailed');
  });

  it('stopping writes the reports still waiting out their interval', async () => {
    const { devices } = await registry(undefined, undefined, { reportIntervalMs: 10 * 60_000 });
    await devices.enroll('dev-1', 'f1', {});
    await devices.report(devices.get('dev-1')!, report());
    const waiting = devices.report(devices.get('dev-1')!, report({ message: 'the last one' }));
    await devices.stop();
    assert.equal(await waiting, true);
    assert.equal(devices.get('dev-1')?.status?.report?.message, 'the last one');
  });

  it('a report of a Device deleted meanwhile is refused as revoked', async () => {
    const { kube, devices } = await registry();
    await devices.enroll('dev-1', 'f1', {});
    const device = devices.get('dev-1')!;
    kube.objects.delete(`Device/${ns}/dev-1`);
    const error = await devices.report(device, report()).catch((e: unknown) => e);
    assert.ok(error instanceof HubRefusal);
    assert.equal(error.status, 401);
  });
});
