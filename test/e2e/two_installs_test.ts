/**
 * Two installs of DORIS in one cluster, each in its own namespace and each running as its own
 * ServiceAccount (a kubeconfig from that ServiceAccount's token, RBAC enforced). The second
 * `doris bootstrap` must leave the first install's cluster-scoped RBAC and the shared CRD
 * alone: with global names it rebound the first install's ClusterRoleBindings to its own
 * ServiceAccount, and the first controller lost its permissions. An install made with those
 * old names is moved to the per-install names by its next bootstrap.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { controllerClusterRole, controllerClusterRoleName, customKindsRole, customKindsRoleName, legacyClusterRoleNames } from '../../src/install/manifests.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { KubeHttp as Http } from '../../src/kube/http.js';
import { doris, startController, type RunningController } from '../env/doris.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { serviceAccountKubeconfig } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const pipeline = 'fleet';

interface Install {
  label: string;
  /** The controller namespace. */
  namespace: string;
  /** Where its repository deploys. */
  appNs: string;
  repoUrl: string;
  kubeconfig: string;
  workDir: string;
}

const installs: Record<'a' | 'b', Install> = {
  a: { label: 'a', namespace: `doris-two-a-${run}`, appNs: `e2e-two-a-${run}`, repoUrl: '', kubeconfig: '', workDir: '' },
  b: { label: 'b', namespace: `doris-two-b-${run}`, appNs: `e2e-two-b-${run}`, repoUrl: '', kubeconfig: '', workDir: '' },
};
/** An install made with the old, cluster-wide RBAC names, upgraded by a bootstrap. */
const old: Install = { label: 'old', namespace: `doris-two-old-${run}`, appNs: `e2e-two-old-${run}`, repoUrl: '', kubeconfig: '', workDir: '' };
const running: RunningController[] = [];
const rbacPath = '/apis/rbac.authorization.k8s.io/v1';

interface Status {
  lastAppliedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string; message?: string }>;
}

async function status(install: Install): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${install.namespace}/pipelines/${pipeline}`);
  return res.body.status ?? {};
}

/** Waits until the install has applied `commit`; on timeout, says what its status shows instead. */
async function waitForCommit(install: Install, commit: string): Promise<void> {
  try {
    await waitFor(`install ${install.label} applies ${commit.slice(0, 8)}`, async () => (await status(install)).lastAppliedCommit === commit, {
      timeoutMs: 60_000,
    });
  } catch (error) {
    throw new Error(`${(error as Error).message}; its status: ${JSON.stringify(await status(install))}`);
  }
}

const ready = (s: Status) => s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

async function configValue(install: Install, name: string): Promise<string | undefined> {
  const res = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${install.appNs}/configmaps/${name}`, { accept: [404] });
  return res.status === 404 ? undefined : res.body.data?.value;
}

function repoFiles(install: Install, value: string): Record<string, string> {
  return {
    'deploy/1-base/10-ns.yml': namespaceYaml(install.appNs),
    'deploy/1-base/120-config.yml': configMapYaml(install.appNs, 'settings', { value }),
  };
}

async function bootstrap(install: Install): Promise<Array<{ object: string; action: string }>> {
  const result = await doris(env, [
    '--namespace',
    install.namespace,
    '--output',
    'json',
    'bootstrap',
    '--repo',
    install.repoUrl,
    '--name',
    pipeline,
    '--interval',
    '1s',
    '--no-controller',
  ]);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { results: Array<{ object: string; action: string }> }).results;
}

