/**
 * PersistentVolumeClaim: usable once Bound to a volume. A claim is Pending until a volume is
 * provisioned or matched, which we wait for; a Lost claim (its volume vanished) will not come
 * back by itself.
 */

import { stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function pvcHealth(obj: KubeObject): HealthResult {
  const phase = stringField(obj, ['status', 'phase']);
  if (phase === 'Bound') return healthResult('Current', 'PVC is Bound');
  if (phase === 'Lost') return healthResult('Failed', 'PVC is Lost: its bound volume no longer exists');
  return healthResult('InProgress', `PVC is not Bound: ${phase === '' ? 'no phase reported' : phase}`);
}
