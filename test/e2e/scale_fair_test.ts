/**
 * Fair scheduling with bounded concurrency (issue 15), against the real control plane: one
 * `doris run` (the shipped ServiceAccount) with a single sync slot (`--max-concurrent-syncs 1`),
 * two Pipelines whose first wave waits for a Deployment that can never become available (its
 * Pod fits no node), and three small Pipelines polling every 10 s. A health wait that lasts
 * holds no slot (`Aside` in src/controller/scheduler.ts): while both slow syncs wait, for five
 * minutes, the small Pipelines keep resyncing on their interval through the one slot, and a
 * change pushed to one of them is applied within its interval (with jitter) + 2 s.
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
const slow = [1, 2];
const slowNs = (i: number) => `e2e-fair-slow-${run}-${i}`;
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

/** True when every one of these Pipelines has condition `type` True. */
async function allTrue(names: string[], type: string): Promise<boolean> {
  const statuses = await Promise.all(names.map(status));
  return statuses.every((s) => condition(s, type)?.status === 'True');
}

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
  for (const i of slow) {
    // A Pod that fits no node: the Deployment never becomes available, its wave waits.
    const stuck = deploymentYaml({
      namespace: slowNs(i),
      name: 'stuck',
      image: 'registry.example/stuck:1',
      pod: '      nodeSelector: {doris.dev/nowhere: "true"}\n',
    });
    ({ url: repos[`slow-${i}`] } = await createRepo(env, `fair-slow-${i}`, {
      'deploy/1-base/10-ns.yml': namespaceYaml(slowNs(i)),
      'deploy/1-base/170-stuck.yml': stuck,
      'deploy/2-after/120-config.yml': configMapYaml(slowNs(i), 'settings', { value: 'never before the wait ends' }),
    }));
  }
  for (const i of fast) {
    ({ url: repos[`fast-${i}`] } = await createRepo(env, `fair-fast-${i}`, {
      'deploy/1-base/10-ns.yml': namespaceYaml(fastNs(i)),
      'deploy/1-base/120-config.yml': configMapYaml(fastNs(i), 'settings', { value: 'v1' }),
    }));
  }
  await bootstrapInstall(env, controllerNs, repos['slow-1']!, 'slow-1');
  kubeconfig = await serviceAccountKubeconfig(env, api, controllerNs);
  for (const i of slow) {
    await applyPipelineAsAdmin(api, controllerNs, `slow-${i}`, {
      git: { url: repos[`slow-${i}`], branch: 'main', path: 'deploy', interval: '1m' },
      // Longer than the five minutes the test watches the others through.
      wait: { timeout: '8m' },
    });
  }
  for (const i of fast) {
    await applyPipelineAsAdmin(api, controllerNs, `fast-${i}`, {
      git: { url: repos[`fast-${i}`], branch: 'main', path: 'deploy', interval: `${fastIntervalS}s` },
    });
  }
});

after(async () => {
  await controller?.stop('SIGKILL');
  await Promise.all([...slow.map(slowNs), ...fast.map(fastNs)].map((ns) => api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] })));
  await removeInstall(api, controllerNs, kubeconfig);
  api.close();
});

describe('fair scheduling with bounded concurrency', () => {
  it('Pipelines whose wave waits delay no other, even with one slot: they resync, and a push to one is applied within its interval + 2 s', async () => {
    controller = startController(env, ['--namespace', controllerNs, '--max-concurrent-syncs', '1', '--log-level', 'debug'], {
      kubeconfig,
      port: await freePort(),
    });
    // Every small Pipeline applied, while the slow ones are in their waves' health waits.
    const fastNames = fast.map((i) => `fast-${i}`);
    const slowNames = slow.map((i) => `slow-${i}`);
    await waitFor('the small Pipelines Ready', () => allTrue(fastNames, 'Ready'), { timeoutMs: 120_000 });
    await waitFor('both slow Pipelines waiting in their first wave', () => allTrue(slowNames, 'Reconciling'), { timeoutMs: 60_000 });
    // A monotonic clock: a step of the wall clock must not count as waiting.
    const waitingSince = performance.now();
    const before = await Promise.all(fast.map((i) => syncs(`fast-${i}`)));

    // A change to one small Pipeline, found by its own poll while the slow syncs wait.
    await pushFiles(env, repos['fast-2']!, { 'deploy/1-base/120-config.yml': configMapYaml(fastNs(2), 'settings', { value: 'v2' }) }, 'v2');
    const pushed = Date.now();
    await waitFor('the push to fast-2 applied', async () => (await configValue(fastNs(2))) === 'v2', { timeoutMs: 60_000, intervalMs: 100 });
    const latencyS = (Date.now() - pushed) / 1000;
    const bound = fastIntervalS * 1.1 + 2;
    assert.ok(latencyS <= bound, `the push was applied ${latencyS.toFixed(1)} s after it, over the interval (with jitter) + 2 s = ${bound} s`);

    // Each small Pipeline keeps resyncing on its interval, for five minutes of the slow waves'
    // waits. A resync comes at most 11 s (10 s, jitter +10%) plus the sync's own time after the
    // last: 24 in five minutes leaves each sync 1.5 s.
    const waitS = 300;
    const resyncs = 24;
    let counts: number[] = [];
    await waitFor(
      `${waitS} s of the slow waves' waits, and ${resyncs} more resyncs of every small Pipeline`,
      async () => {
        counts = await Promise.all(fast.map((i) => syncs(`fast-${i}`)));
        if (counts.some((n, k) => n < before[k]! + resyncs)) {
          // Thrown, so that a timeout says how far each got.
          throw new Error(`resyncs so far: ${counts.map((n, k) => n - before[k]!).join(' / ')}`);
        }
        return performance.now() - waitingSince >= waitS * 1000;
      },
      { timeoutMs: (waitS + 60) * 1000, intervalMs: 1000 },
    );
    const waitedS = (performance.now() - waitingSince) / 1000;
    const made = counts.map((n, k) => n - before[k]!);

    // And all that while the slow syncs had not ended: no finished sync, still Reconciling, wave 2 not applied.
    for (const i of slow) {
      assert.equal(await syncs(`slow-${i}`), 0, `the sync of slow-${i} ended early; nothing was shown`);
      assert.equal(condition(await status(`slow-${i}`), 'Reconciling')?.status, 'True');
      assert.equal(await configValue(slowNs(i)), undefined, `wave 2 of slow-${i} must wait for wave 1`);
    }
    process.stderr.write(
      `fair scheduling: push to fast-2 applied after ${latencyS.toFixed(2)} s (bound ${bound} s); ${made.join(' / ')} resyncs of the small Pipelines, through one slot, while the slow waves waited ${waitedS.toFixed(0)} s\n`,
    );
  });
});
