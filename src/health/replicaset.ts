/**
 * ReplicaSet: the wanted number of pods exist, are ready and available, and no extra pod is
 * left. `ReplicaFailure=True` means pods could not be created (quota, admission); kstatus
 * keeps waiting on it, because a quota freed elsewhere lets the ReplicaSet recover.
 */

import { describeCondition, findCondition } from './conditions.js';
import { intField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function replicaSetHealth(obj: KubeObject): HealthResult {
  const failure = findCondition(obj, 'ReplicaFailure');
  if (failure?.status === 'True') {
    return healthResult('InProgress', `ReplicaSet cannot create pods: ${describeCondition(failure, 'check its Pods and events')}`);
  }
  const wanted = intField(obj, ['spec', 'replicas'], 1);
  const replicas = intField(obj, ['status', 'replicas'], 0);
  const available = intField(obj, ['status', 'availableReplicas'], 0);
  const ready = intField(obj, ['status', 'readyReplicas'], 0);

  if (available < wanted) return healthResult('InProgress', `Waiting for pods: ${available} of ${wanted} are available`);
  if (ready < wanted) return healthResult('InProgress', `Waiting for pods: ${ready} of ${wanted} are ready`);
  if (replicas > wanted) {
    return healthResult('InProgress', `Waiting for pods: ${replicas - wanted} extra pods are pending termination`);
  }
  return healthResult('Current', `ReplicaSet is available: ${available} of ${wanted} replicas`);
}
