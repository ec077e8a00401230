/**
 * Job: a Job is a piece of work that must finish, such as a database migration that the next
 * wave relies on, so it is healthy only once it has completed. (kstatus calls a running Job
 * Current; DORIS waits for `Complete`.) `Failed=True` means the controller gave up (backoff
 * limit, deadline): waiting longer cannot help. A suspended Job runs nothing until resumed, so
 * it is not waited for.
 */

import { describeCondition, findCondition } from './conditions.js';
import { intField } from './fields.js';
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
  if (findCondition(obj, 'Suspended')?.status === 'True') {
    return healthResult('Current', 'Job is suspended: it is not waited for');
  }
  return healthResult('InProgress', `Job in progress: ${active} active, ${succeeded} succeeded, ${failed} failed`);
}
