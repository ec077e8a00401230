/**
 * `doris bootstrap` and `doris run` against the real control plane: the controller runs
 * with the identity of the shipped ServiceAccount (RBAC enforced), applies pushes by itself,
 * reacts to signed GitHub webhooks and registry notifications, elects one leader among
 * replicas, and stops gracefully on SIGTERM without advancing status.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { KubeApiError, KubeHttp as Http } from '../../src/kube/http.js';
import { githubSignature } from '../../src/server/github.js';
import { installObjects } from '../../src/install/manifests.js';
import { stringify } from 'yaml';
import { doris, startController, type RunningController } from '../env/doris.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';
import { removeInstall, serviceAccountKubeconfig } from '../env/identity.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const controllerNs = `doris-ctl-${run}`;
const appNs = `e2e-ctl-${run}`;
const pipeline = 'fleet';
const webhookSecret = `whsec-${run}-${Math.random().toString(36).slice(2)}`;
let saKubeconfig: string;
let repoUrl: string;
const running: RunningController[] = [];

const cm = (name: string, value: string) => configMapYaml(appNs, name, { value });
const web = (image: string, pod = '') => deploymentYaml({ namespace: appNs, name: 'web', image, pod });

async function configValue(name: string): Promise<string | undefined> {
  const res = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${appNs}/configmaps/${name}`, { accept: [404] });
  return res.status === 404 ? undefined : res.body.data?.value;
}

interface Status {
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  conditions?: Array<{ type: string; status: string; reason: string }>;
  history?: Array<{ commit: string }>;
}

async function status(): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${pipeline}`);
  return res.body.status ?? {};
}

async function controller(args: string[] = [], kubeconfig = saKubeconfig): Promise<RunningController> {
  const c = startController(env, ['--namespace', controllerNs, '--webhook-secret-file', join(env.TESTENV_DIR, `whsec-${run}`), ...args], {
    kubeconfig,
    port: await freePort(),
  });
  running.push(c);
  await waitFor('controller ready', async () => (await fetch(`${c.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
  return c;
}

/** POSTs a GitHub push event for `branch` (with `after` when given), signed with `secret`, or unsigned without one. */
function githubPush(c: RunningController, branch: string, options: { secret?: string; after?: string } = {}): Promise<Response> {
  const body = JSON.stringify({
    ref: `refs/heads/${branch}`,
    ...(options.after !== undefined ? { after: options.after } : {}),
    repository: { clone_url: repoUrl },
  });
  const signature = options.secret === undefined ? undefined : githubSignature(options.secret, Buffer.from(body));
  return fetch(`${c.url}/hooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
    body,
  });
}

async function syncCount(c: RunningController): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('doris_syncs_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  writeFileSync(join(env.TESTENV_DIR, `whsec-${run}`), webhookSecret, { mode: 0o600 });
  ({ url: repoUrl } = await createRepo(env, 'fleet', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/60-secret.yml': `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secret\n  namespace: ${appNs}\nstringData:\n  password: not-a-real-one\n`,
    'deploy/1-base/120-config.yml': cm('settings', 'v1'),
    'deploy/2-app/170-web.yml': web('registry.example/web:1'),
  }));
});

// A failed test must not leave its controller holding the Lease for the next one.
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop('SIGKILL');
});

after(async () => {
  await removeInstall(api, controllerNs, undefined, [appNs]);
  api.close();
});

describe('doris bootstrap and doris run', () => {
  it('bootstrap installs everything, and a second run changes nothing', async () => {
    const args = ['--namespace', controllerNs, '--output', 'json', 'bootstrap', '--repo', repoUrl, '--name', pipeline, '--interval', '1s', '--no-controller'];
    const first = await doris(env, args);
    assert.equal(first.code, 0, first.stderr);
    const second = await doris(env, args);
    assert.equal(second.code, 0, second.stderr);
    const results = (JSON.parse(second.stdout) as { results: Array<{ object: string; action: string }> }).results;
    assert.ok(results.length >= 10);
    assert.deepEqual(
      results.filter((r) => r.action !== 'unchanged'),
      [],
      'the second bootstrap changed something',
    );
    assert.ok(results.some((r) => r.object.startsWith('Secret') && r.object.includes('doris-git')));
    saKubeconfig = await serviceAccountKubeconfig(env, api, controllerNs);
  });

  it('runs as the shipped ServiceAccount, syncs the repo, and applies a later push by itself', async () => {
    const c = await controller(['--poll-interval', '1s']);
    await waitFor('the first sync', async () => (await status()).conditions?.some((x) => x.type === 'Ready' && x.status === 'True'), { timeoutMs: 30_000 });
    assert.equal(await configValue('settings'), 'v1');
    await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('settings', 'v2') }, 'v2');
    await waitFor('the push applied by the controller', async () => (await configValue('settings')) === 'v2', { timeoutMs: 30_000 });
    await c.stop();
  });

  it('cannot read Secrets outside its own namespace: least privilege is real', async () => {
    const asController = await Http.fromKubeconfigFile(saKubeconfig);
    try {
      for (const path of ['/api/v1/namespaces/kube-system/secrets', `/api/v1/namespaces/${appNs}/secrets`, `/api/v1/namespaces/${appNs}/secrets/app-secret`]) {
        await assert.rejects(asController.request('GET', path), (e: unknown) => e instanceof KubeApiError && e.status === 403, path);
      }
      const own = await asController.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${controllerNs}/secrets`);
      assert.ok(own.body.items.length >= 1, 'it reads its own credentials');
    } finally {
      asController.close();
    }
    // ... yet the Secret the repository declares was written.
    const secret = await api.request('GET', `/api/v1/namespaces/${appNs}/secrets/app-secret`, { accept: [404] });
    assert.equal(secret.status, 200);
  });

  it('applies a correctly signed GitHub push in under 2 s, refuses bad signatures, ignores other branches', async () => {
    const c = await controller(['--poll-interval', '10m']);
    await waitFor('idle after the first sync', async () => (await syncCount(c)) >= 1, { timeoutMs: 30_000 });
    await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('settings', 'v3') }, 'v3');
    const bad = await githubPush(c, 'main', { secret: 'wrong-secret' });
    assert.equal(bad.status, 401);
    assert.equal((await githubPush(c, 'main')).status, 401, 'a missing signature is refused');
    const other = await githubPush(c, 'other', { secret: webhookSecret });
    assert.deepEqual(await other.json(), { triggered: [] });
    assert.equal(await configValue('settings'), 'v2', 'nothing was applied by refused or unrelated hooks');

    const sent = Date.now();
    const good = await githubPush(c, 'main', { secret: webhookSecret });
    assert.equal(good.status, 202);
    assert.deepEqual(await good.json(), { triggered: [pipeline] });
    await waitFor('the webhook-triggered sync', async () => (await configValue('settings')) === 'v3', { timeoutMs: 10_000, intervalMs: 20 });
    const latency = Date.now() - sent;
    assert.ok(latency < 2000, `applied ${latency} ms after the webhook`);
    console.log(`webhook to applied: ${latency} ms`);
    await c.stop();
  });

  it('applies the branch head whatever commit a push names: a late push of an older commit, an all-zero or a bogus one change nothing', async () => {
    const c = await controller(['--poll-interval', '10m']);
    await waitFor('idle after the first sync', async () => (await syncCount(c)) >= 1, { timeoutMs: 30_000 });
    const file = 'deploy/1-base/120-config.yml';
    // GitHub does not promise the order of deliveries: the push of v4 arrives after v5 was pushed.
    const v4 = await pushFiles(env, repoUrl, { [file]: cm('settings', 'v4') }, 'v4');
    const v5 = await pushFiles(env, repoUrl, { [file]: cm('settings', 'v5') }, 'v5');
    assert.equal((await githubPush(c, 'main', { secret: webhookSecret, after: v4 })).status, 202);
    await waitFor('the head applied', async () => ((await status()).lastAppliedCommit === v5 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(await configValue('settings'), 'v5');
    const cases: Array<[string, string]> = [
      ['v6', '0'.repeat(40)],
      ['v7', '--upload-pack=false'],
      ['v8', 'f'.repeat(40)],
    ];
    for (const [value, after] of cases) {
      const head = await pushFiles(env, repoUrl, { [file]: cm('settings', value) }, value);
      const before = await syncCount(c);
      assert.equal((await githubPush(c, 'main', { secret: webhookSecret, after })).status, 202, after);
      await waitFor(`${value} applied`, async () => ((await status()).lastAppliedCommit === head ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
      assert.equal(await configValue('settings'), value, after);
      assert.ok((await syncCount(c)) > before);
    }
    const conditions = (await status()).conditions ?? [];
    assert.equal(conditions.find((x) => x.type === 'Ready')?.status, 'True');
    await c.stop();
  });

  it('with two replicas only the leader syncs; when it is killed the other takes over and finishes', async () => {
    // A Lease of 5 s renewed every 1 s: a leader whose renewals are slowed by a busy machine
    // (the first test after the environment starts) keeps it; a killed one loses it in 5 s.
    const lease = ['--lease-duration', '5s', '--lease-renew', '1s', '--poll-interval', '1s'];
    const a = await controller([...lease, '--identity', 'replica-a']);
    await waitFor('replica a leading and syncing', async () => (await syncCount(a)) >= 2, { timeoutMs: 30_000 });
    const b = await controller([...lease, '--identity', 'replica-b']);
    const before = await syncCount(a);
    await waitFor('replica a syncing on', async () => (await syncCount(a)) >= before + 2, { timeoutMs: 30_000 });
    assert.equal(await syncCount(b), 0, 'the standby replica never synced');

    await a.stop('SIGKILL');
    const killed = Date.now();
    await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('settings', 'v4') }, 'v4');
    await waitFor('replica b applies the push', async () => (await configValue('settings')) === 'v4', { timeoutMs: 30_000 });
    assert.ok((await syncCount(b)) >= 1);
    console.log(`takeover and apply ${Date.now() - killed} ms after the leader was killed`);
    await b.stop();
  });

  it('stops on SIGTERM during a sync without advancing status, and the restarted controller converges', async () => {
    const before = await status();
    // Wave 2 waits for a Deployment that cannot be scheduled: the sync is mid-wait.
    await pushFiles(
      env,
      repoUrl,
      {
        'deploy/2-app/170-web.yml': web('registry.example/web:2', '      nodeSelector: {nowhere: "true"}\n'),
        'deploy/3-after/120-after.yml': cm('after', 'x'),
      },
      'stuck',
    );
    const c = await controller(['--poll-interval', '1s']);
    await waitFor('the sync waiting on wave 2', async () => (await status()).conditions?.some((x) => x.type === 'Reconciling' && x.status === 'True'), {
      timeoutMs: 30_000,
    });
    const termAt = Date.now();
    const result = await c.stop('SIGTERM');
    assert.equal(result.code, 0, 'a graceful exit');
    assert.ok(Date.now() - termAt < 5000, 'it stopped promptly');
    const after = await status();
    assert.equal(after.lastAppliedCommit, before.lastAppliedCommit, 'no status advance');
    assert.equal(after.history?.length, before.history?.length, 'no sync recorded half-done');
    assert.equal(await configValue('after'), undefined);

    const fixed = await pushFiles(
      env,
      repoUrl,
      {
        'deploy/2-app/170-web.yml': web('registry.example/web:2'),
      },
      'unstuck',
    );
    const again = await controller(['--poll-interval', '1s']);
    await waitFor('convergence after restart', async () => (await status()).lastAppliedCommit === fixed, { timeoutMs: 30_000 });
    assert.equal(await configValue('after'), 'x');
    await again.stop();
  });

  it('self-update: applies its own manifests from the first wave, rolls its own Deployment, and never prunes it or its namespace', async () => {
    // Wave 1 holds DORIS itself (what bootstrap installed, now owned by the repository).
    const own = installObjects({ namespace: controllerNs, image: 'registry.example/doris:1' }).filter((o) => o.kind !== 'CustomResourceDefinition');
    const wave1 = (image: string) =>
      installObjects({ namespace: controllerNs, image })
        .filter((o) => o.kind !== 'CustomResourceDefinition')
        .map((o) => stringify(o))
        .join('---\n');
    const first = await pushFiles(env, repoUrl, { 'deploy/0-doris/170-doris.yml': wave1('registry.example/doris:1') }, 'doris in wave 0');
    const c = await controller(['--poll-interval', '1s']);
    await waitFor('the sync with DORIS itself', async () => (await status()).lastAppliedCommit === first, { timeoutMs: 60_000 });
    const image = async () =>
      (
        await api.request<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(
          'GET',
          `/apis/apps/v1/namespaces/${controllerNs}/deployments/doris`,
        )
      ).body.spec.template.spec.containers[0]?.image;
    assert.equal(await image(), 'registry.example/doris:1');
    assert.equal(own.length > 5, true);

    const second = await pushFiles(env, repoUrl, { 'deploy/0-doris/170-doris.yml': wave1('registry.example/doris:2') }, 'doris 2');
    await waitFor('DORIS rolled itself', async () => (await status()).lastAppliedCommit === second, { timeoutMs: 60_000 });
    assert.equal(await image(), 'registry.example/doris:2');

    // Its own Deployment and namespace leave the repository: both stay.
    const keep = installObjects({ namespace: controllerNs, image: 'registry.example/doris:2' })
      .filter((o) => !['CustomResourceDefinition', 'Deployment', 'Namespace'].includes(o.kind))
      .map((o) => stringify(o))
      .join('---\n');
    const third = await pushFiles(env, repoUrl, { 'deploy/0-doris/170-doris.yml': keep }, 'doris without its Deployment');
    await waitFor('the sync without them', async () => (await status()).lastAppliedCommit === third, { timeoutMs: 60_000 });
    assert.equal((await api.request('GET', `/apis/apps/v1/namespaces/${controllerNs}/deployments/doris`, { accept: [404] })).status, 200);
    assert.equal((await api.request('GET', `/api/v1/namespaces/${controllerNs}`, { accept: [404] })).status, 200);
    await c.stop();
  });
});
