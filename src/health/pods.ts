/**
 * Why a workload is not ready, at the Pod level. A Deployment that times out says only
 * "0 of 1 updated replicas are available"; its Pods say why: the scheduler's "0/3 nodes are
 * available: 3 node(s) didn't match Pod's node affinity/selector", ImagePullBackOff,
 * CrashLoopBackOff, a missing ConfigMap key. When a wave times out, the Pods of each workload
 * still pending are listed (by the workload's own selector) and what the Pod rules (pod.ts)
 * say about the ones that are not ready is added to the message.
 */
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../render/types.js';
import { podHealth } from './pod.js';

/** Kinds whose Pods are chosen by `spec.selector`. */
const workloadKinds = new Set(['apps/v1/Deployment', 'apps/v1/StatefulSet', 'apps/v1/DaemonSet', 'apps/v1/ReplicaSet', 'batch/v1/Job']);

/** Pod explanations kept per workload: the first few distinct ones. */
const maxReasons = 3;

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A label selector in the query syntax, or undefined when it cannot be said (or selects everything). */
export function selectorQuery(selector: LabelSelector | undefined): string | undefined {
  if (!selector) return undefined;
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'In') parts.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') parts.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') parts.push(key);
    else if (operator === 'DoesNotExist') parts.push(`!${key}`);
    else return undefined;
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}

/**
 * What the not-ready Pods of `pods` say, distinct messages first-seen first, each with how
 * many Pods say it: `Pod web-7d9 is unschedulable: 0/1 nodes are available: ...`.
 */
export function explainPods(pods: KubeObject[]): string[] {
  const byMessage = new Map<string, string[]>();
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    const health = podHealth(pod);
    if (health.status === 'Current') continue;
    const names = byMessage.get(health.message) ?? [];
    names.push(pod.metadata.name);
    byMessage.set(health.message, names);
  }
  return [...byMessage]
    .slice(0, maxReasons)
    .map(([message, names]) => `${names.length === 1 ? `Pod ${names[0]}` : `${names.length} Pods (${names[0]}, ...)`}: ${message.replace(/^Pod /, '')}`);
}

/** The Pod-level explanation for a pending workload, or undefined (not a workload, no Pods, not allowed to list them). */
export async function podReasons(client: KubeClient, workload: KubeObject): Promise<string | undefined> {
  if (!workloadKinds.has(`${workload.apiVersion}/${workload.kind}`)) return undefined;
  const query = selectorQuery((workload.spec as { selector?: LabelSelector } | undefined)?.selector);
  if (!query || !workload.metadata.namespace) return undefined;
  try {
    const pods = await client.list('v1', 'Pod', { namespace: workload.metadata.namespace, labelSelector: query });
    const reasons = explainPods(pods);
    if (reasons.length > 0) return reasons.join('; ');
    return pods.length === 0 ? 'no Pods exist yet' : undefined;
  } catch {
    // The Pipeline's account may not read Pods: the workload's own message stands.
    return undefined;
  }
}
