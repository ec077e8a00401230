import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPruneGuardOptions, pruneGuardRefusal } from '../../../src/prune/guard.js';

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
