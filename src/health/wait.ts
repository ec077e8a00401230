/**
 * Waiting for a wave to become healthy: poll the wave's objects (only those not yet
 * Current) until all are Current, one is Failed, or the timeout passes. A timeout names each
 * object still pending and, for workloads, what their Pods say (pods.ts). The poll starts
 * fast and slows down, so that a quick wave costs little latency and a slow one few requests.
 * A wait that lasts is done aside (`WaitOptions.aside`): in the controller, without holding
 * one of its concurrency slots.
 * An object annotated `doris.dev/health: ignore` in the repository is Current from the start
 * and never fetched (see ignore.ts).
 */
import pLimit from 'p-limit';
import { DorisError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { describeObject } from '../kube/objectid.js';
import { printable } from '../render/problems.js';
import { pipelineLabel } from '../render/stamp.js';
import type { DesiredObject, KubeObject } from '../render/types.js';
import { computeHealth } from './compute.js';
import { checkIgnored } from './ignore.js';
import { podReasons } from './pods.js';
import type { HealthResult } from './types.js';

export interface WaitTarget {
  desired: DesiredObject;
  /** The freshest copy we hold (from the apply or the live snapshot). */
  live: KubeObject;
}

export interface WaitOptions {
  /** Give up after this long (the Pipeline's `spec.wait.timeout`). */
  timeoutMs: number;
  /** First poll interval; it grows by half each round up to `maxPollMs`. */
  pollMs: number;
  maxPollMs: number;
  /** Objects fetched at once. */
  concurrency: number;
  /**
   * Once the wait has lasted `asideAfterMs`, the rest of it runs through `aside` (the
   * controller's: without holding a concurrency slot). A short wait is not worth giving the
   * slot away, since the sync must then queue for one to go on.
   */
  aside?: <T>(work: () => Promise<T>) => Promise<T>;
  asideAfterMs?: number;
  /** Called after each round with the objects still pending. */
  onProgress?: (pending: Array<{ object: KubeObject; health: HealthResult }>, total: number) => void;
  signal?: AbortSignal;
}

export function defaultWaitOptions(): WaitOptions {
  return { timeoutMs: 5 * 60_000, pollMs: 100, maxPollMs: 500, concurrency: 32, asideAfterMs: 5_000 };
}

export interface HealthFailure {
  desired: DesiredObject;
  health: HealthResult;
}

/** A wave that failed or timed out; names each object, its file and the reason. */
export class HealthCheckError extends DorisError {
  constructor(
    readonly failures: HealthFailure[],
    readonly timedOut: boolean,
  ) {
    const lines = failures.map(
      ({ desired, health }) => `${describeObject(desired.object)} (${printable(desired.source.file)}): ${health.status}: ${health.message}`,
    );
    super('HealthCheckFailed', `${timedOut ? 'timed out waiting for' : 'failed'}: ${lines.join('; ')}`);
    this.name = 'HealthCheckError';
  }
}

/**
 * The live copies of `objects`: one LIST per kind and namespace (filtered by the objects'
 * own ownership labels) where several objects share them, a GET otherwise.
 */
async function fetchLive(client: KubeClient, objects: KubeObject[], limit: ReturnType<typeof pLimit>): Promise<Map<KubeObject, KubeObject | undefined>> {
  const groups = new Map<string, KubeObject[]>();
  for (const object of objects) {
    const key = [object.apiVersion, object.kind, object.metadata.namespace ?? '', object.metadata.labels?.[pipelineLabel] ?? ''].join('|');
    groups.set(key, [...(groups.get(key) ?? []), object]);
  }
  const result = new Map<KubeObject, KubeObject | undefined>();
  await Promise.all(
    [...groups.values()].map((group) =>
      limit(async () => {
        const first = group[0]!;
        const owner = first.metadata.labels?.[pipelineLabel];
        if (group.length >= 3 && owner) {
          const items = await client.list(first.apiVersion, first.kind, { namespace: first.metadata.namespace, labelSelector: `${pipelineLabel}=${owner}` });
          const byName = new Map(items.map((item) => [item.metadata.name, item]));
          for (const object of group) result.set(object, byName.get(object.metadata.name));
          return;
        }
        await Promise.all(
          group.map(async (object) => {
            result.set(
              object,
              await client.get({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }),
            );
          }),
        );
      }),
    ),
  );
  return result;
}

/** Timed-out workloads with what their Pods say (why they are Pending, crash looping, ...). */
async function withPodReasons(client: KubeClient, pending: Array<HealthFailure & { live: KubeObject }>): Promise<HealthFailure[]> {
  return Promise.all(
    pending.map(async (p) => {
      const why = await podReasons(client, p.live);
      return why ? { desired: p.desired, health: { ...p.health, message: `${p.health.message}; ${why}` } } : p;
    }),
  );
}

export async function waitForHealthy(client: KubeClient, targets: WaitTarget[], options: WaitOptions = defaultWaitOptions()): Promise<void> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const limit = pLimit(options.concurrency);
  // The desired object decides the opt-out: the live copy may predate the annotation.
  const judge = (desired: DesiredObject, live: KubeObject): HealthResult => checkIgnored(desired.object) ?? computeHealth(live);
  let pending = targets.map((t) => ({ ...t, health: judge(t.desired, t.live) }));
  let interval = options.pollMs;
  const rounds = async (aside: boolean): Promise<void> => {
    for (;;) {
      const failed = pending.filter((p) => p.health.status === 'Failed');
      if (failed.length > 0) throw new HealthCheckError(failed, false);
      pending = pending.filter((p) => p.health.status !== 'Current');
      if (pending.length === 0) return;
      options.onProgress?.(
        pending.map((p) => ({ object: p.live, health: p.health })),
        targets.length,
      );
      if (Date.now() >= deadline) throw new HealthCheckError(await withPodReasons(client, pending), true);
      if (options.signal?.aborted) throw options.signal.reason;
      if (!aside && options.aside && Date.now() - started >= (options.asideAfterMs ?? 0)) return options.aside(() => rounds(true));
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
      interval = Math.min(options.maxPollMs, Math.round(interval * 1.5));
      const fresh = await fetchLive(
        client,
        pending.map((p) => p.desired.object),
        limit,
      );
      pending = pending.map((p) => {
        const live = fresh.get(p.desired.object);
        if (!live) return { ...p, health: { status: 'NotFound', message: 'the object does not exist (deleted by someone else?)' } as HealthResult };
        return { ...p, live, health: judge(p.desired, live) };
      });
    }
  };
  return rounds(false);
}
