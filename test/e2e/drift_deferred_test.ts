/**
 * A push is applied before the drift checks only a hand edit could fail (issue 15,
 * docs/adr/0004-no-op-detection.md, item 6): `doris run`, as the shipped ServiceAccount,
 * syncs a new commit without first dry-running the Secrets it may write but not read and git
 * did not change, then syncs again at once and reverts a hand edit of such a Secret. Judged by
 * the API server's audit log: the pushed ConfigMap is written before any request for the
 * Secret, and the Secret is written after it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeHttp } from '../../src/kube/http.js';
import { type AuditEvent, auditMark, readAuditSince } from '../env/audit.js';
import { type RunningController, startController } from '../env/doris.js';
import { bootstrapInstall, removeInstall, serviceAccountKubeconfig, serviceAccountUser } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { reconcileHandled, requestReconcile } from '../env/reconcile.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let controller: RunningController | undefined;
const run = `${process.pid}-${Date.now().toString(36).slice(-5)}`;
const ctl = `doris-dd-${run}`;
const appNs = `e2e-dd-${run}`;
const dorisUser = serviceAccountUser(ctl);
let url: string;
let kubeconfig: string;

const secretYaml = (password: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secret\n  namespace: ${appNs}\nstringData:\n  password: ${password}\n`;

async function secretPassword(): Promise<string | undefined> {
  const res = await api.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${appNs}/secrets/app-secret`, { accept: [404] });
  const value = res.status === 200 ? res.body.data?.password : undefined;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

async function configMode(): Promise<string | undefined> {
  const res = await api.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${appNs}/configmaps/settings`, { accept: [404] });
  return res.status === 200 ? res.body.data?.mode : undefined;
}

async function pipelineStatus(): Promise<{ lastAppliedCommit?: string; conditions?: Array<{ type: string; status: string }> }> {
  const res = await api.request<{ status?: { lastAppliedCommit?: string } }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ctl}/pipelines/app`);
  return res.body.status ?? {};
}

const isDryRun = (e: AuditEvent) => /[?&]dryRun=/.test(e.requestURI);
const at = (e: AuditEvent) => Date.parse(e.requestReceivedTimestamp);

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url } = await createRepo(env, 'drift-deferred', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/20-secret.yml': secretYaml('from-git'),
    'deploy/2-app/10-config.yml': configMapYaml(appNs, 'settings', { mode: 'a' }),
  }));
  await bootstrapInstall(env, ctl, url, 'app');
  kubeconfig = await serviceAccountKubeconfig(env, api, ctl);
  controller = startController(env, ['--namespace', ctl], { kubeconfig, port: await freePort() });
  const first = await waitFor('the first sync', async () => (await configMode()) === 'a' && (await secretPassword()) === 'from-git', { timeoutMs: 120_000 });
  assert.ok(first);
});

after(async () => {
  await controller?.stop();
  await removeInstall(api, ctl, kubeconfig, [appNs]);
  api.close();
});

describe('a push under the shipped ServiceAccount, with an unreadable Secret edited by hand', () => {
  it('applies the pushed ConfigMap first, then checks the Secret and reverts the hand edit', async () => {
    await waitFor('the first sync recorded', async () => (await pipelineStatus()).lastAppliedCommit !== undefined, { timeoutMs: 60_000 });
    await api.request('PATCH', `/api/v1/namespaces/${appNs}/secrets/app-secret`, {
      body: { data: { password: Buffer.from('tampered').toString('base64') } },
      contentType: 'application/merge-patch+json',
    });
    const commit = await pushFiles(env, url, { 'deploy/2-app/10-config.yml': configMapYaml(appNs, 'settings', { mode: 'b' }) }, 'mode b');
    const mark = auditMark(env.AUDIT_LOG);
    await requestReconcile(api, ctl, 'app');
    await waitFor('the push applied', async () => (await pipelineStatus()).lastAppliedCommit === commit, { timeoutMs: 60_000 });
    assert.equal(await configMode(), 'b');
    await waitFor('the hand edit reverted', async () => (await secretPassword()) === 'from-git', { timeoutMs: 60_000 });

    const events = readAuditSince(env.AUDIT_LOG, mark).filter((e) => e.user.username === dorisUser);
    const configWrite = events.find((e) => e.objectRef?.resource === 'configmaps' && e.objectRef.name === 'settings' && e.verb === 'patch' && !isDryRun(e));
    const secretRequests = events.filter((e) => e.objectRef?.resource === 'secrets' && e.objectRef.name === 'app-secret');
    const secretWrite = secretRequests.find((e) => !isDryRun(e) && (e.responseStatus?.code ?? 0) < 300);
    assert.ok(configWrite, 'the ConfigMap was not written');
    assert.ok(secretWrite, 'the Secret was not written back');
    // The new commit's sync sent nothing for the Secret before the ConfigMap was written.
    const before = secretRequests.filter((e) => at(e) < at(configWrite));
    assert.deepEqual(
      before.map((e) => e.requestURI),
      [],
      'the Secret was checked before the push was applied',
    );
    assert.ok(at(secretWrite) > at(configWrite));
  });

  it('and the sync after that writes nothing', async () => {
    const mark = auditMark(env.AUDIT_LOG);
    const before = (await pipelineStatus()).lastAppliedCommit;
    await requestReconcile(api, ctl, 'app');
    await reconcileHandled(api, ctl, 'app');
    const writes = readAuditSince(env.AUDIT_LOG, mark).filter(
      (e) => e.user.username === dorisUser && ['create', 'update', 'patch', 'delete'].includes(e.verb) && !isDryRun(e) && e.objectRef?.resource !== 'pipelines',
    );
    assert.deepEqual(
      writes.map((e) => `${e.verb} ${e.requestURI}`),
      [],
    );
    assert.equal((await pipelineStatus()).lastAppliedCommit, before);
  });
});
