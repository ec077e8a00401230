/**
 * `doris diff` for a whole Pipeline: the newest commit of its branch rendered exactly as a
 * sync renders it, each object dry-run against the live cluster (as the Pipeline's own
 * identity), and the result compared field by field with the live object (diff.ts). What
 * left the repository is listed as deleted when the Pipeline prunes. Nothing is written.
 */
import { classify, explain, type PreflightContext } from '../apply/preflight.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import { parseObjectId } from '../kube/objectid.js';
import { planStages } from '../render/order.js';
import { printable } from '../render/problems.js';
import type { DesiredObject, KubeObject, Problem } from '../render/types.js';
import { planPrune } from './desired.js';
import { diffFields, diffObject, identify, type ObjectDiff } from './diff.js';
import { type DryRunOptions, withNewestDesiredSet } from './dry-run.js';

export interface PipelineDiff {
  commit: string;
  diffs: ObjectDiff[];
  problems: Problem[];
  /** Why the mass-prune guard would refuse the sync, if it would. */
  pruneRefusal?: string;
}

/** The live object, also one that is not labelled as ours yet (the sync would adopt it). */
async function readLive(client: KubeClient, object: KubeObject): Promise<KubeObject | undefined> {
  const key = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  return client.get(key).catch((error: unknown) => {
    if (error instanceof KubeApiError && error.status === 403) return undefined;
    throw error;
  });
}

export async function diffPipeline(controllerClient: KubeClient, options: DryRunOptions): Promise<PipelineDiff> {
  return withNewestDesiredSet(controllerClient, options, async ({ commit, client, desired, ctx }) => {
    const diffs: ObjectDiff[] = [];
    for (const stage of planStages(desired.waves)) {
      const results = await Promise.all(stage.objects.map((object) => diffOne(ctx, client, object, stage.label)));
      diffs.push(...results);
    }
    const { stale, refusal } = planPrune(options.status, desired.inventory, options.spec.prune);
    for (const entry of stale) {
      const ref = parseObjectId(entry.id);
      diffs.push({
        // The inventory keeps the group, not the version.
        apiVersion: ref?.group || 'v1',
        kind: ref?.kind ?? entry.id,
        ...(ref?.namespace ? { namespace: ref.namespace } : {}),
        name: ref?.name ?? entry.id,
        action: 'delete',
        changes: [],
        stage: `prune (wave ${entry.wave})`,
      });
    }
    return { commit, diffs, problems: desired.problems, pruneRefusal: refusal };
  });
}

async function diffOne(ctx: PreflightContext, client: KubeClient, desired: DesiredObject, stage: string): Promise<ObjectDiff> {
  const { object } = desired;
  const base = { ...identify(object), stage, source: `${printable(desired.source.file)}:${desired.source.line}:${desired.source.col}` };
  try {
    const verdict = await classify(ctx, desired);
    switch (verdict.action) {
      case 'unchanged':
        return { ...base, action: 'unchanged', changes: [] };
      case 'deferred':
        return { ...base, action: 'create', changes: [], note: `validated once ${verdict.needs} exists` };
      case 'recreate':
        return { ...base, action: 'recreate', changes: verdict.live ? diffFields(verdict.live, object) : [], note: 'an immutable field changes' };
      case 'changed': {
        if (!verdict.exists) return { ...base, action: 'create', changes: [] };
        const live = (await ctx.live.lookup(object)).live ?? (verdict.readable ? await readLive(client, object) : undefined);
        if (!live) {
          return { ...base, action: 'update', changes: [], note: 'the live object cannot be read with this identity: changed in git or since the last apply' };
        }
        return diffObject(live, verdict.result, base);
      }
    }
  } catch (error) {
    return { ...base, action: 'error', changes: [], note: explain(error) };
  }
}
