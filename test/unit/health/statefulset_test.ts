import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a StatefulSet with every pod ready at the new revision is Current',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 3 }
spec:
  replicas: 3
  updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 0 } }
status:
  observedGeneration: 3
  replicas: 3
  readyReplicas: 3
  currentReplicas: 3
  updatedReplicas: 3
  currentRevision: db-7d9f
  updateRevision: db-7d9f
`,
    status: 'Current',
    message: 'StatefulSet rolling update complete: 3 pods at revision db-7d9f',
  },
  {
    name: 'a StatefulSet without spec.replicas or updateStrategy wants one pod rolled out',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
status:
  replicas: 1
  readyReplicas: 1
  updatedReplicas: 1
  currentRevision: db-1
  updateRevision: db-1
`,
    status: 'Current',
    message: '1 pods at revision db-1',
  },
  {
    name: 'a StatefulSet that has not created all its pods is InProgress',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 1 }
spec: { replicas: 3 }
status: { observedGeneration: 1, replicas: 1, readyReplicas: 1 }
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 of 3 pods have been created',
  },
  {
    name: 'a StatefulSet with pods not ready is InProgress',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 1 }
spec: { replicas: 3 }
status: { observedGeneration: 1, replicas: 3, readyReplicas: 2, updatedReplicas: 3 }
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 2 of 3 pods are ready',
  },
  {
    name: 'a StatefulSet scaled down with pods still terminating is InProgress',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 2 }
spec: { replicas: 2 }
status: { observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 3 }
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 extra pods are pending termination',
  },
  {
    name: 'a StatefulSet in the middle of a rolling update is InProgress',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec:
  replicas: 3
  updateStrategy: { type: RollingUpdate }
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 3
  currentReplicas: 2
  updatedReplicas: 1
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'InProgress',
    message: 'Waiting for rollout to finish: 1 out of 3 new pods have been updated',
  },
  {
    name: 'a StatefulSet whose current revision has not caught up with the update revision is InProgress',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec: { replicas: 3 }
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 3
  updatedReplicas: 3
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'InProgress',
    message: '3 pods at revision db-new, current revision is still db-old',
  },
  {
    name: 'a partitioned StatefulSet is InProgress until the pods above the partition are updated',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec:
  replicas: 3
  updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 1 } }
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 3
  updatedReplicas: 1
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'InProgress',
    message: 'Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated',
  },
  {
    name: 'a partitioned StatefulSet is Current once the pods above the partition are updated, old ones remaining',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec:
  replicas: 3
  updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 1 } }
status:
  observedGeneration: 4
  replicas: 3
  readyReplicas: 3
  updatedReplicas: 2
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'Current',
    message: 'Partitioned roll out complete: 2 new pods have been updated',
  },
  {
    name: 'a StatefulSet partitioned above its replica count updates nothing and is Current',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec:
  replicas: 2
  updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 5 } }
status:
  observedGeneration: 4
  replicas: 2
  readyReplicas: 2
  updatedReplicas: 0
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'Current',
    message: 'Partitioned roll out complete: 0 new pods',
  },
  {
    name: 'an OnDelete StatefulSet with ready pods at the old revision is Current',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 4 }
spec:
  replicas: 2
  updateStrategy: { type: OnDelete }
status:
  observedGeneration: 4
  replicas: 2
  readyReplicas: 2
  updatedReplicas: 0
  currentRevision: db-old
  updateRevision: db-new
`,
    status: 'Current',
    message: 'StatefulSet has 2 ready pods; with the OnDelete strategy',
  },
  {
    name: 'an OnDelete StatefulSet still waits for its pods to be ready',
    yaml: `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, generation: 1 }
spec:
  replicas: 2
  updateStrategy: { type: OnDelete }
status: { observedGeneration: 1, replicas: 2, readyReplicas: 0 }
`,
    status: 'InProgress',
    message: '0 of 2 pods are ready',
  },
]);
