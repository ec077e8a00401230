/**
 * Pre-write validation: a commit applies whole or not at all.
 *
 * Before the first object of a commit is written, every object that would change is sent to
 * the API server as a server-side-apply *dry run*: the server validates it exactly as it
 * would validate the write (schema, field values, names, admission, RBAC) without storing
 * anything. One refusal fails the sync with every refusal listed, each naming
 * `file:line:col`, the object and the server's reason; nothing of the commit is written.
 *
 * Some objects cannot be checked before anything is written: those in a Namespace the same
 * commit declares, and custom resources whose CRD the same commit declares. They are
 * *deferred*, and dry-run as soon as the prelude (every Namespace and CRD) is applied and
 * Established, still before any wave. What is and is not checked before the first write is
 * spelled out in docs/adr/0009-pre-write-validation.md.
 *
 * The dry-run also classifies: an object whose dry-run result equals the live object is
 * `unchanged` and is never written; the apply that follows reuses the verdict instead of
 * asking again.
 */
import pLimit from 'p-limit';
import type { InventoryEntry } from '../api/pipeline.js';
import type { Reason } from '../api/reasons.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { KubeApiError } from '../kube/http.js';
import { describeObject, groupOf, objectId } from '../kube/objectid.js';
import { identityOf } from '../kube/object.js';
import { printable } from '../render/problems.js';
import { desiredHashAnnotation, pipelineLabel, recreateAnnotation } from '../render/stamp.js';
import type { DesiredObject, KubeObject } from '../render/types.js';
import { coveredBy, sameAfterApply } from './compare.js';
import type { DriftRotation } from './drift-rotation.js';
import type { LiveSnapshot } from './live.js';

/** What a write of one object would do, decided before writing. */
export type Verdict =
  /**
   * `unchecked`: a drift check not made in this sync, `deferred` by
   * `PreflightContext.deferDriftChecks` (to be made at once) or left for `later` by the
   * `PreflightContext.rotation` (to be made in a coming sync).
   */
  | { action: 'unchanged'; live: KubeObject; readable: boolean; unchecked?: 'deferred' | 'later' }
  /** `exists`: the object is there (an update) or not (a create). */
  | { action: 'changed'; result: KubeObject; exists: boolean; readable: boolean }
  /**
   * Refused for an immutable field, and the object may be deleted and created again; `uid`:
   * the object the checks were made on, the only one the delete may remove.
   */
  | { action: 'recreate'; live: KubeObject | undefined; uid: string | undefined }
  /** Needs a Namespace, CRD or ServiceAccount that the same commit declares. */
  | { action: 'deferred'; needs: string };

/** What the commit itself declares: prerequisites that may not exist yet. */
export interface Declared {
  namespaces: Set<string>;
  /** `group/Kind` of every CRD in the commit. */
  kinds: Set<string>;
  /** `namespace/name` of every ServiceAccount in the commit. */
  serviceAccounts: Set<string>;
}

export function declaredBy(objects: DesiredObject[]): Declared {
  const declared: Declared = { namespaces: new Set(), kinds: new Set(), serviceAccounts: new Set() };
  for (const { object } of objects) {
    const group = groupOf(object.apiVersion);
    if (group === '' && object.kind === 'Namespace') declared.namespaces.add(object.metadata.name);
    if (group === '' && object.kind === 'ServiceAccount') declared.serviceAccounts.add(`${object.metadata.namespace ?? ''}/${object.metadata.name}`);
    if (group === 'apiextensions.k8s.io' && object.kind === 'CustomResourceDefinition') {
      const spec = object.spec as { group?: string; names?: { kind?: string } } | undefined;
      if (spec?.group && spec.names?.kind) declared.kinds.add(`${spec.group}/${spec.names.kind}`);
    }
  }
  return declared;
}

export interface PreflightContext {
  client: KubeClient;
  live: LiveSnapshot;
  pipeline: string;
  /** The last inventory: recorded resourceVersions of objects DORIS may not read. */
  previous: Map<string, InventoryEntry>;
  declared: Declared;
  concurrency: number;
  /**
   * Skip the drift check of Secrets DORIS may not read that git did not change (the dry-run
   * that compares their resourceVersion with the recorded one): they count as unchanged and
   * `unchecked`. Set by the controller for the sync of a new commit only, which then runs
   * again at once to check them (ADR 0004): a push is applied without waiting for hundreds of
   * dry-runs that can only find a hand edit, and the hand edit is still found a moment later.
   */
  deferDriftChecks?: boolean;
  /**
   * Bounds the drift checks of unreadable Secrets git did not change in one sync
   * (apply/drift-rotation.ts): those the rotation does not choose count as unchanged and
   * `unchecked: 'later'`. `preflight` asks it once and keeps its answer in `dueForCheck`.
   */
  rotation?: DriftRotation;
  /** The ids of the unreadable Secrets this sync checks, when a rotation chose them. */
  dueForCheck?: Set<string>;
  /**
   * A sync that writes drops each dry-run's answer as soon as the object is classified (its
   * identity stays): only `plan` and `diff` show the answers, and a cold sync of 1,000 objects
   * would otherwise hold a thousand of them until it ends.
   */
  dropAnswers?: boolean;
  /** Whether a Namespace the commit declares exists yet, asked once per sync and namespace. */
  namespaceExists?: Map<string, Promise<boolean>>;
  /** Objects of the DORIS install, which no commit may delete and recreate (nor prune). */
  protectedIds?: ReadonlySet<string>;
}

