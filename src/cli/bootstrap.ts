/**
 * `doris bootstrap`: installs DORIS into the current cluster — namespace, CRD, RBAC,
 * controller, credentials Secrets and the first Pipeline — with server-side apply, so that
 * running it again changes nothing. Replaces the original's hand-edited deploy.sh. Tokens
 * are read from files or the environment and go only into Secrets: never argv, disk or logs.
 *
 * Each install lives in its own namespace (`--namespace`), and several can share a cluster:
 * its cluster-scoped RBAC is named after that namespace (`doris-controller-<namespace>`,
 * `doris-custom-kinds-<namespace>`), so a bootstrap never touches another install's bindings.
 * Only the Pipeline CRD is shared (there is one per cluster): every install applies the same
 * definition, so bootstrapping a second install leaves the first one's CRD as it was.
 *
 * Upgrading an install made with the old, global names (`doris-controller`,
 * `doris-custom-kinds`): the bootstrap creates the per-install ClusterRoles and bindings
 * first, so the running controller keeps its permissions throughout, then deletes the old
 * binding if it binds this install's ServiceAccount only, and an old ClusterRole once nothing
 * refers to it (src/install/legacy.ts). An old binding held by another install — the last one
 * bootstrapped with the old names — stays until that install is bootstrapped again. A
 * repository that holds DORIS's own manifests (self-update) must regenerate them: the old
 * names in it would be applied again and, when dropped, pruned like any other object.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parsePipelineSpec } from '../api/pipeline.js';
import type { KubeClient } from '../kube/client.js';
import {
  controllerName,
  defaultImage,
  gitSecretName,
  installObjects,
  legacyClusterRoleNames,
  pipelineObject,
  registrySecretName,
  webhookSecretName,
} from '../install/manifests.js';
import { legacyRbacToRemove } from '../install/legacy.js';
import { describeObject } from '../kube/objectid.js';
import type { KubeObject } from '../render/types.js';
import { gitCredentialsFromFlags } from '../source/credentials.js';
import { ensurePipelineCrd } from '../status/store.js';
import { ExitCode, UsageError, connect, durationFlag, formatDuration, integerFlag, printData, say, type GlobalOptions } from './common.js';
import { checkGitSource, checkImages, readFileOrRefuse, readRegistryCredentials, ruleRegistries, waitForFirstSync } from './bootstrap-checks.js';
import { noRegistryCredentials } from '../source/registry/credentials.js';
import { parseImageRule } from './target.js';
import { addHubOptions, enrollForBootstrap, hubPipelineSpec, type HubBootstrapFlags } from './bootstrap-hub.js';

interface BootstrapFlags extends HubBootstrapFlags {
  repo?: string;
  branch: string;
  path: string;
  name: string;
  interval: string;
  gitUsername?: string;
  gitTokenFile?: string;
  sshKeyFile?: string;
  knownHostsFile?: string;
  registryCredentials?: string;
  imageRule: string[];
  image: string;
  webhookSecretFile?: string;
  registryTokenFile?: string;
  controller: boolean;
  replicas: number;
  imagePullSecret?: string;
  wait: boolean;
  timeout: number;
}

const defaultFirstSyncTimeoutMs = 5 * 60_000;

const manager = 'doris-bootstrap';

function secret(namespace: string, name: string, type: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'doris' } },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

async function applyReporting(client: KubeClient, object: KubeObject, results: Array<{ object: string; action: string }>): Promise<void> {
  const key = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name };
  const before = await client.get(key);
  const { object: after, created } = await client.apply(object, { manager });
  const action = created ? 'created' : before?.metadata.resourceVersion === after.metadata.resourceVersion ? 'unchanged' : 'configured';
  results.push({ object: describeObject(object), action });
}

const rbac = 'rbac.authorization.k8s.io/v1';

/** Deletes what is left of this install's old, cluster-wide RBAC names (see the header). */
async function removeLegacyRbac(client: KubeClient, namespace: string, results: Array<{ object: string; action: string }>): Promise<void> {
  const found: KubeObject[] = [];
  for (const kind of ['ClusterRoleBinding', 'ClusterRole']) {
    for (const name of legacyClusterRoleNames) {
      const object = await client.get({ apiVersion: rbac, kind, name });
      if (object) found.push(object);
    }
  }
  if (found.length === 0) return;
  const references = [...(await client.list(rbac, 'ClusterRoleBinding')), ...(await client.list(rbac, 'RoleBinding'))];
  for (const object of legacyRbacToRemove(namespace, found, references)) {
    await client.delete({ apiVersion: rbac, kind: object.kind, name: object.metadata.name });
    results.push({ object: describeObject(object), action: 'deleted' });
  }
}

