/**
 * StatefulSet: every replica exists and is ready, and the rolling update has reached the pods
 * it is meant to reach. With `partition: N` only ordinals >= N are updated, so the rollout is
 * complete when `replicas - N` pods run the new revision. With the `OnDelete` strategy pods
 * are only replaced when someone deletes them, so ready pods are enough. StatefulSets publish
 * no conditions, so everything is read from the counts and revisions in `status`.
 */

import { intField, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function statefulSetHealth(obj: KubeObject): HealthResult {
  const wanted = intField(obj, ['spec', 'replicas'], 1);
  const replicas = intField(obj, ['status', 'replicas'], 0);
  const ready = intField(obj, ['status', 'readyReplicas'], 0);
  const updated = intField(obj, ['status', 'updatedReplicas'], 0);

  const waiting = (what: string): HealthResult => healthResult('InProgress', `Waiting for rollout to finish: ${what}`);
  if (replicas < wanted) return waiting(`${replicas} of ${wanted} pods have been created`);
  if (ready < wanted) return waiting(`${ready} of ${wanted} pods are ready`);
  if (replicas > wanted) return waiting(`${replicas - wanted} extra pods are pending termination`);

  const strategy = stringField(obj, ['spec', 'updateStrategy', 'type'], 'RollingUpdate');
  if (strategy === 'OnDelete') {
    return healthResult('Current', `StatefulSet has ${ready} ready pods; with the OnDelete strategy pods are updated only when deleted`);
  }

  const partition = intField(obj, ['spec', 'updateStrategy', 'rollingUpdate', 'partition'], 0);
  if (partition > 0) {
    const target = Math.max(wanted - partition, 0);
    if (updated < target) {
      return healthResult('InProgress', `Waiting for partitioned roll out to finish: ${updated} out of ${target} new pods have been updated`);
    }
    return healthResult('Current', `Partitioned roll out complete: ${updated} new pods have been updated`);
  }

  if (updated < wanted) return waiting(`${updated} out of ${wanted} new pods have been updated`);
  const updateRevision = stringField(obj, ['status', 'updateRevision']);
  const currentRevision = stringField(obj, ['status', 'currentRevision']);
  if (updateRevision !== currentRevision) {
    return waiting(`${updated} pods at revision ${updateRevision}, current revision is still ${currentRevision}`);
  }
  return healthResult('Current', `StatefulSet rolling update complete: ${ready} pods at revision ${currentRevision}`);
}
