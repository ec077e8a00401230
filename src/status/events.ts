/**
 * Kubernetes Events on a Pipeline: every sync, failure, prune and image change, so that
 * `kubectl describe pipeline` and `kubectl get events` tell the story without our logs.
 * An Event that cannot be written is logged and otherwise ignored: it never fails a sync.
 * Its reason is one of the closed set (api/reasons.ts), never free text.
 *
 * Events are aggregated as kubectl's event recorder (client-go's EventCorrelator) does: the
 * same object, type, reason and message again increments the `count` of the Event already
 * written and moves its `lastTimestamp`, instead of adding one Event per retry. What was
 * written is remembered in a bounded cache (least recently used out); after a restart, or once
 * the API server has expired the Event (its TTL, an hour by default), a new one is created.
 */
import { randomBytes } from 'node:crypto';
import { apiVersion as pipelineApiVersion, kind as pipelineKind, type Pipeline } from '../api/pipeline.js';
import type { EventReason } from '../api/reasons.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { Logger } from '../log.js';

interface Written {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

/** Events remembered for aggregation (client-go keeps 4096). */
export const maxAggregatedEvents = 4096;

/** Event messages are capped by the API server; keep the start, which names the object. */
export function eventMessage(message: string): string {
  return message.length > 1000 ? `${message.slice(0, 997)}...` : message;
}

/** What an Event is about: a Pipeline, or another object of ours (a hub's Fleet). */
export type EventSubject = Pick<Pipeline, 'metadata'> & { apiVersion: string; kind: string };

export class EventRecorder {
  private readonly written = new Map<string, Written>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = 'doris',
  ) {}

  async record(pipeline: EventSubject, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    const now = new Date().toISOString();
    // A Pipeline built by hand may lack apiVersion and kind at run time.
    const apiVersion = pipeline.apiVersion ?? pipelineApiVersion;
    const kind = pipeline.kind ?? pipelineKind;
    const { name, namespace, uid } = pipeline.metadata;
    const text = eventMessage(message);
    const key = JSON.stringify([namespace, name, uid ?? '', type, reason, text]);
    const previous = this.written.get(key);
    try {
      if (previous && (await this.increment(previous, now))) return;
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
        involvedObject: { apiVersion, kind, name, namespace, uid },
        reason,
        message: text,
        type,
        source: { component: this.component },
        reportingComponent: this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      await this.client.create(event);
      this.remember(key, { name: event.metadata.name, namespace, count: 1, firstTimestamp: now });
    } catch (error) {
      this.log.warn({ [kind.toLowerCase()]: name, reason, err: (error as Error).message }, 'could not record an Event');
    }
  }

  /** Counts one more occurrence on the Event already written; false when it is gone (expired). */
  private async increment(previous: Written, now: string): Promise<boolean> {
    const count = previous.count + 1;
    try {
      await this.client.mergePatch({ apiVersion: 'v1', kind: 'Event', namespace: previous.namespace, name: previous.name }, { count, lastTimestamp: now });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return false;
      throw error;
    }
    previous.count = count;
    return true;
  }

  private remember(key: string, written: Written): void {
    this.written.delete(key);
    this.written.set(key, written);
    if (this.written.size > maxAggregatedEvents) this.written.delete(this.written.keys().next().value as string);
  }
}
