import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  desiredHashAnnotation,
  isOwnedBy,
  managedByLabel,
  managedByValue,
  ownershipSelector,
  pipelineLabel,
  stampOwnership,
} from '../../../src/render/stamp.js';
import type { KubeObject } from '../../../src/render/types.js';

const configMap = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'shop', labels: { app: 'shop' }, annotations: { note: 'hello' } },
  data: { '10': 'ten', '2': 'two', mode: 'fast' },
});

/** The same object as `configMap()`, every key inserted in reverse order. */
const configMapReversed = (): KubeObject => ({
  data: { mode: 'fast', '2': 'two', '10': 'ten' },
  metadata: { annotations: { note: 'hello' }, labels: { app: 'shop' }, namespace: 'shop', name: 'settings' },
  kind: 'ConfigMap',
  apiVersion: 'v1',
});

const hashOf = (object: KubeObject): string | undefined => object.metadata.annotations?.[desiredHashAnnotation];

describe('stampOwnership', () => {
  it('adds both ownership labels and keeps the labels from git', () => {
    const stamped = stampOwnership(configMap(), 'edge');
    assert.deepEqual(stamped.metadata.labels, { app: 'shop', [managedByLabel]: managedByValue, [pipelineLabel]: 'edge' });
  });

  it('adds a desired-hash annotation and keeps the annotations from git', () => {
    const stamped = stampOwnership(configMap(), 'edge');
    const hash = hashOf(stamped);
    assert.match(hash ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(stamped.metadata.annotations, { note: 'hello', [desiredHashAnnotation]: hash });
  });

  it('stamps an object that has no labels or annotations', () => {
    const stamped = stampOwnership({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, 'edge');
    assert.deepEqual(stamped.metadata.labels, { [managedByLabel]: managedByValue, [pipelineLabel]: 'edge' });
    assert.deepEqual(Object.keys(stamped.metadata.annotations ?? {}), [desiredHashAnnotation]);
  });

  it('keeps everything else of the object', () => {
    const stamped = stampOwnership(configMap(), 'edge');
    assert.deepEqual(stamped.data, configMap().data);
    assert.equal(stamped.metadata.name, 'settings');
    assert.equal(stamped.metadata.namespace, 'shop');
  });

  it('gives the same hash whatever the key order of the object', () => {
    assert.equal(hashOf(stampOwnership(configMap(), 'edge')), hashOf(stampOwnership(configMapReversed(), 'edge')));
  });

  it('changes the hash when the object changes', () => {
    const changed = configMap();
    (changed.data as Record<string, string>).mode = 'slow';
    assert.notEqual(hashOf(stampOwnership(changed, 'edge')), hashOf(stampOwnership(configMap(), 'edge')));
  });

  it('changes the hash when a label or annotation from git changes', () => {
    const base = hashOf(stampOwnership(configMap(), 'edge'));
    const relabeled = configMap();
    relabeled.metadata.labels = { app: 'shop2' };
    assert.notEqual(hashOf(stampOwnership(relabeled, 'edge')), base);
    const reannotated = configMap();
    reannotated.metadata.annotations = { note: 'bye' };
    assert.notEqual(hashOf(stampOwnership(reannotated, 'edge')), base);
  });

  it('gives the same hash when an already stamped object is stamped again', () => {
    const once = stampOwnership(configMap(), 'edge');
    const twice = stampOwnership(once, 'edge');
    assert.deepEqual(twice, once);
  });

  it('is idempotent for an object without labels or annotations', () => {
    const once = stampOwnership({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, 'edge');
    assert.equal(hashOf(stampOwnership(once, 'edge')), hashOf(once));
  });

  it('ignores a stale desired-hash annotation written in git', () => {
    const withStaleHash = configMap();
    withStaleHash.metadata.annotations = { note: 'hello', [desiredHashAnnotation]: 'not-a-real-hash' };
    assert.equal(hashOf(stampOwnership(withStaleHash, 'edge')), hashOf(stampOwnership(configMap(), 'edge')));
  });

  it('does not mutate its input', () => {
    const input = configMap();
    stampOwnership(input, 'edge');
    assert.deepEqual(input, configMap());
  });
});

describe('isOwnedBy', () => {
  it('is true for an object stamped by the same pipeline', () => {
    assert.equal(isOwnedBy(stampOwnership(configMap(), 'edge'), 'edge'), true);
  });

  it('is false for an object stamped by another pipeline', () => {
    assert.equal(isOwnedBy(stampOwnership(configMap(), 'edge'), 'cloud'), false);
  });

  it('is false without the managed-by label, or with another manager', () => {
    const pipelineOnly = configMap();
    pipelineOnly.metadata.labels = { [pipelineLabel]: 'edge' };
    assert.equal(isOwnedBy(pipelineOnly, 'edge'), false);
    const otherManager = configMap();
    otherManager.metadata.labels = { [managedByLabel]: 'helm', [pipelineLabel]: 'edge' };
    assert.equal(isOwnedBy(otherManager, 'edge'), false);
  });

  it('is false for an object without labels', () => {
    assert.equal(isOwnedBy({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, 'edge'), false);
  });
});

describe('ownershipSelector', () => {
  it('selects both ownership labels', () => {
    assert.equal(ownershipSelector('edge'), `${managedByLabel}=${managedByValue},${pipelineLabel}=edge`);
  });
});
