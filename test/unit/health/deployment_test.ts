import { healthCases } from './fixture.js';

const available = `{ type: Available, status: "True", reason: MinimumReplicasAvailable }`;
const newRsAvailable = `{ type: Progressing, status: "True", reason: NewReplicaSetAvailable }`;
const rsUpdated = `{ type: Progressing, status: "True", reason: ReplicaSetUpdated }`;

healthCases([
  {
    name: 'a Deployment whose new replicas are all updated and available is Current',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions: [${available}, ${newRsAvailable}]
`,
    status: 'Current',
    message: 'Deployment successfully rolled out: 2 of 2 replicas available',
  },
  {
    name: 'a Deployment still creating new replicas is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 3
  updatedReplicas: 1
  readyReplicas: 2
  availableReplicas: 2
  conditions: [${available}, ${rsUpdated}]
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 out of 2 new replicas have been updated',
  },
  {
    name: 'a Deployment with old replicas still running is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 3
  updatedReplicas: 2
  readyReplicas: 3
  availableReplicas: 3
  conditions: [${available}, ${rsUpdated}]
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 old replicas are pending termination',
  },
  {
    name: 'a Deployment whose new ReplicaSet is not yet available is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  conditions: [${available}, ${rsUpdated}]
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 of 2 updated replicas are available',
  },
  {
    name: 'a Deployment scaled down with extra replicas still running is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 5 }
spec: { replicas: 1, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 5
  replicas: 3
  updatedReplicas: 3
  readyReplicas: 3
  availableReplicas: 3
  conditions: [${available}, ${newRsAvailable}]
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 2 extra replicas are pending termination',
  },
  {
    name: 'a Deployment with fewer ready than wanted replicas is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 2
  conditions: [${available}, ${newRsAvailable}]
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 of 2 replicas are ready',
  },
  {
    name: 'a Deployment past its progress deadline is Failed',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 3
  updatedReplicas: 1
  readyReplicas: 2
  availableReplicas: 2
  conditions:
    - ${available}
    - type: Progressing
      status: "False"
      reason: ProgressDeadlineExceeded
      message: ReplicaSet "web-5d8f" has timed out progressing.
`,
    status: 'Failed',
    message: 'exceeded its progress deadline (ProgressDeadlineExceeded): ReplicaSet "web-5d8f" has timed out progressing.',
  },
  {
    name: 'a Deployment without spec.replicas wants one replica',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 1 }
spec: { progressDeadlineSeconds: 600 }
status:
  observedGeneration: 1
  conditions: [${rsUpdated}]
`,
    status: 'InProgress',
    message: '0 out of 1 new replicas have been updated',
  },
  {
    name: 'a Deployment with the right counts but no confirmed rollout is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions: [${available}, ${rsUpdated}]
`,
    status: 'InProgress',
    message: 'the new ReplicaSet is not yet reported available',
  },
  {
    name: 'a Deployment without a progress deadline does not need the Progressing condition',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 2147483647 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions: [${available}]
`,
    status: 'Current',
    message: 'successfully rolled out',
  },
  {
    name: 'a Deployment without minimum availability is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions:
    - { type: Available, status: "False", reason: MinimumReplicasUnavailable, message: "Deployment does not have minimum availability." }
    - ${newRsAvailable}
`,
    status: 'InProgress',
    message: 'does not have minimum availability (MinimumReplicasUnavailable',
  },
  {
    name: 'a Deployment without an Available condition is InProgress',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: Deployment does not have minimum availability',
  },
  {
    name: 'a Deployment scaled to zero is Current once the controller confirms it',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 2 }
spec: { replicas: 0, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 2
  conditions: [${available}, ${newRsAvailable}]
`,
    status: 'Current',
    message: '0 of 0 replicas available',
  },
  {
    name: 'a paused Deployment is Current and not waited for',
    yaml: `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, generation: 4 }
spec: { replicas: 2, paused: true, progressDeadlineSeconds: 600 }
status:
  observedGeneration: 4
  replicas: 2
  updatedReplicas: 0
  readyReplicas: 2
  availableReplicas: 2
  conditions: [${available}]
`,
    status: 'Current',
    message: 'Deployment is paused',
  },
]);
