/**
 * Object ids name an object across syncs, in the inventory of what DORIS applied and must
 * later prune. The format is Flux's, `<namespace>_<name>_<group>_<kind>`: version-free (an
 * object moving from `v1beta1` to `v1` is the same object), with an empty namespace for
 * cluster-scoped objects and an empty group for the core API. `_` cannot appear in a
 * namespace, group or kind (a name of an RBAC kind may hold one), so an id splits back
 * unambiguously: the name is what lies between the first `_` and the last two.
 */
import type { KubeObject } from './object.js';
import { groupOf, isClusterScopedKind } from './scope.js';

export { groupOf };

/** The parts of an object id. */
export interface ObjectRef {
  namespace: string;
  name: string;
  group: string;
  kind: string;
}

/**
 * The inventory id of an object. The namespace is taken as written, except that a stray
 * namespace on a well-known cluster-scoped kind is dropped (it is applied cluster-scoped);
 * callers default the namespace of namespaced objects before computing ids.
 */
export function objectId(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const clusterScoped = isClusterScopedKind(obj.apiVersion, obj.kind) === true;
  const namespace = clusterScoped ? '' : (obj.metadata.namespace ?? '');
  return `${namespace}_${obj.metadata.name}_${groupOf(obj.apiVersion)}_${obj.kind}`;
}

/** Splits an object id back into its parts; `undefined` if it is not an object id. */
export function parseObjectId(id: string): ObjectRef | undefined {
  // Namespaces, groups and kinds never contain `_`; names of some kinds may (RBAC names are
  // path segments), so the name is whatever lies between the first and the last two.
  const first = id.indexOf('_');
  const last = id.lastIndexOf('_');
  const beforeLast = id.lastIndexOf('_', last - 1);
  if (first < 0 || beforeLast <= first) return undefined;
  const namespace = id.slice(0, first);
  const name = id.slice(first + 1, beforeLast);
  const group = id.slice(beforeLast + 1, last);
  const kind = id.slice(last + 1);
  if (name === '' || kind === '') return undefined;
  return { namespace, name, group, kind };
}

/** How messages name an object: `Deployment monitoring/influxdb`, `Namespace monitoring`. */
export function describeObject(obj: { kind: string; metadata: { name: string; namespace?: string } }): string {
  const { name, namespace } = obj.metadata;
  return namespace ? `${obj.kind} ${namespace}/${name}` : `${obj.kind} ${name}`;
}
