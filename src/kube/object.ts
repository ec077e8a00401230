/**
 * Objects as DORIS handles them at every layer: plain JSON, exactly as written in git plus
 * our stamps, or as the API server returned them. Defined at the bottom (kube/) so that the
 * HTTP layer does not depend on the renderer above it.
 */
/** A Kubernetes object as plain JSON: exactly what was written in git, plus our stamps. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * `object` reduced to what identifies it and its version: what a sync keeps of an API
 * server's answer once it no longer needs the body.
 */
export function identityOf(object: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion } = object.metadata;
  return { apiVersion: object.apiVersion, kind: object.kind, metadata: { name, namespace, uid, resourceVersion } };
}

/**
 * Which of two resourceVersions of one resource is later: negative, zero or positive, or
 * undefined when either is not a positive integer without leading zeros. Kubernetes made them
 * comparable that way (KEP-5504, stable in 1.35; etcd revisions before that); an API server
 * with other versions is compared by nobody, and its newest event simply wins.
 */
export function compareResourceVersions(a: string | undefined, b: string | undefined): number | undefined {
  const valid = (v: string | undefined): v is string => v !== undefined && /^[1-9][0-9]*$/.test(v);
  if (!valid(a) || !valid(b)) return undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
