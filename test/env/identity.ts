/**
 * DORIS under the identity it really runs as. `doris bootstrap` installs the ServiceAccount
 * and its least-privilege RBAC; a TokenRequest for that ServiceAccount gives a kubeconfig
 * with which the CLI (or `doris run`) is authorized exactly as the in-cluster controller
 * would be — permission bugs hide behind the admin kubeconfig. Also: Pipelines with spec
 * fields the CLI has no flag for, written with the admin API, and their cleanup.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiVersion as pipelineApiVersion } from '../../src/api/pipeline.js';
import { controllerClusterRoleName, customKindsRoleName } from '../../src/install/manifests.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { loadConnection } from '../../src/kube/kubeconfig.js';
import { doris, type CliResult } from './doris.js';
import type { TestEnv } from './testenv.js';

/** The user name the API server (and its audit log) gives a ServiceAccount. */
export function serviceAccountUser(namespace: string, name = 'doris'): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** `doris bootstrap` into `namespace` (no Deployment: tests run the CLI or `doris run` themselves). */
export async function bootstrapInstall(env: TestEnv, namespace: string, repoUrl: string, pipeline: string): Promise<void> {
  const result = await doris(env, [
    '--namespace',
    namespace,
    '--output',
    'json',
    'bootstrap',
    '--repo',
    repoUrl,
    '--name',
    pipeline,
    '--interval',
    '1h',
    '--no-controller',
  ]);
  assert.equal(result.code, 0, `bootstrap into ${namespace} failed: ${result.stderr}`);
}

/**
 * A kubeconfig (mode 0600, under the test environment's directory) holding a one-hour token
 * of `namespace/name`, from a TokenRequest. The token is never printed.
 */
export async function serviceAccountKubeconfig(env: TestEnv, api: KubeHttp, namespace: string, name = 'doris'): Promise<string> {
  const { body } = await api.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const admin = await loadConnection(env.KUBECONFIG);
  const path = join(env.TESTENV_DIR, `sa-${namespace}-${name}.kubeconfig`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: { server: admin.server.toString().replace(/\/$/, ''), 'certificate-authority-data': Buffer.from(admin.tls.ca ?? '').toString('base64') },
        },
      ],
      users: [{ name, user: { token: body.status.token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: name } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  return path;
}

/**
 * Creates or updates a Pipeline with the admin API (server-side apply), for spec fields the
 * CLI has no flag for (`prune.crds`, `serviceAccountName`).
 */
export async function applyPipelineAsAdmin(api: KubeHttp, namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await api.request('PATCH', `/apis/doris.dev/v1alpha1/namespaces/${namespace}/pipelines/${name}`, {
    body: { apiVersion: pipelineApiVersion, kind: 'Pipeline', metadata: { name, namespace }, spec },
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'e2e-tests', force: true },
  });
}

/** `doris sync --once --pipeline NAME` of an existing Pipeline in `namespace`, as `kubeconfig` (default: admin). */
export function syncPipeline(env: TestEnv, namespace: string, name: string, kubeconfig?: string): Promise<CliResult> {
  return doris(env, [...(kubeconfig ? ['--kubeconfig', kubeconfig] : []), '--namespace', namespace, 'sync', '--once', '--pipeline', name]);
}

/**
 * Removes an install made by `bootstrapInstall`: the namespaces its Pipelines applied to
 * (`appNamespaces`), its namespace (with its Pipelines) and the cluster-scoped RBAC named after it. The shared Pipeline CRD stays: other tests use it.
 */
export async function removeInstall(api: KubeHttp, namespace: string, kubeconfig?: string, appNamespaces: string[] = []): Promise<void> {
  if (kubeconfig) rmSync(kubeconfig, { force: true });
  // The install's Pipelines' objects first, while the install that applied them is still there.
  for (const ns of appNamespaces) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  for (const role of [controllerClusterRoleName(namespace), customKindsRoleName(namespace)]) {
    await api.request('DELETE', `${rbac}/clusterrolebindings/${role}`, { accept: [404] });
    await api.request('DELETE', `${rbac}/clusterroles/${role}`, { accept: [404] });
  }
  await api.request('DELETE', `/api/v1/namespaces/${namespace}`, { accept: [404] });
}
