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
