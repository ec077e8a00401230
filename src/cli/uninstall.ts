/**
 * `doris uninstall`: removes what `doris bootstrap` installed in the controller namespace —
 * the controller first (so nothing re-applies while we delete), then the Pipelines, the
 * credentials Secrets, RBAC, the ServiceAccount, and the namespace. The objects the
 * Pipelines applied stay by default (`--keep-objects`): they keep running, only no longer
 * managed. `--delete-objects` deletes them too (highest wave first, by the prune rules:
 * only objects still labelled as the Pipeline's, never CRDs), after a second question.
 *
 * The Pipeline CRD is shared by every install in the cluster: it is deleted only when no
 * other install is left (deleting a CRD deletes every Pipeline of every install).
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { pipelineCrdName } from '../api/crd.js';
import type { InventoryEntry, Pipeline } from '../api/pipeline.js';
import {
  controllerClusterRoleName,
  controllerName,
  customKindsRoleName,
  gitSecretName,
  installObjects,
  protectedObjectIds,
  registrySecretName,
  webhookSecretName,
} from '../install/manifests.js';
import { readInventory } from '../inventory/archive.js';
import type { KubeClient, ObjectKey } from '../kube/client.js';
import { UnknownKindError } from '../kube/discovery.js';
import { prune } from '../prune/prune.js';
import { listPipelines, pipelineKey } from '../status/store.js';
import { NotFoundError, UsageError, connect, out, printResult, say, type GlobalOptions } from './common.js';

interface UninstallFlags {
  keepObjects?: boolean;
  deleteObjects?: boolean;
  yes: boolean;
  crd: boolean;
}

const rbac = 'rbac.authorization.k8s.io/v1';

async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new UsageError(`${question} — no terminal to ask: pass --yes to confirm`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Another install's cluster RBAC (`doris-controller-<namespace>`), which means it uses the CRD too. */
async function otherInstalls(client: KubeClient, namespace: string): Promise<string[]> {
  const bindings = await client.list(rbac, 'ClusterRoleBinding', { labelSelector: 'app.kubernetes.io/part-of=doris' });
  const prefix = `${controllerName}-controller-`;
  return bindings
    .map((b) => b.metadata.name)
    .filter((n) => n.startsWith(prefix) && n !== controllerClusterRoleName(namespace))
    .map((n) => n.slice(prefix.length));
}

