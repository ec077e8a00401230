/**
 * The driver's own logic with its I/O behind plain-data seams: caches that are arrays with
 * listeners, a client that records the patches it is sent, a fake clock. (The same driver
 * against the real API server, under the hub's ServiceAccount: test/e2e/hub_rollout_driver_test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Device, Fleet, Revision } from '../../../src/api/hub.js';
import type { EventReason } from '../../../src/api/reasons.js';
import type { KubeClient, ObjectKey } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log.js';
import { commandAnnotation, type DeviceSource, type FleetSource, RolloutDriver } from '../../../src/hub/rollout/driver.js';
import type { RolloutStatus } from '../../../src/hub/rollout/engine.js';
import { parseRolloutStatus } from '../../../src/hub/rollout/targets.js';

const revision = (n: number): Revision => ({
  id: `r-${String(n).repeat(16)}`,
  commit: String(n).repeat(40),
  bundle: `sha256:${String(n).repeat(64)}`,
  bundleSize: 1,
  images: [],
  createdAt: '2026-12-01T00:00:00Z',
});
const A = revision(1);
const B = revision(2);
const rollout = { stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } }, soak: '10m' }] };

class Harness {
  clock = new Date('2026-12-01T12:00:00Z');
  fleet: Fleet = {
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Fleet',
    metadata: { name: 'f', namespace: 'hub', generation: 1 },
    spec: { git: { url: 'https://git.test/x.git' }, rollout },
    status: { revision: A, revisions: [A] },
  };
  devices: Device[] = [];
  patches: Array<{ key: ObjectKey; patch: unknown }> = [];
  events: Array<{ type: string; reason: EventReason; message: string }> = [];
  failWrites = false;
  private fleetListeners: Array<Parameters<FleetSource['onEvent']>[0]> = [];
  private deviceListeners: Array<Parameters<DeviceSource['onChange']>[0]> = [];
  readonly registry = new Registry();
  readonly driver: RolloutDriver;

  constructor() {
    const fleets: FleetSource = {
      hasSynced: true,
      get: (name) => (name === this.fleet.metadata.name ? this.fleet : undefined),
      list: () => [this.fleet],
      onEvent: (listener) => this.fleetListeners.push(listener),
    };
    const devices: DeviceSource = { hasSynced: true, list: () => this.devices, onChange: (listener) => this.deviceListeners.push(listener) };
    const client = {
      mergePatch: async (key: ObjectKey, patch: unknown) => {
        if (this.failWrites) throw new Error('the API server refused');
        this.patches.push({ key, patch });
        // What the API server would now hold, as the watch would deliver it.
        if (key.kind === 'Fleet') {
          const rollout = (patch as { status: { rollout: Record<string, unknown> } }).status.rollout;
          const merged = { ...(this.fleet.status?.rollout as object), ...rollout };
          for (const [k, v] of Object.entries(merged)) if (v === null) delete (merged as Record<string, unknown>)[k];
          this.fleet = { ...this.fleet, status: { ...this.fleet.status, rollout: merged } };
        } else {
          const stage = (patch as { status: { stage: string | null } }).status.stage;
          this.devices = this.devices.map((d) => (d.metadata.name === key.name ? { ...d, status: { ...d.status, stage: stage ?? undefined } } : d));
        }
        return {} as never;
      },
    } as unknown as KubeClient;
    this.driver = new RolloutDriver(
      {
        client,
        namespace: 'hub',
        log: createLogger({ level: 'silent' }),
        fleets,
        devices,
        events: { record: async (_subject, type, reason, message) => void this.events.push({ type, reason, message }) },
        registry: this.registry,
      },
      { debounceMs: 1, resyncMs: 3_600_000, now: () => this.clock },
    );
    this.driver.start();
  }

  add(name: string, labels: Record<string, string> = {}): void {
    this.devices.push({
      apiVersion: 'hub.doris.dev/v1alpha1',
      kind: 'Device',
      metadata: { name, namespace: 'hub', labels },
      spec: { fleet: 'f', tokenHash: '' },
      status: { lastSeen: this.clock.toISOString() },
    });
  }

  /** A change of the Fleet, as the cache would announce it. */
  setFleet(change: (fleet: Fleet) => Fleet): void {
    this.fleet = change(this.fleet);
    for (const listener of this.fleetListeners) listener({ type: 'upsert', fleet: this.fleet });
  }

  report(name: string, rev: string, ready: 'True' | 'False', reason = ready === 'True' ? 'Succeeded' : 'HealthCheckFailed'): void {
    this.devices = this.devices.map((d) =>
      d.metadata.name === name
        ? {
            ...d,
            status: {
              ...d.status,
              lastSeen: this.clock.toISOString(),
              report: { revision: rev, ready, reason, message: '', agentVersion: 'x', images: [] },
            },
          }
        : d,
    );
    const device = this.devices.find((d) => d.metadata.name === name);
    for (const listener of this.deviceListeners) listener(name, device);
  }

  command(verb: string): void {
    this.setFleet((f) => ({
      ...f,
      metadata: { ...f.metadata, annotations: { [commandAnnotation]: `${verb}@${this.clock.toISOString()}` } } as Fleet['metadata'],
    }));
  }

  get rollout(): RolloutStatus {
    return this.fleet.status?.rollout as RolloutStatus;
  }

  fleetWrites(): number {
    return this.patches.filter((p) => p.key.kind === 'Fleet').length;
  }
}

