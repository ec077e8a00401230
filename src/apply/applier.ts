/**
 * Applying one stage (the objects of one step of a wave, or the prelude).
 *
 * Objects of a stage go to the API server concurrently, with a bound. Each is written with
 * server-side apply (field manager `doris`, conflicts forced) only when it would change, as
 * decided by its verdict (preflight.ts): the one the pre-write validation made, or, for an
 * object validated only now, a fresh one. An apply refused for an immutable field is retried
 * as delete-then-create for Jobs, Pods and objects annotated `doris.dev/recreate: "true"`;
 * anything else fails with a message that says what to do.
 */
import pLimit from 'p-limit';
import type { KubeClient } from '../kube/client.js';
import { objectId } from '../kube/objectid.js';
import type { DesiredObject, KubeObject } from '../render/types.js';
import { PreflightError, classify, explain, isImmutableRefusal, type PreflightContext, type Verdict } from './preflight.js';

export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'recreated';

export interface Change {
  id: string;
  action: ChangeAction;
  desired: DesiredObject;
  /** The object as the server returned it (or the live object when unchanged). */
  live: KubeObject;
  /** False for an object DORIS may write but not read (its uid and resourceVersion are recorded). */
  readable: boolean;
}

export interface ApplyOptions {
  /** Objects of one stage sent at once. */
  concurrency: number;
  /** `plan` classifies with dry-runs and writes nothing. */
  mode: 'apply' | 'plan';
  /** How long a recreate waits for the old object to disappear. */
  recreateTimeoutMs: number;
}

export function defaultApplyOptions(): ApplyOptions {
  return { concurrency: 32, mode: 'apply', recreateTimeoutMs: 60_000 };
}

/** An object the API server refused while being written; names the object, its file and what to do. */
export class ApplyError extends PreflightError {
  constructor(failures: Array<{ desired: DesiredObject; message: string }>) {
    super('ApplyFailed', failures);
    this.name = 'ApplyError';
  }
}

async function recreate(client: KubeClient, object: KubeObject, uid: string | undefined, timeoutMs: number): Promise<KubeObject> {
  const key = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  // Foreground: a Job's Pods go with it, so the new Job does not start beside the old ones.
  // The uid: only the object preflight checked, not one put in its place since.
  await client.delete(key, 'Foreground', uid ? { uid } : undefined);
  const deadline = Date.now() + timeoutMs;
  while (await client.get(key)) {
    if (Date.now() > deadline) throw new Error(`the old object was not gone ${timeoutMs / 1000}s after its delete`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await client.apply(object)).object;
}

export async function applyObject(ctx: PreflightContext, desired: DesiredObject, options: ApplyOptions, known?: Verdict): Promise<Change> {
  const { object } = desired;
  const id = objectId(object);
  const verdict = known && known.action !== 'deferred' ? known : await classify(ctx, desired);
  switch (verdict.action) {
    case 'deferred':
      throw new Error(`cannot be validated: it needs ${verdict.needs}, which is not there yet`);
    case 'unchanged':
      return { id, action: 'unchanged', desired, live: verdict.live, readable: verdict.readable };
    case 'recreate':
      if (options.mode === 'plan') return { id, action: 'recreated', desired, live: verdict.live ?? object, readable: true };
      return { id, action: 'recreated', desired, live: await recreate(ctx.client, object, verdict.uid, options.recreateTimeoutMs), readable: true };
    case 'changed': {
      const planned = verdict.exists ? 'configured' : 'created';
      if (options.mode === 'plan') return { id, action: planned, desired, live: verdict.result, readable: verdict.readable };
      try {
        const result = await ctx.client.apply(object);
        return { id, action: result.created ? 'created' : 'configured', desired, live: result.object, readable: verdict.readable };
      } catch (error) {
        // The object changed between the dry-run and the write; a recreate is allowed only
        // where the dry-run would have allowed it.
        if (!isImmutableRefusal(error)) throw error;
        const retry = await classify(ctx, desired);
        if (retry.action !== 'recreate') throw error;
        return { id, action: 'recreated', desired, live: await recreate(ctx.client, object, retry.uid, options.recreateTimeoutMs), readable: true };
      }
    }
  }
}

/**
 * Applies every object of a stage. All objects are tried even when some fail, so that the
 * error lists every refusal at once; then the stage fails.
 */
export async function applyStage(
  ctx: PreflightContext,
  objects: DesiredObject[],
  options: ApplyOptions = defaultApplyOptions(),
  verdicts: Map<DesiredObject, Verdict> = new Map(),
): Promise<Change[]> {
  const limit = pLimit(options.concurrency);
  const results = await Promise.allSettled(objects.map((desired) => limit(() => applyObject(ctx, desired, options, verdicts.get(desired)))));
  const changes: Change[] = [];
  const failures: Array<{ desired: DesiredObject; message: string }> = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') changes.push(result.value);
    else failures.push({ desired: objects[i]!, message: explain(result.reason) });
  });
  if (failures.length > 0) throw new ApplyError(failures);
  return changes;
}
