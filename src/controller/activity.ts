/**
 * What the controller is doing and last did, per Pipeline, in memory: for the dashboard.
 * Status in the API server says what was applied; this says what is happening right now
 * (queued, syncing, which stage, which object it waits for), what the last sync did to each
 * object (created / configured / unchanged / recreated / pruned, also when the sync changed
 * nothing and so wrote no status), and the Events this replica recorded (the controller may
 * create Events but not list them). It is bounded per Pipeline (objects of the last syncs,
 * `maxEvents` Events) and forgotten with the Pipeline. Listeners hear the name of every
 * Pipeline that changed, synchronously; they must be cheap (the dashboard coalesces).
 */
import type { Pipeline } from '../api/pipeline.js';
import type { EventReason } from '../api/reasons.js';
import type { ChangeAction } from '../apply/applier.js';
import type { HealthStatus } from '../health/types.js';
import { parseObjectId } from '../kube/objectid.js';
import type { ProgressEvent } from '../reconcile/progress.js';
import { EventRecorder } from '../status/events.js';

export type ObjectAction = ChangeAction | 'pruned';

export interface ObjectActivity {
  id: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  wave: number;
  waveName: string;
  /** Step number and file; unknown for an object pruned before this replica saw it applied. */
  step?: number;
  file?: string;
  /** What the last sync that reached this object did to it, and when. */
  action: ObjectAction;
  at: string;
  /** The last time a sync changed it (an `unchanged` sync leaves this alone). */
  changed?: { action: ObjectAction; at: string };
}

export interface SyncingNow {
  since: string;
  why?: string;
  commit?: string;
  stage?: string;
  /** The wave being waited for: how many objects are not healthy yet, and the first of them. */
  waiting?: { label: string; pending: number; total: number; first?: { object: string; status: HealthStatus; message: string } };
}

export interface LastSync {
  startedAt: string;
  finishedAt: string;
  commit: string;
  result: string;
  message: string;
  /** False when nothing changed and no status was written. */
  wrote: boolean;
}

export interface RecordedEvent {
  at: string;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

export interface PipelineActivity {
  queued?: { since: string; why: string };
  syncing?: SyncingNow;
  lastSync?: LastSync;
  objects: Map<string, ObjectActivity>;
  /** Newest first. */
  events: RecordedEvent[];
}

export const maxEvents = 20;

export class SyncActivity {
  private readonly pipelines = new Map<string, PipelineActivity>();
  private readonly listeners = new Set<(name: string) => void>();

  get(name: string): PipelineActivity | undefined {
    return this.pipelines.get(name);
  }

  /** Calls `listener` with a Pipeline's name whenever something about it changed; returns the unsubscribe. */
  subscribe(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The Pipeline itself changed (its status, its spec): listeners hear of it. */
  touch(name: string): void {
    for (const listener of this.listeners) listener(name);
  }

  private entry(name: string): PipelineActivity {
    let entry = this.pipelines.get(name);
    if (!entry) {
      entry = { objects: new Map(), events: [] };
      this.pipelines.set(name, entry);
    }
    return entry;
  }

  queued(name: string, why: string, now = new Date()): void {
    const entry = this.entry(name);
    if (!entry.syncing) entry.queued ??= { since: now.toISOString(), why };
    this.touch(name);
  }

  started(name: string, now = new Date()): void {
    const entry = this.entry(name);
    entry.syncing = { since: now.toISOString(), why: entry.queued?.why };
    entry.queued = undefined;
    this.touch(name);
  }

  progress(name: string, event: ProgressEvent, now = new Date()): void {
    const entry = this.entry(name);
    entry.syncing ??= { since: now.toISOString() };
    const syncing = entry.syncing;
    const at = now.toISOString();
    switch (event.type) {
      case 'commit':
        syncing.commit = event.commit;
        // What the previous sync pruned is gone: it is not shown past the next sync.
        for (const [id, object] of entry.objects) if (object.action === 'pruned') entry.objects.delete(id);
        break;
      case 'stage':
        syncing.stage = event.label;
        syncing.waiting = undefined;
        break;
      case 'applied':
        // Updated in place: every resync reports every object, most of them unchanged, and a
        // fresh record for each would be garbage of the whole Pipeline's size every interval.
        for (const change of event.changes ?? []) {
          const { object, wave, waveName, step, source } = change.desired;
          let record = entry.objects.get(change.id);
          if (!record) {
            record = { id: change.id } as ObjectActivity;
            entry.objects.set(change.id, record);
          }
          record.apiVersion = object.apiVersion;
          record.kind = object.kind;
          record.namespace = object.metadata.namespace;
          record.name = object.metadata.name;
          record.wave = wave;
          record.waveName = waveName;
          record.step = step;
          record.file = source.file;
          record.action = change.action;
          record.at = at;
          // A new object each time: readers keep the one they were given.
          if (change.action !== 'unchanged') record.changed = { action: change.action, at };
        }
        break;
      case 'waiting': {
        const first = event.first;
        syncing.waiting = {
          label: event.label,
          pending: event.pending,
          total: event.total,
          first: first && {
            object: `${first.object.kind} ${first.object.metadata.namespace ? `${first.object.metadata.namespace}/` : ''}${first.object.metadata.name}`,
            status: first.health.status,
            message: first.health.message,
          },
        };
        break;
      }
      case 'healthy':
        syncing.waiting = undefined;
        break;
      case 'pruned':
        for (const pruned of event.result.pruned) {
          const known = entry.objects.get(pruned.id);
          const ref = parseObjectId(pruned.id);
          if (!known && !ref) continue;
          entry.objects.set(pruned.id, {
            ...(known ?? {
              id: pruned.id,
              apiVersion: ref!.group,
              kind: ref!.kind,
              namespace: ref!.namespace || undefined,
              name: ref!.name,
              wave: pruned.wave,
              waveName: String(pruned.wave),
            }),
            action: 'pruned',
            at,
            changed: { action: 'pruned', at },
          });
        }
        break;
      default:
        return;
    }
    this.touch(name);
  }

  /** A commit's sync ended (one run may sync several commits, `replay: each-commit`). */
  outcome(name: string, outcome: Pick<LastSync, 'commit' | 'result' | 'message' | 'wrote'>, now = new Date()): void {
    const entry = this.entry(name);
    const { commit, result, message, wrote } = outcome;
    entry.lastSync = { commit, result, message, wrote, startedAt: entry.syncing?.since ?? now.toISOString(), finishedAt: now.toISOString() };
    this.touch(name);
  }

  /** The run ended, whatever it did. */
  finished(name: string): void {
    // A Pipeline deleted during its sync was forgotten already: nothing is left to update.
    const entry = this.pipelines.get(name);
    if (!entry) return;
    entry.syncing = undefined;
    this.touch(name);
  }

  event(name: string, event: RecordedEvent): void {
    const entry = this.entry(name);
    entry.events.unshift(event);
    entry.events.length = Math.min(entry.events.length, maxEvents);
    this.touch(name);
  }

  forget(name: string): void {
    this.pipelines.delete(name);
    this.touch(name);
  }
}

/** An EventRecorder that also remembers what it recorded, for the dashboard. */
export class RememberingEventRecorder extends EventRecorder {
  constructor(
    client: ConstructorParameters<typeof EventRecorder>[0],
    log: ConstructorParameters<typeof EventRecorder>[1],
    private readonly activity: SyncActivity,
  ) {
    super(client, log);
  }

  override async record(pipeline: Pipeline, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    this.activity.event(pipeline.metadata.name, { at: new Date().toISOString(), type, reason, message });
    await super.record(pipeline, type, reason, message);
  }
}