/**
 * A namespace the commit declares may not exist yet (a first sync): its objects are deferred
 * without a dry-run that could only answer "namespace not found". One GET per namespace.
 */
function namespaceExists(ctx: PreflightContext, name: string): Promise<boolean> {
  ctx.namespaceExists ??= new Map();
  let known = ctx.namespaceExists.get(name);
  if (!known) {
    const key = { apiVersion: 'v1', kind: 'Namespace', name };
    known = ctx.live
      .lookup({ ...key, metadata: { name } })
      // Ours and listed already: no request.
      .then((ours) => (ours.live ? ours.live : ctx.client.get(key)))
      .then(
        (ns) => ns !== undefined && !ns.metadata.deletionTimestamp,
        // Not allowed to read it (an impersonated account): let the dry-run decide.
        () => true,
      );
    ctx.namespaceExists.set(name, known);
  }
  return known;
}

/** etcd stores objects up to 1.5 MiB; a dry-run does not reach etcd, so we check it here. */
export const maxObjectBytes = 1.5 * 1024 * 1024;

/** An object refused before anything was written: names the file, the object and why. */
export class PreflightError extends DorisError {
  constructor(
    code: Reason,
    readonly failures: Array<{ desired: DesiredObject; message: string }>,
  ) {
    super(code, failures.map(({ desired, message }) => `${locate(desired)}: ${describeObject(desired.object)}: ${message}`).join('\n'));
    this.name = 'PreflightError';
  }
}

/** Another Pipeline's object: never adopted, never overwritten. */
export class OwnershipConflictError extends Error {
  constructor(readonly owner: string) {
    super(`already belongs to Pipeline "${owner}" (label ${pipelineLabel}); two Pipelines must not declare the same object — remove it from one repository`);
    this.name = 'OwnershipConflictError';
  }
}

export function locate(desired: DesiredObject): string {
  const { file, line, col } = desired.source;
  return `${printable(file)}:${line}:${col}`;
}

const immutablePattern = /immutable|may not change fields|updates to .* are forbidden|field is not mutable/i;

export function isImmutableRefusal(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && error.status === 422 && immutablePattern.test(error.message);
}

/** Jobs, Pods and objects annotated `doris.dev/recreate: "true"` may be deleted and created again. */
export function mayRecreate(object: KubeObject): boolean {
  const group = groupOf(object.apiVersion);
  return (
    (object.kind === 'Job' && group === 'batch') || (object.kind === 'Pod' && group === '') || object.metadata.annotations?.[recreateAnnotation] === 'true'
  );
}

