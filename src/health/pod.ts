/**
 * Pod: a long-running Pod is healthy when it is Ready; a run-to-completion Pod when it has
 * Succeeded. A container stuck waiting for a reason that does not go away by itself (a crash
 * loop, an image that cannot be pulled, a missing ConfigMap key) makes the Pod Failed at once,
 * naming the container and the reason, instead of letting the wave time out in silence. A Pod
 * the scheduler cannot place yet is still InProgress (a node may join), with the scheduler's
 * explanation as the message.
 */

import { describeCondition, findCondition } from './conditions.js';
import { arrayField, nested, stringField } from './fields.js';
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
  return [
    ...arrayField(obj, ['status', 'initContainerStatuses']),
    ...arrayField(obj, ['status', 'containerStatuses']),
  ].map((status) => ({ name: stringField(status, ['name'], '?'), status }));
}

/** "container "app" is waiting: CrashLoopBackOff: back-off 5m0s ..." for each failing container. */
function failingContainers(obj: KubeObject): string[] {
  const found: string[] = [];
  for (const { name, status } of containerStatuses(obj)) {
    const reason = stringField(status, ['state', 'waiting', 'reason']);
    if (!FAILING_WAIT_REASONS.has(reason)) continue;
    const message = stringField(status, ['state', 'waiting', 'message']);
    found.push(`container "${name}" is waiting: ${reason}${message === '' ? '' : `: ${message}`}`);
  }
  return found;
}

/** Why a Pod in phase Failed failed: the Pod's own reason, else the first failed container. */
function failureOf(obj: KubeObject): string {
  const reason = stringField(obj, ['status', 'reason']);
  const message = stringField(obj, ['status', 'message']);
  if (reason !== '' || message !== '') return [reason, message].filter((s) => s !== '').join(': ');
  for (const { name, status } of containerStatuses(obj)) {
    const terminated = nested(status, 'state', 'terminated');
    if (terminated === undefined) continue;
    const exitCode = nested(terminated, 'exitCode');
    if (exitCode === 0) continue;
    const why = stringField(terminated, ['reason'], 'Error');
    return `container "${name}" terminated: ${why}${typeof exitCode === 'number' ? ` (exit code ${exitCode})` : ''}`;
  }
  return 'no reason reported';
}

export function podHealth(obj: KubeObject): HealthResult {
  const phase = stringField(obj, ['status', 'phase']);
  if (phase === 'Succeeded') return healthResult('Current', 'Pod has completed successfully');
  if (phase === 'Failed') return healthResult('Failed', `Pod failed: ${failureOf(obj)}`);

  const failing = failingContainers(obj);
  if (failing.length > 0) return healthResult('Failed', `Pod cannot run: ${failing.join('; ')}`);

  const ready = findCondition(obj, 'Ready');
  if (ready?.status === 'True') return healthResult('Current', 'Pod is Ready');

  const scheduled = findCondition(obj, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return healthResult('InProgress', `Pod is unschedulable: ${scheduled.message === '' ? 'no reason given' : scheduled.message}`);
  }

  switch (phase) {
    case 'Pending':
      return healthResult('InProgress', 'Pod is Pending');
    case 'Running': {
      const detail = ready ? describeCondition(ready, '') : '';
      return healthResult('InProgress', `Pod is running but not Ready${detail === '' ? '' : `: ${detail}`}`);
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
