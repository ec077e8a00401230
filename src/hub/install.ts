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
 *
 * And how it is installed (`doris hub install`, config/hub.yaml): those objects, a Deployment
 * of `doris hub` (2 replicas spread over nodes, probes, resources, the image's node flags) and
 * its Service.
 */
import { stringify } from 'yaml';
import { hubGroup } from '../api/hub.js';
import { defaultImage } from '../install/manifests.js';
import { hubNodeFlags } from '../install/nodeflags.js';
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

export interface HubInstallOptions {
  namespace: string;
  image?: string;
  /** Default 2: one leads and polls upstream, both serve devices; a node can go without the hub going. */
  replicas?: number;
  /** A kubernetes.io/tls Secret of the hub namespace; without one the hub serves plain HTTP behind a TLS-terminating ingress. */
  tlsSecret?: string;
}

/** Where the image keeps the bundled CLI (the Dockerfile's ENTRYPOINT, docs/adr/0016-one-bundle.md). */
const imageEntry = '/app/dist/doris.mjs';
/** The optional Secret with the webhook credentials (`github-secret`, `registry-token`). */
export const hubWebhookSecretName = 'doris-hub-webhook';
const hubPort = 8443;

/**
 * Resident memory a hub replica needs in steady state: about 1–2 KiB per device in the watch
 * cache plus open long-polls; requested for a few thousand devices, limited well above it.
 */
const hubMemory = { request: '128Mi', limit: '512Mi' };

/** Everything `doris hub install` applies, in order: Namespace, RBAC, Deployment, Service. */
export function hubInstallObjects(options: HubInstallOptions): KubeObject[] {
  const { namespace } = options;
  const image = options.image ?? defaultImage;
  const selector = { 'app.kubernetes.io/name': 'doris', 'app.kubernetes.io/component': 'hub' };
  const labels = { ...partOf };
  const scheme = options.tlsSecret ? 'HTTPS' : 'HTTP';
  const webhookEnv = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: hubWebhookSecretName, key, optional: true } } });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } },
    ...hubRbacObjects(namespace),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: hubAccountName, namespace, labels },
      spec: {
        replicas: options.replicas ?? 2,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: hubAccountName,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            // Preferred, not required: a one-node cluster still runs both replicas.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
                ],
              },
            },
            // Answering open long-polls and giving the Lease up takes a few seconds.
            terminationGracePeriodSeconds: 15,
            containers: [
              {
                name: 'hub',
                image,
                // The image's own ENTRYPOINT, spelled out so that the node flags cannot drift from src/install/nodeflags.ts.
                command: ['node', ...hubNodeFlags, imageEntry],
                args: [
                  'hub',
                  '--namespace',
                  namespace,
                  '--listen',
                  `:${hubPort}`,
                  '--work-dir',
                  '/tmp/doris',
                  // The pod's name: a restarted container keeps its devices (presence), a new pod is a new replica.
                  '--identity',
                  '$(POD_NAME)',
                  ...(options.tlsSecret ? ['--tls-secret', options.tlsSecret] : ['--insecure-http']),
                ],
                ports: [{ name: 'hub', containerPort: hubPort }],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'DORIS_LOG_LEVEL', value: 'info' },
                  webhookEnv('DORIS_GITHUB_SECRET', 'github-secret'),
                  webhookEnv('DORIS_REGISTRY_TOKEN', 'registry-token'),
                ],
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                readinessProbe: { httpGet: { path: '/readyz', port: 'hub', scheme }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'hub', scheme }, periodSeconds: 20 },
                resources: { requests: { cpu: '50m', memory: hubMemory.request }, limits: { memory: hubMemory.limit } },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: hubAccountName, namespace, labels },
      spec: {
        selector,
        ports: [{ name: options.tlsSecret ? 'https' : 'http', port: options.tlsSecret ? 443 : 80, targetPort: 'hub' }],
      },
    },
  ];
}

/** The hub namespace unless one is given (the CLI's default too). */
export const defaultHubNamespace = 'doris-hub';

export const hubYamlHeader =
  '# Generated by `npm run manifests` from src/hub/install.ts: edit that file, not this one.\n# Or: doris hub install --namespace NS [--image IMG] [--replicas N] [--tls-secret NAME] [--dry-run]\n';

/** The install as one multi-document YAML file (config/hub.yaml, `doris hub install --dry-run`). */
export function renderHubInstallYaml(options: HubInstallOptions, header = ''): string {
  return (
    header +
    hubInstallObjects(options)
      .map((o) => stringify(o, { lineWidth: 0 }))
      .join('---\n')
  );
}
