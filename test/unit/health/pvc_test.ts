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
    name: 'a pending PVC is InProgress',
    yaml: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
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
