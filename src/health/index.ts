/**
 * Health of live objects, used to gate waves: after a wave is applied, DORIS waits until
 * `computeHealth` says `Current` for each of its objects (see types.ts and compute.ts), with
 * one pure rule per kind (pod.ts, job.ts, apiservice.ts, ...).
 *
 * An object that can never become healthy on a given cluster (a `LoadBalancer` Service where no
 * load-balancer controller runs) opts out with the annotation `doris.dev/health: ignore`: it is
 * Current as soon as it is applied (ignore.ts). The user's guide is docs/health.md.
 */

export { computeHealth } from './compute.js';
export { healthAnnotation, healthIgnoreValue, healthIgnored } from './ignore.js';
export type { HealthResult, HealthStatus } from './types.js';
export { HealthCheckError, defaultWaitOptions, waitForHealthy, type WaitOptions, type WaitTarget } from './wait.js';
