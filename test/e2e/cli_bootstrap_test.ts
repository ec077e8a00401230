/**
 * `doris bootstrap` checks before it claims success, against the real git server, registry
 * and control plane: a bad token, a missing branch, a Docker config that only names a
 * credential store, and refused registry credentials are each refused before anything is
 * installed; a good install waits for the first sync of a real controller (running as the
 * shipped ServiceAccount) and prints its result. The controller Deployment runs one replica
 * by default, requests at least the measured steady RSS, and may pull with a Secret.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { type CliResult, doris, startController, type RunningController } from '../env/doris.js';
import { removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushTestImage, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const refusedNs = `h1-boot-refused-${run}`;
const ns = `h1-boot-${run}`;
const appNs = `h1-boot-app-${run}`;
const image = `h1boot${run}/solar-web`;
let repoUrl: string;
let saKubeconfig: string | undefined;
let controller: RunningController | undefined;

const file = (name: string, content: string) => {
  const path = join(env.TESTENV_DIR, `h1-boot-${run}-${name}`);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};
const dockerConfig = (password: string) =>
  JSON.stringify({ auths: { [env.REGISTRY]: { auth: Buffer.from(`${env.REGISTRY_USERNAME}:${password}`).toString('base64') } } });

async function exists(path: string): Promise<boolean> {
  return (await api.request('GET', path, { accept: [404] })).status === 200;
}

/** Nothing of an install into `namespace`: no namespace, no cluster RBAC. */
async function nothingInstalled(namespace: string): Promise<void> {
  assert.equal(await exists(`/api/v1/namespaces/${namespace}`), false, 'the namespace was created');
  assert.equal(await exists(`/apis/rbac.authorization.k8s.io/v1/clusterroles/doris-controller-${namespace}`), false, 'cluster RBAC was created');
}

function bootstrap(namespace: string, extra: string[], gitToken = env.GIT_TOKEN): Promise<CliResult> {
  return doris({ ...env, GIT_TOKEN: gitToken }, ['-n', namespace, 'bootstrap', '--repo', repoUrl, '--name', 'edge', '--interval', '1h', ...extra]);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  await pushTestImage(env, image, 'main', `h1-boot-${run}`);
  ({ url: repoUrl } = await createRepo(env, 'h1-boot', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/120-config.yml': configMapYaml(appNs, 'settings', { value: 'v1' }),
    'deploy/2-app/170-web.yml': deploymentYaml({ namespace: appNs, name: 'web', image: `${env.REGISTRY}/${image}:main` }),
  }));
});

after(async () => {
  await controller?.stop('SIGKILL');
  await removeInstall(api, ns, saKubeconfig, [appNs]);
  await removeInstall(api, refusedNs);
  api.close();
});

describe('doris bootstrap checks before it installs', () => {
  it('refuses a token the git server rejects, naming the repository, and installs nothing', async () => {
    const result = await bootstrap(refusedNs, ['--no-controller'], 'not-the-token');
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot read branch main of the repository with the credentials given: .*Authentication failed/);
    assert.ok(!result.stderr.includes('not-the-token'), 'the token was printed');
    await nothingInstalled(refusedNs);
  });

  it('refuses a branch that does not exist', async () => {
    const result = await bootstrap(refusedNs, ['--no-controller', '--branch', 'no-such-branch']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot read branch no-such-branch.*not found/);
    await nothingInstalled(refusedNs);
  });

  it('refuses a Docker config that keeps its passwords in a credential store', async () => {
    const config = file('credsstore.json', JSON.stringify({ auths: { [env.REGISTRY]: {} }, credsStore: 'desktop' }));
    const result = await bootstrap(refusedNs, [
      '--no-controller',
      '--registry-credentials',
      config,
      '--image-rule',
      `${env.REGISTRY}/h1boot${run}/solar-*:main`,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`holds no password for ${env.REGISTRY.replaceAll('.', '\\.')}: it names a credential store \\(credsStore: desktop\\)`),
    );
    await nothingInstalled(refusedNs);
  });

  it('refuses registry credentials the registry rejects, for the images a glob rule tracks', async () => {
    const config = file('wrong.json', dockerConfig('wrong-password'));
    const result = await bootstrap(refusedNs, [
      '--no-controller',
      '--registry-credentials',
      config,
      '--image-rule',
      `${env.REGISTRY}/h1boot${run}/solar-*:main`,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`image ${env.REGISTRY.replaceAll('.', '\\.')}/${image}:main: .*401`));
    assert.ok(!result.stderr.includes('wrong-password'));
    await nothingInstalled(refusedNs);
  });

  it('a good install: one replica, the memory request, the pull Secret; waits for the first sync and prints it', async () => {
    const config = file('good.json', dockerConfig(env.REGISTRY_PASSWORD));
    const pending = bootstrap(ns, [
      '--registry-credentials',
      config,
      '--image-rule',
      `${env.REGISTRY}/h1boot${run}/solar-*:main`,
      '--image-pull-secret',
      'doris-registry',
      '--timeout',
      '2m',
    ]);
    // The Deployment's pods are kwok's (they run nothing): a real controller runs here instead,
    // as the ServiceAccount the bootstrap creates.
    await waitFor('the ServiceAccount', () => exists(`/api/v1/namespaces/${ns}/serviceaccounts/doris`), { timeoutMs: 60_000 });
    saKubeconfig = await serviceAccountKubeconfig(env, api, ns);
    controller = startController(env, ['--namespace', ns], { kubeconfig: saKubeconfig, port: await freePort() });
    const result = await pending;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /checked {3}branch main is readable: [0-9a-f]{12}/);
    assert.match(result.stderr, new RegExp(`checked {3}image ${env.REGISTRY.replaceAll('.', '\\.')}/${image}:main@sha256:[0-9a-f]{64}`));
    assert.match(result.stderr, /first sync: applied [0-9a-f]{12}: /);

    const { body } = await api.request<{
      spec: {
        replicas: number;
        template: { spec: { imagePullSecrets?: Array<{ name: string }>; containers: Array<{ resources: { requests: { memory: string } } }> } };
      };
    }>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/doris`);
    assert.equal(body.spec.replicas, 1);
    assert.deepEqual(body.spec.template.spec.imagePullSecrets, [{ name: 'doris-registry' }]);
    // At least the steady RSS measured with the benchmark (77 MiB).
    const mebibytes = Number(/^(\d+)Mi$/.exec(body.spec.template.spec.containers[0]!.resources.requests.memory)?.[1]);
    assert.ok(mebibytes >= 80, `memory request ${mebibytes} Mi`);
  });

  it('without a controller the wait ends at --timeout with exit 1 and says what to look at', async () => {
    await controller?.stop();
    controller = undefined;
    // A second Pipeline: its first sync never comes.
    const result = await doris(env, ['-n', ns, 'bootstrap', '--repo', repoUrl, '--name', 'second', '--interval', '1h', '--timeout', '2s']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /the first sync did not finish in 2s: is the controller running\?/);
  });
});
