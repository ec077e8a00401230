/**
 * Does an object need writing? Two pure checks, cheapest first:
 *
 * - `coveredBy(desired, live)`: every field we set is present in the live object with the
 *   same value. Together with an unchanged desired-hash annotation (git did not change the
 *   object, so no field was removed either), this proves an apply would change nothing,
 *   without a request.
 * - `sameAfterApply(dryRun, live)`: the server-side dry-run result equals the live object,
 *   apart from bookkeeping the server rewrites on every call and the status controllers write.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../render/types.js';

// Plain loops: every resync runs this over every object, and entries arrays and callbacks
// were a tenth of what a no-op resync allocates.
export function coveredBy(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return false;
    for (let i = 0; i < desired.length; i++) if (!coveredBy(desired[i], live[i])) return false;
    return true;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    const d = desired as Record<string, unknown>;
    const l = live as Record<string, unknown>;
    for (const key in d) {
      if (!Object.hasOwn(d, key)) continue;
      const value = d[key];
      if (value !== undefined && !coveredBy(value, l[key])) return false;
    }
    return true;
  }
  return false;
}

/** What an apply does not decide: server bookkeeping and the status that controllers write. */
function withoutBookkeeping(object: KubeObject): KubeObject {
  const { managedFields: _m, resourceVersion: _r, ...metadata } = object.metadata;
  const { status: _s, ...rest } = object;
  return { ...rest, metadata } as KubeObject;
}

export function sameAfterApply(dryRun: KubeObject, live: KubeObject): boolean {
  return isDeepStrictEqual(withoutBookkeeping(dryRun), withoutBookkeeping(live));
}
