/**
 * `doris hub install` against the real API server: `--dry-run -o yaml` prints the objects and
 * applies nothing; applying creates every one of them (again: all configured, nothing
 * created); and a kubeconfig from the installed ServiceAccount's token is enough to run
 * `doris hub` (its CRDs, the leader Lease, its heartbeat Lease, the Device and Fleet watches).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { hubAccountName, hubCrdRoleName } from '../../src/hub/install.js';
import type { KubeHttp } from '../../src/kube/http.js';
import type { KubeObject } from '../../src/kube/object.js';
import { doris, startServer } from '../env/doris.js';
import { serviceAccountKubeconfig } from '../env/identity.js';
import { freePort } from '../env/ports.js';
import { waitFor } from '../env/proc.js';
import { kube, loadTestEnv, type TestEnv } from '../env/testenv.js';

let env: TestEnv;
let api: KubeHttp;
let kubeconfig = '';
const ns = `hub-h8-inst-${process.pid}-${Date.now().toString(36).slice(-5)}`;
const image = 'registry.example/doris:e2e';

/** The API path of an object as printed by the install. */
function pathOf(o: KubeObject): string {
  const plural: Record<string, string> = {
    Namespace: 'namespaces',
    ServiceAccount: 'serviceaccounts',
    Role: 'roles',
    RoleBinding: 'rolebindings',
    ClusterRole: 'clusterroles',
    ClusterRoleBinding: 'clusterrolebindings',
    Deployment: 'deployments',
    Service: 'services',
  };
  const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
  const scope = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${scope}/${plural[o.kind]}/${o.metadata.name}`;
}

before(async () => {
  env = loadTestEnv();
  api = await kube(env);
});

after(async () => {
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${hubCrdRoleName(ns)}`, { accept: [404] });
  await api.request('DELETE', `/api/v1/namespaces/${ns}`, { accept: [404] });
  api.close();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
});

describe('doris hub install', () => {
  let printed: KubeObject[] = [];

  it('--dry-run -o yaml prints the objects and applies nothing', async () => {
    const result = await doris(env, ['--namespace', ns, '--output', 'yaml', 'hub', 'install', '--image', image, '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    printed = parseAllDocuments(result.stdout).map((d) => d.toJS() as KubeObject);
    assert.deepEqual(
      printed.map((o) => o.kind),
      ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service'],
    );
    assert.equal((await api.request('GET', `/api/v1/namespaces/${ns}`, { accept: [404] })).status, 404, 'nothing applied');
  });

  it('applies every printed object; applying again creates nothing', async () => {
    const result = await doris(env, ['--namespace', ns, 'hub', 'install', '--image', image]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /plain HTTP/);
    for (const o of printed) {
      const { status } = await api.request('GET', pathOf(o), { accept: [404] });
      assert.equal(status, 200, `${o.kind}/${o.metadata.name} exists`);
    }
    assert.deepEqual(
      result.stdout.trim().split('\n'),
      printed.map((o) => `${o.kind}/${o.metadata.name} created`),
    );
    const deployment = (
      await api.request<{ spec: { replicas: number; template: { spec: { containers: Array<{ image: string; args: string[] }> } } } }>(
        'GET',
        `/apis/apps/v1/namespaces/${ns}/deployments/${hubAccountName}`,
      )
    ).body;
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.spec.containers[0]!.image, image);
    assert.deepEqual(deployment.spec.template.spec.containers[0]!.args.slice(0, 3), ['hub', '--namespace', ns]);
    const again = await doris(env, ['--namespace', ns, '--output', 'json', 'hub', 'install', '--image', image]);
    assert.equal(again.code, 0, again.stderr);
    const objects = (JSON.parse(again.stdout) as { objects: Array<{ created: boolean }> }).objects;
    assert.equal(objects.length, printed.length);
    assert.ok(objects.every((o) => !o.created));
  });

  it("a kubeconfig from the installed ServiceAccount's token runs doris hub", async () => {
    kubeconfig = await serviceAccountKubeconfig(env, api, ns, hubAccountName);
    const port = await freePort();
    const hub = startServer(env, ['--kubeconfig', kubeconfig, '--namespace', ns, 'hub', '--listen', `127.0.0.1:${port}`], { kubeconfig, port });
    try {
      await waitFor('the hub to be ready', async () => (await fetch(`${hub.url}/readyz`).catch(() => undefined))?.ok || undefined, { timeoutMs: 60_000 });
      await waitFor('it to lead', async () => /^doris_hub_leader 1$/m.test(await (await fetch(`${hub.url}/metrics`)).text()) || undefined, {
        timeoutMs: 30_000,
      });
      const leases = (await api.request<{ items: Array<{ metadata: { name: string } }> }>('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`)).body
        .items;
      const names = leases.map((l) => l.metadata.name);
      assert.ok(names.includes('doris-hub-leader'), names.join(', '));
      assert.ok(
        names.some((n) => n.startsWith('doris-hub-replica-')),
        names.join(', '),
      );
    } finally {
      const stopped = await hub.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stdout.slice(-2000));
    }
  });
});
