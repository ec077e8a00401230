/**
 * Ownership stamps on every rendered object: the labels that mark it as DORIS's (prune
 * only ever deletes objects that carry them) and a hash of the desired object, which lets
 * a resync tell "git did not change this object" without asking the API server.
 */
import { stableHash } from './hash.js';
import type { KubeObject } from './types.js';

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'doris';
export const pipelineLabel = 'doris.dev/pipeline';
export const desiredHashAnnotation = 'doris.dev/desired-hash';
export const pruneAnnotation = 'doris.dev/prune';
export const recreateAnnotation = 'doris.dev/recreate';

export function ownershipSelector(pipeline: string): string {
  return `${managedByLabel}=${managedByValue},${pipelineLabel}=${pipeline}`;
}

/** A copy of `object` with ownership labels and the desired-hash annotation. */
export function stampOwnership(object: KubeObject, pipeline: string): KubeObject {
  const labeled: KubeObject = {
    ...object,
    metadata: {
      ...object.metadata,
      labels: { ...object.metadata.labels, [managedByLabel]: managedByValue, [pipelineLabel]: pipeline },
    },
  };
  const annotations = { ...labeled.metadata.annotations };
  delete annotations[desiredHashAnnotation];
  const { annotations: _ignored, ...metadataWithoutAnnotations } = labeled.metadata;
  const withoutHash = {
    ...labeled,
    metadata: Object.keys(annotations).length > 0 ? { ...metadataWithoutAnnotations, annotations } : metadataWithoutAnnotations,
  };
  const hash = stableHash(withoutHash).slice(0, 32);
  return { ...labeled, metadata: { ...labeled.metadata, annotations: { ...annotations, [desiredHashAnnotation]: hash } } };
}

export function isOwnedBy(object: KubeObject, pipeline: string): boolean {
  const labels = object.metadata.labels ?? {};
  return labels[managedByLabel] === managedByValue && labels[pipelineLabel] === pipeline;
}
