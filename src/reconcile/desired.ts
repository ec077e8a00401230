/**
 * The desired set of one commit, exactly as a sync applies it: rendered (the whole commit),
 * tracked images pinned by digest, config hashes stamped, ownership stamped, namespaces
 * settled. `doris sync` and `doris plan` both build it here, so a plan shows what a sync
 * will do; and what is pruned, and whether the mass-prune guard allows it, is decided here
 * for both as well.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ImageStatus, InventoryEntry, PipelineSpec, PipelineStatus } from '../api/pipeline.js';
import { LiveSnapshot } from '../apply/live.js';
import { declaredBy, type PreflightContext } from '../apply/preflight.js';
import { settleNamespaces } from '../apply/scope.js';
import { readInventory } from '../inventory/archive.js';
import { inventoryOf, mergeInventories, staleEntries } from '../inventory/inventory.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import { pruneGuardRefusal, defaultPruneGuardOptions } from '../prune/guard.js';
import { stampConfigHashes, type ConfigKind } from '../render/confighash.js';
import { pinImages } from '../render/images.js';
import type { ConfigRead, RenderCache } from '../render/cache.js';
import { renderRepo } from '../render/layout.js';
import { defaultSopsOptions } from '../render/sops.js';
import { decryptionKey } from '../source/decryption.js';
import { stampOwnership } from '../render/stamp.js';
import type { DesiredObject, KubeObject, Problem, Wave } from '../render/types.js';
import { BranchSource } from '../source/branch.js';
import { GitSource, type GitCredentials } from '../source/git.js';
import { DorisError } from '../errors.js';
import type { ImageResolution, ImageResolver } from '../source/images.js';

/** The Pipeline's git branch as a source, with its cache under `workDir`. */
export function gitSourceFor(spec: PipelineSpec, credentials: GitCredentials, workDir: string, signal?: AbortSignal): BranchSource {
  if (!spec.git) throw new DorisError('InvalidSpec', 'this Pipeline follows a hub (spec.hub), not git: the command needs a git source');
  return new BranchSource(new GitSource(spec.git.url, credentials, { cacheDir: join(workDir, 'git'), timeoutMs: 120_000, signal }), spec.git);
}

/**
 * A ConfigMap or Secret that exists only in the cluster, for config hashes. One the
 * controller may not read (a Secret outside its namespace, by design) counts as missing.
 */
async function lookupConfig(client: KubeClient, kind: ConfigKind, namespace: string, name: string): Promise<KubeObject | undefined> {
  try {
    return await client.get({ apiVersion: 'v1', kind, namespace, name });
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403) return undefined;
    throw error;
  }
}

export interface DesiredSet {
  /** The waves with their final objects. */
  waves: Wave[];
  objects: DesiredObject[];
  inventory: InventoryEntry[];
  /** Warnings of the render (errors throw). */
  problems: Problem[];
  /** Undefined when the Pipeline tracks no images. */
  images?: ImageResolution;
}

/** The key of a Pipeline's entries in the render cache. */
export function desiredMemoId(namespace: string, pipeline: string): string {
  return `${namespace}/${pipeline}`;
}

export async function buildDesiredSet(input: {
  /** The commit's files, or how to get them: asked only when the render is not cached. */
  checkout: string | (() => Promise<string>);
  /** The folder of the checkout that holds the waves. */
  path: string;
  client: KubeClient;
  pipeline: string;
  spec: PipelineSpec;
  images?: ImageResolver;
  lastImages: ImageStatus[];
  signal?: AbortSignal;
  /** With the commit, lets a long-running controller parse each commit once. */
  renderCache?: RenderCache;
  commit?: string;
  /**
   * Where the Pipeline's own Secrets (the `spec.decryption` age key) are read: the controller's
   * client and the Pipeline's namespace, never the impersonated account.
   */
  secrets?: { client: KubeClient; namespace: string };
}): Promise<DesiredSet> {
  const { client, spec } = input;
  const defaultNamespace = spec.targetNamespace ?? 'default';
  const ageKey = input.secrets ? await decryptionKey(spec, input.secrets.client, input.secrets.namespace) : undefined;
  // The controller's last desired set of this Pipeline (render/cache.ts): reused when every input is the same.
  const memoId = desiredMemoId(input.secrets?.namespace ?? '', input.pipeline);
  const files = input.renderCache && input.commit ? input.renderCache.filesOf(memoId) : undefined;
  const renderOptions = { defaultNamespace, kustomize: { policy: spec.kustomize }, sops: defaultSopsOptions(ageKey), files };
  const checkout = input.checkout;
  const render = async () => renderRepo(typeof checkout === 'string' ? checkout : await checkout(), input.path, renderOptions);
  // What the render depends on besides the commit: the policy, and which key (by hash) decrypted it.
  const keyId = ageKey ? createHash('sha256').update(ageKey).digest('hex').slice(0, 16) : '';
  const cacheKey = [input.commit, input.path, defaultNamespace, JSON.stringify(spec.kustomize), keyId].join('\u0000');
  const memo = input.renderCache && input.commit ? input.renderCache.lastDesired(memoId) : undefined;
  const rendered =
    memo?.renderKey === cacheKey ? memo.rendered : input.renderCache && input.commit ? await input.renderCache.get(cacheKey, render) : await render();
  const all = rendered.waves.flatMap((w) => w.steps.flatMap((s) => s.objects));
  const images =
    input.images && spec.images.length > 0 ? await input.images.resolve(spec.images, input.lastImages, input.signal, { rendered: all }) : undefined;
  const inputsKey = JSON.stringify([input.pipeline, spec, images ? [...images.tracked] : null]);
  if (memo && memo.renderKey === cacheKey && memo.inputsKey === inputsKey && (await configsUnchanged(client, memo.configs))) {
    return { waves: memo.waves, objects: memo.objects, inventory: memo.inventory, problems: memo.problems, images };
  }
  const pinned = images ? pinImages(all, images.tracked) : all;
  const configs: ConfigRead[] = [];
  const hashed = await stampConfigHashes(
    pinned,
    async (kind, namespace, name) => {
      const found = await lookupConfig(client, kind, namespace, name);
      configs.push({ kind, namespace, name, seen: configSeen(found) });
      return found;
    },
    spec.targetNamespace ?? 'default',
  );
  // The desired hash goes on last: it must cover the pinned digests and the config hashes.
  const stamped = hashed.map((d) => ({ ...d, object: stampOnce(d.object, input.pipeline) }));
  const objects = await settleNamespaces(stamped, client.discovery, spec.targetNamespace);
  const final = new Map(all.map((d, i) => [d, objects[i]!]));
  const waves = rendered.waves.map((wave) => ({
    ...wave,
    steps: wave.steps.map((step) => ({ ...step, objects: step.objects.map((o) => final.get(o) ?? o) })),
  }));
  const inventory = inventoryOf(objects);
  // A kind discovery does not know yet (its CRD comes with this commit) is settled again next time.
  const settled = objects.every((o, i) => o !== stamped[i]);
  if (input.renderCache && input.commit) {
    if (settled) {
      input.renderCache.rememberDesired(memoId, { renderKey: cacheKey, rendered, inputsKey, configs, waves, objects, inventory, problems: rendered.problems });
    } else input.renderCache.forgetDesired(memoId);
  }
  return { waves, objects, inventory, problems: rendered.problems, images };
}

