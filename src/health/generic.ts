/**
 * The checks that apply to every kind, in kstatus's order. Any controller, built-in or custom,
 * can tell us its state through them without DORIS knowing its kind:
 *
 * - `metadata.deletionTimestamp` set: the object is going away, whatever else it says.
 * - `status.observedGeneration` behind `metadata.generation`: the controller has not yet seen
 *   the spec we just applied, so the rest of the status describes the old spec.
 * - `Stalled` / `Reconciling` conditions (kstatus's "abnormal-true" conditions).
 * - a `Ready` condition, the common convention of operators and Flux/Crossplane-style APIs.
 */

import { describeCondition, findCondition, trueCondition } from './conditions.js';
import { optionalInt, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

/** Terminating when a deletion timestamp is set. */
export function checkTerminating(obj: KubeObject): HealthResult | undefined {
  if (stringField(obj, ['metadata', 'deletionTimestamp']) !== '') {
    return healthResult('Terminating', `${obj.kind} is scheduled for deletion`);
  }
  return undefined;
}

/**
 * InProgress while the controller has not observed the latest generation. Objects without
 * `status.observedGeneration` (many kinds never set it) are not judged here.
 */
export function checkGeneration(obj: KubeObject): HealthResult | undefined {
  const generation = optionalInt(obj, ['metadata', 'generation']);
  const observed = optionalInt(obj, ['status', 'observedGeneration']);
  if (generation === undefined || observed === undefined) return undefined;
  if (observed < generation) {
    return healthResult(
      'InProgress',
      `Waiting for the controller to observe the latest spec: ${obj.kind} generation is ${generation}, observed generation is ${observed}`,
    );
  }
  return undefined;
}

/** Failed on `Stalled=True`, InProgress on `Reconciling=True`; Stalled wins when both are set. */
export function checkStalledOrReconciling(obj: KubeObject): HealthResult | undefined {
  // Most objects have neither condition: nothing is built for them.
  const stalled = trueCondition(obj, 'Stalled');
  if (stalled) return healthResult('Failed', describeCondition(stalled, `${obj.kind} is stalled`));
  const reconciling = trueCondition(obj, 'Reconciling');
  if (reconciling) return healthResult('InProgress', describeCondition(reconciling, `${obj.kind} is reconciling`));
  return undefined;
}

/** Current on `Ready=True`; InProgress on `Ready=False` or `Ready=Unknown`. */
export function checkReady(obj: KubeObject): HealthResult | undefined {
  const ready = findCondition(obj, 'Ready');
  if (!ready) return undefined;
  if (ready.status === 'True') return healthResult('Current', describeCondition(ready, `${obj.kind} is Ready`));
  return healthResult('InProgress', describeCondition(ready, `${obj.kind} is not Ready`));
}
