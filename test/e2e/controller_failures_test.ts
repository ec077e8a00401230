/**
 * Every failure around the sync reaches status, as the shipped ServiceAccount sees it: a
 * missing or malformed git Secret ends in Ready=False with reason CredentialsFailed, an Event
 * and the failure counter (not just a log line while READY keeps its old value);
 * `spec.suspend: true` shows Suspended; an invalid spec shows InvalidSpec (Stalled) and fixing
 * it clears both.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Reasons } from '../../src/api/reasons.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { startController, type RunningController } from '../env/doris.js';
import { applyPipelineAsAdmin, bootstrapInstall, removeInstall, serviceAccountKubeconfig } from '../env/identity.js';
import { configMapYaml, namespaceYaml } from '../env/manifests.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { createRepo, kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const ns = `doris-fail-${run}`;
const appNs = `e2e-fail-${run}`;
let saKubeconfig: string;
let repoUrl: string;
let c: RunningController;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

async function conditions(name: string): Promise<Condition[]> {
  const res = await api.request<{ status?: { conditions?: Condition[] } }>('GET', `/apis/doris.dev/v1alpha1/namespaces/${ns}/pipelines/${name}`);
  return res.body.status?.conditions ?? [];
}

const readyIs = async (name: string, status: string, reason: string) => {
  const ready = (await conditions(name)).find((x) => x.type === 'Ready');
  return ready?.status === status && ready.reason === reason ? ready : undefined;
};

async function eventReasons(name: string): Promise<string[]> {
  const res = await api.request<{ items: Array<{ reason: string }> }>('GET', `/api/v1/namespaces/${ns}/events`, {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return res.body.items.map((e) => e.reason);
}

async function failures(reason: string, pipeline: string): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('doris_syncs_total{') && l.includes(`pipeline="${pipeline}"`) && l.includes(`result="${reason}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  ({ url: repoUrl } = await createRepo(env, 'fail', {
    'deploy/1-base/10-ns.yml': namespaceYaml(appNs),
    'deploy/1-base/120-config.yml': configMapYaml(appNs, 'settings', { value: 'v1' }),
  }));
  await bootstrapInstall(env, ns, repoUrl, 'main');
  saKubeconfig = await serviceAccountKubeconfig(env, api, ns);
  c = startController(env, ['--namespace', ns, '--poll-interval', '1s'], { kubeconfig: saKubeconfig, port: await freePort() });
  await waitFor('controller ready', async () => (await fetch(`${c.url}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
  await waitFor('the bootstrapped Pipeline synced', () => readyIs('main', 'True', Reasons.Succeeded), { timeoutMs: 60_000 });
});

afterEach(async () => {
  assert.equal(c.child.exitCode, null, `the controller died:\n${c.logs().slice(-3000)}`);
});

after(async () => {
  await c?.stop('SIGTERM');
  await removeInstall(api, ns, saKubeconfig, [appNs]);
  api.close();
});

describe('failures around the sync reach status', () => {
  it('a missing git Secret: Ready False CredentialsFailed, an Event, the failure counter', async () => {
    await applyPipelineAsAdmin(api, ns, 'nosecret', { git: { url: repoUrl, secretRef: { name: `missing-${run}` } } });
    const ready = await waitFor('CredentialsFailed', () => readyIs('nosecret', 'False', Reasons.CredentialsFailed), { timeoutMs: 30_000 });
    assert.match(ready.message, new RegExp(`Secret ${ns}/missing-${run} not found`));
    await waitFor('its Event', async () => (await eventReasons('nosecret')).includes(Reasons.CredentialsFailed), { timeoutMs: 10_000 });
    await waitFor('retries counted', async () => (await failures(Reasons.CredentialsFailed, 'nosecret')) >= 2, { timeoutMs: 30_000 });
    assert.equal((await eventReasons('nosecret')).filter((r) => r === Reasons.CredentialsFailed).length, 1, 'one Event, not one per retry');
  });

  it('a Secret without a token: CredentialsFailed naming the keys; a READY that was True turns False', async () => {
    await api.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: `notoken-${run}` }, stringData: { username: env.GIT_USERNAME } },
    });
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: `notoken-${run}` } } });
    const ready = await waitFor('CredentialsFailed', () => readyIs('main', 'False', Reasons.CredentialsFailed), { timeoutMs: 30_000 });
    assert.match(ready.message, /no "token" or "password" key/);
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: 'doris-git' } } });
    await waitFor('Ready again with the right Secret', () => readyIs('main', 'True', Reasons.Succeeded), { timeoutMs: 30_000 });
  });

  it('spec.suspend: true shows Suspended; resuming syncs again', async () => {
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: 'doris-git' } }, suspend: true });
    const ready = await waitFor('Suspended', () => readyIs('main', 'False', Reasons.Suspended), { timeoutMs: 30_000 });
    assert.match(ready.message, /spec\.suspend is true/);
    await waitFor('its Event', async () => (await eventReasons('main')).includes(Reasons.Suspended), { timeoutMs: 10_000 });
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: 'doris-git' } }, suspend: false });
    await waitFor('Ready after resume', () => readyIs('main', 'True', Reasons.Succeeded), { timeoutMs: 30_000 });
  });

  it('an invalid spec shows InvalidSpec and Stalled; fixing it clears both', async () => {
    // '0s' passes the CRD's pattern (the API server refuses a malformed duration such as '10'); only the controller refuses it.
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: 'doris-git' }, interval: '0s' } });
    const ready = await waitFor('InvalidSpec', () => readyIs('main', 'False', Reasons.InvalidSpec), { timeoutMs: 30_000 });
    assert.match(ready.message, /spec\.git\.interval/);
    assert.ok((await conditions('main')).some((x) => x.type === 'Stalled' && x.status === 'True' && x.reason === Reasons.InvalidSpec));
    await applyPipelineAsAdmin(api, ns, 'main', { git: { url: repoUrl, secretRef: { name: 'doris-git' }, interval: '1s' } });
    await waitFor('Ready after the fix', () => readyIs('main', 'True', Reasons.Succeeded), { timeoutMs: 30_000 });
    assert.deepEqual(
      (await conditions('main')).filter((x) => x.reason === Reasons.InvalidSpec),
      [],
      'InvalidSpec is gone from every condition',
    );
  });

  it('every Event reason is from the closed set', async () => {
    const closed = new Set<string>(Object.values(Reasons));
    const reasons = [...(await eventReasons('main')), ...(await eventReasons('nosecret'))];
    assert.ok(reasons.length > 0);
    for (const reason of reasons) assert.ok(closed.has(reason) || ['Pruned', 'ImageUpdated'].includes(reason), reason);
  });
});
