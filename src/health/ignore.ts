/**
 * The per-object opt-out: `doris.dev/health: ignore`. Some objects never become healthy on a
 * given cluster through no fault of the repository, such as a `LoadBalancer` Service on an edge
 * cluster without a load-balancer controller, or a custom resource whose operator is not
 * installed there. Waiting for them would time out every sync, so an object carrying the
 * annotation counts as `Current` as soon as it is applied. It is still applied, pruned and
 * drift-corrected like any other object; only its health no longer gates the wave.
 */

import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export const healthAnnotation = 'doris.dev/health';

/** The one value of `doris.dev/health` that DORIS acts on. */
export const healthIgnoreValue = 'ignore';

/** Whether the object opts out of the health wait. */
export function healthIgnored(obj: KubeObject): boolean {
  return obj.metadata?.annotations?.[healthAnnotation] === healthIgnoreValue;
}

/** Current, saying why, when the object opts out; undefined otherwise. */
export function checkIgnored(obj: KubeObject): HealthResult | undefined {
  if (!healthIgnored(obj)) return undefined;
  return healthResult('Current', `${obj.kind} health is not checked (annotated ${healthAnnotation}: ${healthIgnoreValue})`);
}
