/**
 * Job: a Job is a piece of work that must finish, such as a database migration that the next
 * wave relies on, so it is healthy only once it has completed. (kstatus calls a running Job
 * Current; DORIS waits for `Complete`.) `Failed=True` means the controller gave up (backoff
 * limit, deadline): waiting longer cannot help.
 *
 * A Job committed with `spec.suspend: true` runs nothing until someone resumes it, so it is not
 * waited for. A Job just resumed (`spec.suspend` false or absent) still carries the
 * `Suspended=True` condition until the controller starts its Pods: that condition is stale,
 * and the Job is in progress.
 */

import { describeCondition, findCondition } from './conditions.js';
import { intField, nested } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function jobHealth(obj: KubeObject): HealthResult {
  const succeeded = intField(obj, ['status', 'succeeded'], 0);
  const active = intField(obj, ['status', 'active'], 0);
  const failed = intField(obj, ['status', 'failed'], 0);

  const failedCondition = findCondition(obj, 'Failed');
  if (failedCondition?.status === 'True') {
    return healthResult('Failed', `Job failed: ${describeCondition(failedCondition, `${failed} pods failed`)}`);
  }
  if (findCondition(obj, 'Complete')?.status === 'True') {
    return healthResult('Current', `Job completed: ${succeeded} succeeded`);
  }
  if (nested(obj, 'spec', 'suspend') === true) {
    return healthResult('Current', 'Job is suspended: it is not waited for');
  }
  if (findCondition(obj, 'Suspended')?.status === 'True') {
    return healthResult(
      'InProgress',
      'Job is resuming: waiting for the controller to start its Pods (spec.suspend is false, the Suspended condition is not yet cleared)',
    );
  }
  return healthResult('InProgress', `Job in progress: ${active} active, ${succeeded} succeeded, ${failed} failed`);
}
