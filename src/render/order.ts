/**
 * The order in which desired objects are applied. There is one comparator, used everywhere
 * an order matters: wave, then step (both as numbered in the repository), then kind rank
 * (the Flux/Argo CD order: Namespaces and CRDs, then policies, accounts, config and storage,
 * RBAC, Services, workloads, ingress; unknown kinds last), then namespace and name.
 *
 * The numbering is the user's, but one rule overrides it: whatever the numbering, Namespaces
 * and CRDs are applied — and CRDs Established — before the objects that need them. So every
 * Namespace and CustomResourceDefinition, from any wave, is hoisted into a first *prelude*
 * stage. The apply then runs stage by stage, and waits for health after the prelude and after
 * the last stage of each wave.
 */
import { groupOf } from '../kube/objectid.js';
import type { DesiredObject, Wave } from './types.js';
import { compareStrings } from '../compare.js';

export { isClusterScopedKind } from '../kube/scope.js';

/** Kinds in apply order; Namespace and CustomResourceDefinition first, unknown kinds last. */
const KIND_ORDER: readonly string[] = [
  'Namespace',
  'CustomResourceDefinition',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

const KIND_RANK = new Map(KIND_ORDER.map((kind, rank) => [kind, rank]));

/** Position of a kind in the apply order; unknown kinds share the last rank. */
export function kindRank(kind: string): number {
  return KIND_RANK.get(kind) ?? KIND_ORDER.length;
}

/**
 * The apply order: wave, step, kind rank, kind (orders unknown kinds among themselves),
 * namespace, name, apiVersion, then source location so that the order is total.
 */
export function compareDesired(a: DesiredObject, b: DesiredObject): number {
  return (
    a.wave - b.wave ||
    a.step - b.step ||
    kindRank(a.object.kind) - kindRank(b.object.kind) ||
    compareStrings(a.object.kind, b.object.kind) ||
    compareStrings(a.object.metadata.namespace ?? '', b.object.metadata.namespace ?? '') ||
    compareStrings(a.object.metadata.name, b.object.metadata.name) ||
    compareStrings(a.object.apiVersion, b.object.apiVersion) ||
    compareStrings(a.source.file, b.source.file) ||
    a.source.line - b.source.line ||
    a.source.col - b.source.col
  );
}

/** Namespaces and CRDs: the objects that other objects need to exist first. */
export function isPreludeObject(desired: DesiredObject): boolean {
  const { apiVersion, kind } = desired.object;
  const group = groupOf(apiVersion);
  return (group === '' && kind === 'Namespace') || (group === 'apiextensions.k8s.io' && kind === 'CustomResourceDefinition');
}

/** Objects applied together, followed (for a prelude or a wave's last step) by a health wait. */
export type Stage =
  | {
      kind: 'prelude';
      /** For progress output: `prelude (namespaces, CRDs)`. */
      label: string;
      /** Sorted by `compareDesired`. */
      objects: DesiredObject[];
    }
  | {
      kind: 'step';
      wave: number;
      waveName: string;
      step: number;
      /** True for the last stage of its wave: wait for the wave's health after it. */
      lastOfWave: boolean;
      /** For progress output: `wave 2-influxdb step 40`. */
      label: string;
      /** Sorted by `compareDesired`. */
      objects: DesiredObject[];
    };

/**
 * The stages of a sync: the prelude (every Namespace and CRD, omitted when there is none),
 * then one stage per non-empty step, in wave and step order.
 */
export function planStages(waves: Wave[]): Stage[] {
  const prelude: DesiredObject[] = [];
  const steps: Extract<Stage, { kind: 'step' }>[] = [];
  const orderedWaves = [...waves].sort((a, b) => a.number - b.number || compareStrings(a.name, b.name));
  for (const wave of orderedWaves) {
    const waveStages: typeof steps = [];
    const orderedSteps = [...wave.steps].sort((a, b) => a.number - b.number);
    for (const step of orderedSteps) {
      const objects: DesiredObject[] = [];
      for (const desired of step.objects) (isPreludeObject(desired) ? prelude : objects).push(desired);
      if (objects.length === 0) continue;
      waveStages.push({
        kind: 'step',
        wave: wave.number,
        waveName: wave.name,
        step: step.number,
        lastOfWave: false,
        label: `wave ${wave.name} step ${step.number}`,
        objects: objects.sort(compareDesired),
      });
    }
    const last = waveStages.at(-1);
    if (last) last.lastOfWave = true;
    steps.push(...waveStages);
  }
  const stages: Stage[] = [];
  if (prelude.length > 0) {
    const objects = prelude.sort(compareDesired);
    stages.push({ kind: 'prelude', label: 'prelude (namespaces, CRDs)', objects });
  }
  return stages.concat(steps);
}
