import { healthCases } from './fixture.js';
import type { HealthCase } from './fixture.js';

/** A running Pod whose container "app" waits for `reason`. */
function waitingPod(reason: string, message: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Pending
  conditions:
    - { type: PodScheduled, status: "True" }
    - { type: Ready, status: "False", reason: ContainersNotReady }
  containerStatuses:
    - name: sidecar
      ready: true
      state: { running: { startedAt: "2024-05-01T10:00:00Z" } }
    - name: app
      ready: false
      state: { waiting: { reason: ${reason}, message: "${message}" } }
`;
}

const stuckContainers: HealthCase[] = [
  ['CrashLoopBackOff', 'back-off 5m0s restarting failed container=app'],
  ['ImagePullBackOff', 'Back-off pulling image ghcr.io/acme/web:main'],
  ['ErrImagePull', 'failed to pull image ghcr.io/acme/web:main: not found'],
  ['CreateContainerConfigError', 'configmap \\"settings\\" not found'],
  ['InvalidImageName', 'Failed to apply default image tag'],
].map(([reason, message]) => ({
  name: `a Pod with a container in ${reason} is Failed, naming the container and the reason`,
  yaml: waitingPod(reason!, message!),
  status: 'Failed',
  message: `Pod cannot run: container "app" is waiting: ${reason}: ${message!.replaceAll('\\"', '"')}`,
}));

healthCases([
  {
    name: 'a running Pod that is Ready is Current',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: PodScheduled, status: "True" }
    - { type: Ready, status: "True" }
  containerStatuses:
    - { name: app, ready: true, state: { running: { startedAt: "2024-05-01T10:00:00Z" } } }
`,
    status: 'Current',
    message: 'Pod is Ready',
  },
  {
    name: 'a Pod that ran to completion is Current',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: once }
status:
  phase: Succeeded
  conditions:
    - { type: Ready, status: "False", reason: PodCompleted }
`,
    status: 'Current',
    message: 'Pod has completed successfully',
  },
  {
    name: 'a Pod evicted from its node is Failed with the eviction reason',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Failed
  reason: Evicted
  message: "The node was low on resource: memory."
`,
    status: 'Failed',
    message: 'Pod failed: Evicted: The node was low on resource: memory.',
  },
  {
    name: 'a Pod whose container exited with an error is Failed with the exit code',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: once }
status:
  phase: Failed
  initContainerStatuses:
    - { name: init, state: { terminated: { exitCode: 0, reason: Completed } } }
  containerStatuses:
    - { name: app, state: { terminated: { exitCode: 3, reason: Error } } }
`,
    status: 'Failed',
    message: 'Pod failed: container "app" terminated: Error (exit code 3)',
  },
  {
    name: 'a failed Pod that says nothing about why is still Failed',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: once }
status: { phase: Failed }
`,
    status: 'Failed',
    message: 'Pod failed: no reason reported',
  },
  ...stuckContainers,
  {
    name: 'a Pod whose init container crash-loops is Failed',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Pending
  initContainerStatuses:
    - name: migrate
      state: { waiting: { reason: CrashLoopBackOff } }
  containerStatuses:
    - name: app
      state: { waiting: { reason: PodInitializing } }
`,
    status: 'Failed',
    message: 'container "migrate" is waiting: CrashLoopBackOff',
  },
  {
    name: 'a Pod whose containers are still being created is InProgress',
    yaml: waitingPod('ContainerCreating', ''),
    status: 'InProgress',
    message: 'Pod is Pending',
  },
  {
    name: 'a Pod the scheduler cannot place is InProgress with the scheduler message',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Pending
  conditions:
    - type: PodScheduled
      status: "False"
      reason: Unschedulable
      message: "0/3 nodes are available: 3 Insufficient memory."
`,
    status: 'InProgress',
    message: 'Pod is unschedulable: 0/3 nodes are available: 3 Insufficient memory.',
  },
  {
    name: 'a Pod not scheduled for another reason is simply Pending',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Pending
  conditions:
    - { type: PodScheduled, status: "False", reason: SchedulingGated }
`,
    status: 'InProgress',
    message: 'Pod is Pending',
  },
  {
    name: 'a running Pod that is not Ready is InProgress with the Ready condition reason',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [app]" }
  containerStatuses:
    - { name: app, ready: false, state: { running: {} } }
`,
    status: 'InProgress',
    message: 'Pod is running but not Ready: ContainersNotReady: containers with unready status: [app]',
  },
  {
    name: 'a Pod without a phase is InProgress',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
spec: { containers: [{ name: app, image: nginx }] }
`,
    status: 'InProgress',
    message: 'Pod phase is not yet reported',
  },
  {
    name: 'a run-once Pod (restartPolicy Never) that is Ready is still InProgress until it completes',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: migrate }
spec:
  restartPolicy: Never
  containers: [{ name: migrate, image: ghcr.io/acme/migrate:main }]
status:
  phase: Running
  conditions:
    - { type: PodScheduled, status: "True" }
    - { type: Ready, status: "True" }
  containerStatuses:
    - { name: migrate, ready: true, restartCount: 0, state: { running: { startedAt: "2024-05-01T10:00:00Z" } } }
`,
    status: 'InProgress',
    message: 'Waiting for Pod to complete: it is running (restartPolicy Never)',
  },
  {
    name: 'a Pod with restartPolicy OnFailure that is Ready is still InProgress until it completes',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: seed }
