/**
 * The Fleet cache wakes long-polls only when what a device would be told changes: a status
 * write of `lastPolled` or conditions, a relist, a spec edit wake nobody (plain objects).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Fleet, Revision } from '../../../src/api/hub.js';
import { FleetCache, targetChanged } from '../../../src/hub/fleets.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { createLogger } from '../../../src/log.js';

const revision = (id: string): Revision => ({
  id,
  commit: 'a'.repeat(40),
  bundle: `sha256:${'b'.repeat(64)}`,
  bundleSize: 10,
  images: [],
  createdAt: '2026-01-01T00:00:00Z',
});

const fleet = (name: string, status: Fleet['status'] = {}, spec: unknown = { git: { url: 'https://example.com/x.git' } }): Fleet => ({
  apiVersion: 'hub.doris.dev/v1alpha1',
  kind: 'Fleet',
  metadata: { name, namespace: 'hub', uid: `uid-${name}`, resourceVersion: '1', generation: 1 },
  spec,
  status,
});

/** A rollout status, as far as change detection cares (its shape belongs to the rollout work). */
const rollout = (stage: string) => ({ stage }) as unknown as NonNullable<Fleet['status']>['rollout'];

describe('targetChanged', () => {
  const r1 = revision('r-0000000000000001');
  const r2 = revision('r-0000000000000002');
  const table: Array<[string, Fleet | undefined, Fleet | undefined, boolean]> = [
    ['added', undefined, fleet('f'), true],
    ['deleted', fleet('f'), undefined, true],
    ['nothing', fleet('f', { revision: r1 }), fleet('f', { revision: r1 }), false],
    ['lastPolled only', fleet('f', { revision: r1, lastPolled: 'a' }), fleet('f', { revision: r1, lastPolled: 'b' }), false],
    [
      'conditions only',
      fleet('f', { revision: r1 }),
      fleet('f', { revision: r1, conditions: [{ type: 'Ready', status: 'False', reason: 'BuildFailed', message: 'x', lastTransitionTime: 't' }] }),
      false,
    ],
    [
      'device counts only',
      fleet('f', { revision: r1 }),
      fleet('f', { revision: r1, devices: { total: 1, ready: 1, failed: 0, offline: 0, onRevision: 1 } }),
      false,
    ],
    ['spec only', fleet('f', { revision: r1 }), fleet('f', { revision: r1 }, { git: { url: 'https://example.com/y.git' } }), false],
    ['new revision', fleet('f', { revision: r1 }), fleet('f', { revision: r2 }), true],
    ['first revision', fleet('f'), fleet('f', { revision: r1 }), true],
    ['revisions list', fleet('f', { revision: r1, revisions: [r1] }), fleet('f', { revision: r1, revisions: [r1, r2] }), true],
    ['rollout', fleet('f', { revision: r1, rollout: rollout('a') }), fleet('f', { revision: r1, rollout: rollout('b') }), true],
  ];
  for (const [name, before, after, expected] of table) {
    it(name, () => assert.equal(targetChanged(before, after), expected));
  }
});

describe('FleetCache listeners', () => {
  it('onChange fires per target change; onEvent on every upsert and delete', () => {
    const cache = new FleetCache({} as KubeClient, 'hub', createLogger({ level: 'silent' }));
    const changes: string[] = [];
    const events: string[] = [];
    cache.onChange((name) => changes.push(name));
    cache.onEvent((event) => events.push(`${event.type}:${event.type === 'upsert' ? event.fleet.metadata.name : event.name}`));
    const r1 = revision('r-0000000000000001');
    cache.dispatch('a', fleet('a'));
    cache.dispatch('a', fleet('a', { lastPolled: 'x' }));
    cache.dispatch('a', fleet('a', { revision: r1 }));
    cache.dispatch('a', fleet('a', { revision: r1, lastPolled: 'y' }));
    cache.dispatch('b', fleet('b', { revision: r1 }));
    cache.dispatch('a', undefined);
    assert.deepEqual(changes, ['a', 'a', 'b', 'a']);
    assert.deepEqual(events, ['upsert:a', 'upsert:a', 'upsert:a', 'upsert:a', 'upsert:b', 'delete:a']);
  });
});

describe('FleetCache.targetFor', () => {
  const r1 = revision('r-0000000000000001');
  const r2 = revision('r-0000000000000002');
  const device = (labels: Record<string, string>) => ({
    apiVersion: 'hub.doris.dev/v1alpha1' as const,
    kind: 'Device' as const,
    metadata: { name: 'd', namespace: 'hub', labels },
    spec: { fleet: 'f', tokenHash: `sha256:${'0'.repeat(64)}` },
  });
  const cacheWith = (f: Fleet) => {
    const cache = new FleetCache({} as KubeClient, 'hub', createLogger({ level: 'silent' }));
    // The informer's own entry point for objects (what the watch delivers).
    (cache as unknown as { informer: { set(object: unknown): void } }).informer.set(f);
    return cache;
  };

  it('without a rollout, the newest revision; none for an unknown Fleet', () => {
    const cache = cacheWith(fleet('f', { revision: r2, revisions: [r2, r1] }));
    assert.equal(cache.targetFor('f', device({}))?.id, r2.id);
    assert.equal(cache.targetFor('nope', device({})), undefined);
  });

  it('under a rollout, the revision of the stage of the device', () => {
    const spec = { git: { url: 'https://example.com/x.git' }, rollout: { stages: [{ name: 'canary', selector: { matchLabels: { ring: 'canary' } } }] } };
    const rollout = {
      state: 'Progressing',
      revision: r2.id,
      lastGood: r1.id,
      stageIndex: 0,
      stages: [{ name: 'canary', revision: r2.id }],
      startedAt: '2026-01-01T00:00:00Z',
      message: 'canary',
    } as unknown as NonNullable<Fleet['status']>['rollout'];
    const cache = cacheWith(fleet('f', { revision: r2, revisions: [r2, r1], rollout }, spec));
    assert.equal(cache.targetFor('f', device({ ring: 'canary' }))?.id, r2.id);
    assert.equal(cache.targetFor('f', device({ ring: 'main' }))?.id, r1.id);
  });
});
