import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a ReplicaSet with all its pods available is Current',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f, generation: 1 }
spec: { replicas: 2 }
status: { observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2 }
`,
    status: 'Current',
    message: 'ReplicaSet is available: 2 of 2 replicas',
  },
  {
    name: 'a ReplicaSet that cannot create pods is InProgress with the reason',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f, generation: 1 }
spec: { replicas: 2 }
status:
  observedGeneration: 1
  replicas: 0
  conditions:
    - type: ReplicaFailure
      status: "True"
      reason: FailedCreate
      message: 'pods "web-5d8f-x" is forbidden: exceeded quota: compute'
`,
    status: 'InProgress',
    message: 'ReplicaSet cannot create pods: FailedCreate: pods "web-5d8f-x" is forbidden: exceeded quota',
  },
  {
    name: 'a ReplicaSet with pods not yet available is InProgress',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f, generation: 1 }
spec: { replicas: 2 }
status:
  observedGeneration: 1
  replicas: 2
  readyReplicas: 2
  availableReplicas: 1
  conditions:
    - { type: ReplicaFailure, status: "False" }
`,
    status: 'InProgress',
    message: 'Waiting for pods: 1 of 2 are available',
  },
  {
    name: 'a ReplicaSet with pods not ready is InProgress',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f, generation: 1 }
spec: { replicas: 2 }
status: { observedGeneration: 1, replicas: 2, readyReplicas: 1, availableReplicas: 2 }
`,
    status: 'InProgress',
    message: 'Waiting for pods: 1 of 2 are ready',
  },
  {
    name: 'a ReplicaSet with extra pods terminating is InProgress',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f, generation: 2 }
spec: { replicas: 1 }
status: { observedGeneration: 2, replicas: 2, readyReplicas: 2, availableReplicas: 2 }
`,
    status: 'InProgress',
    message: '1 extra pods are pending termination',
  },
  {
    name: 'a ReplicaSet without spec.replicas wants one pod',
    yaml: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: web-5d8f }
`,
    status: 'InProgress',
    message: '0 of 1 are available',
  },
]);