spec: { restartPolicy: OnFailure }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "True" }
  containerStatuses:
    - { name: seed, ready: true, state: { running: {} } }
`,
    status: 'InProgress',
    message: 'Waiting for Pod to complete: it is running (restartPolicy OnFailure)',
  },
  {
    name: 'a run-once Pod that Succeeded is Current',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: migrate }
spec: { restartPolicy: Never }
status:
  phase: Succeeded
  conditions:
    - { type: Ready, status: "False", reason: PodCompleted }
  containerStatuses:
    - { name: migrate, state: { terminated: { exitCode: 0, reason: Completed } } }
`,
    status: 'Current',
    message: 'Pod has completed successfully',
  },
  {
    name: 'a run-once Pod that Failed is Failed',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: migrate }
spec: { restartPolicy: Never }
status:
  phase: Failed
  containerStatuses:
    - { name: migrate, state: { terminated: { exitCode: 2, reason: Error } } }
`,
    status: 'Failed',
    message: 'Pod failed: container "migrate" terminated: Error (exit code 2)',
  },
  {
    name: 'a run-once Pod whose container exited with an error is Failed before its phase says so',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: migrate }
spec: { restartPolicy: Never }
status:
  phase: Running
  containerStatuses:
    - { name: migrate, state: { terminated: { exitCode: 1, reason: Error } } }
    - { name: sidecar, ready: true, state: { running: {} } }
`,
    status: 'Failed',
    message: 'Pod cannot run: container "migrate" terminated: Error (exit code 1)',
  },
  {
    name: 'a Pod whose container just exited with an error and will be restarted is Failed, like a crash loop',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "False", reason: ContainersNotReady }
  containerStatuses:
    - name: app
      ready: false
      restartCount: 0
      state: { terminated: { exitCode: 137, reason: OOMKilled } }
`,
    status: 'Failed',
    message: 'Pod cannot run: container "app" terminated: OOMKilled (exit code 137)',
  },
  {
    name: 'a Pod whose container waits to restart after an error exit is Failed with the exit code and restarts',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "False", reason: ContainersNotReady }
  containerStatuses:
    - name: app
      ready: false
      restartCount: 2
      state: { waiting: { reason: Error } }
      lastState: { terminated: { exitCode: 1, reason: Error } }
`,
    status: 'Failed',
    message: 'Pod cannot run: container "app" is restarting after it terminated: Error (exit code 1), 2 restarts',
  },
  {
    name: 'a Pod whose container crashed once and runs again is not Failed; the last exit is named',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "False", reason: ContainersNotReady }
  containerStatuses:
    - name: app
      ready: false
      restartCount: 1
      state: { running: {} }
      lastState: { terminated: { exitCode: 1, reason: Error } }
`,
    status: 'InProgress',
    message: 'Pod is running but not Ready: ContainersNotReady; container "app" has 1 restart, last terminated: Error (exit code 1)',
  },
  {
    name: 'a Ready Pod whose container crashed once before is Current',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "True" }
  containerStatuses:
    - name: app
      ready: true
      restartCount: 1
      state: { running: {} }
      lastState: { terminated: { exitCode: 1, reason: Error } }
`,
    status: 'Current',
    message: 'Pod is Ready',
  },
  {
    name: 'a Pod whose finished init container exited cleanly is not Failed',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Running
  conditions:
    - { type: Ready, status: "False", reason: ContainersNotReady }
  initContainerStatuses:
    - { name: init, state: { terminated: { exitCode: 0, reason: Completed } } }
  containerStatuses:
    - { name: app, ready: false, state: { running: {} } }
`,
    status: 'InProgress',
    message: 'Pod is running but not Ready',
  },
  {
    name: 'a Pod on a node that stopped reporting is Unknown',
    yaml: `
apiVersion: v1
kind: Pod
metadata: { name: web-1 }
status:
  phase: Unknown
  message: "node edge-17 is not responding"
`,
    status: 'Unknown',
    message: 'Pod phase is Unknown: node edge-17 is not responding',
  },
]);
