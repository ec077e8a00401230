/**
 * Reading Pipelines and writing their status. Status is written with JSON merge patches to
 * the status subresource, always as whole fields (conditions, inventory, history), so a
 * write either lands completely or not at all.
 */
import { apiVersion, kind, parsePipelineSpec, pipelineSpecSchema, type Pipeline, type PipelineStatus } from '../api/pipeline.js';
import { pipelineCrd, pipelineCrdName } from '../api/crd.js';
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/http.js';
import type { KubeObject } from '../render/types.js';
import { computeHealth } from '../health/compute.js';

export function pipelineKey(namespace: string, name: string) {
  return { apiVersion, kind, namespace, name };
}

/**
 * Installs the Pipeline CRD when it is missing or differs from this version's (its schema is
 * generated from the spec the controller validates: a CRD left behind by an older version
 * would prune, or refuse, the fields a newer one added), and waits until it is Established.
 */
export async function ensurePipelineCrd(client: KubeClient, timeoutMs = 30_000): Promise<void> {
  const key = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: pipelineCrdName };
  const wanted = pipelineCrd() as KubeObject;
  let crd = await client.get(key);
  if (!crd) crd = (await client.apply(wanted)).object;
  else if (!crdMatches(crd, wanted)) {
    try {
      crd = (await client.apply(wanted)).object;
    } catch (error) {
      // Someone who may not update CRDs works with the one installed (an admin upgrades it).
      if (!(error instanceof KubeApiError && error.status === 403)) throw error;
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (computeHealth(crd).status !== 'Current') {
    if (Date.now() > deadline) throw new Error(`CRD ${pipelineCrdName} not Established after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
    crd = (await client.get(key)) ?? crd;
  }
  client.discovery.invalidate(apiVersion);
}

/** True when the installed CRD serves the same versions, schemas and columns as `wanted`. */
export function crdMatches(installed: KubeObject, wanted: KubeObject): boolean {
  const versions = (o: KubeObject) => (o as unknown as { spec?: { versions?: unknown } }).spec?.versions;
  return isDeepStrictEqual(versions(installed), versions(wanted));
}

/**
 * True when a stored spec means the same as `wanted`: the API server fills in the CRD's
 * defaults on write, so the two are compared with every default filled in.
 */
export function sameSpec(stored: unknown, wanted: unknown): boolean {
  if (stored === undefined) return false;
  try {
    return isDeepStrictEqual(parsePipelineSpec(stored), parsePipelineSpec(wanted));
  } catch {
    return isDeepStrictEqual(stored, wanted);
  }
}

export async function getPipeline(client: KubeClient, namespace: string, name: string): Promise<Pipeline | undefined> {
  return (await client.get(pipelineKey(namespace, name))) as unknown as Pipeline | undefined;
}

export async function listPipelines(client: KubeClient, namespace?: string): Promise<Pipeline[]> {
  return (await client.list(apiVersion, kind, { namespace })) as unknown as Pipeline[];
}

/** Creates or updates a Pipeline's spec (server-side apply by the CLI's field manager). */
export async function applyPipeline(client: KubeClient, namespace: string, name: string, spec: unknown): Promise<Pipeline> {
  pipelineSpecSchema.parse(spec);
  const object = { apiVersion, kind, metadata: { name, namespace }, spec } as KubeObject;
  return (await client.apply(object, { manager: 'doris-cli' })).object as unknown as Pipeline;
}

export async function patchStatus(client: KubeClient, pipeline: Pipeline, status: Partial<PipelineStatus>): Promise<Pipeline> {
  const body = await client.mergePatch(pipelineKey(pipeline.metadata.namespace, pipeline.metadata.name), { status }, 'status');
  return body as unknown as Pipeline;
}
