/**
 * Which Events a sync leaves on its Pipeline — the same for `doris run` and `doris sync`:
 * one per applied sync and per failure, one per prune, one per image digest change
 * (old -> new: the audit trail of what ran when). A no-op resync leaves none.
 */
import type { Pipeline } from '../api/pipeline.js';
import { ActionReasons, Reasons } from '../api/reasons.js';
import type { ProgressEvent } from './progress.js';
import type { SyncOutcome } from './sync.js';
import type { EventRecorder } from '../status/events.js';

/** A progress listener that records prunes and image changes as they happen. */
export function recordProgressEvents(recorder: EventRecorder, pipeline: () => Pipeline | undefined): (event: ProgressEvent) => void {
  return (event) => {
    const target = pipeline();
    if (!target) return;
    if (event.type === 'pruned' && event.result.pruned.length > 0) {
      void recorder.record(target, 'Normal', ActionReasons.Pruned, `pruned ${event.result.pruned.map((e) => e.id).join(', ')}`);
    }
    if (event.type === 'images') {
      for (const change of event.changes) {
        void recorder.record(target, 'Normal', ActionReasons.ImageUpdated, `${change.repository}:${change.tag}: ${change.from ?? 'none'} -> ${change.to}`);
      }
    }
  };
}

export async function recordOutcomeEvent(recorder: EventRecorder, pipeline: Pipeline, outcome: SyncOutcome): Promise<void> {
  if (outcome.result === Reasons.Interrupted) return;
  if (outcome.result !== Reasons.Succeeded) await recorder.record(pipeline, 'Warning', outcome.result, outcome.message);
  else if (outcome.wrote) await recorder.record(pipeline, 'Normal', outcome.result, outcome.message);
}
