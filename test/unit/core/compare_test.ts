import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coveredBy, sameAfterApply } from '../../../src/apply/compare.js';
import type { KubeObject } from '../../../src/render/types.js';

const deployment = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    replicas: 2,
    template: { spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web@sha256:aaa', ports: [{ containerPort: 8080 }] }] } },
  },
});

/** What the API server returns for `deployment()`: the same fields plus defaults and bookkeeping. */
const liveDeployment = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'shop',
    labels: { app: 'web' },
    uid: '1234',
    generation: 3,
    resourceVersion: '999',
    managedFields: [{ manager: 'doris', operation: 'Apply' }],
  },
  spec: {
    replicas: 2,
    progressDeadlineSeconds: 600,
    strategy: { type: 'RollingUpdate' },
    template: {
      spec: {
        containers: [
          {
            name: 'web',
            image: 'ghcr.io/acme/web@sha256:aaa',
            imagePullPolicy: 'IfNotPresent',
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
          },
        ],
        restartPolicy: 'Always',
      },
    },
  },
  status: { readyReplicas: 2 },
});

describe('coveredBy', () => {
  it('is covered by a live object that has extra defaulted fields at every level', () => {
    assert.equal(coveredBy(deployment(), liveDeployment()), true);
  });

  it('is not covered when a nested scalar differs', () => {
    const live = liveDeployment();
    (live.spec as { replicas: number }).replicas = 3;
    assert.equal(coveredBy(deployment(), live), false);
  });

  it('is not covered when a field we set is missing from the live object', () => {
    const desired = deployment();
    desired.metadata.annotations = { note: 'x' };
    assert.equal(coveredBy(desired, liveDeployment()), false);
  });

  it('is not covered when a value deep inside an array item differs', () => {
    const live = liveDeployment();
    const container = (live.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0];
    assert.ok(container);
    container.image = 'ghcr.io/acme/web@sha256:bbb';
    assert.equal(coveredBy(deployment(), live), false);
  });

  it('is not covered by an array of a different length, longer or shorter', () => {
    assert.equal(coveredBy({ args: ['a', 'b'] }, { args: ['a', 'b', 'c'] }), false);
    assert.equal(coveredBy({ args: ['a', 'b'] }, { args: ['a'] }), false);
    assert.equal(coveredBy({ args: [] }, { args: ['a'] }), false);
  });

  it('compares arrays item by item, in order', () => {
    assert.equal(coveredBy({ args: ['a', 'b'] }, { args: ['a', 'b'] }), true);
    assert.equal(coveredBy({ args: ['a', 'b'] }, { args: ['b', 'a'] }), false);
    assert.equal(coveredBy([{ name: 'x' }], [{ name: 'x', extra: 1 }]), true);
  });

  it('does not match a number with its string form, either way', () => {
    assert.equal(coveredBy({ port: 80 }, { port: '80' }), false);
    assert.equal(coveredBy({ port: '80' }, { port: 80 }), false);
    assert.equal(coveredBy({ enabled: true }, { enabled: 'true' }), false);
  });

  it('does not match null, objects, arrays and scalars with each other', () => {
    assert.equal(coveredBy({ a: null }, { a: null }), true);
    assert.equal(coveredBy({ a: null }, {}), false);
    assert.equal(coveredBy({ a: {} }, { a: null }), false);
    assert.equal(coveredBy({ a: {} }, { a: [] }), false);
    assert.equal(coveredBy({ a: [] }, { a: {} }), false);
    assert.equal(coveredBy({ a: { b: 1 } }, { a: 'b' }), false);
    assert.equal(coveredBy({ a: 0 }, { a: false }), false);
  });

  it('treats an empty desired object as covered by any live object', () => {
    assert.equal(coveredBy({ a: {} }, { a: { b: 1 } }), true);
  });

  it('ignores fields whose desired value is undefined', () => {
    assert.equal(coveredBy({ a: 1, b: undefined }, { a: 1 }), true);
    assert.equal(coveredBy({ a: { b: undefined } }, { a: {} }), true);
  });

  it('ignores fields whose desired value is undefined even when the live object has a value there', () => {
    assert.equal(coveredBy({ a: 1, b: undefined }, { a: 1, b: 'defaulted' }), true);
    assert.equal(coveredBy({ spec: { replicas: undefined } }, { spec: { replicas: 3 } }), true);
  });

  it('is not covered when the live side is missing a field we set', () => {
    assert.equal(coveredBy({ a: 1 }, { a: undefined }), false);
    assert.equal(coveredBy({ a: 1 }, undefined), false);
  });
});

describe('sameAfterApply', () => {
  it('ignores managedFields and resourceVersion', () => {
    const live = liveDeployment();
    const dryRun = liveDeployment();
    dryRun.metadata.resourceVersion = '1000';
    dryRun.metadata.managedFields = [{ manager: 'doris', operation: 'Apply', time: 'later' }];
    assert.equal(sameAfterApply(dryRun, live), true);
  });

  it('ignores managedFields and resourceVersion missing on one side', () => {
    const live = liveDeployment();
    const dryRun = liveDeployment();
    delete dryRun.metadata.resourceVersion;
    delete dryRun.metadata.managedFields;
    assert.equal(sameAfterApply(dryRun, live), true);
  });

  it('sees a change of generation', () => {
    const dryRun = liveDeployment();
    dryRun.metadata.generation = 4;
    assert.equal(sameAfterApply(dryRun, liveDeployment()), false);
  });

  it('sees a change in spec', () => {
    const dryRun = liveDeployment();
    (dryRun.spec as { replicas: number }).replicas = 3;
    assert.equal(sameAfterApply(dryRun, liveDeployment()), false);
  });

  it('sees a change of labels or annotations', () => {
    const withLabel = liveDeployment();
    withLabel.metadata.labels = { app: 'web', tier: 'front' };
    assert.equal(sameAfterApply(withLabel, liveDeployment()), false);
    const withAnnotation = liveDeployment();
    withAnnotation.metadata.annotations = { note: 'x' };
    assert.equal(sameAfterApply(withAnnotation, liveDeployment()), false);
  });

  it('does not remove bookkeeping from the objects it compares', () => {
    const dryRun = liveDeployment();
    const live = liveDeployment();
    sameAfterApply(dryRun, live);
    assert.deepEqual(dryRun, liveDeployment());
    assert.deepEqual(live, liveDeployment());
  });
});