export function uninstallCommand(global: () => GlobalOptions): Command {
  return new Command('uninstall')
    .description('remove DORIS from the controller namespace: controller, Pipelines, Secrets, RBAC, namespace (and the CRD when no other install is left)')
    .option('--keep-objects', 'leave the objects the Pipelines applied in the cluster, unmanaged (the default)')
    .option('--delete-objects', 'also delete the objects the Pipelines applied (highest wave first; asks first)')
    .option('-y, --yes', 'do not ask for confirmation (scripts)', false)
    .option('--no-crd', 'keep the Pipeline CRD even when no other install is left (it is shared by every install in the cluster)')
    .addHelpText('after', '\nExit codes: 0 removed, 1 a delete failed, 2 usage error (or no terminal to confirm on), 3 DORIS is not installed there.')
    .action(async (flags: UninstallFlags) => {
      const options = global();
      if (flags.keepObjects && flags.deleteObjects) throw new UsageError('give --keep-objects or --delete-objects, not both');
      const namespace = options.namespace;
      const client = await connect(options);
      try {
        // Also a half-done install (a bootstrap stopped midway) is found by what it created first.
        const installed =
          (await client.get({ apiVersion: 'v1', kind: 'ServiceAccount', namespace, name: controllerName })) ??
          (await client.get({ apiVersion: rbac, kind: 'ClusterRole', name: controllerClusterRoleName(namespace) })) ??
          (await client.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace }))?.metadata.labels?.['app.kubernetes.io/part-of'];
        let pipelines: Pipeline[] = [];
        try {
          pipelines = await listPipelines(client, namespace);
        } catch (error) {
          if (!(error instanceof UnknownKindError)) throw error;
        }
        if (!installed && pipelines.length === 0)
          throw new NotFoundError(`DORIS is not installed in ${namespace} (no ServiceAccount ${controllerName}, no Pipelines)`);

        const owned = new Map<string, InventoryEntry[]>(
          pipelines.map((p) => [p.metadata.name, [...readInventory(p.status), ...readInventory(p.status, 'pendingInventory')]]),
        );
        const objectCount = [...owned.values()].reduce((n, list) => n + list.length, 0);
        const summary = `Uninstall DORIS from ${namespace}: the controller, ${pipelines.length} Pipeline(s), Secrets, RBAC and the namespace`;
        if (
          !(await confirm(`${summary}; the ${objectCount} object(s) the Pipelines applied ${flags.deleteObjects ? 'are DELETED' : 'stay'}. Go on?`, flags.yes))
        ) {
          say('nothing removed');
          return;
        }
        if (
          flags.deleteObjects &&
          !flags.yes &&
          !(await confirm(`Really delete ${objectCount} object(s) applied by ${[...owned.keys()].join(', ')}?`, false))
        ) {
          say('nothing removed');
          return;
        }
        const results: Array<{ object: string; action: string }> = [];
        const remove = async (key: ObjectKey, label = `${key.kind} ${key.namespace ? `${key.namespace}/` : ''}${key.name}`) => {
          try {
            if (!(await client.get(key))) return;
            const outcome = await client.delete(key);
            results.push({ object: label, action: outcome === 'gone' ? 'deleted' : 'deleting' });
          } catch (error) {
            if (error instanceof UnknownKindError) return;
            throw error;
          }
          if (options.output === 'text') say(`${results.at(-1)!.action.padEnd(10)} ${label}`);
        };

        // The controller first: nothing may re-apply or record while the rest goes.
        await remove({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: controllerName });
        if (flags.deleteObjects) {
          for (const [name, entries] of owned) {
            const sorted = [...entries].sort((a, b) => b.wave - a.wave);
            const result = await prune(client, sorted, { pipeline: name, protectedIds: new Set(protectedObjectIds(namespace)), crds: false, concurrency: 8 });
            for (const e of result.pruned) results.push({ object: e.id, action: 'deleted' });
            for (const e of result.pending) results.push({ object: e.id, action: 'deleting' });
            for (const s of [...result.skipped, ...result.unverified]) results.push({ object: s.entry.id, action: `kept: ${s.reason}` });
            for (const f of result.failed) results.push({ object: f.entry.id, action: `failed: ${f.message}` });
            if (options.output === 'text')
              say(
                `Pipeline ${name}: ${result.pruned.length} deleted, ${result.skipped.length + result.unverified.length} kept, ${result.failed.length} failed`,
              );
          }
        }
        for (const p of pipelines) await remove(pipelineKey(namespace, p.metadata.name));
        // Every Secret bootstrap wrote carries the part-of label (git, registry, webhook, hub token, ...).
        const secrets = await client.list('v1', 'Secret', { namespace, labelSelector: 'app.kubernetes.io/part-of=doris' });
        const names = new Set([gitSecretName, registrySecretName, webhookSecretName, ...secrets.map((s) => s.metadata.name)]);
        for (const name of names) await remove({ apiVersion: 'v1', kind: 'Secret', namespace, name });
        // Everything bootstrap applied but the CRD, newest first (the Service before the Deployment before RBAC).
        for (const object of installObjects({ namespace }).reverse()) {
          if (object.kind === 'CustomResourceDefinition' || object.kind === 'Namespace') continue;
          await remove({ apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name });
        }
        await remove({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name: 'doris-leader' });
        for (const name of [controllerClusterRoleName(namespace), customKindsRoleName(namespace)]) {
          await remove({ apiVersion: rbac, kind: 'ClusterRoleBinding', name });
          await remove({ apiVersion: rbac, kind: 'ClusterRole', name });
        }
        const others = flags.crd ? await otherInstalls(client, namespace) : [];
        if (!flags.crd) say(`kept CRD ${pipelineCrdName} (--no-crd)`);
        else if (others.length === 0) await remove({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: pipelineCrdName });
        else say(`kept CRD ${pipelineCrdName}: used by the install(s) in ${others.join(', ')}`);
        // Objects a Pipeline applied into the controller namespace would go with it.
        const keepNamespace = !flags.deleteObjects && [...owned.values()].flat().some((e) => e.id.startsWith(`${namespace}_`));
        if (keepNamespace) say(`kept Namespace ${namespace}: Pipelines applied objects into it, which stay`);
        else await remove({ apiVersion: 'v1', kind: 'Namespace', name: namespace });

        const failed = results.filter((r) => r.action.startsWith('failed'));
        printResult(options, { namespace, objectsKept: !flags.deleteObjects, results }, () => {
          out(`DORIS removed from ${namespace}${flags.deleteObjects ? '' : `; the ${objectCount} object(s) its Pipelines applied stay, unmanaged`}`);
        });
        if (failed.length > 0) process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
