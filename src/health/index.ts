/**
 * Health of live objects, used to gate waves: after a wave is applied, DORIS waits until
 * `computeHealth` says `Current` for each of its objects (see types.ts and compute.ts).
 */

export { computeHealth } from './compute.js';
export type { HealthResult, HealthStatus } from './types.js';
export { HealthCheckError, defaultWaitOptions, waitForHealthy, type WaitOptions, type WaitTarget } from './wait.js';
