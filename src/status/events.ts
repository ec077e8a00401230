/**
 * Kubernetes Events on a Pipeline: every sync, failure, prune and image change, so that
 * `kubectl describe pipeline` and `kubectl get events` tell the story without our logs.
 * An Event that cannot be written is logged and otherwise ignored: it never fails a sync.
 * Its reason is one of the closed set (api/reasons.ts), never free text.
 */
import { randomBytes } from 'node:crypto';
import { apiVersion, kind, type Pipeline } from '../api/pipeline.js';
import type { EventReason } from '../api/reasons.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = 'doris',
  ) {}

  async record(pipeline: Pipeline, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    const now = new Date().toISOString();
    const { name, namespace, uid } = pipeline.metadata;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
      involvedObject: { apiVersion, kind, name, namespace, uid },
      reason,
      // Event messages are capped by the API server; keep the start, which names the object.
      message: message.length > 1000 ? `${message.slice(0, 997)}...` : message,
      type,
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.create(event);
    } catch (error) {
      this.log.warn({ pipeline: name, reason, err: (error as Error).message }, 'could not record an Event');
    }
  }
}
