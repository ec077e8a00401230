/**
 * What one sync of a Pipeline with `spec.hub` takes from the hub: the target's bundle as the
 * source, the hub's digests as the images, the Fleet's image rules in the spec; and the
 * report the device sends afterwards. Kept apart from controller.ts so that the controller
 * reads the same for both kinds of Pipeline.
 */
import { join } from 'node:path';
import type { DeviceReport } from '../api/hub.js';
import type { PipelineSpec } from '../api/pipeline.js';
import { Reasons } from '../api/reasons.js';
import { packageVersion } from '../version.js';
import type { Target } from '../hub/protocol.js';
import type { SyncOutcome } from '../reconcile/sync.js';
import { HubImages, HubSource, type HubError } from '../source/hub.js';
import type { HubFollower } from './hub-follower.js';

export type HubSyncPlan =
  /** No answer from the hub yet: the follower triggers a sync when the target arrives. */
  | { kind: 'wait' }
  /** The hub refuses this device (revoked, wrong fleet), or has never answered: say so, apply nothing new. */
  | { kind: 'refused'; error: HubError }
  | { kind: 'sync'; target: Target; source: HubSource; images: HubImages; spec: PipelineSpec };

export function planHubSync(follower: HubFollower, name: string, spec: PipelineSpec, workDir: string, signal?: AbortSignal): HubSyncPlan {
  if (!spec.hub) throw new Error('planHubSync: not a hub Pipeline');
  follower.follow(name, spec.hub);
  const { target, error, client } = follower.state(name);
  // A refused token is said at once; an unreachable hub is not a reason to stop correcting
  // drift from the last bundle the device has.
  if (error && (error.status === 401 || error.status === 403 || !target)) return { kind: 'refused', error };
  if (!target || !client) return { kind: 'wait' };
  return {
    kind: 'sync',
    target,
    source: new HubSource(client, target, join(workDir, 'hub'), signal),
    images: new HubImages(target.images),
    spec: { ...spec, images: target.rules },
  };
}

/** The report of one sync, as the hub keeps it on the Device. */
export function deviceReport(outcome: SyncOutcome, target: Target): DeviceReport {
  const ok = outcome.result === Reasons.Succeeded;
  return {
    revision: target.revision,
    ...(/^[0-9a-f]{40,64}$/.test(outcome.commit) ? { commit: outcome.commit } : {}),
    ready: ok ? 'True' : 'False',
    reason: outcome.result,
    message: outcome.message.slice(0, 2048),
    counts: outcome.counts,
    images: ok ? target.images.filter((i) => i.digest).map((i) => ({ repository: i.repository, digest: i.digest as string })) : [],
    agentVersion: packageVersion(),
  };
}
