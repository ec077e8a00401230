/**
 * Health: is an applied object doing what it was asked to do?
 *
 * Applying an object only means the API server stored it. A Deployment is not useful until
 * its new Pods are available, a PVC until it is bound, a CRD until its API is served. DORIS
 * applies a repository wave by wave, and the next wave usually depends on the previous one
 * (the database before the app that connects to it), so after each wave it waits until every
 * object of the wave is `Current`, and stops the sync when one is `Failed` or the wait times
 * out. The statuses are kstatus's, so they mean the same here as in `kubectl` tooling.
 */

/**
 * - `Current`: the object is what its spec asks for (rolled out, bound, established, ...).
 * - `InProgress`: not there yet, but it may still get there: wait.
 * - `Failed`: it will not get there without a change (progress deadline, crash loop, ...).
 * - `Terminating`: it is being deleted.
 * - `NotFound`: the object does not exist (set by whoever looked it up, never computed here).
 * - `Unknown`: the object reports a state we cannot judge (for example a Pod in phase Unknown).
 */
export type HealthStatus = 'Current' | 'InProgress' | 'Failed' | 'Terminating' | 'NotFound' | 'Unknown';

/** A status and one sentence a user can act on, in the style of `kubectl rollout status`. */
export interface HealthResult {
  status: HealthStatus;
  message: string;
}

/** Shorthand used by the rules. */
export function healthResult(status: HealthStatus, message: string): HealthResult {
  return { status, message };
}
