/**
 * The controller behind `doris run`. It keeps a view of the Pipelines (watch.ts), holds the
 * leader Lease (lease.ts), and, while leading, has each Pipeline synced by the scheduler
 * (scheduler.ts: intervals, jitter, backoff, reruns, bounded concurrency) and its images
 * polled between syncs (image-poller.ts). This file decides what one sync of one Pipeline
 * is, around the sync script (reconcile/sync.ts): read and validate the spec, honour
 * `suspend`, read the git credentials, run the script, and turn every outcome — also what
 * the script could not record itself — into status, an Event, a metric and a log line.
 *
 * Stopping (`stop`) is part of the contract: no new syncs, syncs in flight are signalled and
 * end at their next step without recording anything, and the Lease is released.
 */
import { join } from 'node:path';
import { parsePipelineSpec, syncIntervalMs, type ImageChange, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import { Notifier, clusterName } from '../notify/dispatcher.js';
import { Reasons } from '../api/reasons.js';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ProgressEvent } from '../reconcile/progress.js';
import { askHeadEarly, reconcilePipeline } from '../reconcile/sync.js';
import { gitCredentialsFromSecret } from '../source/credentials.js';
import type { GitCredentials } from '../source/git.js';
import { ruleMatches } from '../source/registry/index.js';
import { normalizeRepoUrl } from '../source/repo-url.js';
import type { EventRecorder } from '../status/events.js';
import { getPipeline } from '../status/store.js';
import { recordOutcomeEvent, recordProgressEvents } from '../reconcile/sync-events.js';
import { ImagePoller } from './image-poller.js';
import { LeaderElector, type LeaseOptions } from './lease.js';
import { messageOf, reasonOf, recordState, type RecordDeps } from './record.js';
import { type Aside, Scheduler, defaultSchedulerOptions, type RunResult, type SchedulerOptions } from './scheduler.js';
import { validSpec } from './spec.js';
import { PipelineWatcher, type WatchOptions } from './watch.js';
import { RenderCache } from '../render/cache.js';
import { DriftRotation, defaultDriftCheckPeriodMs, defaultDriftChecksPerSync } from '../apply/drift-rotation.js';
import { HubFollower, type HubFollowerOptions } from './hub-follower.js';
import { deviceReport, planHubSync } from './hub-sync.js';
import { diffPipeline, type PipelineDiff } from '../reconcile/diff-pipeline.js';
import { SyncActivity } from './activity.js';
import { handledReconcile, reconcileRequest } from '../api/reconcile.js';
import { patchStatus } from '../status/store.js';

/** Objects named in one drift log line; the rest are counted. */
const maxLoggedObjects = 50;

export interface ControllerOptions {
  namespace: string;
  workDir: string;
  /** When syncs run: concurrency bound, jitter, backoff (the git poll interval is each Pipeline's own). */
  schedule: SchedulerOptions;
  /** Overrides every Pipeline's git poll interval (tests, benchmarks). */
  pollIntervalMs?: number;
  /** The controller's own Deployment, never pruned. */
  controllerDeployment: string;
  lease: LeaseOptions;
  watch?: WatchOptions;
  /** Overrides every image rule's poll interval (tests). */
  imagePollIntervalMs?: number;
  /** Image polls back off up to this many image intervals while the registry fails. */
  imageMaxBackoffIntervals: number;
  /** dockerconfigjson for image rules without a Secret. */
  registryCredentialsFile?: string;
  /** Backoff and poll period of hub Pipelines (tests shorten them). */
  hubFollower?: HubFollowerOptions;
  /** Used when a Pipeline names no Secret (e.g. from DORIS_GIT_TOKEN). */
  fallbackCredentials: GitCredentials;
  /**
   * Unreadable Secrets a sync checks for drift, at most (apply/drift-rotation.ts; 0: all of
   * them in every sync). Default `defaultDriftChecksPerSync`.
   */
  driftChecksPerSync?: number;
  /**
   * Every unreadable Secret is checked about once in this period, each sync at the Pipeline's
   * interval taking its share (apply/drift-rotation.ts; 0: up to `driftChecksPerSync` in every
   * sync). Default `defaultDriftCheckPeriodMs`.
   */
  driftCheckPeriodMs?: number;
  /** Where what the controller is doing is kept for the dashboard (its Events recorder may share it). */
  activity?: SyncActivity;
}

