/**
 * Upgrading from the single-install RBAC names. Earlier installs named their cluster-scoped
 * RBAC `doris-controller` and `doris-custom-kinds` whatever their namespace, so the last
 * bootstrap in a cluster owned both bindings. Installs now carry their namespace in those
 * names (src/install/manifests.ts); `doris bootstrap` applies the new objects first, so the
 * running controller never loses a permission, and then removes what of the old ones belongs to
 * this install only:
 *
 * - an old ClusterRoleBinding, when its only subject is this install's ServiceAccount (a binding
 *   that points at another namespace is that install's; its own bootstrap removes it);
 * - an old ClusterRole, once no ClusterRoleBinding or RoleBinding refers to it any more (another
 *   install not yet upgraded still needs it).
 *
 * Only objects labelled as DORIS's are ever removed. The decision is a pure function of what was
 * read, so that it is unit-tested without a cluster.
 */
import type { KubeObject } from '../render/types.js';
import { controllerName, legacyClusterRoleNames } from './manifests.js';

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

interface RoleRef {
  kind?: string;
  name?: string;
}

const isDoris = (o: KubeObject) => o.metadata.labels?.['app.kubernetes.io/part-of'] === 'doris';
const legacy = (o: KubeObject) => (legacyClusterRoleNames as readonly string[]).includes(o.metadata.name);

/** Whether a binding grants to this install's ServiceAccount and nobody else. */
function bindsOnly(binding: KubeObject, namespace: string): boolean {
  const subjects = (binding as { subjects?: Subject[] }).subjects ?? [];
  return subjects.length > 0 && subjects.every((s) => s.kind === 'ServiceAccount' && s.name === controllerName && s.namespace === namespace);
}

/**
 * The old-named objects to delete for the install in `namespace`, bindings before roles.
 * `found` holds the old-named ClusterRoles and ClusterRoleBindings that exist; `references`
 * every ClusterRoleBinding and RoleBinding in the cluster (to keep a role someone still uses).
 */
export function legacyRbacToRemove(namespace: string, found: KubeObject[], references: KubeObject[]): KubeObject[] {
  const bindings = found.filter((o) => o.kind === 'ClusterRoleBinding' && legacy(o) && isDoris(o) && bindsOnly(o, namespace));
  const removed = new Set(bindings.map((b) => b.metadata.name));
  const stillReferenced = (role: string) =>
    references.some((r) => {
      if (r.kind === 'ClusterRoleBinding' && removed.has(r.metadata.name)) return false;
      const ref = (r as { roleRef?: RoleRef }).roleRef;
      return ref?.kind === 'ClusterRole' && ref.name === role;
    });
  const roles = found.filter((o) => o.kind === 'ClusterRole' && legacy(o) && isDoris(o) && !stillReferenced(o.metadata.name));
  return [...bindings, ...roles];
}
