/**
 * CronJob: a schedule, not a workload. It is Current as soon as it exists; the Jobs it creates
 * later belong to the schedule, not to the sync that applied it.
 */

import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function cronJobHealth(_obj: KubeObject): HealthResult {
  return healthResult('Current', 'CronJob is scheduled; the Jobs it creates are not waited for');
}
