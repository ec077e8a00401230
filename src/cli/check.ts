/**
 * `doris check [--pre]`: is DORIS able to work here? Each check says ok, warn or fail, and
 * the command exits 1 when one fails.
 *
 * `--pre` (before `doris bootstrap`): the cluster answers and is recent enough, the current
 * user may create what bootstrap installs, and `git` is on this machine (bootstrap reads the
 * repository before it installs anything).
 * Without `--pre`: the cluster, the Pipeline CRD, the controller's RBAC (asked of the API
 * server as the controller's ServiceAccount), the controller itself (its Deployment and its
 * leader Lease), and each Pipeline's source (its branch read with its own credentials).
 */
import { execFile } from 'node:child_process';
import { Command } from 'commander';
import { apiVersion as pipelineApiVersion, group as pipelineGroup, parsePipelineSpec, type Pipeline } from '../api/pipeline.js';
import { pipelineCrdName } from '../api/crd.js';
import { computeHealth } from '../health/index.js';
import { controllerName } from '../install/manifests.js';
import { HttpKubeClient, type KubeClient } from '../kube/client.js';
import { gitSourceFor } from '../reconcile/desired.js';
import { gitCredentialsFromFlags, gitCredentialsFromSecret } from '../source/credentials.js';
import { listPipelines } from '../status/store.js';
import { ExitCode, connect, out, printResult, serverOf, type GlobalOptions } from './common.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message: string;
}

/** The oldest Kubernetes minor DORIS is tested to work with (server-side apply, Lease v1, CRD v1). */
export const minimumKubernetes = { major: 1, minor: 24 };

/** `v1.31.2+k3s1` → ok when at least the minimum. */
export function checkVersion(gitVersion: string): CheckResult {
  const match = /^v?(\d+)\.(\d+)/.exec(gitVersion);
  if (!match) return { name: 'kubernetes', status: 'warn', message: `unrecognised version ${gitVersion}` };
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const ok = major > minimumKubernetes.major || (major === minimumKubernetes.major && minor >= minimumKubernetes.minor);
  return {
    name: 'kubernetes',
    status: ok ? 'ok' : 'fail',
    message: ok ? `${gitVersion}` : `${gitVersion} is older than ${minimumKubernetes.major}.${minimumKubernetes.minor}`,
  };
}

async function clusterVersion(client: KubeClient): Promise<CheckResult> {
  if (!(client instanceof HttpKubeClient)) return { name: 'kubernetes', status: 'warn', message: 'version unknown' };
  const { body } = await client.http.request<{ gitVersion?: string }>('GET', '/version');
  const result = checkVersion(body.gitVersion ?? '');
  return { ...result, message: `${result.message} at ${serverOf(client)}` };
}

interface Access {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
  subresource?: string;
}

/** Asks the API server whether `user` (or, without one, the caller) may do each of `access`. */
async function reviewAccess(client: KubeClient, access: Access[], user?: string): Promise<Access[]> {
  const denied: Access[] = [];
  for (const a of access) {
    const attributes = { verb: a.verb, resource: a.resource, group: a.group ?? '', namespace: a.namespace, subresource: a.subresource };
    const review = user
      ? { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: {}, spec: { user, resourceAttributes: attributes } }
      : { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {}, spec: { resourceAttributes: attributes } };
    const answer = (await client.create(review as never)) as unknown as { status?: { allowed?: boolean } };
    if (!answer.status?.allowed) denied.push(a);
  }
  return denied;
}

const describeAccess = (a: Access) =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;

function gitVersion(): Promise<CheckResult> {
  return new Promise((resolve) =>
    execFile('git', ['--version'], { timeout: 10_000 }, (error, stdout) =>
      resolve(
        error
          ? { name: 'git', status: 'fail', message: 'git is not on the PATH of this machine: bootstrap reads the repository with it' }
          : { name: 'git', status: 'ok', message: stdout.trim() },
      ),
    ),
  );
}

export async function preChecks(client: KubeClient, namespace: string): Promise<CheckResult[]> {
  const results = [await clusterVersion(client)];
  const denied = await reviewAccess(client, [
    { verb: 'create', resource: 'namespaces' },
    { verb: 'create', resource: 'customresourcedefinitions', group: 'apiextensions.k8s.io' },
    { verb: 'create', resource: 'clusterroles', group: 'rbac.authorization.k8s.io' },
    { verb: 'create', resource: 'clusterrolebindings', group: 'rbac.authorization.k8s.io' },
    { verb: 'create', resource: 'deployments', group: 'apps', namespace },
    { verb: 'create', resource: 'secrets', namespace },
  ]);
  results.push(
    denied.length === 0
      ? { name: 'permissions', status: 'ok', message: 'you may create everything bootstrap installs' }
      : { name: 'permissions', status: 'fail', message: `you may not: ${denied.map(describeAccess).join(', ')} (bootstrap needs cluster-admin)` },
  );
  results.push(await gitVersion());
  return results;
}

async function crdCheck(client: KubeClient): Promise<CheckResult> {
  const crd = await client.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: pipelineCrdName });
  if (!crd) return { name: 'crd', status: 'fail', message: `${pipelineCrdName} is not installed (doris bootstrap installs it)` };
  const health = computeHealth(crd);
  return health.status === 'Current'
    ? { name: 'crd', status: 'ok', message: `${pipelineCrdName} established` }
    : { name: 'crd', status: 'fail', message: `${pipelineCrdName}: ${health.message}` };
}

