/**
 * What installs DORIS into a cluster: Namespace, the Pipeline CRD, a ServiceAccount with
 * least-privilege RBAC, the controller Deployment (non-root, read-only root filesystem,
 * probes, requests) and its Service. One source for both `doris bootstrap` and the files
 * under `config/` (written by `npm run manifests`, checked by a unit test).
 *
 * Least privilege, concretely: the controller manages the kinds a repository deploys
 * (cluster-wide, because a repository names its own namespaces), but it may only *read*
 * Secrets in its own namespace (git and registry credentials). It can write Secrets that a
 * repository declares, and cannot list or get them elsewhere. Custom resources are added by
 * users through ClusterRoles labelled `doris.dev/aggregate-to-controller: "true"`.
 *
 * Several installs can share a cluster, each in its own namespace. Namespaced objects are
 * kept apart by their namespace; cluster-scoped names are global, so the ClusterRoles and
 * ClusterRoleBindings carry the install's namespace in their name (as Flux names
 * `cluster-reconciler-<namespace>`) — with one shared name, a second install would rebind
 * the first one's roles to its own ServiceAccount. The Pipeline CRD is the one exception:
 * there is one per cluster, and every install applies the same definition.
 */
import { pipelineCrd } from '../api/crd.js';
import { apiVersion as pipelineApiVersion, defaultControllerNamespace, kind as pipelineKind } from '../api/pipeline.js';
import { objectId } from '../kube/objectid.js';
import type { KubeObject } from '../render/types.js';

export const controllerName = 'doris';
export const defaultImage = 'ghcr.io/doris-dev/doris:0.1.0';
export const gitSecretName = 'doris-git';
export const registrySecretName = 'doris-registry';
export const webhookSecretName = 'doris-webhook';
const partOf = { 'app.kubernetes.io/name': 'doris', 'app.kubernetes.io/part-of': 'doris' };

/**
 * The names that cluster-scoped objects had before they were named per install; `doris
 * bootstrap` removes the ones left bound to its own ServiceAccount (see src/cli/bootstrap.ts).
 */
export const legacyClusterRoleNames = [`${controllerName}-controller`, `${controllerName}-custom-kinds`] as const;

/** The ClusterRole of an install's built-in kinds, and its binding. */
export function controllerClusterRoleName(namespace: string): string {
  return `${controllerName}-controller-${namespace}`;
}

/** The ClusterRole aggregating an install's custom kinds, and its binding. */
export function customKindsRoleName(namespace: string): string {
  return `${controllerName}-custom-kinds-${namespace}`;
}

const manage = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * Custom resources of a repository: users grant them with ClusterRoles labelled
 * `doris.dev/aggregate-to-controller: "true"`, aggregated into this one.
 */
export function customKindsRole(namespace: string = defaultControllerNamespace): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: customKindsRoleName(namespace), labels: partOf },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'doris.dev/aggregate-to-controller': 'true' } }] },
    rules: [],
  };
}

/** The controller's own ClusterRole: the built-in kinds a repository deploys. */
export function controllerClusterRole(namespace: string = defaultControllerNamespace): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: controllerClusterRoleName(namespace), labels: partOf },
    rules: [
      {
        apiGroups: [''],
        resources: [
          'namespaces',
          'configmaps',
          'services',
          'serviceaccounts',
          'persistentvolumeclaims',
          'pods',
          'resourcequotas',
          'limitranges',
          'persistentvolumes',
        ],
        verbs: manage,
      },
      // Secrets declared by a repository can be written, never read (reading is limited to
      // the controller namespace, by a Role).
      { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'update', 'patch', 'delete'] },
      { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: manage },
      { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: manage },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies', 'ingressclasses'], verbs: manage },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: manage },
      { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: manage },
      { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: manage },
      { apiGroups: ['scheduling.k8s.io'], resources: ['priorityclasses'], verbs: manage },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: manage },
      // A repository's RBAC may grant what the controller itself does not hold.
      {
        apiGroups: ['rbac.authorization.k8s.io'],
        resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'],
        verbs: [...manage, 'bind', 'escalate'],
      },
      {
        apiGroups: [pipelineApiVersion.split('/')[0]!],
        resources: ['pipelines', 'pipelines/status'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
      },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  };
}

/**
 * Resident memory the controller needs in steady state: measured 77 MiB (bench, 1,000
 * objects), requested with headroom so the scheduler never packs it where it cannot live.
 */
export const controllerMemoryRequest = '96Mi';

export interface InstallOptions {
  namespace?: string;
  image?: string;
  /**
   * Controller replicas (default 1: an edge device usually has one node, where a second
   * replica only doubles the memory; leader election makes more safe on larger clusters).
   */
  replicas?: number;
  /** A Secret in the controller namespace to pull the controller image with (a private registry). */
  imagePullSecret?: string;
}

export function installObjects(options: InstallOptions = {}): KubeObject[] {
  const namespace = options.namespace ?? defaultControllerNamespace;
  const image = options.image ?? defaultImage;
  const labels = { ...partOf, 'app.kubernetes.io/component': 'controller' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: partOf } },
    pipelineCrd() as KubeObject,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: controllerName, namespace, labels: partOf } },
    controllerClusterRole(namespace),
    customKindsRole(namespace),
    ...[controllerClusterRoleName(namespace), customKindsRoleName(namespace)].map((role) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role, labels: partOf },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: controllerName, namespace }],
    })),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${controllerName}-controller`, namespace, labels: partOf },
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
        // spec.serviceAccountName: a Pipeline acts as a ServiceAccount of this namespace only,
        // so whoever may create Pipelines here decides which accounts teams get.
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${controllerName}-controller`, namespace, labels: partOf },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${controllerName}-controller` },
      subjects: [{ kind: 'ServiceAccount', name: controllerName, namespace }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: controllerName, namespace, labels },
      spec: {
        replicas: options.replicas ?? 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'doris', 'app.kubernetes.io/component': 'controller' } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: controllerName,
            ...(options.imagePullSecret ? { imagePullSecrets: [{ name: options.imagePullSecret }] } : {}),
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'controller',
                image,
                args: ['run', '--namespace', namespace, '--listen', ':8080', '--work-dir', '/tmp/doris'],
                ports: [{ name: 'http', containerPort: 8080 }],
                env: [{ name: 'DORIS_LOG_LEVEL', value: 'info' }],
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 20 },
                resources: { requests: { cpu: '20m', memory: controllerMemoryRequest }, limits: { memory: '256Mi' } },
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
      metadata: { name: controllerName, namespace, labels },
      spec: {
        selector: { 'app.kubernetes.io/name': 'doris', 'app.kubernetes.io/component': 'controller' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      },
    },
  ];
}

/**
 * The inventory ids (see src/render/objectid.ts) of everything an install in `namespace`
 * consists of, so that prune can refuse to delete DORIS itself even when a repository that
 * once held DORIS's own manifests drops them.
 */
export function protectedObjectIds(namespace: string): string[] {
  // Every sync asks: the install's objects are built once per namespace (in practice one).
  let ids = protectedIdsByNamespace.get(namespace);
  if (!ids) {
    ids = installObjects({ namespace }).map((o) => objectId(o));
    if (protectedIdsByNamespace.size >= 16) protectedIdsByNamespace.clear();
    protectedIdsByNamespace.set(namespace, ids);
  }
  return [...ids];
}

const protectedIdsByNamespace = new Map<string, string[]>();

export function pipelineObject(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: pipelineApiVersion, kind: pipelineKind, metadata: { name, namespace }, spec };
}
