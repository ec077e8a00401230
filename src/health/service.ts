/**
 * Service: usable as soon as it exists, except a `LoadBalancer` Service, which is only
 * reachable from outside once a load-balancer controller has given it an address
 * (`status.loadBalancer.ingress`).
 */

import { arrayField, stringField } from './fields.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

export function serviceHealth(obj: KubeObject): HealthResult {
  if (stringField(obj, ['spec', 'type'], 'ClusterIP') !== 'LoadBalancer') {
    return healthResult('Current', 'Service is ready');
  }
  const ingress = arrayField(obj, ['status', 'loadBalancer', 'ingress']);
  if (ingress.length === 0) return healthResult('InProgress', 'Waiting for the load balancer to be given an address');
  const addresses = ingress.map((i) => stringField(i, ['ip']) || stringField(i, ['hostname'])).filter((a) => a !== '');
  return healthResult('Current', `Service load balancer is ready${addresses.length > 0 ? `: ${addresses.join(', ')}` : ''}`);
}
