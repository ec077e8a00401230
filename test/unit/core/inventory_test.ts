import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry } from '../../../src/api/pipeline.js';
import { inventoryOf, mergeInventories, staleEntries } from '../../../src/inventory/inventory.js';
import type { DesiredObject, KubeObject } from '../../../src/render/types.js';

const entry = (id: string, wave = 0, v = 'v1'): InventoryEntry => ({ id, v, wave });

const desired = (object: KubeObject, wave: number): DesiredObject => ({
  object,
  wave,
  waveName: `${wave}-wave`,
  step: 0,
  source: { file: `${wave}-wave/0-objects.yaml`, line: 1, col: 1 },
});

const ids = (entries: InventoryEntry[]): string[] => entries.map((e) => e.id);

describe('inventoryOf', () => {
  it('records id, apiVersion and wave of every desired object, sorted by id', () => {
    const inventory = inventoryOf([
      desired({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' } }, 2),
      desired({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, 0),
      desired({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'shop' } }, 1),
    ]);
    assert.deepEqual(inventory, [
      { id: '_shop__Namespace', v: 'v1', wave: 0 },
      { id: 'shop_settings__ConfigMap', v: 'v1', wave: 1 },
      { id: 'shop_web_apps_Deployment', v: 'apps/v1', wave: 2 },
    ]);
  });

  it('keeps one entry per object, the last one written, when an object appears twice', () => {
    const inventory = inventoryOf([
      desired({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'shop' } }, 1),
      desired({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'shop' } }, 3),
    ]);
    assert.deepEqual(inventory, [{ id: 'shop_web_autoscaling_HorizontalPodAutoscaler', v: 'autoscaling/v2', wave: 3 }]);
  });

  it('is empty for an empty repository', () => {
    assert.deepEqual(inventoryOf([]), []);
  });
});

describe('mergeInventories', () => {
  it('takes the union of the lists, sorted by id', () => {
    const merged = mergeInventories([entry('ns_c__ConfigMap'), entry('ns_a__ConfigMap')], [entry('ns_b__ConfigMap')]);
    assert.deepEqual(ids(merged), ['ns_a__ConfigMap', 'ns_b__ConfigMap', 'ns_c__ConfigMap']);
  });

  it('lets a later list win for the same id', () => {
    const merged = mergeInventories(
      [entry('ns_web_apps_Deployment', 1, 'apps/v1beta1'), entry('ns_x__ConfigMap', 0)],
      [entry('ns_web_apps_Deployment', 4, 'apps/v1')],
    );
    assert.deepEqual(merged, [entry('ns_web_apps_Deployment', 4, 'apps/v1'), entry('ns_x__ConfigMap', 0)]);
  });

  it('lets the later of two entries in one list win', () => {
    const merged = mergeInventories([entry('ns_a__ConfigMap', 1), entry('ns_a__ConfigMap', 2)]);
    assert.deepEqual(merged, [entry('ns_a__ConfigMap', 2)]);
  });

  it('does not change its inputs', () => {
    const first = [entry('ns_b__ConfigMap'), entry('ns_a__ConfigMap')];
    const second = [entry('ns_b__ConfigMap', 9)];
    mergeInventories(first, second);
    assert.deepEqual(first, [entry('ns_b__ConfigMap'), entry('ns_a__ConfigMap')]);
    assert.deepEqual(second, [entry('ns_b__ConfigMap', 9)]);
  });

  it('merges nothing into an empty inventory', () => {
    assert.deepEqual(mergeInventories(), []);
    assert.deepEqual(mergeInventories([], []), []);
  });
});

describe('staleEntries', () => {
  it('returns only entries that are no longer desired', () => {
    const previous = [entry('ns_a__ConfigMap'), entry('ns_b__ConfigMap'), entry('ns_c__ConfigMap')];
    const stale = staleEntries(previous, [entry('ns_b__ConfigMap')]);
    assert.deepEqual(ids(stale), ['ns_a__ConfigMap', 'ns_c__ConfigMap']);
  });

  it('matches by id, not by version or wave', () => {
    const stale = staleEntries([entry('ns_web_apps_Deployment', 1, 'apps/v1beta1')], [entry('ns_web_apps_Deployment', 3, 'apps/v1')]);
    assert.deepEqual(stale, []);
  });

  it('prunes highest wave first, then by id', () => {
    const previous = [
      entry('ns_b__ConfigMap', 0),
      entry('_ns__Namespace', 0),
      entry('ns_web_apps_Deployment', 2),
      entry('ns_a__Secret', 10),
      entry('ns_a__ConfigMap', 2),
    ];
    const stale = staleEntries(previous, []);
    assert.deepEqual(
      stale.map((e) => [e.wave, e.id]),
      [
        [10, 'ns_a__Secret'],
        [2, 'ns_a__ConfigMap'],
        [2, 'ns_web_apps_Deployment'],
        [0, '_ns__Namespace'],
        [0, 'ns_b__ConfigMap'],
      ],
    );
  });

  it('orders waves numerically, not as text', () => {
    const stale = staleEntries([entry('ns_a__ConfigMap', 9), entry('ns_b__ConfigMap', 10)], []);
    assert.deepEqual(ids(stale), ['ns_b__ConfigMap', 'ns_a__ConfigMap']);
  });

  it('does not reorder the previous inventory in place', () => {
    const previous = [entry('ns_a__ConfigMap', 0), entry('ns_b__ConfigMap', 5)];
    staleEntries(previous, []);
    assert.deepEqual(ids(previous), ['ns_a__ConfigMap', 'ns_b__ConfigMap']);
  });

  it('finds nothing stale in an empty previous inventory', () => {
    assert.deepEqual(staleEntries([], [entry('ns_a__ConfigMap')]), []);
  });
});
