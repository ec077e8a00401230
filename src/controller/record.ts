/**
 * What the controller records itself, when the sync script did not run or could not record
 * its own result: an invalid spec, a suspended Pipeline, git credentials that cannot be read,
 * a status write that was refused, anything else thrown around the script. Each ends the way
 * a failure inside the script does: the Ready condition with a reason from the closed set,
 * an Event with that reason, and (for failures) the sync counter with that reason as result.
 *
 * Repeating the same state writes nothing: a Pipeline whose Secret stays missing gets one
 * status write and one Event, not one per retry (the counter still counts every attempt).
 */
import type { Pipeline } from '../api/pipeline.js';
import { Reasons, type Reason } from '../api/reasons.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { removeCondition, setCondition } from '../status/conditions.js';
import type { EventRecorder } from '../status/events.js';
import { getPipeline, patchStatus } from '../status/store.js';

export interface RecordDeps {
  client: KubeClient;
  events: EventRecorder;
  metrics: Metrics;
  log: Logger;
}

/** Reasons after which retrying cannot help until the spec changes: `Stalled` says so. */
const stalling = new Set<Reason>([Reasons.InvalidSpec]);

/** The reason for an error thrown around the sync script (inside it, failures are returned, not thrown). */
export function reasonOf(error: unknown): Reason {
  if (error instanceof DorisError) return error.code;
  if (error instanceof KubeApiError && error.path.endsWith('/status')) return Reasons.StatusWriteFailed;
  return Reasons.ReconcileFailed;
}

export function messageOf(error: unknown, reason: Reason): string {
  const text = error instanceof Error ? error.message : String(error);
  return reason === Reasons.StatusWriteFailed ? `the sync's result could not be written to status (${text}); the sync will be retried` : text;
}

/** True when the Pipeline already shows exactly this state for its current generation. */
export function showsState(pipeline: Pipeline, reason: Reason, message: string): boolean {
  const ready = pipeline.status?.conditions?.find((c) => c.type === 'Ready');
  return (
    ready?.status === 'False' &&
    ready.reason === reason &&
    ready.message === message &&
    pipeline.status?.observedGeneration === pipeline.metadata.generation &&
    !pipeline.status?.conditions?.some((c) => c.type === 'Reconciling')
  );
}

/** The status patch that shows `reason` on Ready (False), plain data. */
export function statePatch(pipeline: Pipeline, reason: Reason, message: string, now: Date) {
  const observedGeneration = pipeline.metadata.generation;
  let conditions = setCondition(pipeline.status?.conditions, { type: 'Ready', status: 'False', reason, message, observedGeneration }, now);
  conditions = removeCondition(conditions, 'Reconciling');
  conditions = stalling.has(reason)
    ? setCondition(conditions, { type: 'Stalled', status: 'True', reason, message, observedGeneration }, now)
    : removeCondition(conditions, 'Stalled');
  return { conditions, observedGeneration };
}

/**
 * Shows `reason` on the Pipeline's Ready condition (False) with an Event, unless it already
 * shows it. Returns false when the status could not be written (the caller retries later).
 * Never throws.
 */
export async function recordState(deps: RecordDeps, seen: Pipeline, reason: Reason, message: string): Promise<boolean> {
  const { client, events, metrics, log } = deps;
  const name = seen.metadata.name;
  if (reason !== Reasons.Suspended) metrics.syncs.inc({ pipeline: name, result: reason });
  // The freshest copy: a sync may have written status since the watch last delivered it.
  const pipeline = (await getPipeline(client, seen.metadata.namespace, name).catch(() => undefined)) ?? seen;
  if (showsState(pipeline, reason, message)) return true;
  let written = true;
  try {
    await patchStatus(client, pipeline, statePatch(pipeline, reason, message, new Date()));
  } catch (error) {
    written = false;
    log.error({ pipeline: name, reason, err: (error as Error).message }, 'could not write the Pipeline status');
  }
  await events.record(pipeline, reason === Reasons.Suspended ? 'Normal' : 'Warning', reason, message);
  return written;
}
