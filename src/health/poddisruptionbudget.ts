/**
 * PodDisruptionBudget: nothing to roll out. As in kstatus, it is Current once the disruption
 * controller has observed its latest generation (the generic check) and computed how many
 * disruptions it allows. A budget the controller has not looked at yet has no
 * `observedGeneration`, and we wait for it.
 */

import { intField, optionalInt } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function podDisruptionBudgetHealth(obj: KubeObject): HealthResult {
  if (optionalInt(obj, ['status', 'observedGeneration']) === undefined) {
    return healthResult('InProgress', 'Waiting for the disruption controller to compute the budget');
  }
  const allowed = intField(obj, ['status', 'disruptionsAllowed'], 0);
  return healthResult('Current', `Disruption budget computed: ${allowed} disruptions allowed`);
}
