/**
 * Applying one stage (the objects of one step of a wave, or the prelude).
 *
 * Objects of a stage go to the API server concurrently, with a bound. Each is written with
 * server-side apply (field manager `doris`, conflicts forced) only when it would change:
 * an object whose desired hash is unchanged and whose fields all match the live object is
 * skipped without a request; otherwise a server-side dry-run decides. An apply refused for
 * an immutable field is retried as delete-then-create for Jobs, Pods and objects annotated
 * `doris.dev/recreate: "true"`; anything else fails with a message that says what to do.
 */
import pLimit from 'p-limit';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { KubeApiError } from '../kube/http.js';
import { describeObject, objectId } from '../render/objectid.js';
import { desiredHashAnnotation, recreateAnnotation } from '../render/stamp.js';
import type { DesiredObject, KubeObject } from '../render/types.js';
import { coveredBy, sameAfterApply } from './compare.js';
import type { LiveSnapshot } from './live.js';

export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'recreated';

export interface Change {
  id: string;
  action: ChangeAction;
  desired: DesiredObject;
  /** The object as the server returned it (or the live object when unchanged). */
  live: KubeObject;
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

/** An object the API server refused; names the object, its file and what to do. */
export class ApplyError extends DorisError {
  constructor(
    readonly failures: Array<{ desired: DesiredObject; message: string }>,
  ) {
    super(
      'ApplyFailed',
      failures
        .map(({ desired, message }) => {
          const { file, line, col } = desired.source;
          return `${file}:${line}:${col}: ${describeObject(desired.object)}: ${message}`;
        })
        .join('\n'),
    );
    this.name = 'ApplyError';
  }
}

const immutablePattern = /immutable|may not change fields|updates to .* are forbidden|field is not mutable/i;

function isImmutableRefusal(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && error.status === 422 && immutablePattern.test(error.message);
}

function mayRecreate(object: KubeObject): boolean {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return (
    (object.kind === 'Job' && group === 'batch') ||
    (object.kind === 'Pod' && group === '') ||
    object.metadata.annotations?.[recreateAnnotation] === 'true'
  );
}

export function explain(error: unknown): string {
  if (error instanceof UnknownKindError) return `${error.message}; apply its CRD in an earlier wave or the same commit`;
  if (isImmutableRefusal(error)) {
    return `${error.body?.message ?? error.message} — the field cannot be changed in place; annotate the object with doris.dev/recreate: "true" to let DORIS delete and recreate it`;
  }
  if (error instanceof KubeApiError) return `${error.status} ${error.body?.message ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

async function recreate(client: KubeClient, object: KubeObject, timeoutMs: number): Promise<KubeObject> {
  const key = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  // Foreground: a Job's Pods go with it, so the new Job does not start beside the old ones.
  await client.delete(key, 'Foreground');
  const deadline = Date.now() + timeoutMs;
  while (await client.get(key)) {
    if (Date.now() > deadline) throw new Error(`the old object was not gone ${timeoutMs / 1000}s after its delete`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await client.apply(object)).object;
}

export async function applyObject(client: KubeClient, live: LiveSnapshot, desired: DesiredObject, options: ApplyOptions): Promise<Change> {
  const { object } = desired;
  const id = objectId(object);
  const current = await live.get(object);
  if (current) {
    const sameHash = current.metadata.annotations?.[desiredHashAnnotation] === object.metadata.annotations?.[desiredHashAnnotation];
    if (sameHash && coveredBy(object, current)) return { id, action: 'unchanged', desired, live: current };
    try {
      const dryRun = await client.apply(object, { dryRun: true });
      if (sameAfterApply(dryRun.object, current)) return { id, action: 'unchanged', desired, live: current };
      if (options.mode === 'plan') return { id, action: 'configured', desired, live: dryRun.object };
    } catch (error) {
      if (!isImmutableRefusal(error) || !mayRecreate(object)) throw error;
      if (options.mode === 'plan') return { id, action: 'recreated', desired, live: current };
      return { id, action: 'recreated', desired, live: await recreate(client, object, options.recreateTimeoutMs) };
    }
  }
  try {
    const result = await client.apply(object, { dryRun: options.mode === 'plan' });
    return { id, action: result.created ? 'created' : 'configured', desired, live: result.object };
  } catch (error) {
    // Not in our snapshot: the object is not (yet) ours, so only an explicit annotation lets
    // us delete it — never someone else's Job that happens to have the same name.
    const explicit = object.metadata.annotations?.[recreateAnnotation] === 'true';
    if (!isImmutableRefusal(error) || !explicit || options.mode === 'plan') throw error;
    return { id, action: 'recreated', desired, live: await recreate(client, object, options.recreateTimeoutMs) };
  }
}

/**
 * Applies every object of a stage. All objects are tried even when some fail, so that the
 * error lists every refusal at once; then the stage fails.
 */
export async function applyStage(
  client: KubeClient,
  live: LiveSnapshot,
  objects: DesiredObject[],
  options: ApplyOptions = defaultApplyOptions(),
): Promise<Change[]> {
  const limit = pLimit(options.concurrency);
  const results = await Promise.allSettled(objects.map((desired) => limit(() => applyObject(client, live, desired, options))));
  const changes: Change[] = [];
  const failures: Array<{ desired: DesiredObject; message: string }> = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') changes.push(result.value);
    else failures.push({ desired: objects[i]!, message: explain(result.reason) });
  });
  if (failures.length > 0) throw new ApplyError(failures);
  return changes;
}
