import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a bound PVC is Current',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
status: { phase: Bound, capacity: { storage: 1Gi } }
`,
    status: 'Current',
    message: 'PVC is Bound',
  },
  {
    name: 'a pending PVC is InProgress, and says that a late-binding class waits for a Pod using it',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec: { storageClassName: local-path }
status: { phase: Pending }
`,
    status: 'InProgress',
    message:
      'binds on first consumer (WaitForFirstConsumer, as k3s local-path) provisions it only once a Pod using it is scheduled: put the PVC in the same wave as that Pod',
  },
  {
    name: 'a pending PVC whose Pod was placed waits for its volume',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data, annotations: { volume.kubernetes.io/selected-node: node-1 } }
status: { phase: Pending }
`,
    status: 'InProgress',
    message: 'PVC is not Bound: Pending',
  },
  {
    name: 'a PVC without a phase is InProgress',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec: { accessModes: [ReadWriteOnce] }
`,
    status: 'InProgress',
    message: 'PVC is not Bound: no phase reported',
  },
  {
    name: 'a PVC that lost its volume is Failed',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
status: { phase: Lost }
`,
    status: 'Failed',
    message: 'PVC is Lost',
  },
]);