async function started(): Promise<Harness> {
  const h = new Harness();
  h.add('c1', { ring: 'canary' });
  h.add('d1');
  h.add('d2');
  h.driver.setLeading(true);
  await h.driver.flush();
  return h;
}

describe('rollout driver', () => {
  it('stops writing once leadership is lost', async () => {
    const h = await started();
    const writes = h.patches.length;
    h.driver.setLeading(false);
    h.setFleet((f) => ({ ...f, status: { ...f.status, revision: B, revisions: [B, A] } }));
    await h.driver.flush();
    assert.equal(h.patches.length, writes);
    assert.doesNotMatch(await h.registry.metrics(), /doris_hub_rollout_state\{/, 'a follower exports no rollout gauges');
    h.driver.setLeading(true);
    await h.driver.flush();
    assert.equal(h.rollout.revision, B.id, 'the new leader steps from what is stored');
    await h.driver.stop();
  });

  it('writes nothing and records nothing while not leading', async () => {
    const h = new Harness();
    h.add('c1', { ring: 'canary' });
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.deepEqual([h.patches, h.events], [[], []]);
    await h.driver.stop();
  });

  it('writes the rollout status once, then only when it changes; an Event per transition', async () => {
    const h = await started();
    assert.equal(h.rollout.state, 'Complete');
    assert.equal(h.fleetWrites(), 1);
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ['RolloutCompleted'],
    );
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.equal(h.fleetWrites(), 1, 'an unchanged step writes nothing');

    h.setFleet((f) => ({ ...f, status: { ...f.status, revision: B, revisions: [B, A] } }));
    await h.driver.flush();
    assert.equal(h.rollout.state, 'Progressing');
    assert.equal(h.driver.targetFor('f', h.devices[0] as Device)?.id, B.id);
    assert.equal(h.driver.targetFor('f', h.devices[1] as Device)?.id, A.id);
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ['RolloutCompleted', 'RolloutStarted', 'StageStarted'],
    );
    const metrics = await h.registry.metrics();
    assert.match(metrics, /doris_hub_rollout_stage_devices\{fleet="f",stage="\(rest\)",count="devices"\} 2/);
    assert.match(metrics, /doris_hub_rollout_state\{fleet="f",state="Progressing"\} 1/);
    assert.match(metrics, /doris_hub_rollout_transitions_total\{fleet="f",reason="StageStarted"\} 1/);
    await h.driver.stop();
  });

  it('writes each device its stage once', async () => {
    const h = await started();
    const stageWrites = () =>
      h.patches.filter((p) => p.key.kind === 'Device').map((p) => `${p.key.name}=${(p.patch as { status: { stage: string } }).status.stage}`);
    assert.deepEqual(stageWrites().sort(), ['c1=canary', 'd1=(rest)', 'd2=(rest)']);
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.equal(stageWrites().length, 3);
    await h.driver.stop();
  });

  it('acts on a command once, records it, and says so when one is malformed', async () => {
    const h = await started();
    h.setFleet((f) => ({ ...f, status: { ...f.status, revision: B, revisions: [B, A] } }));
    await h.driver.flush();
    h.command('pause');
    await h.driver.flush();
    assert.equal(h.rollout.state, 'Paused');
    assert.match(h.rollout.lastCommand ?? '', /^pause@/);
    const paused = h.events.filter((e) => e.reason === 'RolloutPaused').length;
    h.setFleet((f) => f); // the same annotation, seen again
    await h.driver.flush();
    assert.equal(h.events.filter((e) => e.reason === 'RolloutPaused').length, paused);
    assert.equal(h.events.filter((e) => e.reason === 'RolloutCommandIgnored').length, 0);

    h.setFleet((f) => ({ ...f, metadata: { ...f.metadata, annotations: { [commandAnnotation]: 'rollback now' } } as Fleet['metadata'] }));
    await h.driver.flush();
    const warning = h.events.at(-1);
    assert.equal(warning?.type, 'Warning');
    assert.match(warning?.message ?? '', /is not <promote\|pause\|resume\|abort>@<time>/);
    assert.equal(h.rollout.lastCommand, 'rollback now', 'consumed, so it is said once');
    assert.equal(h.rollout.state, 'Paused');

    // An oversized annotation is recorded by digest: the status stays readable.
    h.setFleet((f) => ({ ...f, metadata: { ...f.metadata, annotations: { [commandAnnotation]: `resume@${'x'.repeat(100_000)}` } } as Fleet['metadata'] }));
    await h.driver.flush();
    assert.match(h.rollout.lastCommand ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok(parseRolloutStatus(h.fleet.status?.rollout), 'still parses');
    const warnings = h.events.filter((e) => e.type === 'Warning').length;
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.equal(h.events.filter((e) => e.type === 'Warning').length, warnings, 'consumed once');
    await h.driver.stop();
  });

  it('reports an invalid policy once per generation and changes nothing', async () => {
    const h = await started();
    const writes = h.fleetWrites();
    const broken = { git: {}, rollout: { stages: [{ name: 'canary', selector: {}, minReady: '150%' }] } };
    h.setFleet((f) => ({ ...f, spec: broken, metadata: { ...f.metadata, generation: 2 } }));
    await h.driver.flush();
    h.setFleet((f) => f);
    await h.driver.flush();
    const invalid = h.events.filter((e) => e.reason === 'InvalidSpec');
    assert.equal(invalid.length, 1);
    assert.match(invalid[0]?.message ?? '', /spec\.rollout\.stages\.0\.minReady/);
    assert.equal(h.fleetWrites(), writes);
    await h.driver.stop();
  });

  it('writes a change of the counts alone at most every countsEveryMs', async () => {
    const h = await started();
    h.setFleet((f) => ({ ...f, status: { ...f.status, revision: B, revisions: [B, A] } }));
    await h.driver.flush();
    const writes = h.fleetWrites();
    h.report('c1', B.id, 'False', 'Progressing'); // the canary's counts change (updated: 1); nothing else
    await h.driver.flush();
    assert.equal(h.fleetWrites(), writes, 'not yet');
    assert.equal(h.rollout.stages[0]?.updated, 0);
    h.clock = new Date(h.clock.getTime() + 5_000);
    h.report('d2', A.id, 'True');
    await h.driver.flush();
    assert.equal(h.fleetWrites(), writes + 1, 'once countsEveryMs has passed');
    assert.equal(h.rollout.stages[0]?.updated, 1);
    h.report('c1', B.id, 'True'); // a transition (the canary is ready) is written at once
    await h.driver.flush();
    assert.equal(h.fleetWrites(), writes + 2);
    assert.ok(h.rollout.stages[0]?.readyAt);
    await h.driver.stop();
  });

  it('says once that a stored status it cannot read is started over', async () => {
    const h = new Harness();
    h.add('c1', { ring: 'canary' });
    h.fleet = { ...h.fleet, status: { ...h.fleet.status, revision: B, revisions: [B, A], rollout: { state: 'Sideways' } } };
    h.driver.setLeading(true);
    await h.driver.flush();
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.equal(h.events.filter((e) => e.reason === 'InvalidSpec' && /status\.rollout could not be read/.test(e.message)).length, 1);
    assert.equal(h.rollout.state, 'Complete');
    assert.equal(h.rollout.revision, B.id);
    await h.driver.stop();
  });

  it('records the Events of a step only once its write succeeded', async () => {
    const h = await started();
    h.failWrites = true;
    h.setFleet((f) => ({ ...f, status: { ...f.status, revision: B, revisions: [B, A] } }));
    await h.driver.flush();
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ['RolloutCompleted'],
    );
    h.failWrites = false;
    h.setFleet((f) => f);
    await h.driver.flush();
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ['RolloutCompleted', 'RolloutStarted', 'StageStarted'],
    );
    await h.driver.stop();
  });
});
