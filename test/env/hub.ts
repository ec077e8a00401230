/**
 * A hub and real agents for end-to-end tests: the hub runs as its own ServiceAccount (the
 * RBAC `doris hub install` ships), each agent is a `doris run` of its own controller
 * namespace, bootstrapped with `doris bootstrap --hub`, running as its shipped ServiceAccount
 * and applying into its own namespace, with no git or registry credentials at all.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHubCrds } from '../../src/hub/crds.js';
import { hubAccountName, hubRbacObjects } from '../../src/hub/install.js';
import { connectKube } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { doris, startServer, type RunningController } from './doris.js';
import { serviceAccountKubeconfig } from './identity.js';
import { freePort } from './ports.js';
import { waitFor } from './proc.js';
import type { TestEnv } from './testenv.js';

/** No credentials reach an agent: not from the environment either. */
export const noCredentials = { DORIS_GIT_USERNAME: '', DORIS_GIT_TOKEN: '' };

export interface HubSetup {
  namespace: string;
  kubeconfig: string;
  registryCredentials: string;
  workDir: string;
  port: number;
  url: string;
}

function objectPath(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  const plural = `${object.kind.toLowerCase()}s`;
  const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  return object.metadata.namespace
    ? `${base}/namespaces/${object.metadata.namespace}/${plural}/${object.metadata.name}`
    : `${base}/${plural}/${object.metadata.name}`;
}

/** The hub's namespace, RBAC, ServiceAccount kubeconfig, a git Secret `upstream-git` and a registry credentials file. */
export async function setupHub(env: TestEnv, api: KubeHttp, namespace: string): Promise<HubSetup> {
  // The CRDs, as `doris hub` installs them at start: a test may create Fleets before its hub runs.
  const admin = await connectKube(env.KUBECONFIG);
  try {
    await ensureHubCrds(admin);
  } finally {
    admin.close();
  }
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  for (const object of hubRbacObjects(namespace)) {
    await api.request('PATCH', objectPath(object), {
      body: object,
      query: { fieldManager: 'e2e-setup', force: 'true' },
      contentType: 'application/apply-patch+yaml',
    });
  }
  await api.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'upstream-git' }, stringData: { username: env.GIT_USERNAME, token: env.GIT_TOKEN } },
  });
  const registryCredentials = join(env.TESTENV_DIR, `${namespace}-registry.json`);
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(registryCredentials, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });
  const port = await freePort();
  return {
    namespace,
    kubeconfig: await serviceAccountKubeconfig(env, api, namespace, hubAccountName),
    registryCredentials,
    workDir: join(env.TESTENV_DIR, `work-${namespace}`),
    port,
    url: `http://127.0.0.1:${port}`,
  };
}

export async function startHub(env: TestEnv, hub: HubSetup, extra: string[] = []): Promise<RunningController> {
  const started = startServer(
    env,
    [
      'hub',
      '--listen',
      `127.0.0.1:${hub.port}`,
      '--namespace',
      hub.namespace,
      '--registry-credentials',
      hub.registryCredentials,
      '--upstream-interval',
      '2s',
      '--work-dir',
      hub.workDir,
      ...extra,
    ],
    { kubeconfig: hub.kubeconfig, port: hub.port, extraEnv: noCredentials },
  );
  await waitFor('hub ready', async () => (await fetch(`${started.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 60_000 });
  return started;
}

/** `doris hub token create`; returns a file holding the token (0600), which the caller removes. */
export async function enrollmentTokenFile(env: TestEnv, hub: HubSetup, fleet: string, uses: number): Promise<string> {
  const token = await doris(env, ['hub', 'token', 'create', '--fleet', fleet, '--namespace', hub.namespace, '--uses', String(uses), '--ttl', '1h']);
  assert.equal(token.code, 0, token.stderr);
  const file = join(env.TESTENV_DIR, `${hub.namespace}-enroll-${fleet}`);
  writeFileSync(file, `${token.stdout.trim().split('\n').at(-1)}\n`, { mode: 0o600 });
  return file;
}

export interface Agent {
  name: string;
  /** The controller namespace. */
  namespace: string;
  /** Where it applies. */
  appNs: string;
  device: string;
  labels: string;
  kubeconfig: string;
  workDir: string;
  controller?: RunningController;
}

export function agentFor(env: TestEnv, name: string, run: string, labels: string): Agent {
  return {
    name,
    namespace: `hub-agent-${name}-${run}`,
    appNs: `hub-app-${name}-${run}`,
    device: `dev-${name}-${run}`,
    labels,
    kubeconfig: '',
    workDir: join(env.TESTENV_DIR, `work-hub-agent-${name}-${run}`),
  };
}

/** Bootstraps the agent with `--hub` (as admin, like an operator) and starts its controller as its ServiceAccount. */
export async function startAgent(
  env: TestEnv,
  api: KubeHttp,
  agent: Agent,
  hubUrl: string,
  fleet: string,
  tokenFile: string,
  extraSpec?: Record<string, unknown>,
): Promise<void> {
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: agent.appNs } }, accept: [409] });
  const result = await doris(env, [
    '-n',
    agent.namespace,
    'bootstrap',
    '--hub',
    hubUrl,
    '--fleet',
    fleet,
    '--enrollment-token-file',
    tokenFile,
    '--labels',
    agent.labels,
    '--device-name',
    agent.device,
    '--target-namespace',
    agent.appNs,
    '--no-controller',
  ]);
  assert.equal(result.code, 0, result.stderr);
  if (extraSpec) {
    await api.request('PATCH', `/apis/doris.dev/v1alpha1/namespaces/${agent.namespace}/pipelines/main`, {
      body: { spec: extraSpec },
      contentType: 'application/merge-patch+json',
    });
  }
  agent.kubeconfig = await serviceAccountKubeconfig(env, api, agent.namespace);
  agent.controller = startServer(
    env,
    ['run', '--listen', `127.0.0.1:${await freePort()}`, '--namespace', agent.namespace, '--work-dir', agent.workDir, '--identity', `agent-${agent.name}`],
    { kubeconfig: agent.kubeconfig, port: 0, extraEnv: noCredentials },
  );
}

export async function removeAgent(api: KubeHttp, agent: Agent): Promise<void> {
  await agent.controller?.stop('SIGKILL');
  await api.request('DELETE', `/api/v1/namespaces/${agent.namespace}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${agent.appNs}`, { accept: [404] });
  for (const kind of ['clusterrolebindings', 'clusterroles']) {
    for (const name of [`doris-controller-${agent.namespace}`, `doris-custom-kinds-${agent.namespace}`]) {
      await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/${kind}/${name}`, { accept: [404] });
    }
  }
  if (agent.kubeconfig) rmSync(agent.kubeconfig, { force: true });
  rmSync(agent.workDir, { recursive: true, force: true });
}

