/**
 * `doris plan`: what a sync of a commit would do against the live cluster — create,
 * update, recreate, unchanged, prune — decided by the same comparison the sync uses, with
 * server-side dry-runs. Nothing is written.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineSpec, PipelineStatus } from '../api/pipeline.js';
import { applyObject, defaultApplyOptions, explain } from '../apply/applier.js';
import { LiveSnapshot } from '../apply/live.js';
import { settleNamespaces } from '../apply/scope.js';
import { UnknownKindError } from '../kube/discovery.js';
import type { KubeClient } from '../kube/client.js';
import { inventoryOf, mergeInventories, staleEntries } from '../inventory/inventory.js';
import { renderRepo } from '../render/layout.js';
import { describeObject, parseObjectId } from '../render/objectid.js';
import { planStages } from '../render/order.js';
import { stampOwnership } from '../render/stamp.js';
import type { Problem } from '../render/types.js';
import { pruneGuardRefusal } from '../prune/guard.js';
import { GitSource, type GitCredentials } from '../source/git.js';

export type PlanAction = 'create' | 'update' | 'recreate' | 'unchanged' | 'prune' | 'error';

export interface PlanRow {
  action: PlanAction;
  object: string;
  stage: string;
  source?: string;
  note?: string;
}

export interface Plan {
  commit: string;
  rows: PlanRow[];
  problems: Problem[];
  pruneRefusal?: string;
}

const actionOf = { created: 'create', configured: 'update', recreated: 'recreate', unchanged: 'unchanged' } as const;

export async function planPipeline(
  client: KubeClient,
  options: { name: string; spec: PipelineSpec; status?: PipelineStatus; credentials: GitCredentials; workDir: string },
): Promise<Plan> {
  const source = new GitSource(options.spec.git.url, options.credentials, { cacheDir: join(options.workDir, 'git'), timeoutMs: 120_000 });
  const commit = await source.resolveBranch(options.spec.git.branch);
  await source.fetchCommit(commit, options.spec.git.branch);
  const checkout = await source.checkout(commit, join(options.workDir, 'checkouts'));
  try {
    const rendered = await renderRepo(checkout, options.spec.git.path);
    const all = rendered.waves.flatMap((w) => w.steps.flatMap((s) => s.objects));
    const stamped = all.map((d) => ({ ...d, object: stampOwnership(d.object, options.name) }));
    const settled = await settleNamespaces(stamped, client.discovery, options.spec.targetNamespace);
    const bySource = new Map(all.map((d, i) => [d, settled[i]!]));
    const waves = rendered.waves.map((w) => ({ ...w, steps: w.steps.map((s) => ({ ...s, objects: s.objects.map((o) => bySource.get(o)!) })) }));
    const live = new LiveSnapshot(client, options.name);
    const planOptions = { ...defaultApplyOptions(), mode: 'plan' as const };
    const rows: PlanRow[] = [];
    for (const stage of planStages(waves)) {
      const results = await Promise.all(
        stage.objects.map(async (desired): Promise<PlanRow> => {
          const base = { object: describeObject(desired.object), stage: stage.label, source: `${desired.source.file}:${desired.source.line}:${desired.source.col}` };
          try {
            const change = await applyObject(client, live, desired, planOptions);
            return { ...base, action: actionOf[change.action] };
          } catch (error) {
            // A custom resource whose CRD arrives with this very commit cannot be dry-run yet.
            if (error instanceof UnknownKindError) return { ...base, action: 'create', note: 'its CRD is not installed yet' };
            return { ...base, action: 'error', note: explain(error) };
          }
        }),
      );
      rows.push(...results);
    }
    const previous = mergeInventories(options.status?.inventory ?? [], options.status?.pendingInventory ?? []);
    const stale = options.spec.prune.enabled ? staleEntries(previous, inventoryOf(settled)) : [];
    for (const entry of stale) {
      const ref = parseObjectId(entry.id);
      rows.push({
        action: 'prune',
        object: ref ? `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` : entry.id,
        stage: `prune (wave ${entry.wave})`,
      });
    }
    const pruneRefusal = options.spec.prune.enabled
      ? pruneGuardRefusal(stale.length, previous.length, { minObjects: 5, maxFraction: 0.5, allowMass: options.spec.prune.allowMass })
      : undefined;
    return { commit, rows, problems: rendered.problems, pruneRefusal };
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
}
