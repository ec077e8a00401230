/**
 * Shared by the tests of drift checks on objects DORIS may write but not read: a desired
 * object in wave 1, and a FakeKube that refuses to list Secrets (as the shipped RBAC does
 * outside the controller namespace).
 */
import type { KubeObject } from '../../../src/kube/object.js';
import type { DesiredObject } from '../../../src/render/types.js';
import type { FakeKube } from '../../fake/kube.js';

export const desired = (object: KubeObject): DesiredObject => ({
  object,
  wave: 1,
  waveName: '1-app',
  step: 10,
  source: { file: 'deploy/1-app/10-a.yaml', line: 1, col: 1 },
});

/** Secrets may not be listed, cluster-wide nor in namespace `apps`. */
export function forbidSecretReads(kube: FakeKube): FakeKube {
  kube.forbid = [
    { verb: 'list', kind: 'Secret', namespace: 'cluster' },
    { verb: 'list', kind: 'Secret', namespace: 'apps' },
  ];
  return kube;
}
