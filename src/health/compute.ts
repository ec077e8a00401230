/**
 * `computeHealth` judges one live object, as kstatus's `Compute` does: a pure function of the
 * object as read from the API server (spec and status), with no clock and no cluster access.
 * The checks run in a fixed order and the first one that can decide, decides:
 *
 * 1. The annotation `doris.dev/health: ignore`: Current (the user's opt-out, see ignore.ts).
 * 2. `metadata.deletionTimestamp` set: Terminating.
 * 3. `status.observedGeneration` behind `metadata.generation`: InProgress (the status describes
 *    an older spec).
 * 4. `Stalled=True`: Failed; `Reconciling=True`: InProgress.
 * 5. The rule for the object's group and kind (deployment.ts, pod.ts, ...), when there is one.
 * 6. A `Ready` condition: True is Current, False or Unknown is InProgress.
 * 7. Otherwise Current: an object without a rule or conditions is done once it is stored
 *    (ConfigMaps, Secrets, RBAC, ...).
 */

import { apiServiceHealth } from './apiservice.js';
import { cronJobHealth } from './cronjob.js';
import { crdHealth } from './crd.js';
import { daemonSetHealth } from './daemonset.js';
import { deploymentHealth } from './deployment.js';

import { checkGeneration, checkReady, checkStalledOrReconciling, checkTerminating } from './generic.js';
import { checkIgnored } from './ignore.js';
import { jobHealth } from './job.js';
import { namespaceHealth } from './namespace.js';
import { podDisruptionBudgetHealth } from './poddisruptionbudget.js';
import { podHealth } from './pod.js';
import { pvcHealth } from './pvc.js';
import { replicaSetHealth } from './replicaset.js';
import { serviceHealth } from './service.js';
import { statefulSetHealth } from './statefulset.js';
import type { KubeObject } from '../render/types.js';
import { healthResult, type HealthResult } from './types.js';

type KindRule = (obj: KubeObject) => HealthResult;

/** Rules by `group/Kind` (core kinds by `Kind` alone). Older API groups share the rule. */
const RULES: ReadonlyMap<string, KindRule> = new Map<string, KindRule>([
  ['apps/Deployment', deploymentHealth],
  ['extensions/Deployment', deploymentHealth],
  ['apps/StatefulSet', statefulSetHealth],
  ['apps/DaemonSet', daemonSetHealth],
  ['extensions/DaemonSet', daemonSetHealth],
  ['apps/ReplicaSet', replicaSetHealth],
  ['extensions/ReplicaSet', replicaSetHealth],
  ['batch/Job', jobHealth],
  ['batch/CronJob', cronJobHealth],
  ['Pod', podHealth],
  ['PersistentVolumeClaim', pvcHealth],
  ['Namespace', namespaceHealth],
  ['Service', serviceHealth],
  ['policy/PodDisruptionBudget', podDisruptionBudgetHealth],
  ['apiextensions.k8s.io/CustomResourceDefinition', crdHealth],
  ['apiregistration.k8s.io/APIService', apiServiceHealth],
]);

/** "apps/v1" -> "apps", "v1" -> "" (the core group). */
function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function ruleFor(obj: KubeObject): KindRule | undefined {
  const group = groupOf(obj.apiVersion);
  return RULES.get(group === '' ? obj.kind : `${group}/${obj.kind}`);
}

/** The health of one live object. Never throws; never returns `NotFound`. */
export function computeHealth(obj: KubeObject): HealthResult {
  const generic = checkIgnored(obj) ?? checkTerminating(obj) ?? checkGeneration(obj) ?? checkStalledOrReconciling(obj);
  if (generic) return generic;
  const rule = ruleFor(obj);
  if (rule) return rule(obj);
  return checkReady(obj) ?? healthResult('Current', `${obj.kind} is current`);
}
