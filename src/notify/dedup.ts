/**
 * Which notifications a sync's end produces, and which of them are repeats. Pure: plain data
 * in, plain data out.
 *
 * - A failure is identified by its reason and commit. The same failure again (the next retry,
 *   the next interval) is not sent; a different reason or another commit is.
 * - A success is sent when the sync changed something, or when it ends a failure that was
 *   sent (the recovery: a commit status turns green again); a no-op resync sends nothing.
 * - The memory of the last failure starts from the Pipeline's status (its Ready condition and
 *   lastAttemptedCommit), so a restarted controller, or `doris sync --once` run by a CronJob,
 *   does not send a failure that is already known again.
 */
import type { ImageChange, PipelineStatus, SyncCounts } from '../api/pipeline.js';
import { Reasons } from '../api/reasons.js';
import { failureKinds, type Notification, type NotificationKind, NotificationKinds } from './types.js';

export interface DedupState {
  /** The fingerprint of the failure last sent (or found in status), until a success. */
  failure?: string;
}

/** What a sync ended with: one per commit (replay: each-commit applies several). */
export interface EndedSync {
  /** Empty when no commit was resolved. */
  commit: string;
  result: string;
  message: string;
  counts?: SyncCounts;
}

/** Reasons that are not failures to tell anyone about. */
const quiet = new Set<string>([Reasons.Succeeded, Reasons.Progressing, Reasons.Suspended, Reasons.Interrupted]);

export function fingerprint(reason: string, commit: string): string {
  return `${reason}@${commit}`;
}

/** The state a Pipeline's status implies, for a dispatcher that has none yet. */
export function stateFromStatus(status: PipelineStatus | undefined): DedupState {
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'False' || quiet.has(ready.reason)) return {};
  return { failure: fingerprint(ready.reason, status?.lastAttemptedCommit ?? '') };
}

export function kindOf(reason: string): NotificationKind {
  if (reason === Reasons.HealthCheckFailed) return NotificationKinds.HealthFailed;
  if (reason === Reasons.PruneGuardTriggered) return NotificationKinds.PruneGuard;
  return NotificationKinds.SyncFailed;
}

function changed(counts: SyncCounts | undefined): boolean {
  return !!counts && counts.created + counts.configured + counts.recreated + counts.pruned > 0;
}

export interface Decision {
  notifications: Notification[];
  state: DedupState;
}

/**
 * The notifications for the syncs that just ended. `lastAttempted` is the commit the status
 * named before the sync: a failure before any commit was resolved is recorded against it.
 */
export function decide(
  state: DedupState,
  ended: EndedSync[],
  context: { namespace: string; name: string; cluster: string; images: ImageChange[]; lastAttempted?: string; now: Date },
): Decision {
  const notifications: Notification[] = [];
  let current = { ...state };
  const base = { pipeline: { namespace: context.namespace, name: context.name }, cluster: context.cluster, time: context.now.toISOString() };
  ended.forEach((sync, index) => {
    if (sync.result === Reasons.Interrupted || sync.result === Reasons.Suspended || sync.result === Reasons.Progressing) return;
    if (sync.result !== Reasons.Succeeded) {
      const print = fingerprint(sync.result, sync.commit || context.lastAttempted || '');
      if (current.failure === print) return;
      current = { failure: print };
      const kind = kindOf(sync.result);
      notifications.push({ ...base, kind, commit: sync.commit, reason: sync.result, message: sync.message, ...(sync.counts ? { counts: sync.counts } : {}) });
      return;
    }
    const recovered = current.failure !== undefined;
    current = {};
    if (changed(sync.counts) || recovered) {
      notifications.push({
        ...base,
        kind: NotificationKinds.SyncSucceeded,
        commit: sync.commit,
        reason: sync.result,
        message: sync.message,
        ...(sync.counts ? { counts: sync.counts } : {}),
      });
    }
    // The digests were resolved before the first commit; they rolled with the first success.
    // A first digest is a pin, not a roll: nothing ran the image before.
    const rolled = context.images.filter((i) => i.from !== undefined);
    if (index === ended.findIndex((s) => s.result === Reasons.Succeeded) && rolled.length > 0) {
      const list = rolled.map((i) => `${i.repository}:${i.tag}: ${i.from} -> ${i.to}`).join(', ');
      notifications.push({
        ...base,
        kind: NotificationKinds.ImageRolled,
        commit: sync.commit,
        reason: sync.result,
        message: `rolled ${rolled.length} image(s): ${list}`,
        images: rolled,
      });
    }
  });
  return { notifications, state: current };
}

/** A failure kind (for receivers that only want failures, and for the tests). */
export function isFailure(kind: NotificationKind): boolean {
  return failureKinds.has(kind);
}
