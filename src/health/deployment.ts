/**
 * Deployment: rolled out, as `kubectl rollout status` means it. Every replica runs the new
 * Pod template, no old replica is left, and the new replicas are available. A Deployment that
 * stops making progress for `spec.progressDeadlineSeconds` is marked by its controller with
 * `Progressing=False, reason=ProgressDeadlineExceeded`: that is a failure, not a wait.
 */

import { describeCondition, findCondition } from './conditions.js';
import { intField, nested, optionalInt } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

/** The controller's "no deadline" value for `spec.progressDeadlineSeconds`. */
const NO_PROGRESS_DEADLINE = 2147483647;

export function deploymentHealth(obj: KubeObject): HealthResult {
  const progressing = findCondition(obj, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    const detail = progressing.message === '' ? '' : `: ${progressing.message}`;
    return healthResult('Failed', `Deployment exceeded its progress deadline (ProgressDeadlineExceeded)${detail}`);
  }

  // A paused Deployment does not roll out until someone resumes it; waiting for it would only
  // end in a timeout, so the pause the user committed is taken as the desired state.
  if (nested(obj, 'spec', 'paused') === true) {
    return healthResult('Current', 'Deployment is paused: its rollout is not waited for');
  }

  const wanted = intField(obj, ['spec', 'replicas'], 1);
  const replicas = intField(obj, ['status', 'replicas'], 0);
  const updated = intField(obj, ['status', 'updatedReplicas'], 0);
  const available = intField(obj, ['status', 'availableReplicas'], 0);
  const ready = intField(obj, ['status', 'readyReplicas'], 0);

  const waiting = (what: string): HealthResult => healthResult('InProgress', `Waiting for rollout to finish: ${what}`);
  if (updated < wanted) return waiting(`${updated} out of ${wanted} new replicas have been updated`);
  if (replicas > updated) return waiting(`${replicas - updated} old replicas are pending termination`);
  if (available < updated) return waiting(`${available} of ${updated} updated replicas are available`);
  if (replicas > wanted) return waiting(`${replicas - wanted} extra replicas are pending termination`);
  if (ready < wanted) return waiting(`${ready} of ${wanted} replicas are ready`);

  // The counts can be right a moment before the controller has confirmed the rollout; kstatus
  // also waits for the conditions. Without a deadline the controller never sets Progressing.
  const deadline = optionalInt(obj, ['spec', 'progressDeadlineSeconds']);
  if (deadline !== undefined && deadline !== NO_PROGRESS_DEADLINE) {
    if (progressing?.status !== 'True' || progressing.reason !== 'NewReplicaSetAvailable') {
      return waiting('the new ReplicaSet is not yet reported available');
    }
  }
  const availableCondition = findCondition(obj, 'Available');
  if (availableCondition?.status !== 'True') {
    const detail = availableCondition ? describeCondition(availableCondition, '') : '';
    return waiting(`Deployment does not have minimum availability${detail === '' ? '' : ` (${detail})`}`);
  }

  return healthResult('Current', `Deployment successfully rolled out: ${available} of ${wanted} replicas available`);
}
