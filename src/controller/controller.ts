/**
 * The controller behind `doris run`: it keeps a view of the Pipelines (watch.ts), holds the
 * leader Lease (lease.ts), and, while leading, runs each Pipeline's sync on a schedule:
 * every `spec.git.interval` with jitter (which also re-applies drift), at once when the
 * Pipeline's spec changes or a webhook arrives, and after a failure with a growing backoff.
 * One sync per Pipeline at a time; a trigger during a sync runs it once more afterwards.
 */
import pLimit from 'p-limit';
import { parseDuration, parsePipelineSpec, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import { Reasons } from '../api/reasons.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import type { ProgressEvent } from '../reconcile/progress.js';
import { reconcilePipeline } from '../reconcile/sync.js';
import type { Metrics } from '../server/metrics.js';
import { normalizeRepoUrl } from '../server/github.js';
import { gitCredentialsFromSecret, registryCredentialsResolver } from '../source/credentials.js';
import { ImageTracker, defaultImageTrackerOptions } from '../source/images.js';
import { ruleMatches } from '../source/registry/index.js';
import type { GitCredentials } from '../source/git.js';
import { setCondition } from '../status/conditions.js';
import type { EventRecorder } from '../status/events.js';
import { recordOutcomeEvent, recordProgressEvents } from '../status/sync-events.js';
import { patchStatus } from '../status/store.js';
import { LeaderElector, type LeaseOptions } from './lease.js';
import { PipelineWatcher, type WatchOptions } from './watch.js';

export interface ControllerOptions {
  namespace: string;
  workDir: string;
  /** Syncs of different Pipelines run at once up to this bound. */
  maxConcurrentSyncs: number;
  /** Poll intervals are spread by ± this fraction, so devices do not poll in lockstep. */
  jitter: number;
  /** First retry delay after a failure; doubles per failure up to the poll interval. */
  backoffMs: number;
  /** Overrides every Pipeline's poll interval (tests, benchmarks). */
  pollIntervalMs?: number;
  controllerDeployment: string;
  lease: LeaseOptions;
  watch?: WatchOptions;
  /** Overrides every image rule's poll interval (tests). */
  imagePollIntervalMs?: number;
  /** How long glob rules reuse their catalog listing. */
  catalogTtlMs?: number;
  /** dockerconfigjson for image rules without a Secret. */
  registryCredentialsFile?: string;
  /** Used when a Pipeline names no Secret (e.g. from DORIS_GIT_TOKEN). */
  fallbackCredentials: GitCredentials;
}

interface Entry {
  name: string;
  generation?: number;
  timer?: NodeJS.Timeout;
  images: ImageTracker;
  imageTimer?: NodeJS.Timeout;
  imageFailures: number;
  running: boolean;
  rerun: boolean;
  failures: number;
}

export class Controller {
  readonly watcher: PipelineWatcher;
  readonly elector: LeaderElector;
  private readonly entries = new Map<string, Entry>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();
  private stopping = false;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly events: EventRecorder,
    private readonly options: ControllerOptions,
  ) {
    this.limit = pLimit(options.maxConcurrentSyncs);
    this.watcher = new PipelineWatcher(client, options.namespace, log, (event) => {
      if (event.type === 'delete') this.forget(event.name);
      else this.observe(event.pipeline);
    }, options.watch);
    this.elector = new LeaderElector(client, options.lease, log, (leading) => {
      this.metrics.leader.set(leading ? 1 : 0);
      if (leading) {
        this.abort = new AbortController();
        for (const name of this.watcher.pipelines.keys()) this.trigger(name, 'became leader');
      } else this.abort.abort();
    });
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

  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = {
        name,
        running: false,
        rerun: false,
        failures: 0,
        imageFailures: 0,
        images: new ImageTracker(registryCredentialsResolver(this.client, this.options.namespace, this.options.registryCredentialsFile), {
          ...defaultImageTrackerOptions(),
          ...(this.options.catalogTtlMs !== undefined ? { catalogTtlMs: this.options.catalogTtlMs } : {}),
        }),
      };
      this.entries.set(name, entry);
    }
    return entry;
  }

  /** A Pipeline seen by the watch: a new one or a new generation syncs now. */
  private observe(pipeline: Pipeline): void {
    const entry = this.entry(pipeline.metadata.name);
    if (entry.generation !== pipeline.metadata.generation) {
      const first = entry.generation === undefined;
      entry.generation = pipeline.metadata.generation;
      this.trigger(pipeline.metadata.name, first ? 'discovered' : 'spec changed');
    }
  }

  private forget(name: string): void {
    const entry = this.entries.get(name);
    if (entry?.timer) clearTimeout(entry.timer);
    if (entry?.imageTimer) clearTimeout(entry.imageTimer);
    this.entries.delete(name);
  }

  /** Runs a Pipeline's sync as soon as possible (queued behind a sync in flight). */
  trigger(name: string, why: string): void {
    if (this.stopping || !this.leading) return;
    const entry = this.entry(name);
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.running) {
      entry.rerun = true;
      return;
    }
    entry.running = true;
    this.log.debug({ pipeline: name, why }, 'sync triggered');
    const run = this.limit(() => this.sync(entry)).finally(() => {
      this.inFlight.delete(run);
      entry.running = false;
      if (entry.rerun && this.entries.has(name)) {
        entry.rerun = false;
        this.trigger(name, 'triggered during the last sync');
      }
    });
    this.inFlight.add(run);
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
    return [...this.validPipelines()].filter(({ spec }) => normalizeRepoUrl(spec.git.url) === wanted && spec.git.branch === branch).map((p) => p.name);
  }

  /** A registry notification: the catalogs of glob rules may have new repositories. */
  imagePushed(name: string): void {
    this.entries.get(name)?.images.refreshCatalogs();
    this.trigger(name, 'registry push');
  }

  /**
   * Image polls, between git polls: a changed digest triggers a sync with no git commit.
   * Failures back off; the sync itself keeps the last known digest.
   */
  private scheduleImagePoll(entry: Entry, spec: PipelineSpec): void {
    if (entry.imageTimer) clearTimeout(entry.imageTimer);
    entry.imageTimer = undefined;
    if (this.stopping || spec.images.length === 0 || !this.entries.has(entry.name)) return;
    const interval = this.options.imagePollIntervalMs ?? Math.min(...spec.images.map((r) => parseDuration(r.interval)));
    const delay = entry.imageFailures === 0 ? this.jittered(interval) : Math.min(10 * interval, this.options.backoffMs * 2 ** (entry.imageFailures - 1));
    entry.imageTimer = setTimeout(() => void this.pollImages(entry), delay);
  }

  private async pollImages(entry: Entry): Promise<void> {
    const pipeline = this.watcher.pipelines.get(entry.name);
    if (!pipeline || !this.leading) return;
    const spec = validSpec(pipeline);
    if (!spec) return;
    try {
      const known = pipeline.status?.images ?? [];
      const result = await entry.images.resolve(spec.images, known, this.abort.signal);
      entry.imageFailures = result.errors.length > 0 ? entry.imageFailures + 1 : 0;
      this.metrics.polls.inc({ pipeline: entry.name, source: 'image', result: result.errors.length > 0 ? 'error' : result.changes.length > 0 ? 'changed' : 'unchanged' });
      if (result.changes.length > 0) this.trigger(entry.name, 'image digest changed');
    } catch (error) {
      entry.imageFailures += 1;
      this.metrics.polls.inc({ pipeline: entry.name, source: 'image', result: 'error' });
      this.log.warn({ pipeline: entry.name, err: (error as Error).message }, 'image poll failed');
    } finally {
      this.scheduleImagePoll(entry, spec);
    }
  }

  /** Pipelines with an image rule that covers `repository` (registry notifications). */
  pipelinesTrackingImage(repository: string): string[] {
    return [...this.validPipelines()].filter(({ spec }) => spec.images.some((rule) => ruleMatches(rule.repository, repository))).map((p) => p.name);
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (this.stopping || !this.entries.has(entry.name)) return;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.trigger(entry.name, 'interval'), delayMs);
  }

  private jittered(ms: number): number {
    return Math.round(ms * (1 - this.options.jitter + Math.random() * 2 * this.options.jitter));
  }

  private async credentialsFor(spec: PipelineSpec): Promise<GitCredentials> {
    if (!spec.git.secretRef) return this.options.fallbackCredentials;
    return gitCredentialsFromSecret(this.client, this.options.namespace, spec.git.secretRef.name);
  }

  private async sync(entry: Entry): Promise<void> {
    const pipeline = this.watcher.pipelines.get(entry.name);
    if (!pipeline || !this.leading) return;
    const started = Date.now();
    let interval = 60_000;
    let ok = false;
    let spec: PipelineSpec | undefined;
    try {
      try {
        spec = parsePipelineSpec(pipeline.spec);
      } catch (error) {
        await this.recordInvalidSpec(pipeline, (error as Error).message);
        return;
      }
      interval = this.options.pollIntervalMs ?? parseDuration(spec.git.interval);
      if (spec.suspend) {
        ok = true;
        return;
      }
      const fresh = (await this.client.get({ apiVersion: pipeline.apiVersion, kind: pipeline.kind, namespace: pipeline.metadata.namespace, name: pipeline.metadata.name })) as unknown as Pipeline | undefined;
      if (!fresh) return;
      const outcomes = await reconcilePipeline({
        client: this.client,
        pipeline: fresh,
        spec,
        credentials: await this.credentialsFor(spec),
        images: entry.images,
        workDir: this.options.workDir,
        controllerNamespace: this.options.namespace,
        controllerDeployment: this.options.controllerDeployment,
        progress: (event) => this.onProgress(entry.name, event),
        signal: this.abort.signal,
      });
      ok = outcomes.every((o) => o.result === Reasons.Succeeded);
      for (const outcome of outcomes) {
        const seconds = (Date.now() - started) / 1000;
        this.metrics.syncs.inc({ pipeline: entry.name, result: outcome.result });
        this.metrics.syncDuration.observe({ pipeline: entry.name, result: outcome.result }, seconds);
        for (const [action, n] of Object.entries(outcome.counts)) if (n > 0) this.metrics.objects.inc({ pipeline: entry.name, action }, n);
        this.metrics.polls.inc({ pipeline: entry.name, source: 'git', result: outcome.result === Reasons.Succeeded ? (outcome.wrote ? 'changed' : 'unchanged') : 'error' });
        if (outcome.result === Reasons.Succeeded) this.metrics.recordLastApplied(entry.name, outcome.commit);
        if (outcome.result === Reasons.Interrupted) continue;
        const log = { pipeline: entry.name, commit: outcome.commit, result: outcome.result, counts: outcome.counts, seconds };
        if (outcome.result !== Reasons.Succeeded) this.log.warn({ ...log, message: outcome.message }, 'sync failed');
        else if (outcome.wrote) this.log.info(log, 'sync applied');
        else this.log.debug(log, 'sync: nothing changed');
        await recordOutcomeEvent(this.events, fresh, outcome);
      }
    } catch (error) {
      this.log.error({ pipeline: entry.name, err: (error as Error).message }, 'sync crashed');
    } finally {
      entry.failures = ok ? 0 : entry.failures + 1;
      const delay = ok ? this.jittered(interval) : Math.min(interval, this.options.backoffMs * 2 ** (entry.failures - 1));
      this.schedule(entry, delay);
      if (spec && !entry.imageTimer) this.scheduleImagePoll(entry, spec);
    }
  }

  private onProgress(name: string, event: ProgressEvent): void {
    this.recordEvents(name)(event);
    if (event.type === 'notice') this.log.info({ pipeline: name }, event.message);
    if (event.type === 'images') {
      for (const change of event.changes) {
        this.log.info({ pipeline: name, image: `${change.repository}:${change.tag}`, from: change.from, to: change.to }, 'image digest changed');
      }
      for (const error of event.errors) this.log.warn({ pipeline: name, err: error }, 'image not resolved; last digest kept');
    }
  }

  private recordEvents(name: string) {
    return recordProgressEvents(this.events, () => this.watcher.pipelines.get(name));
  }

  private async recordInvalidSpec(pipeline: Pipeline, message: string): Promise<void> {
    const ready = pipeline.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.reason === Reasons.InvalidSpec && ready.message === message) return;
    const now = new Date();
    let conditions = setCondition(pipeline.status?.conditions, { type: 'Ready', status: 'False', reason: Reasons.InvalidSpec, message }, now);
    conditions = setCondition(conditions, { type: 'Stalled', status: 'True', reason: Reasons.InvalidSpec, message }, now);
    await patchStatus(this.client, pipeline, { conditions, observedGeneration: pipeline.metadata.generation });
    await this.events.record(pipeline, 'Warning', Reasons.InvalidSpec, message);
  }

  /**
   * Graceful stop: no new syncs; syncs in flight stop at their next step boundary (the
   * request in flight completes, no status is written half-done); the Lease is released.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    this.abort.abort();
    this.watcher.stop();
    await Promise.allSettled([...this.inFlight]);
    await this.elector.stop();
  }
}

function validSpec(pipeline: Pipeline): PipelineSpec | undefined {
  try {
    return parsePipelineSpec(pipeline.spec);
  } catch {
    return undefined;
  }
}
