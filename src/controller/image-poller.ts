/**
 * Image polls, between git polls: each Pipeline with image rules asks the registry for its
 * tags' digests every rule interval (the shortest of its rules), and a changed digest
 * triggers a sync with no git commit. Polls of one Pipeline never overlap; failures back
 * off; a failing registry never changes what runs (the sync keeps the last known digest).
 *
 * The poller owns each Pipeline's `ImageTracker`, which the sync uses too: its token cache
 * is what keeps steady polling at one HEAD per image.
 */
import { parseDuration, type Pipeline, type PipelineSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { registryCredentialsResolver } from '../source/credentials.js';
import { ImageTracker, defaultImageTrackerOptions } from '../source/images.js';
import { Scheduler, jittered, type RunResult, type SchedulerOptions } from './scheduler.js';
import { validSpec } from './spec.js';

export interface ImagePollerOptions {
  /** The controller namespace, where image rules' Secrets live. */
  namespace: string;
  /** Overrides every image rule's poll interval (tests). */
  intervalMs?: number;
  /** dockerconfigjson for image rules without a Secret. */
  registryCredentialsFile?: string;
  schedule: SchedulerOptions;
}

export interface ImagePollerDeps {
  client: KubeClient;
  log: Logger;
  metrics: Metrics;
  /** The Pipeline as last seen by the watch. */
  pipeline: (name: string) => Pipeline | undefined;
  /** A digest changed: sync the Pipeline. */
  changed: (name: string) => void;
}

export class ImagePoller {
  private readonly trackers = new Map<string, ImageTracker>();
  private readonly scheduler: Scheduler;

  constructor(
    private readonly deps: ImagePollerDeps,
    private readonly options: ImagePollerOptions,
  ) {
    this.scheduler = new Scheduler((name, signal) => this.poll(name, signal), options.schedule, {
      threw: (name, error) => deps.log.warn({ pipeline: name, err: (error as Error).message }, 'image poll failed'),
    });
  }

  /** The Pipeline's tracker, shared with its syncs. */
  tracker(name: string): ImageTracker {
    let tracker = this.trackers.get(name);
    if (!tracker) {
      const credentials = registryCredentialsResolver(this.deps.client, this.options.namespace, this.options.registryCredentialsFile);
      tracker = new ImageTracker(credentials, defaultImageTrackerOptions());
      this.trackers.set(name, tracker);
    }
    return tracker;
  }

  private intervalOf(spec: PipelineSpec): number {
    return this.options.intervalMs ?? Math.min(...spec.images.map((r) => parseDuration(r.interval)));
  }

  /** After a sync: polls start one interval later, unless they already run. */
  follow(name: string, spec: PipelineSpec): void {
    if (spec.images.length === 0 || spec.suspend) return;
    const { jitter, random } = this.options.schedule;
    this.scheduler.after(name, jittered(this.intervalOf(spec), jitter, random), 'image interval');
  }

  forget(name: string): void {
    this.scheduler.forget(name);
    this.trackers.delete(name);
  }

  resume(): void {
    this.scheduler.resume();
  }

  /** No more polls; polls in flight are cancelled (their requests aborted). */
  pause(): void {
    this.scheduler.pause();
  }

  drain(deadline?: number): Promise<string[]> {
    return this.scheduler.drain(deadline);
  }

  private async poll(name: string, signal: AbortSignal): Promise<RunResult> {
    const pipeline = this.deps.pipeline(name);
    const spec = pipeline && validSpec(pipeline);
    // Gone, invalid, suspended or without rules: polls stop until the next sync restarts them.
    if (!pipeline || !spec || spec.suspend || spec.images.length === 0) return { ok: true };
    const intervalMs = this.intervalOf(spec);
    const { metrics, log } = this.deps;
    try {
      const result = await this.tracker(name).resolve(spec.images, pipeline.status?.images ?? [], signal);
      if (signal.aborted) return { ok: true };
      const failed = result.errors.length > 0;
      metrics.polls.inc({ pipeline: name, source: 'image', result: failed ? 'error' : result.changes.length > 0 ? 'changed' : 'unchanged' });
      if (result.changes.length > 0) this.deps.changed(name);
      return { ok: !failed, intervalMs };
    } catch (error) {
      if (signal.aborted) return { ok: true };
      metrics.polls.inc({ pipeline: name, source: 'image', result: 'error' });
      log.warn({ pipeline: name, err: (error as Error).message }, 'image poll failed');
      return { ok: false, intervalMs };
    }
  }
}
