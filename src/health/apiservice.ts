/**
 * APIService (apiregistration.k8s.io): registers an aggregated API, such as metrics-server's
 * `v1beta1.metrics.k8s.io`, served by a Service in the cluster. Until the API server can reach
 * that Service and discover its API, every request to the group fails, and so do later waves
 * that use it (a HorizontalPodAutoscaler on metrics, custom resources of an aggregated API).
 * The aggregator reports this in the `Available` condition, so the APIService is Current only
 * with `Available=True`; `False` (for example `MissingEndpoints` or `FailedDiscoveryCheck`)
 * and a missing condition are InProgress, as the backing Pods may still be starting.
 *
 * kstatus has no rule for APIService: with neither a `Ready` condition nor an
 * `observedGeneration` it calls one Current as soon as it exists, even while unavailable.
 */

import { describeCondition, findCondition } from './conditions.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function apiServiceHealth(obj: KubeObject): HealthResult {
  const available = findCondition(obj, 'Available');
  if (available?.status === 'True') return healthResult('Current', 'APIService is Available');
  if (!available) return healthResult('InProgress', 'Waiting for the APIService to report its Available condition');
  return healthResult('InProgress', `APIService is not Available: ${describeCondition(available, `condition is ${available.status}`)}`);
}
