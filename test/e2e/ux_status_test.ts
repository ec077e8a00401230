/**
 * What an operator sees while `doris run` (as the shipped ServiceAccount) applies commits,
 * against the real control plane and the real kubectl:
 * - `kubectl wait --for=condition=Ready` does not return while a new commit is being applied
 *   (Ready is Unknown/Progressing, with observedGeneration), and returns once it is applied;
 * - a drift fix logs the objects it re-applied;
 * - a wave that times out says why at the Pod level (the scheduler's message for a Pod whose
 *   nodeSelector matches no node); the retries of that commit make one history entry with a
 *   count, the last success stays in the history, and their Events are aggregated;
 * - the Pipeline state metrics say the same as status.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { startController, type RunningController } from '../env/doris.js';
import { bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let controller: RunningController | undefined;
let repoUrl: string;
const run = `${process.pid}`;
const controllerNs = `doris-ux-${run}`;
const appNs = `e2e-ux-${run}`;
const name = 'ux';
const commits: Record<string, string> = {};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface Status {
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  conditions?: Condition[];
  history?: Array<{ commit: string; result: string; count?: number; firstTime?: string }>;
}
interface PipelineBody {
  metadata: { generation: number };
  spec: Record<string, unknown>;
  status?: Status;
}

const pipelinePath = `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`;

/** The Pipeline; every read also checks that Stalled and Reconciling are never both True. */
async function pipeline(): Promise<PipelineBody> {
  const { body } = await api.request<PipelineBody>('GET', pipelinePath);
  const conditions = body.status?.conditions ?? [];
  const is = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
  assert.ok(!(is('Stalled') && is('Reconciling')), `Stalled and Reconciling both True: ${JSON.stringify(conditions)}`);
  return body;
}

const condition = (body: PipelineBody, type: string) => body.status?.conditions?.find((c) => c.type === type);

async function setSpec(change: Record<string, unknown>): Promise<void> {
  await api.request('PATCH', pipelinePath, { body: { spec: change }, contentType: 'application/merge-patch+json' });
}

async function metrics(): Promise<string[]> {
  assert.ok(controller);
  return (await (await fetch(`${controller.url}/metrics`)).text()).split('\n');
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url: repoUrl, commit: (commits.c1 as string) } = await createRepo(env, 'ux', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/120-settings.yml': configMapYaml(appNs, 'settings', { value: 'v1' }),
  }));
  await bootstrapInstall(env, controllerNs, repoUrl, name);
  const kubeconfig = await serviceAccountKubeconfig(env, api, controllerNs);
  controller = startController(env, ['--namespace', controllerNs, '--poll-interval', '1s'], { kubeconfig, port: await freePort() });
  const url = controller.url;
  await waitFor('controller ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
});

after(async () => {
  await controller?.stop('SIGKILL');
  await api?.request('DELETE', `/api/v1/namespaces/${appNs}`, { accept: [404] });
  if (api) await removeInstall(api, controllerNs);
  api?.close();
});

