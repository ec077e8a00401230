/**
 * Pruning: deleting objects that left the repository. Highest wave first (the app before
 * the database it uses), and only objects whose ownership is established:
 *
 * - an object DORIS can read is deleted only if it still carries our ownership labels and is
 *   not annotated `doris.dev/prune: disabled`, with its uid as a precondition;
 * - an object DORIS may not read (Secrets outside its namespace, under the shipped RBAC) is
 *   deleted only with the uid and resourceVersion recorded when DORIS last applied it as
 *   preconditions: if anyone changed it since (a hand-added `prune: disabled`, a new owner),
 *   the API server refuses and the object stays, with the reason in status. Without a record
 *   it is never deleted.
 *
 * Never pruned, whatever the repository says: DORIS's own objects (namespace, CRD,
 * Deployment, ServiceAccount, RBAC), CustomResourceDefinitions unless the Pipeline opts in
 * (`spec.prune.crds`) — deleting a CRD deletes every object of its kind in the cluster — and a
 * Namespace that objects of the commit are still in (a commit that drops only its file).
 * An entry whose kind is no longer served, or whose object is gone, leaves the inventory.
 */
import pLimit from 'p-limit';
import type { InventoryEntry } from '../api/pipeline.js';
import { UnsafePathSegmentError, type KubeClient, type ObjectKey } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { KubeApiError } from '../kube/http.js';
import { parseObjectId } from '../kube/objectid.js';
import { isOwnedBy, pruneAnnotation } from '../render/stamp.js';
import type { KubeObject } from '../render/types.js';

export interface PruneOptions {
  pipeline: string;
  /** Inventory ids never deleted: DORIS's own install (namespace, CRD, Deployment, RBAC). */
  protectedIds: ReadonlySet<string>;
  /** Whether CustomResourceDefinitions may be deleted (`spec.prune.crds`). */
  crds: boolean;
  concurrency: number;
  /** Namespaces that objects of the commit are in: their Namespace objects are not deleted. */
  namespacesInUse?: ReadonlySet<string>;
}

export interface PruneResult {
  pruned: InventoryEntry[];
  /** Left in the cluster on purpose; dropped from the inventory. */
  skipped: Array<{ entry: InventoryEntry; reason: string }>;
  /** Deletes that failed: kept in the inventory for the next sync. */
  failed: Array<{ entry: InventoryEntry; message: string }>;
  /** Deletes accepted but not yet done (finalizers): kept in the inventory until confirmed gone. */
  pending: InventoryEntry[];
  /**
   * Not deleted in this sync, kept in the inventory and named in status: objects whose
   * ownership could not be established (unreadable and changed since DORIS applied them, or
   * never recorded), and Namespaces that objects of the commit are still in (pruned once they
   * are not).
   */
  unverified: Array<{ entry: InventoryEntry; reason: string }>;
}

export function emptyPruneResult(): PruneResult {
  return { pruned: [], skipped: [], failed: [], pending: [], unverified: [] };
}

function isCrd(kind: string, group: string): boolean {
  return kind === 'CustomResourceDefinition' && group === 'apiextensions.k8s.io';
}

/** A delete that is done counts as pruned; one held by finalizers stays pending (in the inventory). */
function recordDelete(result: PruneResult, entry: InventoryEntry, outcome: 'gone' | 'terminating'): void {
  (outcome === 'gone' ? result.pruned : result.pending).push(entry);
}

/** Deletes an object that DORIS may not read, only if it is exactly the one DORIS applied. */
async function pruneUnreadable(client: KubeClient, key: ObjectKey, entry: InventoryEntry, result: PruneResult): Promise<void> {
  if (entry.keep) {
    result.skipped.push({ entry, reason: `annotated ${pruneAnnotation}: disabled when last applied` });
    return;
  }
  if (!entry.uid || !entry.rv) {
    result.unverified.push({ entry, reason: 'DORIS may not read it and holds no record of its last apply; delete it by hand if it should go' });
    return;
  }
  try {
    recordDelete(result, entry, await client.delete(key, 'Background', { uid: entry.uid, resourceVersion: entry.rv }));
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 409) {
      result.unverified.push({
        entry,
        reason:
          'changed since DORIS applied it and DORIS may not read it to check its labels and annotations; not deleted (delete it by hand, or grant DORIS get on it)',
      });
      return;
    }
    throw error;
  }
}

async function pruneOne(client: KubeClient, entry: InventoryEntry, options: PruneOptions, result: PruneResult): Promise<void> {
  const ref = parseObjectId(entry.id);
  if (!ref) {
    result.skipped.push({ entry, reason: 'unreadable inventory id' });
    return;
  }
  if (options.protectedIds.has(entry.id)) {
    result.skipped.push({ entry, reason: 'part of the DORIS installation itself; never pruned' });
    return;
  }
  if (ref.kind === 'Namespace' && ref.group === '' && options.namespacesInUse?.has(ref.name)) {
    // Deleting a Namespace deletes everything in it, the objects this commit just applied too.
    result.unverified.push({ entry, reason: 'objects this commit declares are in it, and deleting it would delete them too; not deleted while they are' });
    return;
  }
  if (isCrd(ref.kind, ref.group) && !options.crds) {
    result.skipped.push({ entry, reason: 'a CustomResourceDefinition: deleting it would delete every object of its kind; set spec.prune.crds: true to allow' });
    return;
  }
  const key = { apiVersion: entry.v, kind: ref.kind, namespace: ref.namespace || undefined, name: ref.name };
  try {
    let live: KubeObject | undefined;
    try {
      live = await client.get(key);
    } catch (error) {
      if (error instanceof UnknownKindError) {
        // Not served in the recorded version. In another (a beta API an upgrade removed), the
        // object is still there; in none (a typo'd kind, a removed CRD), nothing of it can exist.
        const served = await client.discovery.findInGroup(ref.group, ref.kind);
        const version = served && (served.group ? `${served.group}/${served.version}` : served.version);
        if (!version || version === entry.v) {
          result.pruned.push(entry);
          return;
        }
        return await pruneOne(client, { ...entry, v: version }, options, result);
      }
      if (error instanceof UnsafePathSegmentError) {
        // Recorded before names were validated: it cannot name a real object.
        result.skipped.push({ entry, reason: error.message });
        return;
      }
      if (error instanceof KubeApiError && error.status === 403) {
        await pruneUnreadable(client, key, entry, result);
        return;
      }
      throw error;
    }
    if (!live) {
      result.pruned.push(entry);
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
    const uid = live.metadata.uid as string | undefined;
    recordDelete(result, entry, await client.delete(key, 'Background', uid ? { uid } : undefined));
  } catch (error) {
    result.failed.push({ entry, message: error instanceof Error ? error.message : String(error) });
  }
}

/** Deletes `stale` entries (already sorted highest wave first), one wave at a time. */
export async function prune(client: KubeClient, stale: InventoryEntry[], options: PruneOptions): Promise<PruneResult> {
  const result = emptyPruneResult();
  const limit = pLimit(options.concurrency);
  const waves = [...new Set(stale.map((e) => e.wave))].sort((a, b) => b - a);
  for (const wave of waves) {
    await Promise.all(stale.filter((e) => e.wave === wave).map((entry) => limit(() => pruneOne(client, entry, options, result))));
  }
  return result;
}
