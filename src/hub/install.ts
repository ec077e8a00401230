/**
 * What the hub runs as: a ServiceAccount with a Role in the hub namespace and a ClusterRole
 * limited to the hub's two CRDs. The hub never touches anything outside its namespace:
 *
 * - Fleets (read; annotated by a follower that got a webhook; status written by the leader), Devices (created at enrollment, status
 *   written on change), ConfigMaps (bundles), Leases (the leader, replica heartbeats), Events;
 * - Secrets: enrollment tokens (created by `doris hub token create` or read and spent by
 *   the hub), Fleets' git and registry credentials, the TLS Secret;
 * - the CRDs `fleets.hub.doris.dev` and `devices.hub.doris.dev`, by name only: the hub
 *   applies them at start and waits until they are Established.
 */
import { hubGroup } from '../api/hub.js';
import type { KubeObject } from '../kube/object.js';
import { deviceCrdName, fleetCrdName } from './crds.js';

export const hubAccountName = 'doris-hub';
const partOf = { 'app.kubernetes.io/name': 'doris', 'app.kubernetes.io/part-of': 'doris', 'app.kubernetes.io/component': 'hub' };

/** The CRD ClusterRole is cluster-scoped: one per hub namespace, so that two hubs do not rebind each other's. */
export function hubCrdRoleName(namespace: string): string {
  return `${hubAccountName}-crds-${namespace}`;
}

export function hubRbacObjects(namespace: string): KubeObject[] {
  const read = ['get', 'list', 'watch'];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: hubAccountName, namespace, labels: partOf } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: hubAccountName, namespace, labels: partOf },
      rules: [
        // patch: a follower that gets a webhook stamps the Fleet's poll-request annotation for the leader.
        { apiGroups: [hubGroup], resources: ['fleets'], verbs: [...read, 'patch'] },
        { apiGroups: [hubGroup], resources: ['fleets/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [hubGroup], resources: ['devices'], verbs: [...read, 'create', 'update'] },
        { apiGroups: [hubGroup], resources: ['devices/status'], verbs: ['get', 'update', 'patch'] },
        // Enrollment tokens (found by name, spent with update), Fleet credentials, the TLS Secret.
        { apiGroups: [''], resources: ['secrets'], verbs: [...read, 'create', 'update', 'delete'] },
        // Bundles: immutable ConfigMaps owned by their Fleet (a second Fleet adds itself as owner).
        { apiGroups: [''], resources: ['configmaps'], verbs: [...read, 'create', 'patch', 'delete'] },
        // The leader's Lease and each replica's heartbeat Lease (the leader deletes those of replicas long gone).
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...read, 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: hubAccountName, namespace, labels: partOf },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: hubAccountName },
      subjects: [{ kind: 'ServiceAccount', name: hubAccountName, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: hubCrdRoleName(namespace), labels: partOf },
      rules: [
        // resourceNames holds for get and patch; server-side apply of a missing CRD is authorized as a create of that name too.
        {
          apiGroups: ['apiextensions.k8s.io'],
          resources: ['customresourcedefinitions'],
          resourceNames: [fleetCrdName, deviceCrdName],
          verbs: ['get', 'create', 'patch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: hubCrdRoleName(namespace), labels: partOf },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: hubCrdRoleName(namespace) },
      subjects: [{ kind: 'ServiceAccount', name: hubAccountName, namespace }],
    },
  ];
}
