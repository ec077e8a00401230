import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeHealth } from '../../../src/health/index.js';
import type { KubeObject } from '../../../src/render/types.js';
import { healthCases } from './fixture.js';

/** A Deployment whose rollout is complete: used to show that earlier checks win over the rule. */
const rolledOutStatus = `
status:
  observedGeneration: 2
  replicas: 1
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
  conditions:
    - { type: Available, status: "True", reason: MinimumReplicasAvailable }
    - { type: Progressing, status: "True", reason: NewReplicaSetAvailable }
`;

healthCases([
  {
    name: 'an object being deleted is Terminating, however healthy its status',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 2, deletionTimestamp: "2024-05-01T10:00:00Z" }
spec: { replicas: 1, progressDeadlineSeconds: 600 }
${rolledOutStatus}`,
    status: 'Terminating',
    message: 'scheduled for deletion',
  },
  {
    name: 'a custom resource being deleted is Terminating even when Ready',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w, deletionTimestamp: "2024-05-01T10:00:00Z" }
status:
  conditions:
    - { type: Ready, status: "True" }
`,
    status: 'Terminating',
    message: 'Widget is scheduled for deletion',
  },
  {
    name: 'a Deployment whose new spec is not yet observed is InProgress, though its old rollout is complete',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 3 }
spec: { replicas: 1, progressDeadlineSeconds: 600 }
${rolledOutStatus}`,
    status: 'InProgress',
    message: 'Deployment generation is 3, observed generation is 2',
  },
  {
    name: 'a custom resource whose generation is not yet observed is InProgress even when Ready',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w, generation: 5 }
status:
  observedGeneration: 4
  conditions:
    - { type: Ready, status: "True" }
`,
    status: 'InProgress',
    message: 'generation is 5, observed generation is 4',
  },
  {
    name: 'an object without status.observedGeneration is judged by its conditions',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w, generation: 5 }
status:
  conditions:
    - { type: Ready, status: "True", reason: Synced, message: all good }
`,
    status: 'Current',
    message: 'Synced: all good',
  },
  {
    name: 'a custom resource with Stalled=True is Failed with its message',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Stalled, status: "True", reason: InvalidSpec, message: "spec.size must be positive" }
`,
    status: 'Failed',
    message: 'InvalidSpec: spec.size must be positive',
  },
  {
    name: 'a custom resource with Reconciling=True is InProgress with its message',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Reconciling, status: "True", reason: Progressing, message: "creating 2 of 3 buckets" }
`,
    status: 'InProgress',
    message: 'creating 2 of 3 buckets',
  },
  {
    name: 'Stalled wins over Reconciling whatever their order',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Reconciling, status: "True", message: retrying }
    - { type: Stalled, status: "True", message: quota exhausted }
`,
    status: 'Failed',
    message: 'quota exhausted',
  },
  {
    name: 'Stalled=False and Reconciling=False do not decide anything',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Stalled, status: "False" }
    - { type: Reconciling, status: "False" }
    - { type: Ready, status: "False", reason: Waiting, message: "waiting for the database" }
`,
    status: 'InProgress',
    message: 'Waiting: waiting for the database',
  },
  {
    name: 'Reconciling=True wins over Ready=True',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Ready, status: "True" }
    - { type: Reconciling, status: "True", message: "applying revision 7" }
`,
    status: 'InProgress',
    message: 'applying revision 7',
  },
  {
    name: 'a custom resource with Ready=False is InProgress with the condition message',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Ready, status: "False", message: "certificate not issued yet" }
`,
    status: 'InProgress',
    message: 'certificate not issued yet',
  },
  {
    name: 'a custom resource with Ready=Unknown is InProgress',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Ready, status: "Unknown" }
`,
    status: 'InProgress',
    message: 'Widget is not Ready',
  },
  {
    name: 'a custom resource with Ready=True is Current',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
status:
  conditions:
    - { type: Ready, status: "True" }
`,
    status: 'Current',
    message: 'Widget is Ready',
  },
  {
    name: 'a custom resource without conditions is Current',
    yaml: `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
spec: { size: 3 }
`,
    status: 'Current',
    message: 'Widget is current',
  },
  {
    name: 'a ConfigMap is Current as soon as it exists',
    yaml: `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { level: debug }
`,
    status: 'Current',
    message: 'ConfigMap is current',
  },
  {
    name: 'a Stalled condition fails even a kind that has its own rule',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: ClusterIP }
status:
  conditions:
    - { type: Stalled, status: "True", message: "port 80 is taken" }
`,
    status: 'Failed',
    message: 'port 80 is taken',
  },
  {
    name: 'a kind from another API group is not judged by the built-in rule of the same name',
    yaml: `
apiVersion: example.com/v1
kind: Deployment
metadata: { name: web }
status:
  conditions:
    - { type: Ready, status: "True" }
`,
    status: 'Current',
    message: 'Deployment is Ready',
  },
  {
    name: 'a Deployment in the old extensions group is judged by the Deployment rule',
    yaml: `
apiVersion: extensions/v1beta1
kind: Deployment
metadata: { name: web }
spec: { replicas: 2 }
`,
    status: 'InProgress',
    message: '0 out of 2 new replicas have been updated',
  },
  {
    name: 'a built-in rule ignores a Ready condition it does not use',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
status:
  phase: Pending
  conditions:
    - { type: Ready, status: "True" }
`,
    status: 'InProgress',
    message: 'PVC is not Bound: Pending',
  },
]);

test('an object with missing or mistyped fields does not throw', () => {
  const odd = {
    kind: 'Widget',
    metadata: { name: 'w', generation: 'two' },
    status: { observedGeneration: null, conditions: [null, 'Ready', { type: 7 }, { type: 'Ready', status: true }] },
  } as unknown as KubeObject;
  assert.deepEqual(computeHealth(odd), { status: 'InProgress', message: 'Widget is not Ready' });
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status: 'broken' } as unknown as KubeObject;
  assert.deepEqual(computeHealth(pod), { status: 'InProgress', message: 'Pod phase is not yet reported' });
});
