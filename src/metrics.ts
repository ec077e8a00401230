/**
 * Prometheus metrics. Label values for results are the reason codes (api/reasons.ts), so a
 * dashboard, an alert and `kubectl describe` all speak the same words. docs/metrics.md lists
 * every name and label.
 *
 * Two kinds: what this replica did (syncs, polls, webhooks: counters and a histogram, only the
 * leader syncs), and the state of each Pipeline, read at scrape time from the Pipelines the
 * controller watches (conditions, applied commit, suspended, image digests), so that every
 * replica reports the same state and a series disappears with its Pipeline.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pipeline } from './api/pipeline.js';

const conditionTypes = ['Ready', 'Reconciling', 'Stalled'] as const;
const conditionStatuses = ['True', 'False', 'Unknown'] as const;

/** The status a condition type has on a Pipeline; an absent Reconciling or Stalled is False (kstatus). */
export function conditionStatus(pipeline: Pipeline, type: (typeof conditionTypes)[number]): string {
  const found = pipeline.status?.conditions?.find((c) => c.type === type);
  if (found) return found.status;
  return type === 'Ready' ? 'Unknown' : 'False';
}

export class Metrics {
  readonly registry = new Registry();
  readonly syncDuration = new Histogram({
    name: 'doris_sync_duration_seconds',
    help: 'Duration of syncs, by Pipeline and result reason.',
    labelNames: ['pipeline', 'result'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly syncs = new Counter({
    name: 'doris_syncs_total',
    help: 'Syncs run, by Pipeline and result reason.',
    labelNames: ['pipeline', 'result'] as const,
    registers: [this.registry],
  });
  readonly objects = new Counter({
    name: 'doris_objects_total',
    help: 'Objects handled by syncs, by Pipeline and action (created, configured, recreated, unchanged, pruned).',
    labelNames: ['pipeline', 'action'] as const,
    registers: [this.registry],
  });
  readonly polls = new Counter({
    name: 'doris_source_polls_total',
    help: 'Source polls, by Pipeline, source (git, image) and result (changed, unchanged, error).',
    labelNames: ['pipeline', 'source', 'result'] as const,
    registers: [this.registry],
  });
  readonly lastApplied = new Gauge({
    name: 'doris_last_applied_commit_info',
    help: 'The commit last applied by each Pipeline (value 1).',
    labelNames: ['pipeline', 'commit'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'doris_leader',
    help: '1 while this replica holds the leader Lease.',
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'doris_webhooks_total',
    help: 'Webhook requests, by hook (github, registry) and outcome.',
    labelNames: ['hook', 'outcome'] as const,
    registers: [this.registry],
  });

  /** The Pipelines whose state is reported (the controller's watch); none until `observePipelines`. */
  private pipelines: () => Iterable<Pipeline> = () => [];
  /** When each Pipeline's last sync succeeded in this process (also a no-op resync, which writes no status). */
  private readonly successes = new Map<string, number>();

  readonly pipelineCondition = new Gauge({
    name: 'doris_pipeline_condition',
    help: 'Status of each condition of each Pipeline: 1 for the status it has (True, False or Unknown), 0 for the others.',
    labelNames: ['name', 'namespace', 'type', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      this.pipelineCondition.reset();
      for (const pipeline of this.pipelines()) {
        const { name, namespace } = pipeline.metadata;
        for (const type of conditionTypes) {
          const current = conditionStatus(pipeline, type);
          for (const status of conditionStatuses) this.pipelineCondition.set({ name, namespace, type, status }, status === current ? 1 : 0);
        }
      }
    },
  });
  readonly pipelineInfo = new Gauge({
    name: 'doris_pipeline_info',
    help: 'Each Pipeline (value 1): the commit last applied and attempted, whether it is suspended, and its source (git or hub).',
    labelNames: ['name', 'namespace', 'applied_commit', 'attempted_commit', 'suspended', 'source'] as const,
    registers: [this.registry],
    collect: () => {
      this.pipelineInfo.reset();
      for (const pipeline of this.pipelines()) {
        const spec = (pipeline.spec ?? {}) as { suspend?: unknown; hub?: unknown };
        this.pipelineInfo.set(
          {
            name: pipeline.metadata.name,
            namespace: pipeline.metadata.namespace,
            applied_commit: pipeline.status?.lastAppliedCommit ?? '',
            attempted_commit: pipeline.status?.lastAttemptedCommit ?? '',
            suspended: spec.suspend === true ? 'true' : 'false',
            source: spec.hub ? 'hub' : 'git',
          },
          1,
        );
      }
    },
  });
  readonly lastSuccess = new Gauge({
    name: 'doris_pipeline_last_success_timestamp_seconds',
    help: 'When a sync of each Pipeline last succeeded (Unix seconds): this process’s last success, else status.lastAppliedTime.',
    labelNames: ['name', 'namespace'] as const,
    registers: [this.registry],
    collect: () => {
      this.lastSuccess.reset();
      for (const pipeline of this.pipelines()) {
        const { name, namespace } = pipeline.metadata;
        const applied = Date.parse(pipeline.status?.lastAppliedTime ?? '');
        const at = Math.max(this.successes.get(`${namespace}/${name}`) ?? 0, Number.isNaN(applied) ? 0 : applied);
        if (at > 0) this.lastSuccess.set({ name, namespace }, at / 1000);
      }
    },
  });
  readonly imageInfo = new Gauge({
    name: 'doris_image_info',
    help: 'Each image a Pipeline tracks (value 1), with the digest its tag resolved to last.',
    labelNames: ['name', 'namespace', 'image', 'tag', 'digest'] as const,
    registers: [this.registry],
    collect: () => {
      this.imageInfo.reset();
      for (const pipeline of this.pipelines()) {
        for (const image of pipeline.status?.images ?? []) {
          const { name, namespace } = pipeline.metadata;
          this.imageInfo.set({ name, namespace, image: image.repository, tag: image.tag, digest: image.digest ?? '' }, 1);
        }
      }
    },
  });
  readonly imageFailing = new Gauge({
    name: 'doris_image_resolve_failing',
    help: 'Each tracked image (1 while the registry fails to resolve its tag; the last known digest stays applied, else 0).',
    labelNames: ['name', 'namespace', 'image', 'tag'] as const,
    registers: [this.registry],
    collect: () => {
      this.imageFailing.reset();
      for (const pipeline of this.pipelines()) {
        for (const image of pipeline.status?.images ?? []) {
          const { name, namespace } = pipeline.metadata;
          this.imageFailing.set({ name, namespace, image: image.repository, tag: image.tag }, image.error ? 1 : 0);
        }
      }
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'doris_' });
  }

  /** Reports the state of these Pipelines at every scrape. */
  observePipelines(source: () => Iterable<Pipeline>): void {
    this.pipelines = source;
  }

  /** A sync of `namespace/name` succeeded (also one that found nothing to change). */
  recordSuccess(namespace: string, name: string, at = new Date()): void {
    this.successes.set(`${namespace}/${name}`, at.getTime());
  }

  /** Forgets what this process remembers of a deleted Pipeline. */
  forget(namespace: string, name: string): void {
    this.successes.delete(`${namespace}/${name}`);
    const commit = this.appliedCommits.get(name);
    if (commit !== undefined) this.lastApplied.remove({ pipeline: name, commit });
    this.appliedCommits.delete(name);
  }

  private readonly appliedCommits = new Map<string, string>();

  /** One series per Pipeline: the previous commit's series is removed. */
  recordLastApplied(pipeline: string, commit: string): void {
    const previous = this.appliedCommits.get(pipeline);
    if (previous === commit) return;
    if (previous !== undefined) this.lastApplied.remove({ pipeline, commit: previous });
    this.appliedCommits.set(pipeline, commit);
    this.lastApplied.set({ pipeline, commit }, 1);
  }
}
