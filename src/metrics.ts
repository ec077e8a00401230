/**
 * Prometheus metrics. Label values for results are the reason codes (api/reasons.ts), so a
 * dashboard, an alert and `kubectl describe` all speak the same words.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'doris_' });
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
