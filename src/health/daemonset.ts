/**
 * DaemonSet: one pod on every node that should run one, each running the new template and
 * available. The controller publishes `desiredNumberScheduled` once it has looked at the
 * nodes; until then (no `observedGeneration` either) nothing can be judged, so we wait.
 * With the `OnDelete` strategy pods are only replaced when deleted, so updated counts are
 * not waited for.
 */

import { intField, optionalInt, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function daemonSetHealth(obj: KubeObject): HealthResult {
  if (optionalInt(obj, ['status', 'observedGeneration']) === undefined) {
    return healthResult('InProgress', 'Waiting for the DaemonSet controller to observe the DaemonSet');
  }
  const desired = optionalInt(obj, ['status', 'desiredNumberScheduled']);
  if (desired === undefined) {
    return healthResult('InProgress', 'Waiting for the DaemonSet controller to report the desired number of pods');
  }
  const scheduled = intField(obj, ['status', 'currentNumberScheduled'], 0);
  const updated = intField(obj, ['status', 'updatedNumberScheduled'], 0);
  const available = intField(obj, ['status', 'numberAvailable'], 0);
  const ready = intField(obj, ['status', 'numberReady'], 0);
  const onDelete = stringField(obj, ['spec', 'updateStrategy', 'type']) === 'OnDelete';

  const waiting = (what: string): HealthResult => healthResult('InProgress', `Waiting for daemon set rollout to finish: ${what}`);
  if (scheduled < desired) return waiting(`${scheduled} of ${desired} pods have been scheduled`);
  if (!onDelete && updated < desired) return waiting(`${updated} out of ${desired} new pods have been updated`);
  if (available < desired) return waiting(`${available} of ${desired} updated pods are available`);
  if (ready < desired) return waiting(`${ready} of ${desired} pods are ready`);

  const note = onDelete ? '; with the OnDelete strategy pods are updated only when deleted' : '';
  return healthResult('Current', `DaemonSet successfully rolled out: ${available} of ${desired} pods available${note}`);
}
