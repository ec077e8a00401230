/**
 * What a notification says, the same for every receiver type: which Pipeline, which commit
 * (the full SHA), what happened (a closed set of kinds) and why (a reason code and message).
 * Each receiver module turns one into an HTTP request of its own format.
 */
import type { ImageChange, SyncCounts } from '../api/pipeline.js';

export const NotificationKinds = {
  /** A sync applied changes (or recovered after a failure that was notified). */
  SyncSucceeded: 'SyncSucceeded',
  /** A sync failed for any reason but the two below. */
  SyncFailed: 'SyncFailed',
  /** A wave did not become healthy (HealthCheckFailed). */
  HealthFailed: 'HealthFailed',
  /** The mass-prune guard refused a sync (PruneGuardTriggered). */
  PruneGuard: 'PruneGuard',
  /** A tracked image got a new digest and the workloads using it were rolled. */
  ImageRolled: 'ImageRolled',
  /** A staged rollout stopped at a stage (fleets; sent through Notifier.send). */
  RolloutHalted: 'RolloutHalted',
} as const;

export type NotificationKind = (typeof NotificationKinds)[keyof typeof NotificationKinds];

/** Kinds that report a failure: repeated, they are sent once (dedup.ts). */
export const failureKinds: ReadonlySet<NotificationKind> = new Set([
  NotificationKinds.SyncFailed,
  NotificationKinds.HealthFailed,
  NotificationKinds.PruneGuard,
  NotificationKinds.RolloutHalted,
]);

export interface Notification {
  kind: NotificationKind;
  pipeline: { namespace: string; name: string };
  cluster: string;
  /** The full commit SHA; empty when the failure came before any commit was known (the branch could not be resolved). */
  commit: string;
  /** A reason code of api/reasons.ts. */
  reason: string;
  message: string;
  counts?: SyncCounts;
  images?: ImageChange[];
  /** ISO 8601. */
  time: string;
}

/** One HTTP POST, as a receiver module builds it: nothing is sent yet. */
export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}
