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