export async function removeHub(api: KubeHttp, hub: HubSetup, running?: RunningController): Promise<void> {
  await running?.stop('SIGKILL');
  for (const object of hubRbacObjects(hub.namespace).filter((o) => !o.metadata.namespace)) await api.request('DELETE', objectPath(object), { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${hub.namespace}`, { accept: [404] });
  rmSync(hub.kubeconfig, { force: true });
  rmSync(hub.registryCredentials, { force: true });
  rmSync(hub.workDir, { recursive: true, force: true });
}

export interface DeviceObject {
  metadata: { name: string; labels?: Record<string, string> };
  status?: {
    report?: { revision?: string; commit?: string; ready?: string; reason?: string; images?: Array<{ repository: string; digest: string }> };
    reportedAt?: string;
  };
}

export async function devices(api: KubeHttp, hub: HubSetup): Promise<DeviceObject[]> {
  return (await api.request<{ items: DeviceObject[] }>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${hub.namespace}/devices`)).body.items;
}

/** The applied ConfigMap `settings` value and the `app` Deployment's image in the agent's namespace. */
export async function liveState(api: KubeHttp, agent: Agent): Promise<{ value?: string; image?: string }> {
  const cm = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${agent.appNs}/configmaps/settings`, { accept: [404] });
  const deploy = await api.request<{ spec?: { template: { spec: { containers: Array<{ image: string }> } } } }>(
    'GET',
    `/apis/apps/v1/namespaces/${agent.appNs}/deployments/app`,
    { accept: [404] },
  );
  return {
    value: cm.status === 200 ? cm.body.data?.value : undefined,
    image: deploy.status === 200 ? deploy.body.spec?.template.spec.containers[0]?.image : undefined,
  };
}

/** A wave with a ConfigMap `settings` and a Deployment `app` of `image:main` (no namespaces: each agent has its own). */
export function appFiles(image: string, value: string, podSpec = ''): Record<string, string> {
  return {
    'deploy/1-app/10-config.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: ${value}\n`,
    'deploy/1-app/20-app.yml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: app',
      'spec:',
      '  replicas: 1',
      '  progressDeadlineSeconds: 600',
      '  selector: {matchLabels: {app: app}}',
      '  template:',
      '    metadata: {labels: {app: app}}',
      '    spec:',
      ...(podSpec ? [podSpec] : []),
      '      containers:',
      `      - {name: main, image: "${image}:main"}`,
      '',
    ].join('\n'),
  };
}

export async function createFleet(
  api: KubeHttp,
  hub: HubSetup,
  name: string,
  repoUrl: string,
  image: string,
  rollout?: Record<string, unknown>,
): Promise<void> {
  await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${hub.namespace}/fleets`, {
    body: {
      apiVersion: 'hub.doris.dev/v1alpha1',
      kind: 'Fleet',
      metadata: { name },
      spec: {
        git: { url: repoUrl, branch: 'main', path: 'deploy', secretRef: { name: 'upstream-git' }, interval: '2s' },
        images: [{ repository: image, tag: 'main' }],
        ...(rollout ? { rollout } : {}),
      },
    },
  });
}

/**
 * Writes what a simulated agent reports after syncing `target`: applied and ready, or
 * failing its health check (tests that drive rollouts without real agents).
 */
export async function reportAsAgent(
  api: KubeHttp,
  devicePath: string,
  target: { id: string; commit: string },
  ready: 'True' | 'False',
  failure = 'Deployment/app: 0 of 1 replicas available',
): Promise<void> {
  const report = {
    revision: target.id,
    commit: target.commit,
    ready,
    reason: ready === 'True' ? 'Succeeded' : 'HealthCheckFailed',
    message: ready === 'True' ? 'applied' : failure,
    agentVersion: '0.1.0',
    images: [],
  };
  const now = new Date().toISOString();
  await api.request('PATCH', `${devicePath}/status`, {
    body: { status: { report, reportedAt: now, lastSeen: now } },
    contentType: 'application/merge-patch+json',
  });
}