export function bootstrapCommand(global: () => GlobalOptions): Command {
  return addHubOptions(
    new Command('bootstrap').description(
      'install DORIS into the cluster (namespace, CRD, RBAC, controller, Secrets) and create the first Pipeline; idempotent',
    ),
  )
    .option('--repo <url>', 'git repository to follow (https, ssh:// or git@host:path); or --hub')
    .option('--branch <branch>', 'branch to follow', 'main')
    .option('--path <path>', 'folder holding the waves', 'deploy')
    .option('--name <name>', 'name of the Pipeline', 'main')
    .option('--interval <duration>', 'git poll interval', '1m')
    .option('--git-username <user>', 'git username (or DORIS_GIT_USERNAME)')
    .option('--git-token-file <file>', 'file holding the git token (or DORIS_GIT_TOKEN); stored in the Secret doris-git')
    .option('--ssh-key-file <file>', 'for an ssh:// or git@host:path repository: the private key (unencrypted); stored in the Secret doris-git')
    .option('--known-hosts-file <file>', "the git server's host keys (known_hosts format), required with --ssh-key-file; stored in the Secret doris-git")
    .option('--registry-credentials <file>', 'a dockerconfigjson file; stored in the Secret doris-registry')
    .option(
      '--image-rule <repo:tag>',
      'track an image (repository or glob, e.g. ghcr.io/acme/solar-*:main); repeatable',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--image <image>', 'the controller image', defaultImage)
    .option('--webhook-secret-file <file>', 'GitHub webhook secret (default: a random one, generated once)')
    .option('--registry-token-file <file>', 'bearer token for registry notifications (default: a random one, generated once)')
    .option('--no-controller', 'install everything but the controller Deployment (run `doris run` elsewhere); implies --no-wait')
    .addOption(
      new Option('--replicas <n>', 'controller replicas (more than 1 only on clusters with several nodes)')
        .argParser(integerFlag('--replicas 1', 1, 10))
        .default(1),
    )
    .option('--image-pull-secret <name>', 'a Secret in the controller namespace to pull the controller image with (a private registry; e.g. doris-registry)')
    .option('--no-wait', 'do not wait for the first sync')
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the first sync')
        .argParser(durationFlag('--timeout 10m'))
        .default(defaultFirstSyncTimeoutMs, formatDuration(defaultFirstSyncTimeoutMs)),
    )
    .addHelpText(
      'after',
      `
Example:
  DORIS_GIT_TOKEN=... doris bootstrap --repo https://github.com/acme/fleet.git --git-username bot \\
      --image-rule 'ghcr.io/acme/solar-*:main' --registry-credentials ghcr.json

Read the generated webhook secret with:
  kubectl -n doris-system get secret doris-webhook -o jsonpath='{.data.github-secret}' | base64 -d`,
    )
    .action(async (flags: BootstrapFlags) => {
      const options = global();
      const namespace = options.namespace;
      let credentials: ReturnType<typeof gitCredentialsFromFlags>;
      try {
        credentials = gitCredentialsFromFlags(flags.gitUsername, flags.gitTokenFile, { keyFile: flags.sshKeyFile, knownHostsFile: flags.knownHostsFile });
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      if (!flags.repo === !flags.hub)
        throw new UsageError('give --repo URL (follow git), or --hub URL --fleet F --enrollment-token-file T (follow a fleet hub)');
      const rawSpec: Record<string, unknown> = flags.hub
        ? hubPipelineSpec(flags)
        : {
            git: {
              url: flags.repo,
              branch: flags.branch,
              path: flags.path,
              interval: flags.interval,
              ...(credentials.token || credentials.ssh ? { secretRef: { name: gitSecretName } } : {}),
            },
            images: flags.imageRule.map((rule) => ({
              ...parseImageRule(rule),
              ...(flags.registryCredentials ? { secretRef: { name: registrySecretName } } : {}),
            })),
            ...(flags.targetNamespace ? { targetNamespace: flags.targetNamespace } : {}),
          };
      let spec: ReturnType<typeof parsePipelineSpec>;
      try {
        spec = parsePipelineSpec(rawSpec);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      // Checked before anything is installed: the branch, the registry credentials, the images.
      const checks: string[] = [];
      const check = (line: string) => {
        checks.push(line);
        if (options.output === 'text') say(`checked   ${line}`);
      };
      const registryConfig = flags.registryCredentials ? readFileOrRefuse(flags.registryCredentials) : undefined;
      const registry =
        flags.registryCredentials && registryConfig !== undefined
          ? readRegistryCredentials(flags.registryCredentials, registryConfig, ruleRegistries(rawSpec))
          : noRegistryCredentials;
      if (spec.git) {
        const commit = await checkGitSource(spec, credentials, options.workDir);
        check(`branch ${spec.git.branch} is readable: ${commit.slice(0, 12)}`);
        const images = await checkImages(spec, credentials, registry, commit, options.workDir);
        for (const image of images.resolved) check(`image ${image}`);
        for (const note of images.notes) say(`note: ${note}`);
      }
      const client = await connect(options);
      const results: Array<{ object: string; action: string }> = [];
      try {
        // Enroll first: a refused enrollment token installs nothing.
        const hubSecret = flags.hub ? await enrollForBootstrap(client, namespace, flags, say) : undefined;
        const objects = installObjects({ namespace, image: flags.image, replicas: flags.replicas, imagePullSecret: flags.imagePullSecret }).filter(
          (o) => flags.controller || o.kind !== 'Deployment',
        );
        for (const object of objects) {
          await applyReporting(client, object, results);
          if (options.output === 'text') say(`${results.at(-1)!.action.padEnd(10)} ${results.at(-1)!.object}`);
        }
        await ensurePipelineCrd(client);
        const installed = results.length;
        await removeLegacyRbac(client, namespace, results);
        if (options.output === 'text') for (const r of results.slice(installed)) say(`${r.action.padEnd(10)} ${r.object}`);
        const reported = results.length;

        if (credentials.ssh) {
          await applyReporting(
            client,
            secret(namespace, gitSecretName, 'Opaque', { identity: credentials.ssh.identity, known_hosts: credentials.ssh.knownHosts }),
            results,
          );
        } else if (credentials.token) {
          await applyReporting(
            client,
            secret(namespace, gitSecretName, 'Opaque', { username: credentials.username ?? 'git', token: credentials.token }),
            results,
          );
        }
        if (hubSecret) await applyReporting(client, hubSecret, results);
        if (registryConfig !== undefined) {
          await applyReporting(
            client,
            secret(namespace, registrySecretName, 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': registryConfig }),
            results,
          );
        }
        // Webhook credentials: from files, else generated once and kept on later runs.
        const existing = (await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: webhookSecretName })) as
          | { data?: Record<string, string> }
          | undefined;
        const keep = (key: string) => (existing?.data?.[key] ? Buffer.from(existing.data[key], 'base64').toString('utf8') : undefined);
        await applyReporting(
          client,
          secret(namespace, webhookSecretName, 'Opaque', {
            'github-secret': flags.webhookSecretFile
              ? readFileSync(flags.webhookSecretFile, 'utf8').trim()
              : (keep('github-secret') ?? randomBytes(24).toString('hex')),
            'registry-token': flags.registryTokenFile
              ? readFileSync(flags.registryTokenFile, 'utf8').trim()
              : (keep('registry-token') ?? randomBytes(24).toString('hex')),
          }),
          results,
        );
        await applyReporting(client, pipelineObject(namespace, flags.name, rawSpec), results);
        // Success is claimed once the controller has synced (or says why it could not).
        let firstSync: Record<string, unknown> | undefined;
        if (flags.controller && flags.wait) {
          if (options.output === 'text') say(`waiting for the first sync (up to ${formatDuration(flags.timeout)}; --no-wait skips this)`);
          const synced = await waitForFirstSync(client, namespace, flags.name, Date.now() + flags.timeout);
          const ready = synced?.status?.conditions?.find((c) => c.type === 'Ready');
          firstSync = synced
            ? { ready: ready?.status, reason: ready?.reason, message: ready?.message, commit: synced.status?.lastAttemptedCommit }
            : { ready: 'Unknown', reason: 'Timeout', message: `no sync recorded within ${formatDuration(flags.timeout)}` };
          if (firstSync.ready !== 'True') process.exitCode = ExitCode.failed;
        }
        if (options.output !== 'text') printData(options, { namespace, controller: controllerName, checks, results, ...(firstSync ? { firstSync } : {}) });
        else {
          for (const r of results.slice(reported)) say(`${r.action.padEnd(10)} ${r.object}`);
          say(
            flags.hub
              ? `DORIS is installed in ${namespace}; Pipeline ${flags.name} follows fleet ${flags.fleet} at ${flags.hub}.`
              : `DORIS is installed in ${namespace}; Pipeline ${flags.name} follows ${flags.repo} (${flags.branch}, ${flags.path}).`,
          );
          if (firstSync?.ready === 'True') say(`first sync: ${String(firstSync.message)}`);
          else if (firstSync?.reason === 'Timeout')
            say(
              `the first sync did not finish in ${formatDuration(flags.timeout)}: is the controller running? (doris check -n ${namespace}; kubectl -n ${namespace} logs deploy/doris)`,
            );
          else if (firstSync)
            say(`the first sync failed: ${String(firstSync.reason)}: ${String(firstSync.message)} (doris status ${flags.name} -n ${namespace})`);
          say(`Watch it with: kubectl -n ${namespace} get pipelines`);
        }
      } finally {
        client.close();
      }
    });
}
