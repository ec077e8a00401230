/**
 * A hub and three real agents, end to end: `doris hub` runs as its own ServiceAccount with
 * the test cluster as its central cluster; each agent is a `doris run` with its own controller
 * namespace, bootstrapped with `doris bootstrap --hub`, running as its shipped ServiceAccount
 * and applying into its own namespace. The agents hold no git or registry credentials.
 *
 * Proven: all three converge on a new commit and on a new image digest pushed under the same
 * tag; the git server's and the registry's logs show requests from the hub only; `kubectl get
 * devices` shows them at the new commit, Ready; after the hub is killed (SIGKILL) and started
 * again the agents reconnect and nothing is re-applied; a device whose Device was deleted is
 * refused and its Pipeline's status says so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { hubAccountName, hubRbacObjects } from '../../src/hub/install.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy } from '../env/audit.js';
import { doris, startServer, type RunningController } from '../env/doris.js';
import { serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, pushTestImage, type TestEnv } from '../env/testenv.js';

const execFileP = promisify(execFile);
let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const hubNs = `hub-agents-${run}`;
const fleet = 'edge';
const imageName = `hub-e2e-${run}/app`;
let image: string;
let repoUrl: string;
let hubKubeconfig: string;
let hub: RunningController | undefined;
let hubPort: number;
let registryCredentials: string;
let firstCommit: string;
let firstDigest: string;

interface Agent {
  i: number;
  namespace: string;
  appNs: string;
  device: string;
  kubeconfig: string;
  workDir: string;
  controller?: RunningController;
}
const agents: Agent[] = [1, 2, 3].map((i) => ({
  i,
  namespace: `hub-agent-${i}-${run}`,
  appNs: `hub-app-${i}-${run}`,
  device: `dev-${i}-${run}`,
  kubeconfig: '',
  workDir: '',
}));

/** No credentials reach an agent: not from the environment either. */
const noCredentials = { DORIS_GIT_USERNAME: '', DORIS_GIT_TOKEN: '' };

function files(value: string): Record<string, string> {
  return {
    'deploy/1-app/10-config.yml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: ${value}\n`,
    'deploy/1-app/20-app.yml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: app',
      'spec:',
      '  replicas: 1',
      '  selector: {matchLabels: {app: app}}',
      '  template:',
      '    metadata: {labels: {app: app}}',
      '    spec:',
      '      containers:',
      `      - {name: main, image: "${image}:main"}`,
      '',
    ].join('\n'),
  };
}

async function startHub(): Promise<RunningController> {
  const started = startServer(
    env,
    [
      'hub',
      '--listen',
      `127.0.0.1:${hubPort}`,
      '--namespace',
      hubNs,
      '--registry-credentials',
      registryCredentials,
      '--upstream-interval',
      '2s',
      '--work-dir',
      join(env.TESTENV_DIR, `work-hub-${run}`),
    ],
    { kubeconfig: hubKubeconfig, port: hubPort, extraEnv: noCredentials },
  );
  await waitFor('hub ready', async () => (await fetch(`${started.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 60_000 });
  return started;
}

interface DeviceObject {
  metadata: { name: string };
  status?: { report?: { commit?: string; ready?: string; reason?: string; images?: Array<{ repository: string; digest: string }> } };
}

async function devices(): Promise<DeviceObject[]> {
  const res = await api.request<{ items: DeviceObject[] }>('GET', `/apis/hub.doris.dev/v1alpha1/namespaces/${hubNs}/devices`);
  return res.body.items;
}

async function live(agent: Agent): Promise<{ value?: string; image?: string }> {
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

/** Waits until every agent runs `commit` with `value` and `digest`, and its Device says so (Ready). */
async function converged(what: string, commit: string, value: string, digest: string): Promise<void> {
  try {
    await waitFor(
      what,
      async () => {
        const byName = new Map((await devices()).map((d) => [d.metadata.name, d]));
        for (const agent of agents) {
          const report = byName.get(agent.device)?.status?.report;
          if (report?.commit !== commit || report.ready !== 'True' || !report.images?.some((i) => i.digest === digest)) return false;
          const state = await live(agent);
          if (state.value !== value || state.image !== `${image}:main@${digest}`) return false;
        }
        return true;
      },
      { timeoutMs: 120_000 },
    );
  } catch (error) {
    const states = await Promise.all(agents.map(async (a) => ({ agent: a.i, live: await live(a) })));
    throw new Error(`${(error as Error).message}; devices: ${JSON.stringify(await devices())}; live: ${JSON.stringify(states)}`);
  }
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  hubPort = await freePort();
  image = `${env.REGISTRY}/${imageName}`;
  firstDigest = await pushTestImage(env, imageName, 'main', `hub-v1-${run}`);
  ({ url: repoUrl, commit: firstCommit } = await createRepo(env, 'hub-agents', files('v1')));
  registryCredentials = join(env.TESTENV_DIR, `hub-registry-${run}.json`);
  const auth = Buffer.from(`${env.REGISTRY_USERNAME}:${env.REGISTRY_PASSWORD}`).toString('base64');
  writeFileSync(registryCredentials, JSON.stringify({ auths: { [env.REGISTRY]: { auth } } }), { mode: 0o600 });

  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: hubNs } } });
  for (const object of hubRbacObjects(hubNs)) {
    await api.request('PATCH', kindPath(object), {
      body: object,
      query: { fieldManager: 'e2e-setup', force: 'true' },
      contentType: 'application/apply-patch+yaml',
    });
  }
  hubKubeconfig = await serviceAccountKubeconfig(env, api, hubNs, hubAccountName);
  await api.request('POST', `/api/v1/namespaces/${hubNs}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'upstream-git' }, stringData: { username: env.GIT_USERNAME, token: env.GIT_TOKEN } },
  });
  for (const agent of agents) {
    agent.workDir = join(env.TESTENV_DIR, `work-hub-agent-${agent.i}-${run}`);
    await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: agent.appNs } } });
  }
});

