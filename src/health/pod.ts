/**
 * Pod: what "done" means depends on the Pod's `restartPolicy`.
 *
 * - `Always` (the default): a long-running Pod, healthy when it is Ready.
 * - `Never` or `OnFailure`: a run-to-completion Pod (a one-off task, a migration), healthy only
 *   once it has Succeeded. Being Ready while it runs is not enough: the next wave may rely on
 *   the task's result. Phase Failed is a failure.
 *
 * A container that cannot run as specified makes the Pod Failed at once, naming the container
 * and the reason, instead of letting the wave time out in silence: one stuck waiting for a
 * reason that does not go away by itself (a crash loop, an image that cannot be pulled, a
 * missing ConfigMap key), one that exited with an error, and one waiting to be restarted after
 * it exited with an error. A container that crashed once and now runs again is not failing;
 * its last exit is named while the Pod is not Ready. A Pod the scheduler cannot place yet is
 * still InProgress (a node may join), with the scheduler's explanation as the message.
 */

import { describeCondition, findCondition } from './conditions.js';
import { arrayField, intField, nested, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

/** Container waiting reasons that mean the container cannot start as specified. */
const FAILING_WAIT_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

interface ContainerStatus {
  name: string;
  status: unknown;
}

function containerStatuses(obj: KubeObject): ContainerStatus[] {
  return [...arrayField(obj, ['status', 'initContainerStatuses']), ...arrayField(obj, ['status', 'containerStatuses'])].map((status) => ({
    name: stringField(status, ['name'], '?'),
    status,
  }));
}

/** The Pod's restart policy; the API server defaults it to `Always`. */
function restartPolicyOf(obj: KubeObject): string {
  return stringField(obj, ['spec', 'restartPolicy'], 'Always');
}

/** "Error (exit code 1)" for a `terminated` state with a non-zero exit code, else undefined. */
function errorExit(terminated: unknown): string | undefined {
  if (typeof terminated !== 'object' || terminated === null) return undefined;
  const exitCode = nested(terminated, 'exitCode');
  if (typeof exitCode !== 'number' || exitCode === 0) return undefined;
  return `${stringField(terminated, ['reason'], 'Error')} (exit code ${exitCode})`;
}

function restarts(status: unknown): string {
  const count = intField(status, ['restartCount'], 0);
  return `${count} restart${count === 1 ? '' : 's'}`;
}

/** Why one container cannot run as specified, or undefined when it can. */
function containerFailure(name: string, status: unknown): string | undefined {
  const reason = stringField(status, ['state', 'waiting', 'reason']);
  if (FAILING_WAIT_REASONS.has(reason)) {
    const message = stringField(status, ['state', 'waiting', 'message']);
    return `container "${name}" is waiting: ${reason}${message === '' ? '' : `: ${message}`}`;
  }
  const exited = errorExit(nested(status, 'state', 'terminated'));
  if (exited !== undefined) return `container "${name}" terminated: ${exited}`;
  // Between an error exit and the restart the kubelet reports a waiting state whose reason
  // varies (Error, ContainerCreating, ...); the last exit says what happened.
  const lastExit = errorExit(nested(status, 'lastState', 'terminated'));
  if (nested(status, 'state', 'waiting') !== undefined && lastExit !== undefined && intField(status, ['restartCount'], 0) > 0) {
    return `container "${name}" is restarting after it terminated: ${lastExit}, ${restarts(status)}`;
  }
  return undefined;
}

/** A failure message for each container that cannot run as specified. */
function failingContainers(obj: KubeObject): string[] {
  return containerStatuses(obj)
    .map(({ name, status }) => containerFailure(name, status))
    .filter((failure): failure is string => failure !== undefined);
}

/** "container "app" restarted 2 times, last: Error (exit code 1)" for running containers that crashed before. */
function earlierCrashes(obj: KubeObject): string[] {
  const found: string[] = [];
  for (const { name, status } of containerStatuses(obj)) {
    const lastExit = errorExit(nested(status, 'lastState', 'terminated'));
    if (lastExit === undefined || intField(status, ['restartCount'], 0) === 0) continue;
    found.push(`container "${name}" has ${restarts(status)}, last terminated: ${lastExit}`);
  }
  return found;
}

/** Why a Pod in phase Failed failed: the Pod's own reason, else the first failed container. */
function failureOf(obj: KubeObject): string {
  const reason = stringField(obj, ['status', 'reason']);
  const message = stringField(obj, ['status', 'message']);
  if (reason !== '' || message !== '') return [reason, message].filter((s) => s !== '').join(': ');
  for (const { name, status } of containerStatuses(obj)) {
    const exited = errorExit(nested(status, 'state', 'terminated'));
    if (exited !== undefined) return `container "${name}" terminated: ${exited}`;
  }
  return 'no reason reported';
}

function withDetails(message: string, details: string[]): string {
  return details.length === 0 ? message : `${message}; ${details.join('; ')}`;
}

export function podHealth(obj: KubeObject): HealthResult {
  const phase = stringField(obj, ['status', 'phase']);
  if (phase === 'Succeeded') return healthResult('Current', 'Pod has completed successfully');
  if (phase === 'Failed') return healthResult('Failed', `Pod failed: ${failureOf(obj)}`);

  const failing = failingContainers(obj);
  if (failing.length > 0) return healthResult('Failed', `Pod cannot run: ${failing.join('; ')}`);

  const restartPolicy = restartPolicyOf(obj);
  const runsToCompletion = restartPolicy === 'Never' || restartPolicy === 'OnFailure';
  const ready = findCondition(obj, 'Ready');
  if (ready?.status === 'True' && !runsToCompletion) return healthResult('Current', 'Pod is Ready');

  const scheduled = findCondition(obj, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return healthResult('InProgress', `Pod is unschedulable: ${scheduled.message === '' ? 'no reason given' : scheduled.message}`);
  }

  switch (phase) {
    case 'Pending':
      return healthResult('InProgress', 'Pod is Pending');
    case 'Running': {
      if (runsToCompletion) {
        return healthResult('InProgress', withDetails(`Waiting for Pod to complete: it is running (restartPolicy ${restartPolicy})`, earlierCrashes(obj)));
      }
      const detail = ready ? describeCondition(ready, '') : '';
      return healthResult('InProgress', withDetails(`Pod is running but not Ready${detail === '' ? '' : `: ${detail}`}`, earlierCrashes(obj)));
    }
    case '':
      return healthResult('InProgress', 'Pod phase is not yet reported');
    default: {
      // "Unknown": the node stopped reporting, so nobody knows what the Pod is doing.
      const message = stringField(obj, ['status', 'message']);
      return healthResult('Unknown', `Pod phase is ${phase}${message === '' ? '' : `: ${message}`}`);
    }
  }
}
