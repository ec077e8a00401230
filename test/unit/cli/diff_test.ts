/** The field-level diff behind `doris diff` and the dashboard: plain objects in, changes out. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../src/kube/object.js';
import { diffFields, diffObject, diffValues, formatDiffs, hasChanges, masked } from '../../../src/reconcile/diff.js';

const deployment = (image: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps', resourceVersion: '7', generation: 3, managedFields: [{ manager: 'doris' }], labels: { app: 'web' } },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            { name: 'app', image, ports: [{ containerPort: 80 }] },
            { name: 'sidecar', image: 'proxy:1' },
          ],
        },
      },
      ...extra,
    },
    status: { readyReplicas: 1 },
  }) as unknown as KubeObject;

describe('diffValues', () => {
  it('reports added, removed and changed leaves with readable paths', () => {
    assert.deepEqual(diffValues({ a: 1, b: { c: 'x' }, 'd.e/f': true }, { a: 2, b: {}, g: [1], 'd.e/f': true }), [
      { path: 'a', op: 'change', from: 1, to: 2 },
      { path: 'b.c', op: 'remove', from: 'x' },
      { path: 'g', op: 'add', to: [1] },
    ]);
    assert.deepEqual(diffValues({ 'app.kubernetes.io/name': 'a' }, { 'app.kubernetes.io/name': 'b' }, 'metadata.labels'), [
      { path: 'metadata.labels["app.kubernetes.io/name"]', op: 'change', from: 'a', to: 'b' },
    ]);
  });

  it('matches list items by name, so inserting a container does not shift the others', () => {
    const from = [
      { name: 'a', image: '1' },
      { name: 'b', image: '1' },
    ];
    const to = [
      { name: 'new', image: '9' },
      { name: 'a', image: '1' },
      { name: 'b', image: '2' },
    ];
    assert.deepEqual(diffValues(from, to, 'containers'), [
      { path: 'containers[name=b].image', op: 'change', from: '1', to: '2' },
      { path: 'containers[name=new]', op: 'add', to: { name: 'new', image: '9' } },
    ]);
  });

  it('compares lists without distinct names by index', () => {
    assert.deepEqual(diffValues([1, 2], [1, 3, 4], 'args'), [
      { path: 'args[1]', op: 'change', from: 2, to: 3 },
      { path: 'args[2]', op: 'add', to: 4 },
    ]);
    assert.deepEqual(diffValues([{ name: 'x' }, { name: 'x', v: 1 }], [{ name: 'x' }, { name: 'x', v: 2 }], 'l'), [
      { path: 'l[1].v', op: 'change', from: 1, to: 2 },
    ]);
  });

  it('a type change is one change, not a walk into both sides', () => {
    assert.deepEqual(diffValues({ a: { b: 1 } }, { a: 'text' }), [{ path: 'a', op: 'change', from: { b: 1 }, to: 'text' }]);
  });
});

describe('diffFields / diffObject', () => {
  it('ignores what the server and controllers write (resourceVersion, generation, managedFields, status)', () => {
    const live = deployment('web:1');
    const after = { ...deployment('web:1'), metadata: { ...deployment('web:1').metadata, resourceVersion: '8', generation: 4, managedFields: [] }, status: {} };
    assert.deepEqual(diffFields(live, after as KubeObject), []);
    assert.equal(diffObject(live, after as KubeObject).action, 'unchanged');
  });

  it('an image change is one field', () => {
    const result = diffObject(deployment('web:1'), deployment('web:2'), { source: 'deploy/2-app/170-web.yaml:1:1' });
    assert.equal(result.action, 'update');
    assert.deepEqual(result.changes, [{ path: 'spec.template.spec.containers[name=app].image', op: 'change', from: 'web:1', to: 'web:2' }]);
    assert.equal(result.source, 'deploy/2-app/170-web.yaml:1:1');
    assert.deepEqual([result.kind, result.namespace, result.name], ['Deployment', 'apps', 'web']);
  });

  it('never shows the values of a Secret, only which keys change', () => {
    const secret = (data: Record<string, string>, annotations: Record<string, string> = {}): KubeObject =>
      ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'a', annotations }, data }) as unknown as KubeObject;
    const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
    const changes = diffFields(
      secret({ password: 'aHVudGVyMg==', gone: 'eA==' }, { [lastApplied]: '{"data":{"password":"aHVudGVyMg=="}}' }),
      secret({ password: 'aHVudGVyMw==', added: 'eQ==' }, { [lastApplied]: '{"data":{"password":"aHVudGVyMw=="}}' }),
    );
    const text = JSON.stringify(changes) + formatDiffs([{ apiVersion: 'v1', kind: 'Secret', name: 's', action: 'update', changes }]).join('\n');
    for (const secretValue of ['aHVudGVy', 'eA==', 'eQ==']) assert.ok(!text.includes(secretValue), `${secretValue} leaked: ${text}`);
    assert.deepEqual(
      changes.map((c) => [c.path, c.op, c.from, c.to]),
      [
        ['data.added', 'add', undefined, masked],
        ['data.gone', 'remove', masked, undefined],
        ['data.password', 'change', masked, masked],
        [`metadata.annotations["${lastApplied}"]`, 'change', masked, masked],
      ],
    );
    // A whole data map added at once: its keys are named, its values are not.
    const added = diffFields({ ...secret({}), data: undefined } as unknown as KubeObject, secret({ token: 'c2VjcmV0' }));
    assert.deepEqual(added, [{ path: 'data', op: 'add', to: { token: masked } }]);
  });

  it('shows the values of a ConfigMap', () => {
    const cm = (v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: v } }) as unknown as KubeObject;
    assert.deepEqual(diffFields(cm('1'), cm('2')), [{ path: 'data.k', op: 'change', from: '1', to: '2' }]);
  });
});

describe('hasChanges and formatDiffs', () => {
  const base = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'a', name: 'c', changes: [] };
  it('nothing to do only when every object is unchanged', () => {
    assert.equal(hasChanges([{ ...base, action: 'unchanged' }]), false);
    assert.equal(hasChanges([]), false);
    for (const action of ['create', 'update', 'recreate', 'delete', 'error'] as const) assert.equal(hasChanges([{ ...base, action }]), true, action);
  });

  it('prints one block per object that changes, none for unchanged ones', () => {
    const lines = formatDiffs([
      { ...base, action: 'unchanged' },
      { ...base, name: 'n', action: 'create', source: 'deploy/1-a/120-n.yaml:1:1' },
      { ...base, name: 'u', action: 'update', changes: [{ path: 'data.k', op: 'change', from: '1', to: '2' }] },
      { ...base, name: 'p', action: 'delete' },
      { ...base, name: 'e', action: 'error', note: '422 Invalid' },
    ]);
    assert.deepEqual(lines, [
      '+ ConfigMap a/n created  (deploy/1-a/120-n.yaml:1:1)',
      '~ ConfigMap a/u changed',
      '    ~ data.k: "1" -> "2"',
      '- ConfigMap a/p deleted (pruned)',
      'x ConfigMap a/e refused',
      '    422 Invalid',
    ]);
  });
});
