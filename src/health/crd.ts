/**
 * CustomResourceDefinition: its custom resources cannot be applied until the API server
 * serves the new API, which it reports with `Established=True`. Names that clash with another
 * CRD are refused (`NamesAccepted=False`), which no amount of waiting fixes.
 */

import { describeCondition, findCondition } from './conditions.js';

import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function crdHealth(obj: KubeObject): HealthResult {
  const names = findCondition(obj, 'NamesAccepted');
  if (names?.status === 'False') {
    return healthResult('Failed', `CRD names were not accepted: ${describeCondition(names, 'no reason given')}`);
  }
  const established = findCondition(obj, 'Established');
  if (established?.status === 'True') return healthResult('Current', 'CRD is Established');
  if (established?.status === 'False' && established.reason !== 'Installing') {
    return healthResult('Failed', `CRD is not Established: ${describeCondition(established, 'no reason given')}`);
  }
  return healthResult('InProgress', 'Waiting for the CRD to be Established');
}