async function rbacCheck(client: KubeClient, namespace: string): Promise<CheckResult> {
  const user = `system:serviceaccount:${namespace}:${controllerName}`;
  const denied = await reviewAccess(
    client,
    [
      { verb: 'watch', resource: 'pipelines', group: pipelineGroup, namespace },
      { verb: 'patch', resource: 'pipelines', group: pipelineGroup, namespace, subresource: 'status' },
      { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace },
      { verb: 'create', resource: 'events', namespace },
      { verb: 'get', resource: 'secrets', namespace },
      { verb: 'patch', resource: 'deployments', group: 'apps' },
      { verb: 'delete', resource: 'configmaps' },
    ],
    user,
  );
  return denied.length === 0
    ? { name: 'rbac', status: 'ok', message: `${user} has the permissions the controller needs` }
    : { name: 'rbac', status: 'fail', message: `${user} may not: ${denied.map(describeAccess).join(', ')} (run doris bootstrap again)` };
}

async function controllerCheck(client: KubeClient, namespace: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const deployment = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: controllerName });
  if (deployment) {
    const health = computeHealth(deployment);
    results.push({
      name: 'controller',
      status: health.status === 'Current' ? 'ok' : 'fail',
      message: `Deployment ${namespace}/${controllerName}: ${health.message}`,
    });
  }
  const lease = (await client.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name: 'doris-leader' })) as unknown as
    | { spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } }
    | undefined;
  const spec = lease?.spec;
  const renewed = spec?.renewTime ? Date.parse(spec.renewTime) : Number.NaN;
  const fresh = spec?.holderIdentity && Number.isFinite(renewed) && Date.now() - renewed < (spec.leaseDurationSeconds ?? 15) * 1000 + 5_000;
  results.push(
    fresh
      ? { name: 'leader', status: 'ok', message: `${spec?.holderIdentity} leads (renewed ${Math.max(0, Math.round((Date.now() - renewed) / 1000))} s ago)` }
      : {
          name: 'leader',
          status: 'fail',
          message: spec?.holderIdentity
            ? `the Lease ${namespace}/doris-leader of ${spec.holderIdentity} was not renewed since ${spec.renewTime}: no controller is running`
            : `no controller holds the Lease ${namespace}/doris-leader: no controller is running`,
        },
  );
  return results;
}

async function sourceCheck(client: KubeClient, pipeline: Pipeline, workDir: string): Promise<CheckResult> {
  const name = `pipeline ${pipeline.metadata.name}`;
  let spec: ReturnType<typeof parsePipelineSpec>;
  try {
    spec = parsePipelineSpec(pipeline.spec);
  } catch (error) {
    return { name, status: 'fail', message: (error as Error).message };
  }
  if (!spec.git) return { name, status: 'ok', message: 'follows a hub (spec.hub)' };
  try {
    const credentials = spec.git.secretRef
      ? await gitCredentialsFromSecret(client, pipeline.metadata.namespace, spec.git.secretRef.name)
      : gitCredentialsFromFlags();
    const commit = await gitSourceFor(spec, credentials, workDir).resolve();
    const ready = pipeline.status?.conditions?.find((c) => c.type === 'Ready');
    const applied = pipeline.status?.lastAppliedCommit;
    const state = ready ? `; Ready=${ready.status} ${ready.reason}` : '';
    return {
      name,
      status: ready?.status === 'False' ? 'warn' : 'ok',
      message: `${spec.git.branch} at ${commit.slice(0, 12)}${applied === commit ? ' (applied)' : applied ? ` (applied: ${applied.slice(0, 12)})` : ''}${state}`,
    };
  } catch (error) {
    return { name, status: 'fail', message: `source not readable from here: ${(error as Error).message}` };
  }
}

export async function installChecks(client: KubeClient, namespace: string, workDir: string): Promise<CheckResult[]> {
  const results = [await clusterVersion(client)];
  const crd = await crdCheck(client);
  results.push(crd);
  results.push(await rbacCheck(client, namespace));
  results.push(...(await controllerCheck(client, namespace)));
  if (crd.status === 'ok') {
    client.discovery.invalidate(pipelineApiVersion);
    const pipelines = await listPipelines(client, namespace);
    if (pipelines.length === 0) results.push({ name: 'pipelines', status: 'warn', message: `no Pipeline in ${namespace}` });
    for (const pipeline of pipelines) results.push(await sourceCheck(client, pipeline, workDir));
  }
  return results;
}

export function checkCommand(global: () => GlobalOptions): Command {
  return new Command('check')
    .description('check the cluster, the CRD, RBAC, the controller and each Pipeline’s source; --pre: whether DORIS can be installed')
    .option('--pre', 'check before installing: cluster version, your permissions, git', false)
    .addHelpText('after', '\nExit codes: 0 every check passed (warnings allowed), 1 a check failed, 4 the cluster cannot be reached.')
    .action(async (flags: { pre: boolean }) => {
      const options = global();
      const client = await connect(options);
      try {
        const results = flags.pre ? await preChecks(client, options.namespace) : await installChecks(client, options.namespace, options.workDir);
        const failed = results.some((r) => r.status === 'fail');
        printResult(options, { namespace: options.namespace, pre: flags.pre, ok: !failed, checks: results }, () => {
          for (const r of results) out(`${{ ok: 'ok  ', warn: 'warn', fail: 'FAIL' }[r.status]} ${r.name}: ${r.message}`);
        });
        if (failed) process.exitCode = ExitCode.failed;
      } finally {
        client.close();
      }
    });
}
