/**
 * One sync of one Pipeline, as a linear script of named steps (after Flux's
 * kustomize-controller):
 *
 *   resolve commit → fetch → render → stamp → guard → validate (dry-run) → record attempt →
 *   apply the prelude → validate what needed it → apply waves (waiting for health after the
 *   prelude and after each wave) → prune → record success
 *
 * Three steps overlap the ones before them, because a push waits on each: a caller that
 * reads the Pipeline first may ask git for the head meanwhile (`askHeadEarly`, the
 * controller does), the live objects are listed while git answers (`listEarly`), and the
 * progressing status write runs while the commit is fetched, rendered and validated; it has
 * returned before the first write.
 *
 * Every failure maps to one reason code and stops the script. Nothing of a commit is
 * applied unless the whole commit rendered and the API server accepted every object in a
 * dry-run (objects needing a Namespace or CRD of the same commit: right after the prelude,
 * before any wave); `lastAppliedCommit` and the inventory advance only after everything
 * succeeded. With `spec.serviceAccountName`, every read, apply and prune is made as that
 * ServiceAccount; status and Events are written by the controller itself. Before the first write, the objects the sync may create
 * are recorded as `pendingInventory`, so that a crash at any point leaves nothing that a
 * later sync cannot find and prune: running again converges to the same end state.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  parseDuration,
  type InventoryEntry,
  type Pipeline,
  type PipelineSpec,
  type PipelineStatus,
  type SyncCounts,
  type SyncRecord,
} from '../api/pipeline.js';
import { Reasons, type Reason } from '../api/reasons.js';
import { applyStage, defaultApplyOptions, type ApplyOptions, type Change } from '../apply/applier.js';
import { LiveSnapshot } from '../apply/live.js';
import { preflight, type Verdict } from '../apply/preflight.js';
import type { DriftRotation } from '../apply/drift-rotation.js';
import { DorisError } from '../errors.js';
import { defaultWaitOptions, waitForHealthy, type WaitOptions } from '../health/index.js';
import { inventoryFields, inventorySize, readInventory } from '../inventory/archive.js';
import { mergeInventories } from '../inventory/inventory.js';
import type { KubeClient } from '../kube/client.js';
import { planStages } from '../render/order.js';
import { prune, type PruneResult } from '../prune/prune.js';
import type { GitCredentials } from '../source/git.js';
import type { CommitSource, PipelineSource } from '../source/source.js';
import { maxImageHistory, type ImageResolver } from '../source/images.js';
import { appendHistory, boundMessage, progressingConditions, removeCondition, setCondition } from '../status/conditions.js';
import { patchStatus } from '../status/store.js';
import { protectedObjectIds } from '../install/manifests.js';
import type { RenderCache } from '../render/cache.js';
import { desiredHashAnnotation, pruneAnnotation } from '../render/stamp.js';
import type { DesiredObject } from '../render/types.js';
import { identityOf } from '../kube/object.js';
import { buildDesiredSet, clientFor, desiredMemoId, gitSourceFor, planPrune, preflightContext } from './desired.js';
import type { ProgressEvent } from './progress.js';

export interface SyncContext {
  client: KubeClient;
  pipeline: Pipeline;
  spec: PipelineSpec;
  /**
   * The generation `spec` was read from, recorded as `observedGeneration`. `pipeline` is read
   * again and replaced by every status write's answer, so its generation may be a newer spec's,
   * which this sync did not apply. Default: `pipeline`'s when the sync starts.
   */
  generation?: number;
  credentials: GitCredentials;
  /** Cache of git objects and checkouts. */
  workDir: string;
  controllerNamespace: string;
  /** The controller's Deployment (`doris run --deployment-name`): never pruned, like the install's other objects. */
  controllerDeployment: string;
  progress: (event: ProgressEvent) => void;
  /** Where commits come from; by default the Pipeline's git branch. */
  source?: PipelineSource;
  /** Resolves `spec.images` to digests; absent when the Pipeline tracks no images. */
  images?: ImageResolver;
  apply?: Partial<ApplyOptions>;
  /** Parsed commits kept between syncs (the controller's; a one-shot sync has none). */
  renderCache?: RenderCache;
  wait?: Partial<WaitOptions>;
  signal?: AbortSignal;
  /**
   * Runs what lasts of a wave's health wait without holding the controller's concurrency slot,
   * and takes one back before the sync goes on (the scheduler's `Aside`; `WaitOptions.aside`).
   * Default: the wait holds it.
   */
  aside?: <T>(work: () => Promise<T>) => Promise<T>;
  /**
   * In the sync of a new commit, skip the drift checks of unreadable Secrets git did not
   * change (apply/preflight.ts `deferDriftChecks`); the outcome counts them in
   * `driftUnchecked`, and the caller must sync again at once to check them. The controller
   * does; a one-shot sync does not set it.
   */
  deferDriftChecks?: boolean;
  /**
   * A signed push notification for the branch triggered this sync: its head is asked of git
   * and fetched at once (`PipelineSource.fetchHead`). What the push payload names is not used:
   * deliveries come out of order, and the head is what is synced.
   */
  pushed?: boolean;
  /**
   * The branch head, already being asked of `source` by the caller (the controller asks while
   * it reads the Pipeline); default: asked here. A failure is recorded as when asked here.
   */
  head?: Promise<string>;
  /**
   * Bounds the drift checks of unreadable Secrets in one sync (apply/drift-rotation.ts): the
   * controller keeps one per Pipeline; a one-shot sync checks them all.
   */
  driftRotation?: DriftRotation;
}

