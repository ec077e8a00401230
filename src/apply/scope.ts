/**
 * Namespaces, settled before anything is sent: a namespaced object without a namespace goes
 * to the Pipeline's target namespace (default `default`); a cluster-scoped object with a
 * stray `metadata.namespace` is applied cluster-scoped. Scope comes from discovery, or, for
 * custom resources whose CRD is in the same commit and not yet installed, from that CRD.
 */
import type { KindResolver } from '../kube/client.js';
import { groupOf } from '../kube/objectid.js';
import type { DesiredObject } from '../render/types.js';

interface CrdSpec {
  group?: string;
  scope?: string;
  names?: { kind?: string };
}

export async function settleNamespaces(objects: DesiredObject[], discovery: KindResolver, targetNamespace = 'default'): Promise<DesiredObject[]> {
  const crdScopes = new Map<string, boolean>();
  for (const { object } of objects) {
    if (object.kind !== 'CustomResourceDefinition' || groupOf(object.apiVersion) !== 'apiextensions.k8s.io') continue;
    const spec = object.spec as CrdSpec | undefined;
    if (spec?.group && spec.names?.kind) crdScopes.set(`${spec.group}/${spec.names.kind}`, spec.scope !== 'Cluster');
  }
  return Promise.all(
    objects.map(async (desired) => {
      const { object } = desired;
      const info = await discovery.find(object.apiVersion, object.kind);
      const namespaced = info?.namespaced ?? crdScopes.get(`${groupOf(object.apiVersion)}/${object.kind}`);
      if (namespaced === undefined) return desired; // unknown kind: the apply will say so
      const metadata = { ...object.metadata };
      if (namespaced) metadata.namespace = metadata.namespace || targetNamespace;
      else delete metadata.namespace;
      return { ...desired, object: { ...object, metadata } };
    }),
  );
}