function kindPath(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): string {
  const plural = `${object.kind.toLowerCase()}s`;
  const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  return object.metadata.namespace
    ? `${base}/namespaces/${object.metadata.namespace}/${plural}/${object.metadata.name}`
    : `${base}/${plural}/${object.metadata.name}`;
}

after(async () => {
  for (const agent of agents) await agent.controller?.stop('SIGKILL');
  await hub?.stop('SIGKILL');
  for (const agent of agents) {
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
  for (const object of hubRbacObjects(hubNs).filter((o) => !o.metadata.namespace)) await api.request('DELETE', kindPath(object), { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${hubNs}`, { accept: [404] });
  rmSync(hubKubeconfig, { force: true });
  rmSync(registryCredentials, { force: true });
  rmSync(join(env.TESTENV_DIR, `work-hub-${run}`), { recursive: true, force: true });
  api.close();
});

describe('a hub and three agents', () => {
  it('converge on a new commit and on a new image digest, with the hub alone talking to git and the registry', async () => {
    const logMark = {
      git: readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log'), 'utf8').length,
      registry: readFileSync(env.REGISTRY_LOG, 'utf8').length,
    };
    hub = await startHub();
    await api.request('POST', `/apis/hub.doris.dev/v1alpha1/namespaces/${hubNs}/fleets`, {
      body: {
        apiVersion: 'hub.doris.dev/v1alpha1',
        kind: 'Fleet',
        metadata: { name: fleet },
        spec: {
          git: { url: repoUrl, branch: 'main', path: 'deploy', secretRef: { name: 'upstream-git' }, interval: '2s' },
          images: [{ repository: image, tag: 'main' }],
        },
      },
    });

    const token = await doris(env, ['hub', 'token', 'create', '--fleet', fleet, '--namespace', hubNs, '--uses', '3', '--ttl', '1h']);
    assert.equal(token.code, 0, token.stderr);
    const tokenFile = join(env.TESTENV_DIR, `hub-enroll-${run}`);
    writeFileSync(tokenFile, `${token.stdout.trim().split('\n').at(-1)}\n`, { mode: 0o600 });
    try {
      for (const agent of agents) {
        const result = await doris(env, [
          '-n',
          agent.namespace,
          'bootstrap',
          '--hub',
          hub.url,
          '--fleet',
          fleet,
          '--enrollment-token-file',
          tokenFile,
          '--labels',
          `ring=r${agent.i}`,
          '--device-name',
          agent.device,
          '--target-namespace',
          agent.appNs,
          '--no-controller',
        ]);
        assert.equal(result.code, 0, result.stderr);
        agent.kubeconfig = await serviceAccountKubeconfig(env, api, agent.namespace);
        agent.controller = startServer(
          env,
          [
            'run',
            '--listen',
            `127.0.0.1:${await freePort()}`,
            '--namespace',
            agent.namespace,
            '--work-dir',
            agent.workDir,
            '--identity',
            `agent-${agent.i}-${run}`,
          ],
          {
            kubeconfig: agent.kubeconfig,
            port: 0,
            extraEnv: noCredentials,
          },
        );
      }
    } finally {
      rmSync(tokenFile, { force: true });
    }
    await converged('all three agents run the first commit', firstCommit, 'v1', firstDigest);

    const second = await pushFiles(env, repoUrl, files('v2'), 'v2');
    await converged('all three agents run the new commit', second, 'v2', firstDigest);

    const d2 = await pushTestImage(env, imageName, 'main', `hub-v2-${run}`);
    assert.notEqual(d2, firstDigest);
    await converged('all three agents run the new digest, with no new commit', second, 'v2', d2);

    const table = await execFileP(env.KUBECTL, ['--kubeconfig', env.KUBECONFIG, '-n', hubNs, 'get', 'devices']);
    const rows = table.stdout.trim().split('\n');
    assert.match(rows[0]!, /READY\s+COMMIT.*LAST-SEEN\s+AGE/);
    for (const agent of agents) assert.match(rows.find((r) => r.startsWith(agent.device)) ?? '', new RegExp(`\\bTrue\\s+${second.slice(0, 7)}`), table.stdout);

    // Only the hub asked the git server and the registry: agents introduce themselves as doris/.
    const gitLines = readFileSync(join(env.TESTENV_DIR, 'logs', 'git-server.log'), 'utf8')
      .slice(logMark.git)
      .split('\n')
      .filter((l) => l.includes(repoUrl.split('/').at(-1)!));
    assert.ok(gitLines.length > 0, 'the hub fetched from the git server');
    assert.deepEqual(
      gitLines.filter((l) => !/"doris-hub\//.test(l) && !l.endsWith('"doris-tests"')),
      [],
      'git requests other than the hub and the test pushes',
    );
    assert.ok(gitLines.some((l) => /"doris-hub\//.test(l)));
    const registryLines = readFileSync(env.REGISTRY_LOG, 'utf8')
      .slice(logMark.registry)
      .split('\n')
      .filter((l) => l.includes(imageName) && l.includes('useragent=doris'));
    assert.ok(registryLines.length > 0, 'the hub asked the registry');
    assert.deepEqual(
      registryLines.filter((l) => !l.includes('useragent=doris-hub/')),
      [],
      'registry requests by agents',
    );
  });

  it('after the hub is killed and started again, the agents reconnect and re-apply nothing', async () => {
    assert.ok(hub, 'the first test started the hub');
    const mark = auditMark(env.AUDIT_LOG);
    await hub.stop('SIGKILL');
    hub = await startHub();
    // Every agent holds a long-poll on the new hub again.
    await waitFor(
      'the three agents reconnected',
      async () => {
        const metrics = await (await fetch(`${hub?.url}/metrics`)).text();
        return Number(/^doris_hub_open_long_polls(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0) >= agents.length;
      },
      { timeoutMs: 120_000 },
    );
    const rewritten = agents.flatMap((a) =>
      writesBy(readAuditSince(env.AUDIT_LOG, mark), serviceAccountUser(a.namespace)).filter((e) => e.objectRef?.namespace === a.appNs),
    );
    assert.deepEqual(rewritten, [], 'no agent wrote to its applied objects');
  });

  it('a device whose Device was deleted is refused, and its Pipeline says so', async () => {
    const revoked = agents[2]!;
    await api.request('DELETE', `/apis/hub.doris.dev/v1alpha1/namespaces/${hubNs}/devices/${revoked.device}`);
    await waitFor(
      'the revoked agent reports the refusal in its Pipeline',
      async () => {
        const res = await api.request<{ status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }>(
          'GET',
          `/apis/doris.dev/v1alpha1/namespaces/${revoked.namespace}/pipelines/main`,
        );
        const ready = res.body.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'False' && ready.reason === 'CredentialsFailed' && /401/.test(ready.message);
      },
      { timeoutMs: 120_000 },
    );
    assert.equal((await live(revoked)).value, 'v2', 'what the device runs stays');
  });
});