describe('Ready, history, Events and metrics while doris run applies commits', () => {
  it('is Ready for the first commit', async () => {
    const body = await waitFor('Ready for c1', async () => {
      const p = await pipeline();
      return condition(p, 'Ready')?.status === 'True' && p.status?.lastAppliedCommit === commits.c1 ? p : undefined;
    });
    assert.equal(condition(body, 'Ready')?.observedGeneration, body.metadata.generation);
  });

  it('kubectl wait --for=condition=Ready does not return before the new commit is applied', async () => {
    // Wave 2 is healthy only once the test gives the LoadBalancer Service an address (no
    // load-balancer controller runs here), so the commit stays "being applied" until then.
    commits.c2 = await pushFiles(
      env,
      repoUrl,
      {
        'deploy/2-gate/10-gate.yml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: gate\n  namespace: ${appNs}\nspec:\n  type: LoadBalancer\n  selector: {app: none}\n  ports: [{port: 80}]\n`,
      },
      'c2',
    );
    const progressing = await waitFor('Ready Unknown for c2', async () => {
      const p = await pipeline();
      const ready = condition(p, 'Ready');
      return ready?.status === 'Unknown' && ready.message.includes((commits.c2 as string).slice(0, 12)) ? p : undefined;
    });
    assert.equal(condition(progressing, 'Ready')?.reason, 'Progressing');
    assert.equal(condition(progressing, 'Ready')?.observedGeneration, progressing.metadata.generation);
    assert.equal(condition(progressing, 'Reconciling')?.status, 'True');

    const wait = spawn(
      env.KUBECTL,
      [
        '--kubeconfig',
        env.KUBECONFIG,
        '-n',
        controllerNs,
        'wait',
        '--for=condition=Ready',
        `pipeline/${name}`,
        '--timeout=120s',
        '-o',
        'jsonpath={.status.lastAppliedCommit}',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    wait.stdout.on('data', (c: Buffer) => (out += c.toString()));
    wait.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => wait.on('close', (code) => resolve(code)));
    try {
      // The wave is written and being waited for; the controller itself reports Ready Unknown.
      await waitFor(
        'the gate Service applied',
        async () => (await api.request('GET', `/api/v1/namespaces/${appNs}/services/gate`, { accept: [404] })).status === 200,
      );
      await waitFor('the Ready=Unknown metric', async () =>
        (await metrics()).includes(`doris_pipeline_condition{name="${name}",namespace="${controllerNs}",type="Ready",status="Unknown"} 1`),
      );
      assert.equal(wait.exitCode, null, `kubectl wait returned while ${commits.c2} was being applied: ${out}`);
      assert.equal((await pipeline()).status?.lastAppliedCommit, commits.c1);

      await api.request('PATCH', `/api/v1/namespaces/${appNs}/services/gate/status`, {
        body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } },
        contentType: 'application/merge-patch+json',
      });
      const code = await Promise.race([exited, waitFor('kubectl wait to return', () => wait.exitCode !== null, { timeoutMs: 60_000 }).then(() => exited)]);
      assert.equal(code, 0, out);
      // kubectl printed the Pipeline as it was when the condition was met.
      assert.equal(out.trim(), commits.c2);
    } finally {
      if (wait.exitCode === null) wait.kill('SIGKILL');
    }
  });

  it('a drift fix names the objects it re-applied', async () => {
    await api.request('PATCH', `/api/v1/namespaces/${appNs}/configmaps/settings`, {
      body: { data: { value: 'edited by hand' } },
      contentType: 'application/merge-patch+json',
    });
    await waitFor('the ConfigMap restored', async () => {
      const { body } = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${appNs}/configmaps/settings`);
      return body.data?.value === 'v1';
    });
    const line = await waitFor('the drift log line', () =>
      (controller?.logs() ?? '')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; objects?: string[]; commit?: string })
        .find((l) => l.msg.startsWith('drift corrected')),
    );
    assert.deepEqual(line.objects, [`configured ${appNs}_settings__ConfigMap`]);
    assert.equal(line.commit, commits.c2);
  });

  it('a wave that times out says why at the Pod level; retries make one history entry; Events are aggregated', async () => {
    await setSpec({ wait: { timeout: '4s' } });
    commits.c3 = await pushFiles(
      env,
      repoUrl,
      {
        'deploy/3-stuck/170-stuck.yml': deploymentYaml({
          namespace: appNs,
          name: 'stuck',
          image: 'registry.example/stuck:1',
          pod: '      nodeSelector: {doris.dev/no-such-node: "true"}\n',
        }),
      },
      'c3',
    );
    const failing = await waitFor(
      'c3 failed three times',
      async () => {
        const p = await pipeline();
        return p.status?.history?.[0]?.commit === commits.c3 && (p.status?.history?.[0]?.count ?? 1) >= 3 ? p : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const ready = condition(failing, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'HealthCheckFailed');
    assert.match(
      ready?.message ?? '',
      new RegExp(
        `timed out waiting for: Deployment ${appNs}/stuck .*Pod stuck-[a-z0-9-]+: is unschedulable: 0/\\d+ nodes are available: .*didn't match Pod's node affinity/selector`,
      ),
    );

    const history = failing.status?.history ?? [];
    assert.equal(history.filter((h) => h.commit === commits.c3).length, 1, 'one entry for the failing commit');
    assert.ok(history[0]?.firstTime, 'with the time of the first failure');
    assert.ok(
      history.some((h) => h.commit === commits.c2 && h.result === 'Succeeded'),
      'the last success is still in the history',
    );

    const { body } = await api.request<{ items: Array<{ reason: string; count: number; message: string }> }>(
      'GET',
      `/api/v1/namespaces/${controllerNs}/events`,
      {
        query: { fieldSelector: `involvedObject.name=${name},reason=HealthCheckFailed` },
      },
    );
    const attempts = history[0]?.count ?? 0;
    assert.ok(body.items.length >= 1);
    assert.ok(body.items.length < attempts, `${body.items.length} Events for ${attempts} failures: aggregated`);
    assert.ok(
      body.items.some((e) => e.count >= 2),
      JSON.stringify(body.items.map((e) => [e.count, e.message.slice(0, 80)])),
    );
  });

  it('the metrics say what status says', async () => {
    const lines = await waitFor('metrics of the failing Pipeline', async () => {
      const m = await metrics();
      return m.includes(`doris_pipeline_condition{name="${name}",namespace="${controllerNs}",type="Ready",status="False"} 1`) ? m : undefined;
    });
    const info = lines.find((l) => l.startsWith('doris_pipeline_info{') && l.includes(`name="${name}"`));
    assert.match(info ?? '', new RegExp(`applied_commit="${commits.c2}",attempted_commit="${commits.c3}",suspended="false",source="git"\\} 1$`));
    assert.ok(lines.some((l) => l.startsWith(`doris_pipeline_last_success_timestamp_seconds{name="${name}",namespace="${controllerNs}"}`)));
    assert.ok(lines.some((l) => l.startsWith(`doris_sync_duration_seconds_count{pipeline="${name}",result="HealthCheckFailed"}`)));
    assert.ok(lines.includes(`doris_pipeline_condition{name="${name}",namespace="${controllerNs}",type="Stalled",status="False"} 1`));
  });
});
