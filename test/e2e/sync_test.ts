/**
 * `doris sync --once` against the real control plane, git server and audit log: waves in
 * order and health-gated, updates in place, untouched objects not written, prune and its
 * guard, Job recreation, failing waves, broken YAML, replay modes, drift.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { auditMark, readAuditSince, writesBy, type AuditEvent } from '../env/audit.js';
import { syncInline, doris } from '../env/doris.js';
import { configMapYaml, deploymentYaml, namespaceYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const namespacesToDelete: string[] = [];
const clusterObjectsToDelete: string[] = [];

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
});

after(async () => {
  for (const ns of namespacesToDelete) await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  for (const path of clusterObjectsToDelete) await api.request('DELETE', path, { accept: [404] });
  api.close();
});

interface Obj {
  metadata: { uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string>; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

async function get(path: string): Promise<Obj | undefined> {
  const res = await api.request<Obj>('GET', path, { accept: [404] });
  return res.status === 404 ? undefined : res.body;
}

interface PipelineStatusView {
  lastAppliedCommit?: string;
  lastAttemptedCommit?: string;
  inventory?: Array<{ id: string }>;
  pendingInventory?: Array<{ id: string }>;
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  history?: Array<{ commit: string; result: string }>;
}

async function pipelineStatus(name: string): Promise<PipelineStatusView> {
  const res = await api.request<{ status?: PipelineStatusView }>('GET', `/apis/doris.dev/v1alpha1/namespaces/doris-system/pipelines/${name}`);
  return res.body.status ?? {};
}

function ready(status: PipelineStatusView) {
  return status.conditions?.find((c) => c.type === 'Ready');
}

const namespace = namespaceYaml;
const configMap = configMapYaml;
const deployment = (ns: string, name: string, spec = '', pod = '') =>
  deploymentYaml({ namespace: ns, name, image: `registry.example/${name}:1`, replicas: 2, spec, pod });
const job = (ns: string, name: string, arg: string) => `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: registry.example/migrate:1
        args: ["${arg}"]
`;

function stageOf(events: AuditEvent[], resource: string, name: string): AuditEvent {
  const found = events.find((e) => e.objectRef?.resource === resource && e.objectRef.name === name && !e.objectRef.subresource);
  assert.ok(found, `no write of ${resource}/${name} in the audit log`);
  return found;
}

describe('a repository of three waves', () => {
  const ns = `e2e-waves-${run}`;
  const crdGroup = `e2e${run}.doris.dev`;
  const crb = `e2e-waves-${run}`;
  const name = `waves-${run}`;
  let url: string;
  const files = (configValue: string, jobArg: string) => ({
    'deploy/1-base/10-namespace.yml': namespace(ns),
    'deploy/1-base/5-notes.yml': '# nothing here yet\n# only comments\n',
    'deploy/1-base/50-crd.yml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${crdGroup}
spec:
  group: ${crdGroup}
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
    'deploy/1-base/120-config.yml': `${configMap(ns, 'settings', { mode: configValue })}---
# a second document in the same file: a cluster-scoped object with a stray namespace
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${crb}
  namespace: somewhere
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: default, namespace: ${ns}}]
`,
    'deploy/2-app/100-widget.yml': `apiVersion: ${crdGroup}/v1\nkind: Widget\nmetadata:\n  name: gizmo\n  namespace: ${ns}\nspec:\n  size: 3\n`,
    'deploy/2-app/170-deployment.yml': deployment(ns, 'web'),
    'deploy/2-app/200-service.yml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: ${ns}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n`,
    'deploy/3-jobs/10-job.yml': job(ns, 'migrate', jobArg),
  });

  before(async () => {
    namespacesToDelete.push(ns);
    clusterObjectsToDelete.push(
      `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`,
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${crdGroup}`,
    );
    ({ url } = await createRepo(env, 'waves', files('a', 'one')));
  });

  it('applies waves and steps in order, each wave only after the previous one is healthy', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    const events = readAuditSince(env.AUDIT_LOG, mark);
    const writes = writesBy(events, 'admin').filter((e) => e.objectRef?.resource !== 'pipelines');
    const order = [
      [stageOf(writes, 'namespaces', ns), stageOf(writes, 'customresourcedefinitions', `widgets.${crdGroup}`)],
      [stageOf(writes, 'configmaps', 'settings'), stageOf(writes, 'clusterrolebindings', crb)],
      [stageOf(writes, 'widgets', 'gizmo')],
      [stageOf(writes, 'deployments', 'web')],
      [stageOf(writes, 'services', 'web')],
      [stageOf(writes, 'jobs', 'migrate')],
    ];
    for (let i = 1; i < order.length; i++) {
      const previousDone = Math.max(...order[i - 1]!.map((e) => Date.parse(e.stageTimestamp)));
      for (const e of order[i]!) {
        assert.ok(
          Date.parse(e.requestReceivedTimestamp) >= previousDone,
          `${e.objectRef?.resource}/${e.objectRef?.name} was written before stage ${i - 1} finished`,
        );
      }
    }
    // Wave 3 starts only after the Deployment of wave 2 was rolled out (as the server saw it).
    const available = events.find(
      (e) =>
        e.objectRef?.resource === 'deployments' &&
        e.objectRef.name === 'web' &&
        e.objectRef.subresource === 'status' &&
        e.responseObject?.status?.availableReplicas === 2,
    );
    assert.ok(available, 'the Deployment never became available');
    assert.ok(Date.parse(stageOf(writes, 'jobs', 'migrate').requestReceivedTimestamp) >= Date.parse(available.stageTimestamp));

    const crbLive = await get(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`);
    assert.ok(crbLive, 'the ClusterRoleBinding with a stray namespace exists, cluster-scoped');
    assert.equal(crbLive.metadata.namespace, undefined);
    const widget = await get(`/apis/${crdGroup}/v1/namespaces/${ns}/widgets/gizmo`);
    assert.equal(widget?.spec?.size, 3);
    const status = await pipelineStatus(name);
    assert.equal(ready(status)?.status, 'True');
    assert.equal(status.inventory?.length, 8);
  });

  it('updates a modified object in place and writes nothing else', async () => {
    const before = {
      settings: await get(`/api/v1/namespaces/${ns}/configmaps/settings`),
      service: await get(`/api/v1/namespaces/${ns}/services/web`),
      ns: await get(`/api/v1/namespaces/${ns}`),
      widget: await get(`/apis/${crdGroup}/v1/namespaces/${ns}/widgets/gizmo`),
    };
    await pushFiles(env, url, { 'deploy/1-base/120-config.yml': files('b', 'one')['deploy/1-base/120-config.yml'] }, 'change the config');
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    const settings = await get(`/api/v1/namespaces/${ns}/configmaps/settings`);
    assert.equal(settings?.data?.mode, 'b');
    assert.equal(settings?.metadata.uid, before.settings?.metadata.uid, 'same object, not recreated');
    assert.equal((await get(`/api/v1/namespaces/${ns}/services/web`))?.metadata.resourceVersion, before.service?.metadata.resourceVersion);
    assert.equal((await get(`/api/v1/namespaces/${ns}`))?.metadata.resourceVersion, before.ns?.metadata.resourceVersion);
    assert.equal((await get(`/apis/${crdGroup}/v1/namespaces/${ns}/widgets/gizmo`))?.metadata.resourceVersion, before.widget?.metadata.resourceVersion);
    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').filter((e) => e.objectRef?.resource !== 'pipelines');
    assert.deepEqual(
      writes.map((e) => `${e.objectRef?.resource}/${e.objectRef?.name}`),
      ['configmaps/settings'],
    );
  });

  it('recreates a Job whose spec changed', async () => {
    const old = await get(`/apis/batch/v1/namespaces/${ns}/jobs/migrate`);
    await pushFiles(env, url, { 'deploy/3-jobs/10-job.yml': job(ns, 'migrate', 'two') }, 'change the job');
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    const fresh = await get(`/apis/batch/v1/namespaces/${ns}/jobs/migrate`);
    assert.ok(fresh && old);
    assert.notEqual(fresh.metadata.uid, old.metadata.uid);
    const template = fresh.spec?.template as { spec: { containers: Array<{ args: string[] }> } } | undefined;
    const containers = template?.spec.containers ?? [];
    assert.deepEqual(containers[0]?.args, ['two']);
  });

  it('reverts a hand edit of a managed Deployment on the next sync, at an unchanged commit', async () => {
    await api.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web`, {
      body: { spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json',
    });
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    const web = await get(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    assert.equal(web?.spec?.replicas, 2);
    const writes = writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin');
    assert.deepEqual(
      writes.map((e) => `${e.objectRef?.resource}/${e.objectRef?.name}`).filter((w) => !w.startsWith('pipelines/')),
      ['deployments/web'],
    );
  });

  it('writes nothing at all when nothing changed', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').map((e) => e.requestURI),
      [],
    );
  });

  it('reports the Pipeline with doris status, as text and as JSON', async () => {
    const applied = (await pipelineStatus(name)).lastAppliedCommit!;
    const text = await doris(env, ['status', name]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`applied commit:\\s+${applied}`));
    assert.match(text.stdout, /Ready=True Succeeded/);
    assert.match(text.stdout, /inventory:\s+8 objects/);
    const json = await doris(env, ['--output', 'json', 'status']);
    const list = JSON.parse(json.stdout) as Array<{ name: string; status: { lastAppliedCommit: string } }>;
    assert.equal(list.find((p) => p.name === name)?.status.lastAppliedCommit, applied);
  });

  it('plans a change with dry-runs and writes nothing', async () => {
    await pushFiles(
      env,
      url,
      { 'deploy/1-base/120-config.yml': files('c', 'two')['deploy/1-base/120-config.yml'], 'deploy/2-app/200-service.yml': null },
      'plan me',
    );
    const mark = auditMark(env.AUDIT_LOG);
    const result = await doris(env, ['plan', '--pipeline', name]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^update\s+ConfigMap .*\/settings/m);
    assert.match(result.stdout, /^prune\s+Service .*\/web/m);
    assert.match(result.stdout, /^unchanged\s+Deployment .*\/web/m);
    assert.deepEqual(
      writesBy(readAuditSince(env.AUDIT_LOG, mark), 'admin').map((e) => e.requestURI),
      [],
    );
  });
});

describe('pruning', () => {
  const ns = `e2e-prune-${run}`;
  const name = `prune-${run}`;
  let url: string;
  const cm = (i: number) => `deploy/1-config/120-cm${i}.yml`;

  before(async () => {
    namespacesToDelete.push(ns);
    const files: Record<string, string> = { 'deploy/1-config/10-ns.yml': namespace(ns) };
    for (let i = 0; i < 10; i++) files[cm(i)] = configMap(ns, `cm${i}`, { i: String(i) }, i === 9 ? { 'doris.dev/prune': 'disabled' } : undefined);
    ({ url } = await createRepo(env, 'prune', files));
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
  });

  it('prunes the objects of a removed file', async () => {
    await pushFiles(env, url, { [cm(0)]: null }, 'remove cm0');
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/cm0`), undefined);
    assert.ok(await get(`/api/v1/namespaces/${ns}/configmaps/cm1`));
    const status = await pipelineStatus(name);
    assert.ok(!status.inventory?.some((e) => e.id.includes('_cm0_')));
    const events = await api.request<{ items: Array<{ reason: string; message: string }> }>('GET', '/api/v1/namespaces/doris-system/events', {
      query: { fieldSelector: `involvedObject.name=${name}` },
    });
    assert.ok(
      events.body.items.some((e) => e.reason === 'Pruned' && e.message.includes(`${ns}_cm0__ConfigMap`)),
      'an Event records the prune',
    );
  });

  it('refuses to remove most of the repository and says why in status', async () => {
    const before = await pipelineStatus(name);
    const removal: Record<string, null> = {};
    for (let i = 1; i < 9; i++) removal[cm(i)] = null;
    const commit = await pushFiles(env, url, removal, 'remove most');
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refusing to prune 8 of 10 objects/);
    for (let i = 1; i < 9; i++) assert.ok(await get(`/api/v1/namespaces/${ns}/configmaps/cm${i}`), `cm${i} survives`);
    const status = await pipelineStatus(name);
    assert.equal(ready(status)?.reason, 'PruneGuardTriggered');
    assert.equal(status.lastAttemptedCommit, commit);
    assert.equal(status.lastAppliedCommit, before.lastAppliedCommit);
  });

  it('allows the mass prune when the Pipeline says so, and keeps objects annotated prune: disabled', async () => {
    await pushFiles(env, url, { [cm(9)]: null }, 'remove the protected one too');
    const result = await syncInline(env, name, url, ['--allow-mass-prune']);
    assert.equal(result.code, 0, result.stderr);
    for (let i = 1; i < 9; i++) assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/cm${i}`), undefined);
    assert.ok(await get(`/api/v1/namespaces/${ns}/configmaps/cm9`), 'prune: disabled survives');
    const status = await pipelineStatus(name);
    assert.deepEqual(
      status.inventory?.map((e) => e.id),
      [`_${ns}__Namespace`],
    );
  });
});

describe('failures', () => {
  it('fails a wave whose Deployment cannot become ready, within the timeout, and applies no later wave', async () => {
    const ns = `e2e-stuck-${run}`;
    namespacesToDelete.push(ns);
    const { url } = await createRepo(env, 'stuck', {
      'deploy/1-app/10-ns.yml': namespace(ns),
      'deploy/1-app/170-stuck.yml': deployment(ns, 'stuck', '  progressDeadlineSeconds: 3\n', '      nodeSelector: {no-such-label: "true"}\n'),
      'deploy/2-later/120-cm.yml': configMap(ns, 'later', { a: '1' }),
    });
    const started = Date.now();
    const result = await syncInline(env, `stuck-${run}`, url, ['--wait-timeout', '60s']);
    assert.equal(result.code, 1);
    assert.ok(Date.now() - started < 60_000, 'failed by the progress deadline, before the wait timeout');
    assert.match(result.stderr, /Deployment e2e-stuck-\d+\/stuck/);
    assert.match(result.stderr, /ProgressDeadlineExceeded|progress deadline/i);
    assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/later`), undefined, 'wave 2 was not applied');
    const status = await pipelineStatus(`stuck-${run}`);
    assert.equal(ready(status)?.reason, 'HealthCheckFailed');
    assert.equal(status.lastAppliedCommit, undefined);
  });

  it('applies nothing of a commit with one malformed YAML file and reports file:line:col', async () => {
    const ns = `e2e-broken-${run}`;
    namespacesToDelete.push(ns);
    const name = `broken-${run}`;
    const { url, commit } = await createRepo(env, 'broken', { 'deploy/1-app/10-ns.yml': namespace(ns) });
    assert.equal((await syncInline(env, name, url)).code, 0);
    await pushFiles(env, url, {
      'deploy/1-app/120-good.yml': configMap(ns, 'good', { a: '1' }),
      'deploy/2-more/120-bad.yml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  labels: [unclosed\n',
    });
    const result = await syncInline(env, name, url);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /deploy\/2-more\/120-bad\.yml:\d+:\d+: /);
    assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/good`), undefined, 'nothing of the commit was applied');
    const status = await pipelineStatus(name);
    assert.equal(status.lastAppliedCommit, commit);
    assert.equal(ready(status)?.reason, 'BuildFailed');
  });
});

describe('replay', () => {
  async function threeCommits(prefix: string, replay: string) {
    const ns = `e2e-${prefix}-${run}`;
    namespacesToDelete.push(ns);
    const name = `${prefix}-${run}`;
    const { url } = await createRepo(env, prefix, { 'deploy/1-app/10-ns.yml': namespace(ns), 'deploy/1-app/120-cm.yml': configMap(ns, 'v', { v: '0' }) });
    assert.equal((await syncInline(env, name, url, ['--replay', replay])).code, 0);
    const commits: string[] = [];
    for (const v of ['1', '2', '3']) commits.push(await pushFiles(env, url, { 'deploy/1-app/120-cm.yml': configMap(ns, 'v', { v }) }, `v${v}`));
    const result = await syncInline(env, name, url, ['--replay', replay]);
    assert.equal(result.code, 0, result.stderr);
    const history = (await pipelineStatus(name)).history ?? [];
    assert.equal((await get(`/api/v1/namespaces/${ns}/configmaps/v`))?.data?.v, '3');
    return { commits, history };
  }

  it('each-commit applies three pushed commits in order', async () => {
    const { commits, history } = await threeCommits('each', 'each-commit');
    assert.deepEqual(
      history
        .slice(0, 3)
        .map((h) => h.commit)
        .reverse(),
      commits,
    );
  });

  it('latest applies only the newest', async () => {
    const { commits, history } = await threeCommits('latest', 'latest');
    assert.equal(history[0]?.commit, commits[2]);
    assert.ok(!history.some((h) => h.commit === commits[0] || h.commit === commits[1]));
  });
});
