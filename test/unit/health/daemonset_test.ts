import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a DaemonSet with an updated, available pod on every node is Current',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 3
  numberAvailable: 3
  numberReady: 3
`,
    status: 'Current',
    message: 'DaemonSet successfully rolled out: 3 of 3 pods available',
  },
  {
    name: 'a DaemonSet the controller has not observed yet is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 1 }
status: { desiredNumberScheduled: 0 }
`,
    status: 'InProgress',
    message: 'Waiting for the DaemonSet controller to observe the DaemonSet',
  },
  {
    name: 'a DaemonSet without a desired number of pods is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 1 }
status: { observedGeneration: 1 }
`,
    status: 'InProgress',
    message: 'report the desired number of pods',
  },
  {
    name: 'a DaemonSet not yet scheduled on every node is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 1 }
status:
  observedGeneration: 1
  desiredNumberScheduled: 3
  currentNumberScheduled: 2
  updatedNumberScheduled: 2
  numberAvailable: 2
  numberReady: 2
`,
    status: 'InProgress',
    message: 'Waiting for daemon set rollout to finish: 2 of 3 pods have been scheduled',
  },
  {
    name: 'a DaemonSet with old pods left is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
spec:
  updateStrategy: { type: RollingUpdate }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 1
  numberAvailable: 3
  numberReady: 3
`,
    status: 'InProgress',
    message: 'Waiting for daemon set rollout to finish: 1 out of 3 new pods have been updated',
  },
  {
    name: 'a DaemonSet whose updated pods are not yet available is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 3
  numberAvailable: 2
  numberReady: 3
`,
    status: 'InProgress',
    message: 'Waiting for daemon set rollout to finish: 2 of 3 updated pods are available',
  },
  {
    name: 'a DaemonSet with pods not ready is InProgress',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 3
  numberAvailable: 3
  numberReady: 1
`,
    status: 'InProgress',
    message: '1 of 3 pods are ready',
  },
  {
    name: 'an OnDelete DaemonSet with available old pods is Current',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
spec:
  updateStrategy: { type: OnDelete }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 0
  numberAvailable: 3
  numberReady: 3
`,
    status: 'Current',
    message: 'with the OnDelete strategy pods are updated only when deleted',
  },
  {
    name: 'an OnDelete DaemonSet still waits for its pods to be available',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 2 }
spec:
  updateStrategy: { type: OnDelete }
status:
  observedGeneration: 2
  desiredNumberScheduled: 3
  currentNumberScheduled: 3
  updatedNumberScheduled: 0
  numberAvailable: 1
  numberReady: 1
`,
    status: 'InProgress',
    message: '1 of 3 updated pods are available',
  },
  {
    name: 'a DaemonSet that matches no node is Current',
    yaml: `
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, generation: 1 }
status: { observedGeneration: 1, desiredNumberScheduled: 0 }
`,
    status: 'Current',
    message: '0 of 0 pods available',
  },
]);