/** The defaults of everything but where the controller runs and who it is. */
export function defaultControllerTuning(): Pick<ControllerOptions, 'schedule' | 'imageMaxBackoffIntervals'> {
  return { schedule: defaultSchedulerOptions(), imageMaxBackoffIntervals: 10 };
}

export class Controller {
  readonly watcher: PipelineWatcher;
  readonly elector: LeaderElector;
  private readonly syncs: Scheduler;
  private readonly images: ImagePoller;
  /** Pipelines with spec.hub: their targets, long-polled from the hub. */
  private readonly hub: HubFollower;
  /** Last generation seen per Pipeline: a new one syncs at once. */
  private readonly generations = new Map<string, number | undefined>();
  /** Last reconcile request (`doris reconcile`) seen per Pipeline: a new one syncs at once. */
  private readonly requests = new Map<string, string | undefined>();
  /** Each commit parsed once: a resync of an unchanged commit only compares. */
  private readonly renders = new RenderCache();
  /** Per Pipeline: which unreadable Secrets its coming syncs check for drift. */
  private readonly driftRotations = new Map<string, DriftRotation>();
  /** Pipelines a push webhook triggered, until their sync starts. */
  private readonly pushedPipelines = new Set<string>();
  private stopping = false;
  /** What each Pipeline's sync is doing now and last did (the dashboard's live view). */
  readonly activity: SyncActivity;
  /** spec.notify: sends in the background, never holds up a sync. */
  private readonly notifier: Notifier;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly events: EventRecorder,
    private readonly options: ControllerOptions,
  ) {
    this.activity = options.activity ?? new SyncActivity();
    this.syncs = new Scheduler(
      (name, signal, aside) => {
        this.activity.started(name);
        return this.sync(name, signal, aside).finally(() => this.activity.finished(name));
      },
      options.schedule,
      {
        threw: (name, error) => log.error({ pipeline: name, err: (error as Error).message }, 'sync crashed'),
        triggered: (name, why) => {
          this.activity.queued(name, why);
          log.debug({ pipeline: name, why }, 'sync triggered');
        },
      },
    );
    this.images = new ImagePoller(
      {
        client,
        log,
        metrics,
        pipeline: (name) => this.watcher.pipelines.get(name),
        changed: (name) => this.trigger(name, 'image digest changed'),
      },
      {
        namespace: options.namespace,
        intervalMs: options.imagePollIntervalMs,
        registryCredentialsFile: options.registryCredentialsFile,
        schedule: { ...options.schedule, maxBackoffIntervals: options.imageMaxBackoffIntervals },
      },
    );
    this.watcher = new PipelineWatcher(
      client,
      options.namespace,
      log,
      (event) => {
        if (event.type === 'delete') this.forget(event.name);
        else this.observe(event.pipeline);
        this.activity.touch(event.type === 'delete' ? event.name : event.pipeline.metadata.name);
      },
      options.watch,
    );
    this.elector = new LeaderElector(client, options.lease, log, (leading) => this.leadershipChanged(leading));
    // Every replica reports every Pipeline's state from its own watch (docs/metrics.md).
    metrics.observePipelines(() => this.watcher.pipelines.values());
    this.notifier = new Notifier(client, log, { namespace: options.namespace, cluster: clusterName() });
    this.hub = new HubFollower({ client, namespace: options.namespace, log, changed: (name) => this.trigger(name, 'hub target changed') }, options.hubFollower);
  }

  get leading(): boolean {
    return this.elector.leading;
  }

  get ready(): boolean {
    return this.watcher.hasSynced;
  }

  start(): void {
    this.watcher.start();
    this.elector.start();
  }

  private leadershipChanged(leading: boolean): void {
    if (this.stopping) return;
    this.metrics.leader.set(leading ? 1 : 0);
    if (leading) {
      this.syncs.resume();
      this.images.resume();
      for (const name of this.watcher.pipelines.keys()) this.trigger(name, 'became leader');
    } else {
      // Another replica leads now: what we were doing stops at its next step.
      this.syncs.pause();
      this.images.pause();
    }
  }

  /** A Pipeline seen by the watch: a new one, a new generation or a new reconcile request syncs now. */
  private observe(pipeline: Pipeline): void {
    const { name, generation } = pipeline.metadata;
    const request = reconcileRequest(pipeline);
    const newRequest = this.requests.has(name) && this.requests.get(name) !== request && request !== undefined;
    this.requests.set(name, request);
    if (newRequest && this.generations.get(name) === generation) {
      this.trigger(name, 'reconcile requested');
      return;
    }
    if (this.generations.has(name) && this.generations.get(name) === generation) return;
    const first = !this.generations.has(name);
    this.generations.set(name, generation);
    this.trigger(name, first ? 'discovered' : 'spec changed');
  }

  private forget(name: string): void {
    this.notifier.forget(this.options.namespace, name);
    this.hub.forget(name);
    this.activity.forget(name);
    this.metrics.forget(this.options.namespace, name);
    this.generations.delete(name);
    this.requests.delete(name);
    this.syncs.forget(name);
    this.images.forget(name);
    this.renders.forgetDesired(`${this.options.namespace}/${name}`);
    this.driftRotations.delete(name);
    this.pushedPipelines.delete(name);
  }

  private driftRotation(name: string, intervalMs: number): DriftRotation {
    let rotation = this.driftRotations.get(name);
    if (!rotation) {
      rotation = new DriftRotation(this.options.driftChecksPerSync ?? defaultDriftChecksPerSync, this.options.driftCheckPeriodMs ?? defaultDriftCheckPeriodMs);
      this.driftRotations.set(name, rotation);
    }
    rotation.intervalMs = intervalMs;
    return rotation;
  }

  /** Runs a Pipeline's sync as soon as possible (once more after a sync in flight). */
  trigger(name: string, why: string): void {
    if (this.stopping || !this.leading) return;
    this.syncs.trigger(name, why);
  }

  /** Pipelines whose spec is valid, with their specs (an invalid spec matches nothing; its status says why). */
  private *validPipelines(): Generator<{ name: string; spec: PipelineSpec }> {
    for (const pipeline of this.watcher.pipelines.values()) {
      const spec = validSpec(pipeline);
      if (spec) yield { name: pipeline.metadata.name, spec };
    }
  }

  /** Pipelines following `repoUrl` at `branch` (webhooks). */
  pipelinesFor(repoUrl: string, branch: string): string[] {
    const wanted = normalizeRepoUrl(repoUrl);
    return [...this.validPipelines()]
      .filter(({ spec }) => spec.git !== undefined && normalizeRepoUrl(spec.git.url) === wanted && spec.git.branch === branch)
      .map((p) => p.name);
  }

  /** Pipelines with an image rule that covers `repository` (registry notifications). */
  pipelinesTrackingImage(repository: string): string[] {
    return [...this.validPipelines()].filter(({ spec }) => spec.images.some((rule) => ruleMatches(rule.repository, repository))).map((p) => p.name);
  }

  /** A signed push to the Pipeline's branch: sync now, fetching the head as it is asked for. */
  pushed(name: string): void {
    if (this.stopping || !this.leading) return;
    this.pushedPipelines.add(name);
    this.trigger(name, 'github push');
  }

  /** A registry notification for an image the Pipeline tracks: sync now. */
  imagePushed(name: string): void {
    this.trigger(name, 'registry push');
  }

  /**
   * What a sync of `name` would change now, field by field (the dashboard's preview): `doris
   * diff` with this controller's credentials and image digests, in its own work folder;
   * nothing is written.
   */
  async diff(name: string): Promise<PipelineDiff> {
    const pipeline = this.watcher.pipelines.get(name);
    if (!pipeline) throw new DorisError(Reasons.InvalidSpec, `no Pipeline ${name}`);
    const spec = parsePipelineSpec(pipeline.spec);
    return diffPipeline(this.client, {
      name,
      namespace: pipeline.metadata.namespace,
      spec,
      status: pipeline.status,
      credentials: await this.credentialsFor(spec),
      workDir: join(this.options.workDir, 'preview'),
      images: this.images.tracker(name),
    });
  }

  private get recordDeps(): RecordDeps {
    return { client: this.client, events: this.events, metrics: this.metrics, log: this.log };
  }

  private async credentialsFor(spec: PipelineSpec): Promise<GitCredentials> {
    if (!spec.git?.secretRef) return this.options.fallbackCredentials;
    try {
      return await gitCredentialsFromSecret(this.client, this.options.namespace, spec.git.secretRef.name);
    } catch (error) {
      throw new DorisError(Reasons.CredentialsFailed, `${(error as Error).message} (spec.git.secretRef)`, { cause: error });
    }
  }

  /**
   * One sync, then the reconcile request it answers (the annotation as the sync started) is
   * acknowledged in status, so that `doris reconcile --wait` sees that its sync has ended.
   */
  private async sync(name: string, signal: AbortSignal, aside: Aside): Promise<RunResult> {
    const request = reconcileRequest(this.watcher.pipelines.get(name));
    const result = await this.syncOnce(name, signal, aside);
    const seen = this.watcher.pipelines.get(name);
    if (request !== undefined && seen && !signal.aborted && handledReconcile(seen) !== request) {
      await patchStatus(this.client, seen, { lastHandledReconcileAt: request }).catch((error: unknown) =>
        this.log.warn({ pipeline: name, err: (error as Error).message }, 'could not acknowledge the reconcile request'),
      );
    }
    return result;
  }

  /** One sync of one Pipeline; never throws: every failure ends in its status. */
  private async syncOnce(name: string, signal: AbortSignal, aside: Aside): Promise<RunResult> {
    const seen = this.watcher.pipelines.get(name);
    if (!seen || signal.aborted) return { ok: true };
    let spec: PipelineSpec;
    try {
      spec = parsePipelineSpec(seen.spec);
    } catch (error) {
      // Retrying cannot help: the next generation (a fixed spec) triggers the next sync.
      const written = await recordState(this.recordDeps, seen, Reasons.InvalidSpec, (error as Error).message);
      return written ? { ok: false } : { ok: false, intervalMs: this.options.schedule.fallbackIntervalMs };
    }
    const intervalMs = syncIntervalMs(spec, this.options.pollIntervalMs);
    if (spec.suspend) {
      const last = seen.status?.lastAppliedCommit;
      const message = `spec.suspend is true: no syncs and no image polls until it is false${last ? `; ${last.slice(0, 12)} stays applied` : ''}`;
      const written = await recordState(this.recordDeps, seen, Reasons.Suspended, message);
      return written ? { ok: true } : { ok: false, intervalMs };
    }
    const hub = spec.hub ? planHubSync(this.hub, name, spec, this.options.workDir, signal) : undefined;
    if (hub?.kind === 'wait') return { ok: true, intervalMs };
    if (hub?.kind === 'refused') {
      await recordState(this.recordDeps, seen, hub.error.code, hub.error.message);
      return { ok: false, intervalMs };
    }
    const started = Date.now();
    const pushed = this.pushedPipelines.delete(name);
    /** Objects this sync wrote (`configured <inventory id>`), for the drift log line. */
    const reapplied: string[] = [];
    try {
      const credentials = await this.credentialsFor(spec);
      // git is asked for the branch head while the Pipeline is read: a push is applied one
      // API round trip sooner (10-25 ms at 1,000 objects, whose status is 100 KB).
      const early = askHeadEarly({ source: hub?.source, spec: hub?.spec ?? spec, credentials, workDir: this.options.workDir, pushed, signal });
      const pipeline = await getPipeline(this.client, seen.metadata.namespace, name);
      if (!pipeline || signal.aborted) return { ok: true };
      const rolled: ImageChange[] = [];
      const outcomes = await reconcilePipeline({
        client: this.client,
        pipeline,
        spec: hub?.spec ?? spec,
        // `spec` is the watch's copy; `pipeline`, read since, may carry a newer generation.
        generation: seen.metadata.generation,
        credentials,
        images: hub?.images ?? this.images.tracker(name),
        source: early?.source ?? hub?.source,
        head: early?.head,
        workDir: this.options.workDir,
        controllerNamespace: this.options.namespace,
        controllerDeployment: this.options.controllerDeployment,
        progress: (event) => {
          this.onProgress(name, event);
          if (event.type === 'images') rolled.push(...event.changes);
          if (event.type === 'applied')
            for (const change of event.changes ?? []) if (change.action !== 'unchanged') reapplied.push(`${change.action} ${change.id}`);
        },
        signal,
        // Health waits hold no slot: a Pipeline stuck in a wave delays no other.
        aside,
        renderCache: this.renders,
        deferDriftChecks: true,
        driftRotation: this.driftRotation(name, intervalMs),
        pushed,
      });
      for (const outcome of outcomes) {
        const seconds = (Date.now() - started) / 1000;
        if (outcome.result === Reasons.Interrupted) {
          this.log.info({ pipeline: name, commit: outcome.commit }, 'sync interrupted; nothing recorded');
          continue;
        }
        this.activity.outcome(name, outcome);
        this.metrics.syncs.inc({ pipeline: name, result: outcome.result });
        this.metrics.syncDuration.observe({ pipeline: name, result: outcome.result }, seconds);
        for (const [action, n] of Object.entries(outcome.counts)) if (n > 0) this.metrics.objects.inc({ pipeline: name, action }, n);
        this.metrics.polls.inc({
          pipeline: name,
          source: 'git',
          result: outcome.result === Reasons.Succeeded ? (outcome.wrote ? 'changed' : 'unchanged') : 'error',
        });
        if (outcome.result === Reasons.Succeeded) {
          this.metrics.recordLastApplied(name, outcome.commit);
          this.metrics.recordSuccess(this.options.namespace, name);
        }
        if (outcome.result === Reasons.Succeeded && outcome.commit === pipeline.status?.lastAppliedCommit && reapplied.length > 0) {
          // The commit was applied before: what was written again had drifted (edited or deleted by hand).
          this.log.info(
            { pipeline: name, commit: outcome.commit, objects: reapplied.slice(0, maxLoggedObjects), more: Math.max(0, reapplied.length - maxLoggedObjects) },
            'drift corrected: re-applied objects that differed from the commit',
          );
        }
        const log = {
          pipeline: name,
          commit: outcome.commit,
          result: outcome.result,
          counts: outcome.counts,
          seconds,
          ...(outcome.driftCheckedLater ? { driftCheckedLater: outcome.driftCheckedLater } : {}),
        };
        if (outcome.result !== Reasons.Succeeded) this.log.warn({ ...log, message: outcome.message }, 'sync failed');
        else if (outcome.wrote) this.log.info(log, 'sync applied');
        else this.log.debug(log, 'sync: nothing changed');
        await recordOutcomeEvent(this.events, pipeline, outcome);
        if (hub?.kind === 'sync') await this.hub.report(name, deviceReport(outcome, hub.target));
      }
      this.notifier.syncEnded(pipeline, spec, outcomes, rolled);
      this.images.follow(name, spec);
      // A new commit was applied without the drift checks that only a hand edit could fail:
      // they run now, in the sync that follows at once.
      if (outcomes.some((o) => (o.driftUnchecked ?? 0) > 0)) this.trigger(name, 'drift check after a new commit');
      return { ok: outcomes.every((o) => o.result === Reasons.Succeeded), intervalMs };
    } catch (error) {
      // Interrupted by a shutdown or a lost Lease: nothing is recorded, the next leader syncs again.
      if (signal.aborted) {
        this.log.info({ pipeline: name, err: (error as Error).message }, 'sync interrupted; nothing recorded');
        return { ok: true };
      }
      const reason = reasonOf(error);
      const message = messageOf(error, reason);
      this.metrics.syncDuration.observe({ pipeline: name, result: reason }, (Date.now() - started) / 1000);
      this.log.warn({ pipeline: name, result: reason, message }, 'sync failed');
      this.activity.outcome(name, { commit: '', result: reason, message, wrote: true });
      await recordState(this.recordDeps, seen, reason, message);
      this.notifier.syncEnded(seen, spec, [{ commit: '', result: reason, message }]);
      this.images.follow(name, spec);
      return { ok: false, intervalMs };
    }
  }

  private onProgress(name: string, event: ProgressEvent): void {
    this.activity.progress(name, event);
    recordProgressEvents(this.events, () => this.watcher.pipelines.get(name))(event);
    if (event.type === 'notice') this.log.info({ pipeline: name }, event.message);
    if (event.type === 'images') {
      for (const change of event.changes) {
        this.log.info({ pipeline: name, image: `${change.repository}:${change.tag}`, from: change.from, to: change.to }, 'image digest changed');
      }
      for (const error of event.errors) this.log.warn({ pipeline: name, err: error }, 'image not resolved');
    }
  }

  /**
   * Graceful stop: no new syncs or polls; those in flight are signalled and end at their next
   * step boundary without recording anything (the request in flight completes); then the
   * Lease is released so that a standby leads at once. Returns the Pipelines whose sync had
   * not ended by `deadline` (epoch ms): such a sync is blocked in a step that cannot be
   * interrupted, and the process exits without it.
   */
  async stop(deadline: number): Promise<string[]> {
    this.stopping = true;
    this.hub.stop();
    const watchClosed = this.watcher.stop();
    this.syncs.pause();
    this.images.pause();
    const [syncing] = await Promise.all([this.syncs.drain(deadline), this.images.drain(deadline)]);
    // Notifications of the last syncs get a moment; retries of a receiver that is down do not hold the exit.
    await this.notifier.flush(Math.min(2000, Math.max(0, deadline - Date.now())));
    this.notifier.stop();
    await this.elector.stop(Math.max(500, deadline - Date.now()));
    this.metrics.leader.set(0);
    await Promise.race([watchClosed, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
    return syncing;
  }
}