async function controller(install: Install): Promise<RunningController> {
  const c = startController(
    env,
    ['--namespace', install.namespace, '--work-dir', install.workDir, '--poll-interval', '1s', '--identity', `two-${install.label}-${run}`],
    {
      kubeconfig: install.kubeconfig,
      port: await freePort(),
    },
  );
  running.push(c);
  await waitFor(`controller ${install.label} ready`, async () => (await fetch(`${c.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
  return c;
}

/** The cluster-scoped RBAC of an install, by `Kind/name`, with its resourceVersion. */
async function clusterRbac(install: Install): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const resource of ['clusterroles', 'clusterrolebindings']) {
    for (const name of [controllerClusterRoleName(install.namespace), customKindsRoleName(install.namespace)]) {
      const res = await api.request<{ metadata: { resourceVersion: string } }>('GET', `${rbacPath}/${resource}/${name}`);
      versions[`${resource}/${name}`] = res.body.metadata.resourceVersion;
    }
  }
  return versions;
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  for (const install of Object.values(installs)) {
    install.workDir = join(env.TESTENV_DIR, `work-two-${install.label}-${run}`);
    ({ url: install.repoUrl } = await createRepo(env, `two-${install.label}`, repoFiles(install, `${install.label}1`)));
  }
  ({ url: old.repoUrl } = await createRepo(env, 'two-old', repoFiles(old, 'old1')));
});

// A failed test must not leave a controller running into the next one.
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop('SIGKILL');
});

after(async () => {
  for (const c of running.splice(0)) await c.stop('SIGKILL');
  // The old names are global: delete them only while they still bind our own old install.
  for (const name of legacyClusterRoleNames) {
    const binding = await api.request<{ subjects?: Array<{ namespace?: string }> }>('GET', `${rbacPath}/clusterrolebindings/${name}`, { accept: [404] });
    if (binding.status === 200 && binding.body.subjects?.every((s) => s.namespace === old.namespace)) {
      await api.request('DELETE', `${rbacPath}/clusterrolebindings/${name}`, { accept: [404] });
      await api.request('DELETE', `${rbacPath}/clusterroles/${name}`, { accept: [404] });
    }
  }
  for (const install of [...Object.values(installs), old]) {
    await api.request('DELETE', `/api/v1/namespaces/${install.appNs}`, { accept: [404] });
    await api.request('DELETE', `/api/v1/namespaces/${install.namespace}`, { accept: [404] });
    for (const name of [controllerClusterRoleName(install.namespace), customKindsRoleName(install.namespace)]) {
      await api.request('DELETE', `${rbacPath}/clusterrolebindings/${name}`, { accept: [404] });
      await api.request('DELETE', `${rbacPath}/clusterroles/${name}`, { accept: [404] });
    }
    if (install.kubeconfig) rmSync(install.kubeconfig, { force: true });
    if (install.workDir) rmSync(install.workDir, { recursive: true, force: true });
  }
  api.close();
});

describe('two installs in one cluster', () => {
  it('each install syncs its own repository as its own ServiceAccount, and the second bootstrap takes nothing from the first', async () => {
    const { a, b } = installs;
    await bootstrap(a);
    a.kubeconfig = await serviceAccountKubeconfig(env, api, a.namespace);
    const ca = await controller(a);
    await waitFor('install a synced', async () => ready(await status(a)), { timeoutMs: 60_000 });
    assert.equal(await configValue(a, 'settings'), 'a1');

    const rbacOfA = await clusterRbac(a);

    const resultsB = await bootstrap(b);
    assert.deepEqual(
      resultsB.filter((r) => r.object.includes(a.namespace)),
      [],
      'the second bootstrap reported no object of the first install',
    );
    assert.equal(resultsB.find((r) => r.object.startsWith('CustomResourceDefinition'))?.action, 'unchanged', 'the shared CRD is left as it was');
    assert.deepEqual(await clusterRbac(a), rbacOfA, "the first install's ClusterRoles and bindings are untouched");
    assert.ok(ready(await status(a)), "install a's Pipeline is still served and Ready");
    for (const install of [a, b]) {
      const binding = await api.request<{ subjects: Array<{ kind: string; name: string; namespace: string }> }>(
        'GET',
        `${rbacPath}/clusterrolebindings/${controllerClusterRoleName(install.namespace)}`,
      );
      assert.deepEqual(binding.body.subjects, [{ kind: 'ServiceAccount', name: 'doris', namespace: install.namespace }]);
    }

    b.kubeconfig = await serviceAccountKubeconfig(env, api, b.namespace);
    const cb = await controller(b);
    await waitFor('install b synced', async () => ready(await status(b)), { timeoutMs: 60_000 });
    assert.equal(await configValue(b, 'settings'), 'b1');

    // The first controller still holds its cluster-wide permissions after the second bootstrap:
    // it applies a new commit that creates a namespace and writes in it ...
    const laterNs = `${a.appNs}-later`;
    const commitA = await pushFiles(
      env,
      a.repoUrl,
      {
        'deploy/1-base/120-config.yml': configMapYaml(a.appNs, 'settings', { value: 'a2' }),
        'deploy/1-base/11-later-ns.yml': namespaceYaml(laterNs),
        'deploy/2-later/120-config.yml': configMapYaml(laterNs, 'later', { value: 'a2' }),
      },
      'a2',
    );
    try {
      await waitForCommit(a, commitA);
      assert.ok(ready(await status(a)), 'install a is Ready after the new commit');
      assert.equal(await configValue(a, 'settings'), 'a2');
      const later = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${laterNs}/configmaps/later`, { accept: [404] });
      assert.equal(later.status, 200, 'the ConfigMap in the new namespace exists');

      // ... and the second keeps syncing its own repository.
      const commitB = await pushFiles(env, b.repoUrl, { 'deploy/1-base/120-config.yml': configMapYaml(b.appNs, 'settings', { value: 'b2' }) }, 'b2');
      await waitForCommit(b, commitB);
      assert.equal(await configValue(b, 'settings'), 'b2');
      assert.equal(await configValue(a, 'settings'), 'a2', 'install b did not touch what install a deploys');

      // Each identity can do cluster-wide what its own ClusterRole grants (listing ConfigMaps
      // everywhere), but reads Secrets only in its own namespace, not in the other install's.
      for (const [self, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const asController = await Http.fromKubeconfigFile(self.kubeconfig);
        try {
          const all = await asController.request('GET', '/api/v1/configmaps', { query: { limit: '1' }, accept: [403] });
          assert.equal(all.status, 200, `install ${self.label} lists ConfigMaps cluster-wide`);
          const own = await asController.request('GET', `/api/v1/namespaces/${self.namespace}/secrets`, { accept: [403] });
          assert.equal(own.status, 200, `install ${self.label} reads its own Secrets`);
          const foreign = await asController.request('GET', `/api/v1/namespaces/${other.namespace}/secrets`, { accept: [403] });
          assert.equal(foreign.status, 403, `install ${self.label} cannot read install ${other.label}'s Secrets`);
        } finally {
          asController.close();
        }
      }
    } finally {
      await api.request('DELETE', `/api/v1/namespaces/${laterNs}`, { accept: [404] });
    }

    for (const c of [ca, cb]) {
      const result = await c.stop();
      assert.equal(result.code, 0, 'a graceful exit');
    }
  });

  it('bootstrapping an install that has the old, cluster-wide names moves it to per-install names and removes the old ones', async () => {
    // What an earlier bootstrap left: the same RBAC under the global names. Created (not
    // applied), so that the test fails rather than takes over names someone else holds.
    await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: old.namespace } } });
    await api.request('POST', `/api/v1/namespaces/${old.namespace}/serviceaccounts`, {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'doris' } },
    });
    const [controllerRole, customRole] = legacyClusterRoleNames;
    for (const [name, role] of [
      [controllerRole, controllerClusterRole(old.namespace)],
      [customRole, customKindsRole(old.namespace)],
    ] as const) {
      await api.request('POST', `${rbacPath}/clusterroles`, { body: { ...role, metadata: { ...role.metadata, name } } });
      await api.request('POST', `${rbacPath}/clusterrolebindings`, {
        body: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name, labels: { 'app.kubernetes.io/part-of': 'doris' } },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
          subjects: [{ kind: 'ServiceAccount', name: 'doris', namespace: old.namespace }],
        },
      });
    }

    const results = await bootstrap(old);
    assert.deepEqual(
      results
        .filter((r) => r.action === 'deleted')
        .map((r) => r.object)
        .sort(),
      [`ClusterRole ${controllerRole}`, `ClusterRole ${customRole}`, `ClusterRoleBinding ${controllerRole}`, `ClusterRoleBinding ${customRole}`],
    );
    for (const name of legacyClusterRoleNames) {
      for (const resource of ['clusterroles', 'clusterrolebindings']) {
        assert.equal((await api.request('GET', `${rbacPath}/${resource}/${name}`, { accept: [404] })).status, 404, `${resource}/${name} is gone`);
      }
    }
    // The install now holds its permissions under its own names: it syncs as its ServiceAccount.
    old.kubeconfig = await serviceAccountKubeconfig(env, api, old.namespace);
    old.workDir = join(env.TESTENV_DIR, `work-two-old-${run}`);
    const c = await controller(old);
    await waitFor('the upgraded install synced', async () => ready(await status(old)), { timeoutMs: 60_000 });
    assert.equal(await configValue(old, 'settings'), 'old1');
    assert.equal((await c.stop()).code, 0, 'a graceful exit');

    const again = await bootstrap(old);
    assert.deepEqual(
      again.filter((r) => r.action !== 'unchanged'),
      [],
      'a second bootstrap changes and deletes nothing',
    );
  });
});
