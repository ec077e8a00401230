import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryEntry, PipelineStatus } from '../../../src/api/pipeline.js';
import { inventoryFields } from '../../../src/inventory/archive.js';
import { defaultPruneGuardOptions, pruneGuardRefusal } from '../../../src/prune/guard.js';
import { planPrune } from '../../../src/reconcile/desired.js';

const allowMass = { ...defaultPruneGuardOptions(), allowMass: true };

describe('prune guard', () => {
  it('defaults to at most 5 objects, or at most half of the inventory, without allowMass', () => {
    assert.deepEqual(defaultPruneGuardOptions(), { minObjects: 5, maxFraction: 0.5, allowMass: false });
  });

  it('allows pruning exactly 5 objects, even all of a 5-object inventory', () => {
    assert.equal(pruneGuardRefusal(5, 5), undefined);
  });

  it('refuses to prune 6 of 6 objects', () => {
    assert.match(pruneGuardRefusal(6, 6) ?? '', /refusing to prune 6 of 6 objects/);
  });

  it('refuses to prune more than half of the inventory: 6 of 10', () => {
    const refusal = pruneGuardRefusal(6, 10);
    assert.ok(refusal, 'expected a refusal');
    assert.match(refusal, /refusing to prune 6 of 10 objects \(more than 50% of the inventory\)/);
    assert.match(refusal, /spec\.prune\.allowMass: true/);
  });

  it('allows pruning 5 of 10 objects', () => {
    assert.equal(pruneGuardRefusal(5, 10), undefined);
  });

  it('allows pruning exactly half of the inventory above the small-prune limit: 6 of 12', () => {
    assert.equal(pruneGuardRefusal(6, 12), undefined);
  });

  it('refuses one more than half of the inventory above the small-prune limit: 7 of 12', () => {
    assert.ok(pruneGuardRefusal(7, 12));
  });

  it('compares against half of an odd inventory without rounding: 7 of 13 refused, 6 of 13 allowed', () => {
    assert.ok(pruneGuardRefusal(7, 13));
    assert.equal(pruneGuardRefusal(6, 13), undefined);
  });

  it('allows any prune with allowMass, even the whole inventory', () => {
    assert.equal(pruneGuardRefusal(100, 100, allowMass), undefined);
    assert.equal(pruneGuardRefusal(6, 10, allowMass), undefined);
  });

  it('allows an empty prune of an empty inventory', () => {
    assert.equal(pruneGuardRefusal(0, 0), undefined);
  });

  it('follows custom limits', () => {
    const strict = { minObjects: 0, maxFraction: 0.1, allowMass: false };
    assert.equal(pruneGuardRefusal(0, 10, strict), undefined);
    assert.equal(pruneGuardRefusal(1, 10, strict), undefined);
    assert.match(pruneGuardRefusal(2, 10, strict) ?? '', /more than 10% of the inventory/);
  });
});

describe('prune guard of a sync (planPrune)', () => {
  const entry = (name: string): InventoryEntry => ({ id: `apps_${name}__ConfigMap`, v: 'v1', wave: 1 });
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => entry(`${prefix}${i}`));
  const prune = { enabled: true, allowMass: false, crds: false };

  it('weighs only what was applied: the revert of a commit that failed half-way prunes its pending entries', () => {
    // Commit A applied 4 objects; commit B failed after its Namespace, with 10 entries pending.
    const status = { ...inventoryFields(names('a', 4)), ...inventoryFields(names('b', 10), 'pendingInventory') } as PipelineStatus;
    const plan = planPrune(status, names('a', 4), prune);
    assert.equal(plan.refusal, undefined);
    assert.equal(plan.stale.length, 10);
  });

  it('still refuses to prune most of what was applied', () => {
    const status = { ...inventoryFields(names('a', 10)), ...inventoryFields(names('b', 10), 'pendingInventory') } as PipelineStatus;
    assert.match(planPrune(status, names('b', 10), prune).refusal ?? '', /refusing to prune 10 of 10 objects/);
  });
});