/**
 * Stamps of rendered objects that cannot change (frozen by the render cache), by object: the
 * render of a push hands out the same objects for every file it did not change, so only the
 * changed files' objects are hashed again.
 */
const stamps = new WeakMap<KubeObject, { pipeline: string; stamped: KubeObject }>();

function stampOnce(object: KubeObject, pipeline: string): KubeObject {
  if (!Object.isFrozen(object)) return stampOwnership(object, pipeline);
  const hit = stamps.get(object);
  if (hit?.pipeline === pipeline) return hit.stamped;
  const stamped = stampOwnership(object, pipeline);
  stamps.set(object, { pipeline, stamped });
  return stamped;
}

function configSeen(object: KubeObject | undefined): string {
  return object ? `${String(object.metadata.uid)}/${String(object.metadata.resourceVersion)}` : 'absent';
}

/** The config objects a desired set read from the cluster are still as they were (one GET each). */
async function configsUnchanged(client: KubeClient, configs: readonly ConfigRead[]): Promise<boolean> {
  const now = await Promise.all(configs.map((c) => lookupConfig(client, c.kind, c.namespace, c.name)));
  return configs.every((c, i) => configSeen(now[i]) === c.seen);
}

/**
 * The client a Pipeline's objects are read, dry-run, applied and pruned with: the
 * ServiceAccount of `spec.serviceAccountName` (in the Pipeline's namespace) when set.
 */
export function clientFor(client: KubeClient, spec: PipelineSpec, namespace: string): KubeClient {
  const account = spec.serviceAccountName;
  return account ? client.impersonate(`system:serviceaccount:${namespace}:${account}`) : client;
}

/** Everything a sync may have created: the inventory and the entries still pending. */
export function previousInventory(status: PipelineStatus | undefined): InventoryEntry[] {
  return mergeInventories(readInventory(status), readInventory(status, 'pendingInventory'));
}

/**
 * What classifying objects needs: the live snapshot, the last inventory (`previousInventory`,
 * which a sync has read already for its prune plan), the commit's prerequisites.
 */
export function preflightContext(
  client: KubeClient,
  pipeline: string,
  previous: InventoryEntry[],
  objects: DesiredObject[],
  concurrency: number,
  live: LiveSnapshot = new LiveSnapshot(client, pipeline),
): PreflightContext {
  return {
    client,
    live,
    pipeline,
    previous: new Map(previous.map((e) => [e.id, e])),
    declared: declaredBy(objects),
    concurrency,
  };
}

export interface PrunePlan {
  /** Everything a sync may have created: the inventory and the pending entries. */
  previous: InventoryEntry[];
  /** What left the repository, highest wave first (empty when pruning is off). */
  stale: InventoryEntry[];
  /** Why the mass-prune guard refuses, if it does. */
  refusal?: string;
}

export function planPrune(status: PipelineStatus | undefined, desired: InventoryEntry[], prune: PipelineSpec['prune']): PrunePlan {
  // Read once per sync: an archived inventory is unpacked (gunzip, JSON) at each read.
  const inventory = readInventory(status);
  const previous = mergeInventories(inventory, readInventory(status, 'pendingInventory'));
  if (!prune.enabled) return { previous, stale: [] };
  const stale = staleEntries(previous, desired);
  // The guard weighs what a sync confirmed applied. Pending entries are what a failed sync may
  // have created, most of them perhaps never: counted, they made the revert of a commit that
  // failed half-way look like a mass prune.
  const applied = new Set(inventory.map((e) => e.id));
  const refusal = pruneGuardRefusal(stale.filter((e) => applied.has(e.id)).length, applied.size, {
    ...defaultPruneGuardOptions(),
    allowMass: prune.allowMass,
  });
  return { previous, stale, refusal };
}
