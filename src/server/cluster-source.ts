/**
 * Where the cluster dashboard gets its data and sends its actions, from a running
 * controller: the Pipelines it watches, its in-memory activity, the live health of each
 * Pipeline's objects (read on demand, one LIST per kind and namespace filtered by the
 * Pipeline's label, cached for a moment so open pages cost little), the sync trigger, and
 * `spec.suspend`. Objects the controller may not read (Secrets outside its namespace) show
 * their health as Unknown with the reason; nothing here writes but the suspend patch.
 */
import pLimit from 'p-limit';
import { apiVersion as pipelineApiVersion, kind as pipelineKind, type Pipeline } from '../api/pipeline.js';
import type { PipelineActivity } from '../controller/activity.js';
import { computeHealth } from '../health/compute.js';
import type { HealthResult } from '../health/types.js';
import { readInventory } from '../inventory/archive.js';
import type { KubeClient } from '../kube/client.js';
import { parseObjectId } from '../kube/objectid.js';
import type { KubeObject } from '../kube/object.js';
import type { PipelineDiff } from '../reconcile/diff-pipeline.js';
import { pipelineLabel } from '../render/stamp.js';
import type { ObjectView } from './dashboard-model.js';

export interface ClusterSource {
  pipelines(): Pipeline[];
  activity(name: string): PipelineActivity | undefined;
  objects(pipeline: Pipeline): Promise<ObjectView[]>;
  /** Asks for a sync now; false when this replica does not lead (the leader syncs). */
  sync(name: string, why: string): boolean;
  setSuspend(pipeline: Pipeline, suspend: boolean): Promise<void>;
  preview(name: string): Promise<PipelineDiff>;
  subscribe(listener: (name: string) => void): () => void;
}

export interface ControllerLike {
  readonly leading: boolean;
  readonly watcher: { pipelines: Map<string, unknown> };
  readonly activity: { get(name: string): PipelineActivity | undefined; subscribe(listener: (name: string) => void): () => void };
  trigger(name: string, why: string): void;
  diff(name: string): Promise<PipelineDiff>;
}

/** The served version of groups whose objects only the inventory knows (ids carry no version). */
const versionOfGroup: Record<string, string> = {
  '': 'v1',
  apps: 'apps/v1',
  batch: 'batch/v1',
  'networking.k8s.io': 'networking.k8s.io/v1',
  policy: 'policy/v1',
  'rbac.authorization.k8s.io': 'rbac.authorization.k8s.io/v1',
  'apiextensions.k8s.io': 'apiextensions.k8s.io/v1',
  'storage.k8s.io': 'storage.k8s.io/v1',
  'scheduling.k8s.io': 'scheduling.k8s.io/v1',
  autoscaling: 'autoscaling/v2',
};

const cacheMs = 2_000;

interface Target {
  view: Omit<ObjectView, 'health'>;
  apiVersion?: string;
}

export class ControllerClusterSource implements ClusterSource {
  private readonly healthCache = new Map<string, { at: number; resourceVersion: string; result: Promise<ObjectView[]> }>();
  /** `at`: when the preview ended (none while it runs). */
  private readonly previews = new Map<string, { at?: number; result: Promise<PipelineDiff> }>();
  private readonly previewSlot = pLimit(1);

  constructor(
    private readonly client: KubeClient,
    private readonly controller: ControllerLike,
  ) {}

  pipelines(): Pipeline[] {
    return [...this.controller.watcher.pipelines.values()] as Pipeline[];
  }

  activity(name: string): PipelineActivity | undefined {
    return this.controller.activity.get(name);
  }

  subscribe(listener: (name: string) => void): () => void {
    return this.controller.activity.subscribe(listener);
  }

  sync(name: string, why: string): boolean {
    if (!this.controller.leading) return false;
    this.controller.trigger(name, why);
    return true;
  }

  async setSuspend(pipeline: Pipeline, suspend: boolean): Promise<void> {
    await this.client.mergePatch(
      { apiVersion: pipelineApiVersion, kind: pipelineKind, namespace: pipeline.metadata.namespace, name: pipeline.metadata.name },
      { spec: { suspend } },
    );
  }

