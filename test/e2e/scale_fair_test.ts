/**
 * Fair scheduling with bounded concurrency (issue 15), against the real control plane: one
 * `doris run` (the shipped ServiceAccount, `--max-concurrent-syncs 2`) with a Pipeline whose
 * first wave waits for a Deployment that can never become available (its Pod fits no node),
 * and three small Pipelines polling every 10 s. While the slow Pipeline's sync is still in
 * its health wait, the others keep resyncing, and a change pushed to one of them is applied
 * within its interval (with jitter) + 2 s; for a minute of that wait, each of them keeps
 * resyncing on its interval through the one slot the slow sync leaves free.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { startController, type RunningController } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let controller: RunningController | undefined;
let kubeconfig: string;
const run = `${process.pid}`;
const controllerNs = `doris-fair-${run}`;
const slowNs = `e2e-fair-slow-${run}`;
const fastNs = (i: number) => `e2e-fair-fast-${run}-${i}`;
const fast = [1, 2, 3];
const fastIntervalS = 10;
const repos: Record<string, string> = {};

interface Status {
  conditions?: Array<{ type: string; status: string; reason: string }>;
  lastAppliedCommit?: string;
}

async function status(name: string): Promise<Status> {
  const res = await api.request<{ status?: Status }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`);
  return res.body.status ?? {};
}

const condition = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);

async function configValue(namespace: string): Promise<string | undefined> {
  const res = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${namespace}/configmaps/settings`, { accept: [404] });
  return res.status === 404 ? undefined : res.body.data?.value;
}

/** doris_syncs_total of one Pipeline (finished syncs, any result). */
async function syncs(name: string): Promise<number> {
  const text = await (await fetch(`${controller!.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('doris_syncs_total{') && l.includes(`pipeline="${name}"`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  // A Pod that fits no node: the Deployment never becomes available, its wave waits.
  const stuck = deploymentYaml({
    namespace: slowNs,
    name: 'stuck',
    image: 'registry.example/stuck:1',
    pod: '      nodeSelector: {doris.dev/nowhere: "true"}\n',
  });
  ({ url: repos.slow } = await createRepo(env, 'fair-slow', {
    'deploy/1-base/10-ns.yml': namespaceYaml(slowNs),
    'deploy/1-base/170-stuck.yml': stuck,
    'deploy/2-after/120-config.yml': configMapYaml(slowNs, 'settings', { value: 'never before the wait ends' }),
  }));
  for (const i of fast) {
    ({ url: repos[`fast-${i}`] } = await createRepo(env, `fair-fast-${i}`, {
      'deploy/1-base/10-ns.yml': namespaceYaml(fastNs(i)),
      'deploy/1-base/120-config.yml': configMapYaml(fastNs(i), 'settings', { value: 'v1' }),
    }));
  }
  await bootstrapInstall(env, controllerNs, repos.slow!, 'slow');
  kubeconfig = await serviceAccountKubeconfig(env, api, controllerNs);
  await applyPipelineAsAdmin(api, controllerNs, 'slow', {
    git: { url: repos.slow, branch: 'main', path: 'deploy', interval: '1m' },
    wait: { timeout: '3m' },
  });
  for (const i of fast) {
    await applyPipelineAsAdmin(api, controllerNs, `fast-${i}`, {
      git: { url: repos[`fast-${i}`], branch: 'main', path: 'deploy', interval: `${fastIntervalS}s` },
    });
  }
});

after(async () => {
  await controller?.stop('SIGKILL');
  await Promise.all([slowNs, ...fast.map(fastNs)].map((ns) => api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] })));
  await removeInstall(api, controllerNs, kubeconfig);
  api.close();
});

describe('fair scheduling with bounded concurrency', () => {
  it('a Pipeline whose wave waits delays no other: they resync, and a push to one is applied within its interval + 2 s', async () => {
    controller = startController(env, ['--namespace', controllerNs, '--max-concurrent-syncs', '2', '--log-level', 'debug'], {
      kubeconfig,
      port: await freePort(),
    });
    // Every small Pipeline applied, while the slow one is in its wave's health wait.
    await waitFor(
      'the small Pipelines Ready',
      async () => {
        for (const i of fast) if (condition(await status(`fast-${i}`), 'Ready')?.status !== 'True') return false;
        return true;
      },
      { timeoutMs: 120_000 },
    );
    await waitFor('the slow Pipeline waiting in its first wave', async () => condition(await status('slow'), 'Reconciling')?.status === 'True', {
      timeoutMs: 60_000,
    });
    const waitingSince = Date.now();
    const before = await Promise.all(fast.map((i) => syncs(`fast-${i}`)));

    // A change to one small Pipeline, found by its own poll while the slow sync holds a slot.
    await pushFiles(env, repos['fast-2']!, { 'deploy/1-base/120-config.yml': configMapYaml(fastNs(2), 'settings', { value: 'v2' }) }, 'v2');
    const pushed = Date.now();
    await waitFor('the push to fast-2 applied', async () => (await configValue(fastNs(2))) === 'v2', { timeoutMs: 60_000, intervalMs: 100 });
    const latencyS = (Date.now() - pushed) / 1000;
    const bound = fastIntervalS * 1.1 + 2;
    assert.ok(latencyS <= bound, `the push was applied ${latencyS.toFixed(1)} s after it, over the interval (with jitter) + 2 s = ${bound} s`);

    // Each small Pipeline keeps resyncing on its interval, for a minute of the slow wave's wait.
    // Seven intervals of at least 9 s (10 s, jitter ±10%): over a minute.
    const resyncs = 7;
    await waitFor(
      `${resyncs} more resyncs of every small Pipeline`,
      async () => (await Promise.all(fast.map((i) => syncs(`fast-${i}`)))).every((n, k) => n >= before[k]! + resyncs),
      { timeoutMs: (resyncs * fastIntervalS * 1.1 + 10) * 1000, intervalMs: 500 },
    );
    const waitedS = (Date.now() - waitingSince) / 1000;
    assert.ok(waitedS >= 60, `the slow wave had waited ${waitedS.toFixed(0)} s only`);

    // And all that while the slow sync had not ended: no finished sync, still Reconciling, wave 2 not applied.
    assert.equal(await syncs('slow'), 0, 'the slow sync ended early; nothing was shown');
    assert.equal(condition(await status('slow'), 'Reconciling')?.status, 'True');
    assert.equal(await configValue(slowNs), undefined, 'wave 2 of the slow Pipeline must wait for wave 1');
    process.stderr.write(
      `fair scheduling: push to fast-2 applied after ${latencyS.toFixed(2)} s (bound ${bound} s); ${resyncs}+ resyncs of each small Pipeline while the slow wave waited ${waitedS.toFixed(0)} s\n`,
    );
  });
});
