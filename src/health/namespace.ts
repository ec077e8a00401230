/**
 * Namespace: objects can be created in it while it is Active. A Terminating Namespace refuses
 * new objects and is going away, whatever the wave wants.
 */

import { stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function namespaceHealth(obj: KubeObject): HealthResult {
  const phase = stringField(obj, ['status', 'phase']);
  if (phase === 'Active') return healthResult('Current', 'Namespace is Active');
  if (phase === 'Terminating') return healthResult('Terminating', 'Namespace is Terminating');
  return healthResult('InProgress', `Namespace is not Active: ${phase === '' ? 'no phase reported' : phase}`);
}
