import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { legacyRbacToRemove } from '../../../src/install/legacy.js';
import type { KubeObject } from '../../../src/render/types.js';

const rbac = 'rbac.authorization.k8s.io/v1';
const dorisLabels = { 'app.kubernetes.io/part-of': 'doris' };

const role = (name: string, labels: Record<string, string> = dorisLabels): KubeObject => ({
  apiVersion: rbac,
  kind: 'ClusterRole',
  metadata: { name, labels },
});

function binding(name: string, role: string, subjects: Array<{ kind: string; name: string; namespace?: string }>, kind = 'ClusterRoleBinding'): KubeObject {
  return {
    apiVersion: rbac,
    kind,
    metadata: { name, labels: dorisLabels, ...(kind === 'RoleBinding' ? { namespace: 'x' } : {}) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects,
  } as KubeObject;
}

const sa = (namespace: string) => ({ kind: 'ServiceAccount', name: 'doris', namespace });
const names = (objects: KubeObject[]) => objects.map((o) => `${o.kind} ${o.metadata.name}`);

describe('removing the old, cluster-wide RBAC names on upgrade', () => {
  it('removes the old bindings and roles of this install once nothing else refers to them', () => {
    const found = [
      binding('doris-controller', 'doris-controller', [sa('doris-system')]),
      binding('doris-custom-kinds', 'doris-custom-kinds', [sa('doris-system')]),
      role('doris-controller'),
      role('doris-custom-kinds'),
    ];
    const references = [found[0]!, found[1]!, binding('doris-controller-doris-system', 'doris-controller-doris-system', [sa('doris-system')])];
    assert.deepEqual(names(legacyRbacToRemove('doris-system', found, references)), [
      'ClusterRoleBinding doris-controller',
      'ClusterRoleBinding doris-custom-kinds',
      'ClusterRole doris-controller',
      'ClusterRole doris-custom-kinds',
    ]);
  });

  it("leaves another install's old binding, and the role it still uses", () => {
    const other = binding('doris-controller', 'doris-controller', [sa('team-a')]);
    const found = [other, role('doris-controller')];
    assert.deepEqual(legacyRbacToRemove('team-b', found, [other]), []);
  });

  it('keeps an old role that a user binding or a RoleBinding still refers to', () => {
    const ours = binding('doris-controller', 'doris-controller', [sa('doris-system')]);
    const found = [ours, role('doris-controller')];
    const userRoleBinding = binding('reuse', 'doris-controller', [{ kind: 'User', name: 'alice' }], 'RoleBinding');
    assert.deepEqual(names(legacyRbacToRemove('doris-system', found, [ours, userRoleBinding])), ['ClusterRoleBinding doris-controller']);
  });

  it('never removes a binding with other subjects too, nor objects that are not labelled as DORIS', () => {
    const shared = binding('doris-controller', 'doris-controller', [sa('doris-system'), { kind: 'User', name: 'alice' }]);
    const unlabelled = { ...binding('doris-custom-kinds', 'doris-custom-kinds', [sa('doris-system')]), metadata: { name: 'doris-custom-kinds' } } as KubeObject;
    const found = [shared, unlabelled, role('doris-controller'), role('doris-custom-kinds', {})];
    assert.deepEqual(legacyRbacToRemove('doris-system', found, [shared, unlabelled]), []);
  });

  it('ignores the per-install names', () => {
    const current = binding('doris-controller-doris-system', 'doris-controller-doris-system', [sa('doris-system')]);
    assert.deepEqual(legacyRbacToRemove('doris-system', [current, role('doris-controller-doris-system')], [current]), []);
  });
});
