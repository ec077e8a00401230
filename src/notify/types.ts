/**
 * What a notification says, the same for every receiver type: which Pipeline (or which Fleet,
 * for a hub rollout's: src/hub/rollout/notify.ts), which commit (the full SHA), what happened
 * (a closed set of kinds) and why (a reason code and message).
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
  /** A Fleet's staged rollout stopped at a stage (the hub leader; src/hub/rollout/notify.ts). */
  RolloutHalted: 'RolloutHalted',
  /** The halted stage's devices were given the last good revision back (autoRollback). */
  RolledBack: 'RolledBack',
  /** `doris fleet abort`: every device goes back to the last good revision. */
  RolloutAborted: 'RolloutAborted',
  /** A revision reached every stage of a Fleet (only when something rolled out). */
  RolloutCompleted: 'RolloutCompleted',
} as const;

export type NotificationKind = (typeof NotificationKinds)[keyof typeof NotificationKinds];

/** Kinds that report a failure: repeated, they are sent once (dedup.ts). */
export const failureKinds: ReadonlySet<NotificationKind> = new Set([
  NotificationKinds.SyncFailed,
  NotificationKinds.HealthFailed,
  NotificationKinds.PruneGuard,
  NotificationKinds.RolloutHalted,
  NotificationKinds.RolledBack,
  NotificationKinds.RolloutAborted,
]);

/** What a Fleet's rollout notification says beyond the common fields: which Fleet, revision and stage. */
export interface FleetNotice {
  namespace: string;
  name: string;
  /** The rollout's revision: its id, commit and the digests of the tracked images. */
  revision: { id: string; commit: string; bundle?: string; images: Array<{ repository: string; tag?: string; digest?: string }> };
  /** The revision id a halt keeps and a rollback restores. */
  lastGood?: string;
  stage?: string;
  /** The stage's devices on the rollout's revision. */
  counts?: { devices: number; updated: number; ready: number; failed: number; offline: number };
  /** A few of the stage's failing devices and what they reported. */
  failures?: Array<{ device: string; reason: string; message: string }>;
}

export interface Notification {
  kind: NotificationKind;
  /** The Pipeline it is about; absent for a Fleet's (then `fleet`). */
  pipeline?: { namespace: string; name: string };
  fleet?: FleetNotice;
  /** The cluster's name (DORIS_CLUSTER_NAME); `hub` for a Fleet's. */
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

/** `<cluster>/<pipeline>`, or `hub/<fleet>`: how formats name what a notification is about. */
export function subjectOf(n: Notification): string {
  return `${n.cluster}/${n.pipeline?.name ?? n.fleet?.name ?? ''}`;
}

/** One HTTP POST, as a receiver module builds it: nothing is sent yet. */
export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}
