/**
 * The commands people reach for (`flux`/`argocd` habits) against the real control plane and
 * a real `doris run` controller running as the shipped ServiceAccount: reconcile --wait,
 * suspend/resume, diff's exit codes, tree, history, check, not-found exit codes, uninstall.
 * The Pipeline polls git once an hour, so only `doris reconcile` (or a spec change) makes the
 * controller pick up a push within the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { type CliResult, doris, startController, type RunningController } from '../env/doris.js';
import { bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const ns = `h1-cli-${run}`;
const appNs = `h1-cli-app-${run}`;
const pipeline = 'app';
let repoUrl: string;
let saKubeconfig: string;
let controller: RunningController | undefined;

const cm = (value: string) => configMapYaml(appNs, 'settings', { value });
const secretYaml = (password: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: ${appNs}\nstringData:\n  password: ${password}\n`;
const cli = (...args: string[]) => doris(env, ['-n', ns, ...args]);
const json = <T>(result: CliResult): T => {
  assert.equal(result.stdout.trim().startsWith('{') || result.stdout.trim().startsWith('['), true, `not JSON: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as T;
};

async function configValue(): Promise<string | undefined> {
  const res = await api.request<{ data?: { value?: string } }>('GET', `/api/v1/namespaces/${appNs}/configmaps/settings`, { accept: [404] });
  return res.status === 404 ? undefined : res.body.data?.value;
}

interface PipelineObject {
  spec: { suspend?: boolean };
  metadata: { annotations?: Record<string, string> };
  status?: { conditions?: Array<{ type: string; status: string; reason: string }>; lastAppliedCommit?: string; lastHandledReconcileAt?: string };
}

async function readPipeline(): Promise<PipelineObject> {
  return (await api.request<PipelineObject>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/${pipeline}`)).body;
}

const ready = async () => (await readPipeline()).status?.conditions?.find((c) => c.type === 'Ready');

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url: repoUrl } = await createRepo(env, 'h1-cli', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/120-config.yml': cm('v1'),
    'deploy/2-app/60-secret.yml': secretYaml('first-secret-value'),
  }));
  await bootstrapInstall(env, ns, repoUrl, pipeline); // interval 1h: nothing polls during the test
  saKubeconfig = await serviceAccountKubeconfig(env, api, ns);
  controller = startController(env, ['--namespace', ns], { kubeconfig: saKubeconfig, port: await freePort() });
  const url = controller.url;
  await waitFor('controller ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
});

after(async () => {
  await controller?.stop('SIGKILL');
  await removeInstall(api, ns, saKubeconfig, [appNs]);
  api.close();
});

describe('doris CLI against a running controller', () => {
  it('the controller syncs the new Pipeline; doris check passes every check', async () => {
    await waitFor('the first sync', async () => (await ready())?.status === 'True', { timeoutMs: 60_000 });
    assert.equal(await configValue(), 'v1');
    const result = await cli('-o', 'json', 'check');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const checks = json<{ ok: boolean; checks: Array<{ name: string; status: string; message: string }> }>(result).checks;
    const byName = new Map(checks.map((c) => [c.name, c]));
    for (const name of ['kubernetes', 'crd', 'rbac', 'leader', `pipeline ${pipeline}`])
      assert.equal(byName.get(name)?.status, 'ok', `${name}: ${JSON.stringify(checks)}`);
    assert.match(byName.get(`pipeline ${pipeline}`)!.message, /\(applied\)/);
  });

  it('diff exits 0 without changes, 1 with them, shows fields and never a Secret value', async () => {
    const same = await cli('diff', '--pipeline', pipeline);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('v2'), 'deploy/2-app/60-secret.yml': secretYaml('second-secret-value') }, 'v2');
    const text = await cli('diff', '--pipeline', pipeline);
    assert.equal(text.code, 1, text.stdout + text.stderr);
    assert.match(text.stdout, /~ ConfigMap .*\/settings changed/);
    assert.match(text.stdout, /~ data\.value: "v1" -> "v2"/);
    assert.match(text.stdout, /~ data\.password: "\*\*\*" -> "\*\*\*"/);
    const structured = await cli('-o', 'json', 'diff', '--pipeline', pipeline);
    assert.equal(structured.code, 1);
    const diffs = json<{ changed: boolean; diffs: Array<{ kind: string; action: string; changes: Array<{ path: string; from?: unknown; to?: unknown }> }> }>(
      structured,
    );
    assert.equal(diffs.changed, true);
    const configMap = diffs.diffs.find((d) => d.kind === 'ConfigMap');
    assert.deepEqual(
      configMap?.changes.find((c) => c.path === 'data.value'),
      { path: 'data.value', op: 'change', from: 'v1', to: 'v2' },
    );
    for (const output of [text.stdout, text.stderr, structured.stdout]) {
      for (const secret of ['first-secret-value', 'second-secret-value', Buffer.from('first-secret-value').toString('base64')]) {
        assert.ok(!output.includes(secret), 'a Secret value was printed');
      }
    }
    assert.equal(await configValue(), 'v1', 'diff wrote nothing');
  });

  it('reconcile --wait has the controller apply the push now and prints the result; diff is then clean', async () => {
    const before = (await readPipeline()).status?.lastHandledReconcileAt;
    const result = await cli('reconcile', pipeline, '--wait', '--timeout', '60s');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Ready=True Succeeded: applied [0-9a-f]{12}/);
    assert.equal(await configValue(), 'v2', 'the controller applied the push when asked');
    const after = await readPipeline();
    assert.notEqual(after.status?.lastHandledReconcileAt, before);
    assert.equal(after.status?.lastHandledReconcileAt, after.metadata.annotations?.['doris.dev/reconcile-requested-at']);
    const clean = await cli('diff', '--pipeline', pipeline);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  });

  it('reconcile --wait exits 1 when the sync fails, with the reason', async () => {
    await pushFiles(env, repoUrl, { 'deploy/1-base/130-broken.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n' }, 'broken');
    const result = await cli('-o', 'json', 'reconcile', pipeline, '--wait', '--timeout', '60s');
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const answer = json<{ ready: string; reason: string; handled: boolean }>(result);
    assert.equal(answer.ready, 'False');
    assert.equal(answer.handled, true);
    assert.match(answer.reason, /BuildFailed/);
    await pushFiles(env, repoUrl, { 'deploy/1-base/130-broken.yml': null }, 'fixed');
    const fixed = await cli('reconcile', pipeline, '--wait', '--timeout', '60s');
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  });

  it('suspend stops syncs (reconcile is refused), resume syncs at once', async () => {
    const suspended = await cli('suspend', pipeline);
    assert.equal(suspended.code, 0, suspended.stderr);
    assert.equal((await readPipeline()).spec.suspend, true);
    await waitFor('Suspended in status', async () => (await ready())?.reason === 'Suspended', { timeoutMs: 30_000 });
    await pushFiles(env, repoUrl, { 'deploy/1-base/120-config.yml': cm('v3') }, 'v3');
    const refused = await cli('reconcile', pipeline, '--wait', '--timeout', '5s');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /suspended: resume it first/);
    assert.equal(await configValue(), 'v2');
    const resumed = await cli('-o', 'json', 'resume', pipeline);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(json(resumed), { name: pipeline, namespace: ns, suspended: false, changed: true });
    await waitFor('the push applied after resume', async () => (await configValue()) === 'v3', { timeoutMs: 60_000 });
  });

  it('tree shows the applied objects by wave and step with live health; history lists the syncs', async () => {
    await waitFor('Ready again', async () => (await ready())?.status === 'True', { timeoutMs: 30_000 });
    const result = await cli('-o', 'json', 'tree', pipeline);
    assert.equal(result.code, 0, result.stderr);
    const tree = json<{
      waves: Array<{
        wave: number;
        name?: string;
        steps: Array<{ step?: number; objects: Array<{ kind: string; name: string; health: { status: string }; source?: string }> }>;
      }>;
    }>(result);
    const shape = tree.waves.map((w) => ({
      wave: w.name,
      steps: w.steps.map((s) => ({ step: s.step, objects: s.objects.map((o) => `${o.kind}/${o.name}:${o.health.status}`) })),
    }));
    assert.deepEqual(shape, [
      {
        wave: '1-base',
        steps: [
          { step: 10, objects: [`Namespace/${appNs}:Current`] },
          { step: 120, objects: ['ConfigMap/settings:Current'] },
        ],
      },
      { wave: '2-app', steps: [{ step: 60, objects: ['Secret/creds:Current'] }] },
    ]);
    assert.equal(tree.waves[0]?.steps[1]?.objects[0]?.source, 'deploy/1-base/120-config.yml:1:1');
    const text = await cli('tree', pipeline);
    assert.match(text.stdout, /wave 1-base[\s\S]*step 120[\s\S]*ConfigMap .*\/settings {2}Current/);

    const history = await cli('-o', 'yaml', 'history', pipeline);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /result: Succeeded/);
    assert.match(history.stdout, /result: BuildFailed/);
  });

  it('a Pipeline that does not exist is exit code 3 in every command', async () => {
    for (const args of [
      ['status', 'nope'],
      ['history', 'nope'],
      ['tree', 'nope'],
      ['reconcile', 'nope'],
      ['suspend', 'nope'],
      ['resume', 'nope'],
      ['diff', '--pipeline', 'nope'],
      ['plan', '--pipeline', 'nope'],
    ]) {
      const result = await cli(...args);
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /Pipeline .*\/nope not found/);
      assert.equal(result.stdout, '');
    }
  });

  it('check fails once no controller leads', async () => {
    await controller?.stop();
    controller = undefined;
    const result = await cli('-o', 'json', 'check');
    assert.equal(result.code, 1, result.stdout);
    const leader = json<{ checks: Array<{ name: string; status: string; message: string }> }>(result).checks.find((c) => c.name === 'leader');
    assert.equal(leader?.status, 'fail');
    assert.match(leader?.message ?? '', /no controller/);
  });

  it('uninstall asks first (no terminal: exit 2, nothing removed), then removes the install and keeps the applied objects', async () => {
    const refused = await cli('uninstall');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /pass --yes/);
    assert.equal((await api.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/doris`, { accept: [404] })).status, 200);

    // --no-crd: other tests share the cluster's Pipeline CRD.
    const result = await cli('-o', 'json', 'uninstall', '--yes', '--no-crd');
    assert.equal(result.code, 0, result.stderr);
    const removed = json<{ results: Array<{ object: string; action: string }> }>(result).results.map((r) => r.object);
    for (const object of [`Pipeline ${ns}/${pipeline}`, `ClusterRole doris-controller-${ns}`, `ServiceAccount ${ns}/doris`, `Namespace ${ns}`]) {
      assert.ok(removed.includes(object), `${object} not removed: ${removed.join(', ')}`);
    }
    const gone = async (path: string) => {
      const res = await api.request<{ metadata?: { deletionTimestamp?: string } }>('GET', path, { accept: [404] });
      return res.status === 404 || res.body.metadata?.deletionTimestamp !== undefined;
    };
    assert.ok(await gone(`/apis/rbac.authorization.k8s.io/v1/clusterroles/doris-controller-${ns}`));
    assert.ok(await gone(`/api/v1/namespaces/${ns}`));
    assert.equal(await configValue(), 'v3', 'the objects the Pipeline applied stay');
    assert.equal((await api.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pipelines.doris.dev', { accept: [404] })).status, 200);
  });
});
