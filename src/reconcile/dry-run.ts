/**
 * What `doris plan` and `doris diff` both start from: the newest commit of the Pipeline's
 * branch, built into its desired set exactly as a sync builds it, and the preflight context
 * that classifies its objects as the Pipeline's own identity. The checkout lives only while
 * the caller compares; nothing is written to the cluster.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineSpec, PipelineStatus } from '../api/pipeline.js';
import { defaultApplyOptions } from '../apply/applier.js';
import type { PreflightContext } from '../apply/preflight.js';
import type { KubeClient } from '../kube/client.js';
import type { GitCredentials } from '../source/git.js';
import type { ImageTracker } from '../source/images.js';
import { buildDesiredSet, clientFor, type DesiredSet, gitSourceFor, preflightContext, previousInventory } from './desired.js';

export interface DryRunOptions {
  name: string;
  /** Where the Pipeline lives: its `serviceAccountName` is an account of this namespace. */
  namespace: string;
  spec: PipelineSpec;
  status?: PipelineStatus;
  credentials: GitCredentials;
  workDir: string;
  images?: ImageTracker;
}

export interface DryRunInput {
  commit: string;
  /** The Pipeline's own identity, as its sync would use it. */
  client: KubeClient;
  desired: DesiredSet;
  ctx: PreflightContext;
}

export async function withNewestDesiredSet<T>(controllerClient: KubeClient, options: DryRunOptions, compare: (input: DryRunInput) => Promise<T>): Promise<T> {
  // The comparison asks what the Pipeline's own identity could do, as its sync would.
  const client = clientFor(controllerClient, options.spec, options.namespace);
  const source = gitSourceFor(options.spec, options.credentials, options.workDir);
  const commit = await source.resolve();
  await source.fetchCommit(commit);
  const checkout = await source.checkout(commit, join(options.workDir, 'checkouts'));
  try {
    const desired = await buildDesiredSet({
      checkout,
      path: source.path,
      client,
      pipeline: options.name,
      spec: options.spec,
      images: options.images,
      lastImages: options.status?.images ?? [],
      secrets: { client: controllerClient, namespace: options.namespace },
    });
    const ctx = preflightContext(client, options.name, previousInventory(options.status), desired.objects, defaultApplyOptions().concurrency);
    return await compare({ commit, client, desired, ctx });
  } finally {
    rmSync(checkout, { recursive: true, force: true });
  }
}