export interface SyncOutcome {
  commit: string;
  result: Reason;
  message: string;
  counts: SyncCounts;
  /** False when the sync found nothing to do and wrote nothing (not even status). */
  wrote: boolean;
  /** Objects whose drift check was deferred (`SyncContext.deferDriftChecks`): sync again to check them. */
  driftUnchecked?: number;
  /** Unreadable Secrets left for a coming sync by `SyncContext.driftRotation`. */
  driftCheckedLater?: number;
}

const emptyCounts = (): SyncCounts => ({ created: 0, configured: 0, unchanged: 0, recreated: 0, pruned: 0 });

function countChanges(changes: Change[], pruned: number): SyncCounts {
  const counts = emptyCounts();
  for (const change of changes) counts[change.action] += 1;
  counts.pruned = pruned;
  return counts;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DorisError('Interrupted', 'the sync was interrupted by a shutdown signal; it will resume on the next start');
}

/** Reason codes after which retrying the same commit cannot help: Stalled. */
const stallingReasons = new Set<Reason>([
  Reasons.BuildFailed,
  Reasons.PruneGuardTriggered,
  Reasons.InvalidSpec,
  Reasons.ValidationFailed,
  Reasons.OwnershipConflict,
]);

/**
 * The inventory of what was applied. For objects DORIS may not read, what prune and the next
 * no-op check need is recorded from the apply's answer: uid, resourceVersion, desired hash,
 * and whether the object asked not to be pruned.
 */
function appliedInventory(desired: InventoryEntry[], changes: Change[]): InventoryEntry[] {
  const unreadable = new Map(changes.filter((c) => !c.readable).map((c) => [c.id, c]));
  if (unreadable.size === 0) return desired;
  return desired.map((entry) => {
    const change = unreadable.get(entry.id);
    if (!change) return entry;
    const { metadata } = change.live;
    const annotations = change.desired.object.metadata.annotations;
    return {
      ...entry,
      uid: metadata.uid as string | undefined,
      rv: metadata.resourceVersion as string | undefined,
      h: annotations?.[desiredHashAnnotation],
      ...(annotations?.[pruneAnnotation] === 'disabled' ? { keep: true } : {}),
    };
  });
}

/** The generation a sync with `ctx` applies (`SyncContext.generation`). */
function appliedGeneration(ctx: SyncContext): number | undefined {
  return ctx.generation ?? ctx.pipeline.metadata.generation;
}

