/**
 * `doris plan`: what a sync of a commit would do against the live cluster — create,
 * update, recreate, unchanged, prune — decided by the same comparison the sync uses, with
 * server-side dry-runs. Nothing is written.
 */
import { applyObject, defaultApplyOptions } from '../apply/applier.js';
import { classify, explain } from '../apply/preflight.js';
import type { KubeClient } from '../kube/client.js';
import { describeObject, parseObjectId } from '../kube/objectid.js';
import { planStages } from '../render/order.js';
import { printable } from '../render/problems.js';
import type { Problem } from '../render/types.js';
import { planPrune } from './desired.js';
import { type DryRunOptions, withNewestDesiredSet } from './dry-run.js';

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

export async function planPipeline(controllerClient: KubeClient, options: DryRunOptions): Promise<Plan> {
  return withNewestDesiredSet(controllerClient, options, async ({ commit, desired, ctx }) => {
    const planOptions = { ...defaultApplyOptions(), mode: 'plan' as const };
    const rows: PlanRow[] = [];
    for (const stage of planStages(desired.waves)) {
      const results = await Promise.all(
        stage.objects.map(async (object): Promise<PlanRow> => {
          const base = {
            object: describeObject(object.object),
            stage: stage.label,
            source: `${printable(object.source.file)}:${object.source.line}:${object.source.col}`,
          };
          try {
            const verdict = await classify(ctx, object);
            // An object that needs a Namespace or CRD of this very commit cannot be dry-run yet.
            if (verdict.action === 'deferred') return { ...base, action: 'create', note: `validated once ${verdict.needs} exists` };
            const change = await applyObject(ctx, object, planOptions, verdict);
            return { ...base, action: actionOf[change.action] };
          } catch (error) {
            return { ...base, action: 'error', note: explain(error) };
          }
        }),
      );
      rows.push(...results);
    }
    const { stale, refusal } = planPrune(options.status, desired.inventory, options.spec.prune);
    for (const entry of stale) {
      const ref = parseObjectId(entry.id);
      rows.push({
        action: 'prune',
        object: ref ? `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` : entry.id,
        stage: `prune (wave ${entry.wave})`,
      });
    }
    return { commit, rows, problems: desired.problems, pruneRefusal: refusal };
  });
}
