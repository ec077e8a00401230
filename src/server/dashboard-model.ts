/**
 * What the cluster dashboard shows, as plain data: the same shapes feed the HTML pages and
 * the JSON API (`/api/pipelines`, `/api/pipelines/NAME`). Built from a Pipeline (status in the
 * API server), the controller's in-memory activity (what it is doing now, what the last sync
 * did to each object) and the objects' live health.
 */
import type { Condition, ImageChange, ImageStatus, Pipeline, SyncRecord } from '../api/pipeline.js';
import type { LastSync, ObjectAction, ObjectActivity, PipelineActivity, RecordedEvent, SyncingNow } from '../controller/activity.js';
import type { HealthStatus } from '../health/types.js';
import { inventorySize } from '../inventory/archive.js';
import { compareStrings } from '../compare.js';
import { redact } from '../source/git.js';

export interface PipelineSummary {
  name: string;
  namespace: string;
  ready: string;
  reason: string;
  message: string;
  suspended: boolean;
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  lastAppliedTime?: string;
  /** When a sync of this Pipeline last ended (this replica's memory, else the history). */
  lastSyncTime?: string;
  queued?: { since: string; why: string };
  syncing?: SyncingNow;
  objects: number;
  images: ImageStatus[];
  history: SyncRecord[];
}

/**
 * An object as the page shows it: what the syncs did to it (activity.ts), with its live
 * health. Step and file are undefined when only the inventory knows the object (no sync
 * seen since this controller started), and so are its action and time.
 */
export interface ObjectView extends Omit<ObjectActivity, 'apiVersion' | 'action' | 'at'> {
  action?: ObjectAction;
  actionAt?: string;
  health: { status: HealthStatus; message: string };
}

export interface PipelineDetail extends PipelineSummary {
  git: { url?: string; branch?: string; path?: string; interval?: string };
  conditions: Condition[];
  imageHistory: ImageChange[];
  lastSync?: LastSync;
  events: RecordedEvent[];
  objectList: ObjectView[];
}

function specOf(p: Pipeline): { suspend?: boolean; git?: { url?: string; branch?: string; path?: string; interval?: string } } {
  return (p.spec ?? {}) as never;
}

export function summarize(p: Pipeline, activity?: PipelineActivity): PipelineSummary {
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  const history = (p.status?.history ?? []).slice(0, 20);
  return {
    name: p.metadata.name,
    namespace: p.metadata.namespace,
    ready: ready?.status ?? 'Unknown',
    reason: ready?.reason ?? '',
    message: ready?.message ?? '',
    suspended: specOf(p).suspend === true,
    lastAppliedCommit: p.status?.lastAppliedCommit,
    lastAttemptedCommit: p.status?.lastAttemptedCommit,
    lastAppliedTime: p.status?.lastAppliedTime,
    lastSyncTime: activity?.lastSync?.finishedAt ?? history[0]?.finishedAt ?? p.status?.lastAppliedTime,
    queued: activity?.queued,
    syncing: activity?.syncing,
    objects: inventorySize(p.status),
    images: p.status?.images ?? [],
    history,
  };
}

export function detail(p: Pipeline, activity: PipelineActivity | undefined, objects: ObjectView[]): PipelineDetail {
  const git = specOf(p).git ?? {};
  return {
    ...summarize(p, activity),
    // Viewers may read the page, not the git credentials a URL may carry.
    git: {
      url: git.url === undefined ? undefined : redact(git.url, {}),
      branch: git.branch ?? 'main',
      path: git.path ?? 'deploy',
      interval: git.interval ?? '1m',
    },
    conditions: p.status?.conditions ?? [],
    imageHistory: p.status?.imageHistory ?? [],
    lastSync: activity?.lastSync,
    events: activity?.events ?? [],
    objectList: objects,
  };
}

export interface WaveView {
  wave: number;
  name: string;
  steps: Array<{ step?: number; objects: ObjectView[] }>;
}

/** Objects by wave (ascending), then by step (known steps first, ascending). */
export function byWave(objects: ObjectView[]): WaveView[] {
  const waves = new Map<number, WaveView>();
  for (const object of objects) {
    let wave = waves.get(object.wave);
    if (!wave) {
      wave = { wave: object.wave, name: object.waveName, steps: [] };
      waves.set(object.wave, wave);
    }
    if (object.step !== undefined && /^\d+$/.test(wave.name)) wave.name = object.waveName;
    let step = wave.steps.find((s) => s.step === object.step);
    if (!step) {
      step = { step: object.step, objects: [] };
      wave.steps.push(step);
    }
    step.objects.push(object);
  }
  const ordered = [...waves.values()].sort((a, b) => a.wave - b.wave);
  for (const wave of ordered) {
    wave.steps.sort((a, b) => (a.step ?? Number.MAX_SAFE_INTEGER) - (b.step ?? Number.MAX_SAFE_INTEGER));
    for (const step of wave.steps) step.objects.sort((a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.name, b.name));
  }
  return ordered;
}