async function recordFailure(
  ctx: SyncContext,
  commit: string,
  startedAt: Date,
  reason: Reason,
  fullMessage: string,
  counts: SyncCounts,
  generation = appliedGeneration(ctx),
): Promise<void> {
  const now = new Date();
  const message = boundMessage(fullMessage);
  const status = ctx.pipeline.status ?? {};
  let conditions = setCondition(status.conditions, { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now);
  conditions = removeCondition(conditions, 'Reconciling');
  conditions = stallingReasons.has(reason)
    ? setCondition(conditions, { type: 'Stalled', status: 'True', reason, message, observedGeneration: generation }, now)
    : removeCondition(conditions, 'Stalled');
  const record: SyncRecord = { commit, startedAt: startedAt.toISOString(), finishedAt: now.toISOString(), result: reason, message, counts };
  ctx.pipeline = await patchStatus(ctx.client, ctx.pipeline, {
    conditions,
    lastAttemptedCommit: commit,
    history: appendHistory(status.history, record),
    observedGeneration: generation,
  });
}

/**
 * Applies one commit. Never throws for sync failures: they are returned and recorded.
 * `early`: a live snapshot whose lists are already under way (`listEarly`).
 */
export async function syncCommit(
  ctx: SyncContext,
  commit: string,
  source: CommitSource = ctx.source ?? gitSourceFor(ctx.spec, ctx.credentials, ctx.workDir, ctx.signal),
  early?: LiveSnapshot,
): Promise<SyncOutcome> {
  const startedAt = new Date();
  let checkout: string | undefined;
  let changes: Change[] = [];
  let pruneResult: PruneResult | undefined;
  const status: PipelineStatus = ctx.pipeline.status ?? {};
  // Read once: a status write during the sync replaces `ctx.pipeline`, with whatever spec is newest.
  const generation = appliedGeneration(ctx);
  // A retry of the commit that failed keeps Ready=False and its reason until the retry ends.
  const retry =
    commit === status.lastAttemptedCommit && generation === status.observedGeneration && status.conditions?.find((c) => c.type === 'Ready')?.status === 'False';
  let progressed = false;
  /** The progressing write while it is in flight: awaited before the first write to the cluster. */
  let progressing: Promise<void> | undefined;
  try {
    // progressing: a new commit or generation makes Ready Unknown before anything of it is
    // written, so that Ready=True always means "this generation and the newest commit are
    // applied". The write goes on while the commit is fetched, rendered and validated (none
    // of which writes), instead of before them: a push is applied one status write sooner.
    if ((commit !== status.lastAppliedCommit || generation !== status.observedGeneration) && !retry) {
      progressing = patchStatus(ctx.client, ctx.pipeline, {
        lastAttemptedCommit: commit,
        conditions: progressingConditions(ctx.pipeline.status?.conditions, `applying ${commit.slice(0, 12)}`, generation, new Date()),
      }).then((updated) => {
        ctx.pipeline = updated;
      });
      // Observed now (a refusal must not be an unhandled rejection while the render runs),
      // thrown where it is awaited.
      progressing.catch(() => undefined);
      progressed = true;
    }

    // fetch (only when the commit's render is not held already: an unchanged resync skips it)
    ctx.progress({ type: 'commit', commit });
    const fetchAndCheckout = async () => {
      await source.fetchCommit(commit);
      checkout = await source.checkout(commit, join(ctx.workDir, 'checkouts'));
      throwIfAborted(ctx.signal);
      return checkout;
    };

    // render, pin images, stamp: the whole commit, before anything is applied (config data
    // for hashes is read as the Pipeline's account too)
    const client = clientFor(ctx.client, ctx.spec, ctx.pipeline.metadata.namespace);
    const desired = await buildDesiredSet({
      checkout: ctx.renderCache ? fetchAndCheckout : await fetchAndCheckout(),
      path: source.path,
      client,
      pipeline: ctx.pipeline.metadata.name,
      spec: ctx.spec,
      images: ctx.images,
      lastImages: status.images ?? [],
      signal: ctx.signal,
      renderCache: ctx.renderCache,
      commit,
      secrets: { client: ctx.client, namespace: ctx.pipeline.metadata.namespace },
    });
    for (const problem of desired.problems) ctx.progress({ type: 'problem', problem });
    const { images, waves, inventory: desiredInventory } = desired;
    if (images && (images.changes.length > 0 || images.errors.length > 0))
      ctx.progress({ type: 'images', changes: images.changes, errors: images.errors, unresolved: images.unresolved.map((f) => f.error) });
    // New image digests are a new desired state too: Ready is Unknown until they are applied.
    if (!progressed && !retry && images && images.changes.length > 0) {
      ctx.pipeline = await patchStatus(ctx.client, ctx.pipeline, {
        conditions: progressingConditions(ctx.pipeline.status?.conditions, `applying ${commit.slice(0, 12)} with new image digests`, generation, new Date()),
      });
      progressed = true;
    }

    // guard: refuse a mass prune before anything is written
    const { previous, stale, refusal } = planPrune(status, desiredInventory, ctx.spec.prune);
    if (refusal) throw new DorisError('PruneGuardTriggered', refusal);

    // validate: every object that would change is dry-run before anything is written
    const applyOptions = { ...defaultApplyOptions(), ...ctx.apply };
    const preflightCtx = preflightContext(client, ctx.pipeline.metadata.name, previous, desired.objects, applyOptions.concurrency, early);
    // The install's objects, and the controller's Deployment under whatever name it runs:
    // neither recreated nor pruned, whatever git says.
    const protectedIds = new Set([...protectedObjectIds(ctx.controllerNamespace), `${ctx.controllerNamespace}_${ctx.controllerDeployment}_apps_Deployment`]);
    preflightCtx.protectedIds = protectedIds;
    // Not on a retry of a commit that failed: retries wait out a backoff, and must not keep
    // putting the checks off while the commit keeps failing.
    preflightCtx.deferDriftChecks = ctx.deferDriftChecks === true && commit !== status.lastAppliedCommit && !retry;
    preflightCtx.rotation = ctx.driftRotation;
    preflightCtx.dropAnswers = true;
    // Every kind is listed at once, and each object is classified as soon as its kind's list
    // is in: the Secrets DORIS may not read are refused a list at once, and their checks go on
    // while the large lists are still being served.
    const listError = preflightCtx.live.prefetch(desired.objects.map((d) => d.object)).then(
      () => undefined,
      (error: unknown) =>
        new DorisError('ReconcileFailed', `could not list the live objects: ${error instanceof Error ? error.message : String(error)}`, { cause: error }),
    );
    const classified = preflight(preflightCtx, desired.objects);
    const failedList = await listError;
    if (failedList) {
      await classified.catch(() => undefined);
      throw failedList;
    }
    let verdicts = await classified;
    const unchecked = (why: 'deferred' | 'later') => [...verdicts.values()].filter((v) => v.action === 'unchanged' && v.unchecked === why).length;
    const driftUnchecked = unchecked('deferred');
    const driftCheckedLater = unchecked('later');
    const drift = { ...(driftUnchecked > 0 ? { driftUnchecked } : {}), ...(driftCheckedLater > 0 ? { driftCheckedLater } : {}) };
    throwIfAborted(ctx.signal);

    // Ready is Unknown before the first write.
    await progressing;

    // record the attempt: the objects it may create (pending inventory, for prune after a
    // crash), and the commit unless the progressing write above recorded it already (a no-op
    // resync, and a push that adds no object, write nothing here)
    const known = new Set(previous.map((e) => e.id));
    const newEntries = desiredInventory.filter((e) => !known.has(e.id));
    const recordAttempt = newEntries.length > 0 || ctx.pipeline.status?.lastAttemptedCommit !== commit || (!progressed && status.lastAppliedCommit !== commit);
    if (recordAttempt) {
      const now = new Date();
      ctx.pipeline = await patchStatus(ctx.client, ctx.pipeline, {
        lastAttemptedCommit: commit,
        ...inventoryFields(mergeInventories(readInventory(status, 'pendingInventory'), newEntries), 'pendingInventory'),
        conditions: progressingConditions(ctx.pipeline.status?.conditions, `applying ${commit.slice(0, 12)}`, generation, now, retry),
      });
    }

    // apply, stage by stage, waiting for health after the prelude and after each wave
    const waitOptions: WaitOptions = {
      ...defaultWaitOptions(),
      timeoutMs: parseDuration(ctx.spec.wait.timeout),
      signal: ctx.signal,
      aside: ctx.aside,
      ...ctx.wait,
    };
    let waveChanges: Change[] = [];
    for (const stage of planStages(waves)) {
      throwIfAborted(ctx.signal);
      ctx.progress({ type: 'stage', label: stage.label, objects: stage.objects.length });
      const stageChanges = await applyStage(preflightCtx, stage.objects, applyOptions, verdicts);
      changes = changes.concat(stageChanges);
      ctx.progress({ type: 'applied', label: stage.label, counts: countChanges(stageChanges, 0), changes: stageChanges });
      waveChanges = waveChanges.concat(stageChanges);
      if (stage.kind === 'prelude' || stage.lastOfWave) {
        const label = stage.kind === 'prelude' ? stage.label : `wave ${stage.waveName}`;
        const started = Date.now();
        await waitForHealthy(client, waveChanges, {
          ...waitOptions,
          onProgress: (pending, total) => ctx.progress({ type: 'waiting', label, pending: pending.length, total, first: pending[0] }),
        });
        ctx.progress({ type: 'healthy', label, objects: waveChanges.length, ms: Date.now() - started });
        // Healthy: what the rest of the sync needs of these answers is their identity (the
        // inventory records uid and resourceVersion of unreadable ones), not their bodies.
        for (const change of waveChanges) change.live = identityOf(change.live);
        waveChanges = [];
        if (stage.kind === 'prelude') {
          // CRDs of the prelude are Established now: their kinds can be discovered, and the
          // objects that needed them can be validated — still before any wave is written.
          client.discovery.invalidate();
          verdicts = await validateDeferred(preflightCtx, verdicts);
        }
      }
    }

    // prune
    throwIfAborted(ctx.signal);
    if (stale.length > 0) {
      ctx.progress({ type: 'pruning', objects: stale.length });
      pruneResult = await prune(client, stale, {
        pipeline: ctx.pipeline.metadata.name,
        protectedIds,
        namespacesInUse: new Set(desired.objects.flatMap((d) => d.object.metadata.namespace ?? [])),
        crds: ctx.spec.prune.crds,
        concurrency: applyOptions.concurrency,
      });
      ctx.progress({ type: 'pruned', result: pruneResult });
      if (pruneResult.failed.length > 0) {
        throw new DorisError('PruneFailed', pruneResult.failed.map((f) => `${f.entry.id}: ${f.message}`).join('; '));
      }
    }

    // record success (a resync that changed nothing writes nothing)
    const counts = countChanges(changes, pruneResult?.pruned.length ?? 0);
    const nothingChanged = counts.created + counts.configured + counts.recreated + counts.pruned === 0;
    const imagesMoved = images !== undefined && !isDeepStrictEqual(images.images, status.images ?? []);
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    const wasReady = ready?.status === 'True' && !status.conditions?.some((c) => c.type === 'Reconciling');
    const kept = images?.kept ?? [];
    const unresolved = images?.unresolved ?? [];
    const imageNote =
      (kept.length ? `; ${kept.length} image(s) kept their last digest: ${kept.map((f) => f.error).join('; ')}` : '') +
      (unresolved.length
        ? `; ${unresolved.length} image(s) could not be resolved and run unpinned, as written: ${unresolved.map((f) => f.error).join('; ')}`
        : '');
    // Applied, but not as the Pipeline asks: an image it should pin has no digest at all.
    const result: Reason = unresolved.length > 0 ? Reasons.ImageResolveFailed : Reasons.Succeeded;
    const unverified = pruneResult?.unverified ?? [];
    const pruneNote = unverified.length
      ? `; ${unverified.length} object(s) left out of the prune: ${unverified.map((u) => `${u.entry.id}: ${u.reason}`).join('; ')}`
      : '';
    const message = boundMessage(
      `applied ${commit.slice(0, 12)}: ${counts.created} created, ${counts.configured} configured, ${counts.recreated} recreated, ${counts.unchanged} unchanged, ${counts.pruned} pruned${imageNote}${pruneNote}`,
    );
    const stillPending = (pruneResult?.pending.length ?? 0) > 0 || unverified.length > 0 || inventorySize(status, 'pendingInventory') > 0;
    if (
      !recordAttempt &&
      !progressed &&
      nothingChanged &&
      !imagesMoved &&
      wasReady &&
      status.lastAppliedCommit === commit &&
      status.observedGeneration === generation &&
      !stillPending &&
      result === Reasons.Succeeded
    ) {
      return { commit, result, message, counts, wrote: false, ...drift };
    }
    const now = new Date();
    let conditions = setCondition(
      ctx.pipeline.status?.conditions,
      { type: 'Ready', status: result === Reasons.Succeeded ? 'True' : 'False', reason: result, message, observedGeneration: generation },
      now,
    );
    conditions = removeCondition(removeCondition(conditions, 'Reconciling'), 'Stalled');
    // Objects whose delete is not confirmed yet stay in the inventory: the next sync checks again.
    const inventory: InventoryEntry[] = mergeInventories(
      appliedInventory(desiredInventory, changes),
      pruneResult?.pending ?? [],
      unverified.map((u) => u.entry),
    );
    const update = {
      conditions,
      lastAppliedCommit: commit,
      lastAttemptedCommit: commit,
      lastAppliedTime: now.toISOString(),
      ...inventoryFields(inventory),
      ...inventoryFields([], 'pendingInventory'),
      observedGeneration: generation,
      ...(images ? { images: images.images, imageHistory: [...images.changes, ...(status.imageHistory ?? [])].slice(0, maxImageHistory) } : {}),
      history: appendHistory(ctx.pipeline.status?.history, {
        commit,
        startedAt: startedAt.toISOString(),
        finishedAt: now.toISOString(),
        result,
        message,
        counts,
      }),
    };
    // Stopped (a shutdown, or the Lease lost to another replica, whose status this would
    // overwrite): nothing recorded; the pending inventory still names what this sync created.
    throwIfAborted(ctx.signal);
    try {
      ctx.pipeline = await patchStatus(ctx.client, ctx.pipeline, update);
    } catch (error) {
      // Everything was applied, but status cannot say so: fail loudly rather than leave the
      // previous commit's Ready=True standing.
      throw new DorisError(
        'StatusWriteFailed',
        `applied ${commit.slice(0, 12)} but could not record it in the Pipeline's status: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return { commit, result, message, counts, wrote: true, ...drift };
  } catch (error) {
    // One status write at a time: the failure is recorded over the progressing write, not beside it.
    await progressing?.catch(() => undefined);
    // After a shutdown signal nothing is recorded: the next start syncs this commit again.
    const reason: Reason = ctx.signal?.aborted ? Reasons.Interrupted : error instanceof DorisError ? error.code : Reasons.ReconcileFailed;
    const message = error instanceof Error ? error.message : String(error);
    const counts = countChanges(changes, pruneResult?.pruned.length ?? 0);
    if (reason !== Reasons.Interrupted) {
      try {
        await recordFailure(ctx, commit, startedAt, reason, message, counts, generation);
      } catch (statusError) {
        const why = statusError instanceof Error ? statusError.message : String(statusError);
        ctx.progress({ type: 'notice', message: `could not write the Pipeline's status: ${why}` });
        return { commit, result: Reasons.StatusWriteFailed, message: `${message}; and the status could not be written: ${why}`, counts, wrote: false };
      }
    }
    return { commit, result: reason, message, counts, wrote: true };
  } finally {
    if (checkout) rmSync(checkout, { recursive: true, force: true });
  }
}

/** Dry-runs the objects that waited for the prelude; any refusal fails before any wave is written. */
async function validateDeferred(ctx: Parameters<typeof preflight>[0], verdicts: Map<DesiredObject, Verdict>): Promise<Map<DesiredObject, Verdict>> {
  const deferred = [...verdicts].filter(([, v]) => v.action === 'deferred').map(([d]) => d);
  if (deferred.length === 0) return verdicts;
  // The prelude created the commit's Namespaces: ask again.
  ctx.namespaceExists?.clear();
  const fresh = await preflight(ctx, deferred);
  return new Map([...verdicts, ...fresh]);
}

/**
 * Brings a Pipeline to its branch: one commit (`replay: latest`) or every commit since the
 * last applied one, in order (`replay: each-commit`), stopping at the first failure.
 */
export async function reconcilePipeline(ctx: SyncContext): Promise<SyncOutcome[]> {
  let source: PipelineSource;
  let target: string;
  // Listed while git is asked for the branch (a resync that finds the commit unchanged spends
  // most of its time on these lists and on drift checks).
  const early = listEarly(ctx);
  try {
    source = ctx.source ?? gitSourceFor(ctx.spec, ctx.credentials, ctx.workDir, ctx.signal);
    target = await (ctx.head ?? headOf(source, ctx.pushed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A shutdown killed git: nothing failed, and nothing is recorded.
    if (ctx.signal?.aborted) return [{ commit: '', result: Reasons.Interrupted, message, counts: emptyCounts(), wrote: false }];
    await recordFailure(ctx, ctx.pipeline.status?.lastAttemptedCommit ?? '', new Date(), Reasons.ArtifactFailed, message, emptyCounts());
    return [{ commit: '', result: Reasons.ArtifactFailed, message, counts: emptyCounts(), wrote: true }];
  }
  let commits = [target];
  const last = ctx.pipeline.status?.lastAppliedCommit;
  if (ctx.spec.replay === 'each-commit' && last && last !== target) {
    const between = source.commitsBetween ? await source.commitsBetween(last, target).catch(() => undefined) : undefined;
    if (between === undefined) {
      ctx.progress({
        type: 'notice',
        message: `history rewritten: ${last.slice(0, 12)} is not an ancestor of ${target.slice(0, 12)}; applying the newest commit only (replay falls back to latest)`,
      });
    } else if (between.length > 0) commits = between;
  }
  const outcomes: SyncOutcome[] = [];
  for (const [index, commit] of commits.entries()) {
    // The lists are of the cluster before this call's first commit: later commits list afresh.
    const outcome = await syncCommit(ctx, commit, source, index === 0 ? early : undefined);
    outcomes.push(outcome);
    if (outcome.result !== Reasons.Succeeded) break;
  }
  return outcomes;
}

/** The branch head; for a push, fetched with it at once (`PipelineSource.fetchHead`). */
function headOf(source: PipelineSource, pushed: boolean | undefined): Promise<string> {
  return pushed && source.fetchHead ? source.fetchHead() : source.resolve();
}

/**
 * Starts asking for the branch head before the caller has read the Pipeline: pass both to
 * `reconcilePipeline` (`source`, `head`). Undefined when no source can be made; the sync then
 * records why, as it would have.
 */
export function askHeadEarly(
  ctx: Pick<SyncContext, 'source' | 'spec' | 'credentials' | 'workDir' | 'pushed' | 'signal'>,
): { source: PipelineSource; head: Promise<string> } | undefined {
  try {
    const source = ctx.source ?? gitSourceFor(ctx.spec, ctx.credentials, ctx.workDir, ctx.signal);
    const head = headOf(source, ctx.pushed);
    // Observed now: the Pipeline read may fail or find it deleted, and then nobody awaits it.
    head.catch(() => undefined);
    return { source, head };
  } catch {
    return undefined;
  }
}

/**
 * The sync's live snapshot, its lists started now, before the commit is known: with the
 * kinds and namespaces of the Pipeline's last desired set in this process (render/cache.ts),
 * which a new commit mostly shares; what it adds is listed once it is rendered. None before
 * a first render: the lists would be held in memory beside a whole commit's parse. A list
 * that fails here fails the sync where the lists are awaited, as it would have then; a sync
 * that fails before (git unreachable, a commit that does not render) has listed for nothing.
 */
function listEarly(ctx: SyncContext): LiveSnapshot | undefined {
  const namespace = ctx.pipeline.metadata.namespace;
  const memo = ctx.renderCache?.lastDesired(desiredMemoId(namespace, ctx.pipeline.metadata.name));
  if (!memo) return undefined;
  const live = new LiveSnapshot(clientFor(ctx.client, ctx.spec, namespace), ctx.pipeline.metadata.name);
  live.prefetch(memo.objects.map((d) => d.object)).catch(() => undefined);
  return live;
}