/** A refusal as a user reads it: the server's reason and what to do. */
export function explain(error: unknown): string {
  if (error instanceof UnknownKindError) return `${error.message}; no CRD in this commit declares it either — apply its CRD first or fix the kind`;
  if (isImmutableRefusal(error)) {
    return `${error.body?.message ?? error.message} — the field cannot be changed in place; annotate the object with doris.dev/recreate: "true" to let DORIS delete and recreate it`;
  }
  if (error instanceof KubeApiError) return `${error.status} ${error.reason ? `${error.reason}: ` : ''}${error.body?.message ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Why an object must wait for prerequisites of the same commit, if it must. */
function deferral(error: unknown, object: KubeObject, declared: Declared): string | undefined {
  if (error instanceof UnknownKindError) {
    const kind = `${groupOf(object.apiVersion)}/${object.kind}`;
    return declared.kinds.has(kind) ? `its CRD (${kind}), declared in this commit` : undefined;
  }
  if (!(error instanceof KubeApiError)) return undefined;
  const details = (error.body?.details ?? {}) as { kind?: string; name?: string };
  if (error.status === 404 && details.kind === 'namespaces' && details.name && declared.namespaces.has(details.name)) {
    return `its Namespace ${details.name}, declared in this commit`;
  }
  // ServiceAccount admission refuses a Pod whose account does not exist yet.
  const account = /serviceaccount "([^"]+)" not found/i.exec(error.body?.message ?? '')?.[1];
  const namespace = object.metadata.namespace ?? '';
  if (account && declared.serviceAccounts.has(`${namespace}/${account}`)) return `its ServiceAccount ${namespace}/${account}, declared in this commit`;
  return undefined;
}

/** The desired hash of an object: changes whenever what git says about it changes. */
function desiredHash(object: KubeObject): string | undefined {
  return object.metadata.annotations?.[desiredHashAnnotation];
}

/**
 * Throws `OwnershipConflictError` when `object` exists and is labelled with another Pipeline;
 * returns the live object, when DORIS may read it.
 */
async function checkOwner(ctx: PreflightContext, object: KubeObject): Promise<KubeObject | undefined> {
  const key = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  const current = await ctx.client.get(key).catch((error: unknown) => {
    if (error instanceof KubeApiError && error.status === 403) return undefined;
    throw error;
  });
  const owner = current?.metadata.labels?.[pipelineLabel];
  if (owner !== undefined && owner !== ctx.pipeline) throw new OwnershipConflictError(owner);
  return current;
}

/** Kinds whose delete takes everything in them along: never recreated, whatever the annotation. */
function cascades(object: KubeObject): boolean {
  const group = groupOf(object.apiVersion);
  return (object.kind === 'Namespace' && group === '') || (object.kind === 'CustomResourceDefinition' && group === 'apiextensions.k8s.io');
}

/**
 * Whether an object the API server refused for an immutable field may be deleted and created
 * again: the uid the delete is to be limited to, or a thrown refusal. The annotation is git's
 * say, and git is untrusted: it lets DORIS recreate what it owns, or what nobody owns — not
 * another Pipeline's object, the DORIS install, or a Namespace or CRD with all they hold.
 */
async function recreateTarget(ctx: PreflightContext, object: KubeObject, live: KubeObject | undefined, readable: boolean): Promise<string | undefined> {
  const id = objectId(object);
  const what = describeObject(object);
  if (cascades(object)) {
    throw new Error(
      `DORIS never deletes and recreates a ${object.kind}: everything in it would go with it. Change the field by hand, or remove ${what} from git first`,
    );
  }
  if (ctx.protectedIds?.has(id)) throw new Error(`${what} is part of the DORIS install: a commit may not delete and recreate it`);
  if (live) return live.metadata.uid as string | undefined;
  if (readable) return (await checkOwner(ctx, object))?.metadata.uid as string | undefined;
  // Unreadable and not in our snapshot: only our own record says whose it is.
  const recorded = ctx.previous.get(id);
  if (recorded?.uid === undefined) {
    throw new Error(`DORIS may not read ${what}, so it cannot tell whether another Pipeline owns it, and has no record of applying it: it will not delete it`);
  }
  return recorded.uid;
}

/** The inventory's record of DORIS's last apply of `object`, when git has not changed it since. */
function untouchedRecord(ctx: PreflightContext, object: KubeObject): { uid: string; rv: string } | undefined {
  const recorded = ctx.previous.get(objectId(object));
  if (recorded?.rv === undefined || recorded.uid === undefined || recorded.h !== desiredHash(object)) return undefined;
  return { uid: recorded.uid, rv: recorded.rv };
}

const isSecret = (object: KubeObject) => object.kind === 'Secret' && object.apiVersion === 'v1';

const keyOf = (object: KubeObject) => ({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });

/**
 * Decides what writing one object would do, with at most one dry-run (none when the live
 * object already has every field and the same desired hash). Throws the API server's refusal.
 */
export async function classify(ctx: PreflightContext, desired: DesiredObject): Promise<Verdict> {
  const { object } = desired;
  const { live, readable } = await ctx.live.lookup(object);
  if (live && desiredHash(live) === desiredHash(object) && coveredBy(object, live)) return { action: 'unchanged', live, readable };
  const recorded = !live && !readable ? untouchedRecord(ctx, object) : undefined;
  let seen: KubeObject | undefined;
  if (recorded) {
    // We may write but not read it, and git did not change it since DORIS applied it.
    const notDue = ctx.dueForCheck !== undefined && !ctx.dueForCheck.has(objectId(object));
    if ((ctx.deferDriftChecks || notDue) && isSecret(object)) {
      // A Secret's health needs no status: the record stands in for the live object.
      return {
        action: 'unchanged',
        live: { ...object, metadata: { ...object.metadata, uid: recorded.uid, resourceVersion: recorded.rv } },
        readable,
        unchecked: ctx.deferDriftChecks ? 'deferred' : 'later',
      };
    }
    // Unchanged exactly when nobody wrote it since (same uid and resourceVersion as recorded).
    // An empty merge-patch dry-run tells, for about a fifth less of the API server's time than
    // an apply dry-run (bench/scale-dryrun.ts); a difference goes on to the apply dry-run.
    seen = await ctx.client.peek(keyOf(object));
    if (seen && seen.metadata.uid === recorded.uid && seen.metadata.resourceVersion === recorded.rv) return { action: 'unchanged', live: seen, readable };
  }
  // Only what will be sent is measured: an unchanged object is stored already.
  const size = Buffer.byteLength(JSON.stringify(object));
  if (size > maxObjectBytes) throw new Error(`object is ${size} bytes as JSON, over the ${maxObjectBytes} bytes the API server can store`);
  const namespace = object.metadata.namespace;
  if (!live && namespace !== undefined && ctx.declared.namespaces.has(namespace) && !(await namespaceExists(ctx, namespace))) {
    return { action: 'deferred', needs: `its Namespace ${namespace}, declared in this commit` };
  }

  let dryRun: { object: KubeObject; created: boolean };
  try {
    dryRun = await ctx.client.apply(object, { dryRun: true });
  } catch (error) {
    const needs = deferral(error, object, ctx.declared);
    if (needs) return { action: 'deferred', needs };
    if (isImmutableRefusal(error) && (live ? mayRecreate(object) : object.metadata.annotations?.[recreateAnnotation] === 'true')) {
      // Not in our snapshot: only an explicit annotation lets us delete an unowned Job.
      return { action: 'recreate', live, uid: await recreateTarget(ctx, object, live, readable) };
    }
    throw error;
  }
  const result = dryRun.object;
  if (live) {
    return sameAfterApply(result, live) ? { action: 'unchanged', live, readable } : { action: 'changed', result, exists: true, readable };
  }
  if (dryRun.created) return { action: 'changed', result, exists: false, readable };
  // We may write but not read it: the peek above found it written since DORIS applied it, or
  // git changed it, or there is no record of an apply. Whose it is, the stored labels say (the
  // dry-run's answer carries ours): the apply would make another Pipeline's object ours.
  if (!readable) {
    seen ??= await ctx.client.peek(keyOf(object));
    const owner = seen?.metadata.labels?.[pipelineLabel];
    if (owner !== undefined && owner !== ctx.pipeline) throw new OwnershipConflictError(owner);
    return { action: 'changed', result, exists: true, readable };
  }
  // It exists but does not carry our labels: adopt it, unless another Pipeline owns it.
  await checkOwner(ctx, object);
  return { action: 'changed', result, exists: true, readable };
}

/** The ids of the Secrets of `objects` DORIS may not read and git did not change since DORIS applied them. */
async function uncheckableSecrets(ctx: PreflightContext, objects: DesiredObject[]): Promise<string[]> {
  const ids: string[] = [];
  for (const { object } of objects) {
    if (isSecret(object) && untouchedRecord(ctx, object) && !(await ctx.live.lookup(object)).readable) ids.push(objectId(object));
  }
  return ids;
}

function withoutAnswer(verdict: Verdict): Verdict {
  return verdict.action === 'changed' ? { ...verdict, result: identityOf(verdict.result) } : verdict;
}

/**
 * Classifies every object, concurrently with a bound. All objects are tried, so that the
 * error lists every refusal at once; any refusal throws `PreflightError` (an ownership
 * conflict with reason `OwnershipConflict`, anything else `ValidationFailed`).
 */
export async function preflight(ctx: PreflightContext, objects: DesiredObject[]): Promise<Map<DesiredObject, Verdict>> {
  if (ctx.rotation && !ctx.deferDriftChecks) ctx.dueForCheck = ctx.rotation.choose(await uncheckableSecrets(ctx, objects));
  const limit = pLimit(ctx.concurrency);
  const results = await Promise.allSettled(
    // An object waits for its kind's list before it takes a slot, so that objects whose lists
    // are in (or refused) are classified meanwhile; a failed list fails in `classify`.
    objects.map((desired) =>
      ctx.live
        .lookup(desired.object)
        .catch(() => undefined)
        .then(() => limit(async () => (ctx.dropAnswers ? withoutAnswer(await classify(ctx, desired)) : classify(ctx, desired)))),
    ),
  );
  const verdicts = new Map<DesiredObject, Verdict>();
  const conflicts: Array<{ desired: DesiredObject; message: string }> = [];
  const refusals: Array<{ desired: DesiredObject; message: string }> = [];
  results.forEach((result, i) => {
    const desired = objects[i]!;
    if (result.status === 'fulfilled') verdicts.set(desired, result.value);
    else if (result.reason instanceof OwnershipConflictError) conflicts.push({ desired, message: result.reason.message });
    else refusals.push({ desired, message: explain(result.reason) });
  });
  if (conflicts.length > 0) throw new PreflightError('OwnershipConflict', [...conflicts, ...refusals]);
  if (refusals.length > 0) throw new PreflightError('ValidationFailed', refusals);
  return verdicts;
}
