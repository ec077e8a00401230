/**
 * Pruning: deleting objects that left the repository. Highest wave first (the app before
 * the database it uses), and only objects that still carry our ownership labels and are
 * not annotated `doris.dev/prune: disabled`. The controller's own namespace and Deployment
 * are never deleted. A delete that fails is reported and its entry stays in the inventory,
 * so the next sync retries it.
 */
import pLimit from 'p-limit';
import type { InventoryEntry } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import { parseObjectId } from '../render/objectid.js';
import { isOwnedBy, pruneAnnotation } from '../render/stamp.js';

export interface PruneOptions {
  pipeline: string;
  /** The controller's namespace: never pruned, nor the controller's Deployment in it. */
  controllerNamespace: string;
  controllerDeployment: string;
  concurrency: number;
}

export interface PruneResult {
  pruned: InventoryEntry[];
  /** Left in the cluster on purpose; dropped from the inventory. */
  skipped: Array<{ entry: InventoryEntry; reason: string }>;
  /** Deletes that failed: kept in the inventory for the next sync. */
  failed: Array<{ entry: InventoryEntry; message: string }>;
  /** Deletes accepted but not yet done (finalizers): kept in the inventory until confirmed gone. */
  pending: InventoryEntry[];
}

function isProtected(entry: InventoryEntry, options: PruneOptions): boolean {
  const ref = parseObjectId(entry.id);
  if (!ref) return false;
  if (ref.kind === 'Namespace' && ref.group === '' && ref.name === options.controllerNamespace) return true;
  return ref.kind === 'Deployment' && ref.group === 'apps' && ref.namespace === options.controllerNamespace && ref.name === options.controllerDeployment;
}

async function pruneOne(client: KubeClient, entry: InventoryEntry, options: PruneOptions, result: PruneResult): Promise<void> {
  const ref = parseObjectId(entry.id);
  if (!ref) {
    result.skipped.push({ entry, reason: 'unreadable inventory id' });
    return;
  }
  if (isProtected(entry, options)) {
    result.skipped.push({ entry, reason: 'the controller never prunes its own namespace or Deployment' });
    return;
  }
  const key = { apiVersion: entry.v, kind: ref.kind, namespace: ref.namespace || undefined, name: ref.name };
  const record = (outcome: 'gone' | 'terminating') => (outcome === 'gone' ? result.pruned : result.pending).push(entry);
  try {
    const live = await client.get(key).catch((error: unknown) => {
      // Secrets outside our namespace can be deleted but not read: the inventory is our record.
      if (error instanceof KubeApiError && error.status === 403) return 'unreadable' as const;
      throw error;
    });
    if (!live) {
      result.pruned.push(entry);
      return;
    }
    if (live === 'unreadable') {
      record(await client.delete(key, 'Background'));
      return;
    }
    if (!isOwnedBy(live, options.pipeline)) {
      result.skipped.push({ entry, reason: 'no longer carries our ownership labels' });
      return;
    }
    if (live.metadata.annotations?.[pruneAnnotation] === 'disabled') {
      result.skipped.push({ entry, reason: `annotated ${pruneAnnotation}: disabled` });
      return;
    }
    record(await client.delete(key, 'Background'));
  } catch (error) {
    result.failed.push({ entry, message: error instanceof Error ? error.message : String(error) });
  }
}

/** Deletes `stale` entries (already sorted highest wave first), one wave at a time. */
export async function prune(client: KubeClient, stale: InventoryEntry[], options: PruneOptions): Promise<PruneResult> {
  const result: PruneResult = { pruned: [], skipped: [], failed: [], pending: [] };
  const limit = pLimit(options.concurrency);
  const waves = [...new Set(stale.map((e) => e.wave))].sort((a, b) => b - a);
  for (const wave of waves) {
    await Promise.all(stale.filter((e) => e.wave === wave).map((entry) => limit(() => pruneOne(client, entry, options, result))));
  }
  return result;
}
