/**
 * The notification dispatcher: after each sync it decides what to tell (dedup.ts), and sends
 * it to each of the Pipeline's `spec.notify` receivers in the background. Sending never blocks
 * or fails a sync: `syncEnded` returns at once, a receiver that is down is retried with backoff
 * (deliver.ts) and then given up with a log line. Secrets (the signing key, the token, a Slack
 * address) are read from the controller namespace at send time and never logged; a log line
 * names the receiver by type and host only, because a webhook's path may itself be a secret.
 *
 * Deliveries to one receiver go one after another, in the order they were sent: a halt must
 * not reach a chat after the rollback that followed it. A receiver that is down therefore
 * holds back what comes after it for that receiver only, for at most its retries.
 *
 * `flush` waits (bounded) for what is in flight: `doris sync --once` calls it before exiting.
 */
import type { NotifyReceiver } from '../api/notify.js';
import type { ImageChange, Pipeline, PipelineSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../log.js';
import { type DedupState, decide, type EndedSync, stateFromStatus } from './dedup.js';
import { defaultRetryOptions, deliver, type RetryOptions } from './deliver.js';
import { genericRequest } from './generic.js';
import { githubRequest } from './github.js';
import { slackRequest } from './slack.js';
import type { Notification, OutgoingRequest } from './types.js';

/** What sending needs of a spec: its receivers, and the repository a github receiver defaults to. */
export type NotifySpec = Pick<PipelineSpec, 'notify' | 'git'>;

export interface NotifierOptions {
  /** Where the receivers' Secrets are. */
  namespace: string;
  /** The name this cluster goes by in notifications and GitHub contexts. */
  cluster: string;
  retry?: Partial<RetryOptions>;
}

/** The cluster name notifications carry: DORIS_CLUSTER_NAME, else `default`. */
export function clusterName(): string {
  return process.env.DORIS_CLUSTER_NAME || 'default';
}

class ReceiverError extends Error {
  readonly code = 'NotificationFailed';
}

/** Host of a URL, for logs: never its path or query (a Slack webhook's path is its secret). */
function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).host : '';
  } catch {
    return '';
  }
}

/** Where a receiver delivers to: notifications with the same key are delivered in order. */
function receiverKey(receiver: NotifyReceiver, spec: NotifySpec): string {
  const target = receiver.type === 'github' ? `${receiver.apiUrl ?? ''} ${receiver.url ?? spec.git?.url ?? ''}` : (receiver.url ?? '');
  return `${receiver.type} ${target} ${receiver.secretRef?.name ?? ''}`;
}

export class Notifier {
  private readonly states = new Map<string, DedupState>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Per receiver, the last delivery queued: the next one starts after it ended. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly retry: RetryOptions;
  private readonly stopping = new AbortController();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly options: NotifierOptions,
  ) {
    this.retry = { ...defaultRetryOptions, ...options.retry };
  }

  /**
   * After a sync: `before` is the Pipeline as it was before the sync (its status seeds the
   * dedup state), `ended` what each commit's sync ended with, `images` the digests that moved.
   */
  syncEnded(before: Pipeline, spec: PipelineSpec, ended: EndedSync[], images: ImageChange[] = []): void {
    try {
      const key = `${before.metadata.namespace}/${before.metadata.name}`;
      const state = this.states.get(key) ?? stateFromStatus(before.status);
      const decision = decide(state, ended, {
        namespace: before.metadata.namespace,
        name: before.metadata.name,
        cluster: this.options.cluster,
        images,
        lastAttempted: before.status?.lastAttemptedCommit,
        now: new Date(),
      });
      this.states.set(key, decision.state);
      for (const notification of decision.notifications) this.send(spec, notification);
    } catch (error) {
      this.log.warn({ pipeline: before.metadata.name, err: (error as Error).message }, 'notifications not sent');
    }
  }

  /** Sends one notification to every receiver of `spec` (a Pipeline's, or a Fleet's: src/hub/rollout/notify.ts). */
  send(spec: NotifySpec, notification: Notification): void {
    for (const receiver of spec.notify ?? []) {
      const key = receiverKey(receiver, spec);
      // deliverTo never rejects, so a chain never breaks.
      const task: Promise<void> = (this.tails.get(key) ?? Promise.resolve())
        .then(() => this.deliverTo(receiver, spec, notification))
        .finally(() => {
          this.inFlight.delete(task);
          if (this.tails.get(key) === task) this.tails.delete(key);
        });
      this.tails.set(key, task);
      this.inFlight.add(task);
    }
  }

  forget(namespace: string, name: string): void {
    this.states.delete(`${namespace}/${name}`);
  }

  /** Waits until every delivery in flight ended or `timeoutMs` passed; true when all ended. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Stops retrying: deliveries in flight end at their next attempt. */
  stop(): void {
    this.stopping.abort();
  }

  private async secretData(name: string): Promise<Record<string, string>> {
    const secret = (await this.client.get({ apiVersion: 'v1', kind: 'Secret', namespace: this.options.namespace, name })) as
      | { data?: Record<string, string> }
      | undefined;
    if (!secret) throw new ReceiverError(`Secret ${this.options.namespace}/${name} not found`);
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8').trim()]));
  }

  private async request(receiver: NotifyReceiver, spec: NotifySpec, notification: Notification): Promise<OutgoingRequest | { skip: string }> {
    const data = receiver.secretRef ? await this.secretData(receiver.secretRef.name) : {};
    const need = (key: string) => {
      if (!data[key]) throw new ReceiverError(`Secret ${this.options.namespace}/${receiver.secretRef?.name} has no "${key}" key`);
      return data[key];
    };
    switch (receiver.type) {
      case 'generic':
        return genericRequest(receiver, notification, need('secret'));
      case 'slack':
        return slackRequest(receiver, notification, data.address || undefined);
      case 'github':
        return githubRequest(receiver, notification, need('token'), spec.git?.url);
    }
  }

  private async deliverTo(receiver: NotifyReceiver, spec: NotifySpec, notification: Notification): Promise<void> {
    const where = {
      pipeline: notification.pipeline?.name,
      fleet: notification.fleet?.name,
      receiver: receiver.type,
      host: hostOf(receiver.apiUrl ?? receiver.url),
      kind: notification.kind,
    };
    try {
      const request = await this.request(receiver, spec, notification);
      if ('skip' in request) {
        this.log.debug({ ...where, why: request.skip }, 'notification not applicable');
        return;
      }
      const result = await deliver(request, this.retry, this.stopping.signal);
      if (result.ok) this.log.info({ ...where, status: result.status, attempts: result.attempts }, 'notification sent');
      else this.log.warn({ ...where, status: result.status, attempts: result.attempts, err: result.error }, 'notification not delivered');
    } catch (error) {
      this.log.warn({ ...where, err: (error as Error).message }, 'notification not sent');
    }
  }
}