  /**
   * One preview at a time in all (each costs a git fetch into the previews' shared cache, and
   * dry-runs); a preview running is shared, and its result reused for 10 s after it ends.
   * A viewer asking for every Pipeline at once queues them.
   */
  preview(name: string): Promise<PipelineDiff> {
    const cached = this.previews.get(name);
    if (cached && (cached.at === undefined || Date.now() - cached.at < 10_000)) return cached.result;
    const entry: { at?: number; result: Promise<PipelineDiff> } = { result: this.previewSlot(() => this.controller.diff(name)) };
    this.previews.set(name, entry);
    entry.result.then(
      () => {
        entry.at = Date.now();
      },
      () => {
        if (this.previews.get(name) === entry) this.previews.delete(name);
      },
    );
    return entry.result;
  }

  objects(pipeline: Pipeline): Promise<ObjectView[]> {
    const { name, resourceVersion = '' } = pipeline.metadata;
    const now = Date.now();
    const cached = this.healthCache.get(name);
    if (cached && cached.resourceVersion === resourceVersion && now - cached.at < cacheMs) return cached.result;
    const result = this.readObjects(pipeline);
    this.healthCache.set(name, { at: now, resourceVersion, result });
    // Only the Pipelines being looked at stay cached.
    for (const [other, entry] of this.healthCache) if (now - entry.at > 60_000) this.healthCache.delete(other);
    return result;
  }

  private targets(pipeline: Pipeline): Target[] {
    const activity = this.activity(pipeline.metadata.name);
    const targets = new Map<string, Target>();
    for (const o of activity?.objects.values() ?? []) {
      targets.set(o.id, {
        apiVersion: o.action === 'pruned' ? undefined : o.apiVersion,
        view: {
          id: o.id,
          kind: o.kind,
          namespace: o.namespace,
          name: o.name,
          wave: o.wave,
          waveName: o.waveName,
          step: o.step,
          file: o.file,
          action: o.action,
          actionAt: o.at,
          changed: o.changed,
        },
      });
    }
    for (const entry of [...readInventory(pipeline.status), ...readInventory(pipeline.status, 'pendingInventory')]) {
      if (targets.has(entry.id)) continue;
      const ref = parseObjectId(entry.id);
      if (!ref) continue;
      targets.set(entry.id, {
        apiVersion: versionOfGroup[ref.group],
        view: { id: entry.id, kind: ref.kind, namespace: ref.namespace || undefined, name: ref.name, wave: entry.wave, waveName: String(entry.wave) },
      });
    }
    return [...targets.values()];
  }

  private async readObjects(pipeline: Pipeline): Promise<ObjectView[]> {
    const targets = this.targets(pipeline);
    const groups = new Map<string, Target[]>();
    for (const target of targets) {
      if (!target.apiVersion) continue;
      const key = `${target.apiVersion}|${target.view.kind}|${target.view.namespace ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), target]);
    }
    const health = new Map<string, HealthResult>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const first = group[0]!;
        let items: KubeObject[];
        try {
          items = await this.client.list(first.apiVersion!, first.view.kind, {
            namespace: first.view.namespace,
            labelSelector: `${pipelineLabel}=${pipeline.metadata.name}`,
          });
        } catch (error) {
          const status = (error as { status?: number }).status;
          const message =
            status === 403 ? `DORIS may not read ${first.view.kind} objects here (by design for Secrets)` : `could not read: ${(error as Error).message}`;
          for (const target of group) health.set(target.view.id, { status: 'Unknown', message });
          return;
        }
        const byName = new Map(items.map((item) => [item.metadata.name, item]));
        for (const target of group) {
          const live = byName.get(target.view.name);
          health.set(target.view.id, live ? computeHealth(live) : { status: 'NotFound', message: 'the object does not exist' });
        }
      }),
    );
    return targets.map((t) => ({
      ...t.view,
      health:
        health.get(t.view.id) ??
        (t.view.action === 'pruned'
          ? { status: 'NotFound', message: 'pruned: it left the repository' }
          : { status: 'Unknown', message: 'health not read (kind not synced since this controller started)' }),
    }));
  }
}
