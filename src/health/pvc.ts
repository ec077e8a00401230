/**
 * PersistentVolumeClaim: usable once Bound to a volume. A claim is Pending until a volume is
 * provisioned or matched, which we wait for; a Lost claim (its volume vanished) will not come
 * back by itself.
 */

import { stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

/** Set by the scheduler on a claim of a late-binding class once a Pod using it was placed. */
const selectedNodeAnnotation = 'volume.kubernetes.io/selected-node';

export function pvcHealth(obj: KubeObject): HealthResult {
  const phase = stringField(obj, ['status', 'phase']);
  if (phase === 'Bound') return healthResult('Current', 'PVC is Bound');
  if (phase === 'Lost') return healthResult('Failed', 'PVC is Lost: its bound volume no longer exists');
  if (phase === 'Pending' && !obj.metadata.annotations?.[selectedNodeAnnotation]) {
    // Nothing in the claim says its class binds late: the hint is what a stuck wave needs.
    return healthResult(
      'InProgress',
      'PVC is not Bound: Pending, no volume yet. A StorageClass that binds on first consumer (WaitForFirstConsumer, as k3s local-path) provisions it only once a Pod using it is scheduled: put the PVC in the same wave as that Pod',
    );
  }
  return healthResult('InProgress', `PVC is not Bound: ${phase === '' ? 'no phase reported' : phase}`);
}
