/**
 * Status always tells the truth, at any size (issue [commit-safety] 8), against the real API
 * server and its etcd size limit: an inventory of 40,000 objects as a plain list cannot be
 * stored at all, the archived form is, and a sync reads it back (its mass-prune guard counts
 * all 40,000); a commit with far more problems than status can hold leaves a bounded message
 * and Ready=False, not the previous Ready=True.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InventoryEntry, PipelineStatus } from '../../src/api/pipeline.js';
import { inventoryFields } from '../../src/inventory/archive.js';
import { connectKube } from '../../src/kube/client.js';
import type { KubeHttp } from '../../src/kube/http.js';
import { ensurePipelineCrd } from '../../src/status/store.js';
import { maxMessageBytes } from '../../src/status/conditions.js';
import { applyPipelineAsAdmin, syncPipeline } from '../env/identity.js';
import { configMapYaml } from '../env/manifests.js';
import { createRepo, kube, loadTestEnv, pushFiles, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
const run = `${process.pid}`;
const controllerNs = 'doris-system';
const pipeline = `size-${run}`;
const appNs = `e2e-size-${run}`;
const problemsPipeline = `size-problems-${run}`;
const pipelinePath = (name: string) => `/apis/doris.dev/v1alpha1/namespaces/${controllerNs}/pipelines/${name}`;
const path = pipelinePath(pipeline);

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
  const client = await connectKube(env.KUBECONFIG);
  await ensurePipelineCrd(client);
  client.close();
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: controllerNs } }, accept: [409] });
});

after(async () => {
  for (const name of [pipeline, problemsPipeline]) await api.request('DELETE', pipelinePath(name), { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${appNs}`, { accept: [404] });
  api.close();
});

function bigInventory(count: number): InventoryEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${appNs}_object-${i.toString(36)}-${(i * 7919).toString(36)}__ConfigMap`,
    v: 'v1',
    wave: 1 + (i % 10),
  }));
}

async function status(name = pipeline): Promise<PipelineStatus> {
  return (await api.request<{ status?: PipelineStatus }>('GET', pipelinePath(name))).body.status ?? {};
}

async function patchStatus(fields: Partial<PipelineStatus>): Promise<number> {
  const res = await api.request('PATCH', `${path}/status`, {
    body: { status: fields },
    contentType: 'application/merge-patch+json',
    accept: [413, 422, 500],
  });
  return res.status;
}

describe('status within the API server object size', () => {
  it('stores and reads back an inventory of 40,000 objects, which as a plain list etcd refuses', async () => {
    const { url } = await createRepo(env, 'size', { 'deploy/1-app/120-cm.yml': configMapYaml(appNs, 'only', { a: '1' }) });
    await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: appNs } } });
    await applyPipelineAsAdmin(api, controllerNs, pipeline, { git: { url, branch: 'main', path: 'deploy' } });
    const entries = bigInventory(40_000);

    const plain = await patchStatus({ inventory: entries, lastAppliedCommit: 'plain' });
    assert.notEqual(plain, 200, 'etcd took a 40,000-entry plain inventory: the premise of this test is wrong');
    assert.notEqual((await status()).lastAppliedCommit, 'plain');

    assert.equal(await patchStatus({ ...inventoryFields(entries), lastAppliedCommit: 'archived' }), 200);
    const stored = await status();
    assert.equal(stored.lastAppliedCommit, 'archived');
    assert.equal(stored.inventoryArchive?.count, 40_000);

    // The sync reads the archived inventory: pruning 39,999 of 40,000 trips the guard.
    const result = await syncPipeline(env, controllerNs, pipeline);
    assert.equal(result.code, 1, result.stderr);
    const ready = (await status()).conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'PruneGuardTriggered');
    assert.match(ready?.message ?? '', /refusing to prune 40000 of 40000 objects/);
  });

  it('keeps Ready truthful when a commit has far more problems than status can hold', async () => {
    const { url } = await createRepo(env, 'size-problems', { 'deploy/1-app/120-cm.yml': configMapYaml(appNs, 'good', { a: '1' }) });
    await applyPipelineAsAdmin(api, controllerNs, problemsPipeline, { git: { url, branch: 'main', path: 'deploy' } });
    const first = await syncPipeline(env, controllerNs, problemsPipeline);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await status(problemsPipeline)).conditions?.find((c) => c.type === 'Ready')?.status, 'True');

    // 900 broken documents in each of 10 files: 9,000 problems, each with its own line.
    const broken = Array.from({ length: 900 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_${i}\n`).join('---\n');
    const files = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`deploy/2-bad/${100 + i}-bad.yml`, broken]));
    await pushFiles(env, url, files, '9,000 problems');
    const result = await syncPipeline(env, controllerNs, problemsPipeline);
    assert.equal(result.code, 1);
    const ready = (await status(problemsPipeline)).conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'BuildFailed');
    assert.ok(Buffer.byteLength(ready?.message ?? '') <= maxMessageBytes + 64, `message of ${Buffer.byteLength(ready?.message ?? '')} bytes`);
    assert.match(ready?.message ?? '', /… and \d+ more$/);
    assert.match(ready?.message ?? '', /deploy\/2-bad\/100-bad\.yml:\d+:\d+/);
  });
});
