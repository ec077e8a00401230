/**
 * A follower's webhook reaches the leader as a Fleet annotation (`hub.doris.dev/poll-requested-at`):
 * the leader's upstream polls the Fleet once per new value, never for an unchanged one, and an
 * annotation already there when the Fleet is first seen adds nothing to the first poll.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Fleet, pollRequestedAnnotation } from '../../../src/api/hub.js';
import type { BundleStore } from '../../../src/hub/bundles.js';
import type { FleetCache, FleetEvent } from '../../../src/hub/fleets.js';
import { Upstream } from '../../../src/hub/upstream.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log.js';

function harness() {
  let listener: (event: FleetEvent) => void = () => undefined;
  const cache = { list: () => [], get: () => undefined, onEvent: (l: (event: FleetEvent) => void) => (listener = l) } as unknown as FleetCache;
  const upstream = new Upstream({
    client: {} as KubeClient,
    namespace: 'hub',
    log: createLogger({ level: 'silent' }),
    fleets: cache,
    bundles: {} as BundleStore,
    workDir: '/nonexistent',
  });
  const triggers: string[] = [];
  // The scheduler is the poller's own; what is asserted is which polls the events ask for.
  (upstream as unknown as { scheduler: { trigger: (key: string, why: string) => void } }).scheduler.trigger = (key, why) => triggers.push(`${key}: ${why}`);
  const fleet = (generation: number, requested?: string, uid = 'u1'): Fleet => ({
    apiVersion: 'hub.doris.dev/v1alpha1',
    kind: 'Fleet',
    metadata: { name: 'solar', namespace: 'hub', uid, generation, ...(requested ? { annotations: { [pollRequestedAnnotation]: requested } } : {}) },
    spec: {},
  });
  return { upsert: (f: Fleet) => listener({ type: 'upsert', fleet: f }), fleet, triggers };
}

describe('poll requests from followers', () => {
  it('polls once per new annotation value, and not for other updates', () => {
    const { upsert, fleet, triggers } = harness();
    upsert(fleet(1));
    upsert(fleet(1));
    upsert(fleet(1, '2026-12-01T10:00:00.000Z'));
    upsert(fleet(1, '2026-12-01T10:00:00.000Z'));
    upsert(fleet(1, '2026-12-01T10:00:05.000Z'));
    assert.deepEqual(triggers, ['solar: new fleet', 'solar: webhook via a follower', 'solar: webhook via a follower']);
  });

  it('an annotation present when the Fleet is first seen, or with a new spec, rides on that poll', () => {
    const { upsert, fleet, triggers } = harness();
    upsert(fleet(1, '2026-12-01T10:00:00.000Z'));
    upsert(fleet(2, '2026-12-01T10:00:00.000Z'));
    upsert(fleet(2, '2026-12-01T10:00:00.000Z'));
    assert.deepEqual(triggers, ['solar: new fleet', 'solar: spec changed']);
  });
});
